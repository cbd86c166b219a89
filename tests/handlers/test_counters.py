"""The ScansTable stream consumer on moto: counters after a drain, exactly-once counting across
redeliveries, one update per venue-day per batch, alerts, region reads, fever facts, and
partial batch failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthcode import clock
from healthcode.rules.policy import FactKind, Policy, RiskLevel
from healthcode.services import counters as counters_service
from healthcode.storage import facts, stats
from healthcode.storage.models import Stat

from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    code_for,
    deliver,
    dynamodb_calls,
    make_person,
    make_venue,
    module_stack,
    per_test_stack,
    scan_record,
    scans_stream,
    store,
    verify,
)
from tests.handlers.harness import InProcessStack

CST_NOON = datetime(2022, 5, 18, 4, 0, tzinfo=UTC)  # 12:00 at +08:00
DAY = "2022-05-18"


def counters_module(stack: InProcessStack) -> Any:
    """The module that decides what the CountersFunction writes (its policy, its storage)."""
    stack.handler("CountersFunction")
    return counters_service


def test_counters_after_a_drain(moto_stack: InProcessStack) -> None:
    # GIVEN a stream reader positioned after everything written so far
    reader = scans_stream(moto_stack)
    reader.read()
    # AND scans at one venue: verifications through the API (green, red, green with fever)
    venue = make_venue("mall")
    green, red, feverish = make_person(), make_person(RiskLevel.RED), make_person()
    verify(moto_stack, code_for(green), venue, temperature=36.5)
    verify(moto_stack, code_for(red), venue, temperature=36.5)
    verify(moto_stack, code_for(feverish), venue, temperature=38.0)
    # WHEN the stream is drained through the consumer
    answer = deliver(moto_stack, reader.read())
    assert answer == {"batchItemFailures": []}
    # THEN the venue-day counters hold every scan, by colour, with two abnormal
    today = stats.day_of(clock.now())
    counts = stats.venue_day(venue.venue_id, today)
    assert (counts.scans, counts.abnormal) == (3, 2)
    assert dict(counts.by_colour) == {"green": 2, "red": 1}
    # AND the alerts list the abnormal ones in time order, identity masked
    alerts = stats.alerts(venue.venue_id, today)
    assert [a.person_id for a in alerts] == [red.person_id, feverish.person_id]
    assert [a.verdict for a in alerts] == ["isolate", "dissuade"]
    assert alerts[1].temperature == 38.0 and alerts[1].name_masked == "张*"
    assert alerts[0].scanned_at <= alerts[1].scanned_at
    # AND the fever reading became a FEVER fact for the colour engine (Guizhou), lasting 24 h
    (fever,) = [f for f in facts.state_of(feverish.person_id).facts if f.kind == FactKind.FEVER]
    assert fever.expires_at is not None and fever.expires_at - fever.starts_at == timedelta(hours=24)
    assert [f for f in facts.state_of(green.person_id).facts if f.kind == FactKind.FEVER] == []


def test_a_venue_with_no_scans_has_zero_counts(moto_stack: InProcessStack) -> None:
    counts = stats.venue_day("v-never-scanned", DAY)
    assert (counts.scans, counts.abnormal, dict(counts.by_colour)) == (0, 0, {})
    assert stats.alerts("v-never-scanned", DAY) == []


def test_redelivered_and_overlapping_batches_count_once(moto_stack: InProcessStack) -> None:
    # GIVEN ten scans at a railway station (spread over its write shards) in the stream
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue("transit_hub")
    store(venue, [scan_record(venue, at_time=CST_NOON + timedelta(seconds=i)) for i in range(10)])
    records = reader.read()
    assert len(records) == 10
    # WHEN the first six are delivered, then the whole batch again (a retry from the start),
    # then the whole batch a third time (a redelivery)
    deliver(moto_stack, records[:6])
    assert stats.venue_day(venue.venue_id, DAY).scans == 6
    deliver(moto_stack, records)
    deliver(moto_stack, records)
    # THEN each scan counted once
    assert stats.venue_day(venue.venue_id, DAY).scans == 10


def test_one_update_per_venue_day_per_batch(moto_stack: InProcessStack) -> None:
    # GIVEN a batch of 40 scans at two venues, one of them on two days (around midnight, +08:00)
    reader = scans_stream(moto_stack)
    reader.read()
    mall, station = make_venue("mall"), make_venue("transit_hub")
    late = datetime(2022, 5, 18, 15, 59, tzinfo=UTC)  # 23:59 at +08:00
    first = [scan_record(mall, at_time=late + timedelta(seconds=i)) for i in range(10)]
    first += [scan_record(mall, at_time=late + timedelta(minutes=2, seconds=i)) for i in range(10)]
    first += [scan_record(station, at_time=late + timedelta(seconds=i)) for i in range(20)]
    store(mall, first[:20])
    store(station, first[20:])
    batch = reader.read()
    # WHEN the consumer takes the batch, then a second batch for the same venue-days
    with dynamodb_calls() as log:
        deliver(moto_stack, batch)
        creating = [call for call in log.calls if call in ("UpdateItem", "PutItem")]
        log.clear()
        store(mall, [scan_record(mall, at_time=late + timedelta(seconds=30))])
        store(station, [scan_record(station, at_time=late + timedelta(seconds=30)) for _ in range(5)])
        deliver(moto_stack, reader.read())
        updating = [call for call in log.calls if call in ("UpdateItem", "PutItem")]
    # THEN three venue-days: first batch one update (+ the put that creates each), then one update each
    assert sorted(creating) == ["PutItem"] * 3 + ["UpdateItem"] * 3
    assert updating == ["UpdateItem"] * 2
    assert stats.venue_day(mall.venue_id, "2022-05-18").scans == 11
    assert stats.venue_day(mall.venue_id, "2022-05-19").scans == 10
    assert stats.venue_day(station.venue_id, "2022-05-18").scans == 25


def test_units_and_alerts_of_a_county_a_prefecture_and_the_province(moto_stack: InProcessStack) -> None:
    # GIVEN scans on one day at venues in two Guiyang districts and in Zunyi
    reader = scans_stream(moto_stack)
    reader.read()
    nanming, yunyan, zunyi = (
        make_venue(region_code="520102"),
        make_venue(region_code="520103"),
        make_venue(region_code="520302"),
    )
    day = "2022-06-01"
    noon = datetime(2022, 6, 1, 4, 0, tzinfo=UTC)
    store(
        nanming,
        [scan_record(nanming, at_time=noon), scan_record(nanming, at_time=noon, level=RiskLevel.YELLOW)],
    )
    store(yunyan, [scan_record(yunyan, at_time=noon)])
    store(zunyi, [scan_record(zunyi, at_time=noon, temperature=39.0)])
    deliver(moto_stack, reader.read())
    # WHEN units are read per county, prefecture and province
    county = list(stats.units("520102", day))
    prefecture = list(stats.units("520100", day))
    province = list(stats.units("520000", day))
    # THEN each level lists exactly its venues, with names and counts
    assert [(u.venue_id, u.scans, u.abnormal) for u in county] == [(nanming.venue_id, 2, 1)]
    assert county[0].name == nanming.name and county[0].region_code == "520102"
    assert {u.venue_id for u in prefecture} == {nanming.venue_id, yunyan.venue_id}
    assert {u.venue_id for u in province} >= {nanming.venue_id, yunyan.venue_id, zunyi.venue_id}
    assert [u.region_code for u in province] == sorted(u.region_code for u in province)
    # AND the official side reads the abnormal scans of a region
    assert [a.venue_id for a in stats.region_alerts("520100", day)] == [nanming.venue_id]
    assert {a.venue_id for a in stats.region_alerts("520000", day)} >= {nanming.venue_id, zunyi.venue_id}
    assert list(stats.region_alerts("520103", day)) == []


def test_alerts_expire_with_the_scans(moto_stack: InProcessStack) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    record = scan_record(venue, at_time=CST_NOON, level=RiskLevel.RED)
    store(venue, [record])
    deliver(moto_stack, reader.read())
    (alert,) = Stat.query(f"{venue.venue_id}#{DAY}", Stat.sk.startswith("ALERT#"))
    assert alert.expires_ttl == int((CST_NOON + timedelta(days=28)).timestamp())


def test_fever_facts_follow_the_policy_and_the_kind_of_scan(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    at_checkin, at_checkpoint, elsewhere = make_person(), make_person(), make_person()
    # GIVEN a check-in (no thermometer) and a checkpoint reading, both with a fever value
    store(
        venue,
        [
            scan_record(venue, person_id=at_checkin.person_id, kind="checkin", temperature=38.5),
            scan_record(venue, person_id=at_checkpoint.person_id, kind="manual", temperature=38.5),
        ],
    )
    deliver(moto_stack, reader.read())
    # THEN only the checkpoint reading is a fact
    assert [f.kind for f in facts.state_of(at_checkin.person_id).facts] == []
    assert [f.kind for f in facts.state_of(at_checkpoint.person_id).facts] == [FactKind.FEVER]
    # WHEN a province's policy says a checkpoint fever is not a fact THEN none is written
    quiet = Policy(province="520000", name="t", fever_at_checkpoint_is_fact=False)
    monkeypatch.setattr(counters_module(moto_stack), "policy", lambda: quiet)
    store(venue, [scan_record(venue, person_id=elsewhere.person_id, kind="verification", temperature=39.0)])
    deliver(moto_stack, reader.read())
    assert facts.state_of(elsewhere.person_id).facts == []


def test_a_failed_write_fails_only_its_records_and_the_retry_completes(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    good, flaky = make_venue(), make_venue()
    store(good, [scan_record(good, at_time=CST_NOON) for _ in range(3)])
    store(flaky, [scan_record(flaky, at_time=CST_NOON) for _ in range(2)])
    batch = reader.read()
    module = counters_module(moto_stack)
    real = stats.add_day

    def throttled(venue_id: str, day: str, scans: Any, *, name: str | None) -> int:
        if venue_id == flaky.venue_id:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
        return real(venue_id, day, scans, name=name)

    # WHEN one venue-day's update is throttled
    monkeypatch.setattr(module.stats, "add_day", throttled)
    answer = deliver(moto_stack, batch)
    # THEN exactly its records are reported failed, the other venue is counted
    flaky_sequences = {
        r["dynamodb"]["SequenceNumber"]
        for r in batch
        if r["dynamodb"]["NewImage"]["venue_id"]["S"] == flaky.venue_id
    }
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == flaky_sequences
    assert stats.venue_day(good.venue_id, DAY).scans == 3
    # WHEN the stream retries from the first failed record THEN everything counts once
    monkeypatch.setattr(module.stats, "add_day", real)
    first_failed = min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in flaky_sequences)
    assert deliver(moto_stack, batch[first_failed:]) == {"batchItemFailures": []}
    assert stats.venue_day(good.venue_id, DAY).scans == 3
    assert stats.venue_day(flaky.venue_id, DAY).scans == 2


def test_a_record_that_is_not_a_scan_fails_alone_and_deletions_are_ignored(
    moto_stack: InProcessStack,
) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    store(venue, [scan_record(venue, at_time=CST_NOON) for _ in range(2)])
    batch = reader.read()
    poison = {
        **batch[0],
        "dynamodb": {
            **batch[0]["dynamodb"],
            "NewImage": {"venue_shard": {"S": "x#0"}},
            "SequenceNumber": "1",
        },
    }
    removal = {**batch[1], "eventName": "REMOVE", "dynamodb": {**batch[1]["dynamodb"], "SequenceNumber": "2"}}
    answer = deliver(moto_stack, [poison, removal, *batch])
    assert answer == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert stats.venue_day(venue.venue_id, DAY).scans == 2


def test_bad_report_arguments_are_refused(moto_stack: InProcessStack) -> None:
    with pytest.raises(Exception) as bad_day:
        stats.venue_day("v-1", "2022-02-30")
    assert getattr(bad_day.value, "code", None) == "invalid_date"
    with pytest.raises(Exception) as bad_region:
        list(stats.units("52010", "2022-02-01"))
    assert getattr(bad_region.value, "code", None) == "invalid_region_code"
