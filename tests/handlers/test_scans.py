"""The scans table's key design on moto: a hot venue's writes spread over its write shards, the
time-window query still returns every scan with one Query per shard, a person's history is one
Query on the index, and every scan record carries its TTL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from healthcode import settings
from healthcode.rules.policy import RiskLevel
from healthcode.storage import scans

from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    dynamodb_calls,
    make_person,
    make_venue,
    module_stack,
    per_test_stack,
    scan_record,
    store,
)
from tests.handlers.harness import InProcessStack

RUSH = datetime(2022, 5, 18, 0, 30, tzinfo=UTC)  # 08:30 at +08:00, a railway station's morning
N = 320


def test_a_hot_venue_spreads_its_scans_and_the_window_query_returns_them_all(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a railway station (transit_hub: 32 write shards by policy) taking N scans in 32 s
    station = make_venue("transit_hub")
    assert station.shards == 32
    written = [
        scan_record(station, scan_id=f"s-rush-{i:04d}", at_time=RUSH + timedelta(milliseconds=100 * i))
        for i in range(N)
    ]
    store(station, written)
    # WHEN the scans of the window are read back
    with dynamodb_calls() as log:
        found = list(scans.at_venue(station.venue_id, 32, RUSH, RUSH + timedelta(minutes=5)))
    # THEN every scan comes back, from a bounded number of Queries (one per shard)
    assert sorted(s.at_scan.split("#")[1] for s in found) == sorted(r.scan_id for r in written)
    assert log.calls == ["Query"] * 32
    # AND the writes used every one of the 32 partition keys (well over 4), none taking more
    # than twice its fair share
    per_partition = Counter(s.venue_shard for s in found)
    assert len(per_partition) == 32
    assert max(per_partition.values()) <= 2 * N // 32
    assert all(key.startswith(f"{station.venue_id}#") for key in per_partition)
    # AND every record carries its TTL: scan time + RetentionDays
    retention = settings.settings().retention_days
    by_id = {r.scan_id: r for r in written}
    for scan in found:
        record = by_id[scan.at_scan.split("#")[1]]
        assert scan.expires_ttl == int((record.at + timedelta(days=retention)).timestamp())


def test_a_narrower_window_returns_exactly_its_scans(moto_stack: InProcessStack) -> None:
    station = make_venue("transit_hub")
    written = [scan_record(station, at_time=RUSH + timedelta(seconds=i)) for i in range(60)]
    store(station, written)
    start, end = RUSH + timedelta(seconds=10), RUSH + timedelta(seconds=19)
    found = {s.at_scan.split("#")[1] for s in scans.at_venue(station.venue_id, 32, start, end)}
    assert found == {r.scan_id for r in written if start <= r.at <= end}


def test_where_a_person_was_is_one_query_on_the_index(moto_stack: InProcessStack) -> None:
    # GIVEN one person scanned at three venues over 14 days
    person = make_person(RiskLevel.GREEN)
    venues = [make_venue("transit_hub"), make_venue("mall"), make_venue("restaurant")]
    for day, venue in enumerate(venues * 4):
        store(venue, [scan_record(venue, person_id=person.person_id, at_time=RUSH + timedelta(days=day))])
    # WHEN the last 14 days are asked for THEN one Query answers, oldest first
    end = RUSH + timedelta(days=11, hours=1)
    with dynamodb_calls() as log:
        found = list(scans.of_person(person.person_id, end - timedelta(days=14), end))
    assert log.calls == ["Query"]
    assert len(found) == 12
    assert [s.at_scan for s in found] == sorted(s.at_scan for s in found)


def test_a_small_venue_keeps_its_few_shards(moto_stack: InProcessStack) -> None:
    shop = make_venue("pharmacy")
    assert shop.shards == 4  # the policy's default for types without their own
    store(shop, [scan_record(shop, scan_id=f"s-shop-{i}", at_time=RUSH) for i in range(40)])
    found = list(scans.at_venue(shop.venue_id, 4, RUSH, RUSH))
    assert len(found) == 40
    assert {s.venue_shard for s in found} == {f"{shop.venue_id}#{n}" for n in range(4)}
