"""The ScansTable stream consumer on moto: counters after a drain, exactly-once counting across
redeliveries, one update per venue-day per batch, alerts, region reads, fever facts, and
partial batch failures."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthcode import clock
from healthcode.clock import CHINA
from healthcode.rules.policy import FactKind, Policy, RiskLevel
from healthcode.services import counters as counters_service
from healthcode.storage import alerts, facts, fevers, stats
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


def emitted_metrics(output: str) -> Iterator[dict[str, Any]]:
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


WRITES = ("UpdateItem", "PutItem", "TransactWriteItems")


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
        creating = [call for call in log.calls if call in WRITES]
        log.clear()
        store(mall, [scan_record(mall, at_time=late + timedelta(seconds=30))])
        store(station, [scan_record(station, at_time=late + timedelta(seconds=30)) for _ in range(5)])
        deliver(moto_stack, reader.read())
        updating = [call for call in log.calls if call in WRITES]
    # THEN three venue-days: first batch one write each (+ the one that creates each), then one
    # write each: the counter update and its run markers in one TransactWriteItems
    assert creating == ["TransactWriteItems"] * 6
    assert updating == ["TransactWriteItems"] * 2
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

    # AND the official side (storage.alerts) reads the abnormal scans of a region
    def region_alerts(region_code: str) -> list[str]:
        page = alerts.listed(region_code, day, status=None, verdict=None, limit=500, cursor=None)
        return [a.venue_id for a in page.alerts]

    assert region_alerts("520100") == [nanming.venue_id]
    assert set(region_alerts("520000")) >= {nanming.venue_id, zunyi.venue_id}
    assert region_alerts("520103") == []


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


# -- exactly once across replays from the failure queue (issue 13) ---------------------------------


def _one_venue_records(moto_stack: InProcessStack, n: int, venue_type: str = "mall") -> tuple[Any, list[Any]]:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue(venue_type)
    store(venue, [scan_record(venue, at_time=CST_NOON + timedelta(seconds=i)) for i in range(n)])
    records = reader.read()
    assert len(records) == n
    return venue, records


@pytest.mark.parametrize("venue_type", ["mall", "transit_hub"])
def test_a_batch_skipped_to_the_failure_queue_counts_once_when_replayed_after_later_ones(
    moto_stack: InProcessStack, venue_type: str
) -> None:
    """GIVEN ten scans of one venue-day (one or several scan partitions) WHEN the event source
    gives up on the first four (failure queue), counts the next six, and the four are then
    replayed — twice, and once more inside a bigger redelivery THEN each scan counts once."""
    venue, records = _one_venue_records(moto_stack, 10, venue_type)
    assert deliver(moto_stack, records[4:]) == {"batchItemFailures": []}
    assert stats.venue_day(venue.venue_id, DAY).scans == 6
    assert deliver(moto_stack, records[:4]) == {"batchItemFailures": []}  # the replay
    assert stats.venue_day(venue.venue_id, DAY).scans == 10
    deliver(moto_stack, records[:4])
    deliver(moto_stack, records)
    assert stats.venue_day(venue.venue_id, DAY).scans == 10


def test_a_batch_counted_before_it_was_given_up_counts_nothing_when_replayed(
    moto_stack: InProcessStack,
) -> None:
    """GIVEN a batch whose counters were written before the function crashed on something else
    (the event source retried it until the failure queue), and later scans counted WHEN the
    batch is replayed THEN nothing is counted again."""
    venue, records = _one_venue_records(moto_stack, 8)
    deliver(moto_stack, records[:5])
    deliver(moto_stack, records[5:])
    deliver(moto_stack, records[:5])
    assert stats.venue_day(venue.venue_id, DAY).scans == 8


def test_bisected_halves_and_a_replay_overlapping_counted_scans_count_each_once(
    moto_stack: InProcessStack,
) -> None:
    """GIVEN twelve scans WHEN the first three are counted, the next three are skipped to the
    failure queue, the rest counted, and a replay covers the skipped three together with counted
    ones on both sides THEN twelve, and the STATS item is the only thing readers see."""
    venue, records = _one_venue_records(moto_stack, 12)
    deliver(moto_stack, records[:3])
    deliver(moto_stack, records[6:9])  # a bisected half
    deliver(moto_stack, records[9:])
    assert stats.venue_day(venue.venue_id, DAY).scans == 9
    deliver(moto_stack, records[1:8])
    counts = stats.venue_day(venue.venue_id, DAY)
    assert (counts.scans, dict(counts.by_colour)) == (12, {"green": 12})
    assert stats.alerts(venue.venue_id, DAY) == []
    runs = list(Stat.query(f"{venue.venue_id}#{DAY}", Stat.sk.startswith("RUN#")))
    assert sum(int(run.scans or 0) for run in runs) == 12  # every scan in exactly one run
    assert all(run.expires_ttl == int(datetime(2022, 5, 21, tzinfo=CHINA).timestamp()) for run in runs)


def test_a_redelivery_after_a_replay_reads_the_runs_once_per_partition(moto_stack: InProcessStack) -> None:
    """The fast path reads nothing; a refused write costs one Query per scan partition."""
    venue, records = _one_venue_records(moto_stack, 6)
    with dynamodb_calls() as log:
        deliver(moto_stack, records)
        first = list(log.calls)
        log.clear()
        deliver(moto_stack, records)
        again = list(log.calls)
    partitions = {r["dynamodb"]["NewImage"]["venue_shard"]["S"] for r in records}
    assert "Query" not in first and first.count("TransactWriteItems") == 2
    assert again.count("TransactWriteItems") == 1 and again.count("Query") == len(partitions)
    assert stats.venue_day(venue.venue_id, DAY).scans == 6


# -- fever facts: named scanner and checkpoint, limited per scanner and hour (issue 13) -----------


def _fevers(venue: Any, n: int, *, actor: str, start: datetime) -> list[Any]:
    return [
        dataclasses.replace(
            scan_record(venue, kind="verification", temperature=38.6, at_time=start + timedelta(minutes=i)),
            actor=actor,
        )
        for i in range(n)
    ]


def _fever_facts(person_id: str) -> list[Any]:
    return [f for f in facts.state_of(person_id).facts if f.kind == FactKind.FEVER]


def test_fever_facts_name_the_scanner_and_checkpoint_and_stop_at_the_scanner_limit(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a limit of 3 fever facts per scanner and hour WHEN one scanner records 5 fevers in
    an hour and another scanner 1 THEN the first 3 and the other's become facts naming scanner and
    checkpoint, the last 2 do not (each emits FeverFactsOverLimit), and every scan is counted."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    strict = Policy(province="520000", name="t", scanner_fever_facts_per_hour_limit=3)
    monkeypatch.setattr(counters_module(moto_stack), "policy", lambda: strict)
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    busy = _fevers(venue, 5, actor="scanner-busy", start=CST_NOON)
    other = _fevers(venue, 1, actor="scanner-other", start=CST_NOON + timedelta(minutes=10))
    store(venue, busy + other)
    capsys.readouterr()
    assert deliver(moto_stack, reader.read()) == {"batchItemFailures": []}
    with_fact = [r for r in busy if _fever_facts(r.person_id)]
    assert [r.scan_id for r in with_fact] == [r.scan_id for r in busy[:3]]
    (fact,) = _fever_facts(busy[0].person_id)
    assert fact.fact_id == f"fever#checkpoint#{busy[0].scan_id}"
    assert fact.detail == f"checkpoint {venue.venue_id} scanner scanner-busy"
    assert len(_fever_facts(other[0].person_id)) == 1
    counts = stats.venue_day(venue.venue_id, DAY)
    assert (counts.scans, counts.abnormal) == (6, 6) and len(stats.alerts(venue.venue_id, DAY)) == 6
    metrics = [m for m in emitted_metrics(capsys.readouterr().out) if "FeverFactsOverLimit" in m]
    assert len(metrics) == 2
    assert {m["scanner"] for m in metrics} == {"scanner-busy"} and metrics[0]["province"] == "520000"
    assert fevers.used("scanner-busy", window_seconds=3600, now=CST_NOON) == 3
    # WHEN the next hour starts THEN the scanner's readings make facts again
    later = _fevers(venue, 1, actor="scanner-busy", start=CST_NOON + timedelta(hours=1))
    store(venue, later)
    deliver(moto_stack, reader.read())
    assert len(_fever_facts(later[0].person_id)) == 1


def test_a_redelivered_fever_batch_uses_the_scanner_limit_once(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a limit of 3 WHEN a batch of 2 fevers is delivered three times THEN 2 facts and 2
    units used; a third fever then still makes a fact (the redeliveries took nothing)."""
    strict = Policy(province="520000", name="t", scanner_fever_facts_per_hour_limit=3)
    monkeypatch.setattr(counters_module(moto_stack), "policy", lambda: strict)
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    two = _fevers(venue, 2, actor="scanner-redelivered", start=CST_NOON)
    store(venue, two)
    batch = reader.read()
    for _ in range(3):
        assert deliver(moto_stack, batch) == {"batchItemFailures": []}
    assert fevers.used("scanner-redelivered", window_seconds=3600, now=CST_NOON) == 2
    third = _fevers(venue, 1, actor="scanner-redelivered", start=CST_NOON + timedelta(minutes=30))
    store(venue, third)
    deliver(moto_stack, reader.read())
    assert all(len(_fever_facts(r.person_id)) == 1 for r in two + third)
    assert fevers.used("scanner-redelivered", window_seconds=3600, now=CST_NOON) == 3
    assert stats.venue_day(venue.venue_id, DAY).scans == 3


def test_a_failed_fever_write_fails_its_record_and_the_retry_writes_it_once(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue()
    (record,) = _fevers(venue, 1, actor="scanner-flaky", start=CST_NOON)
    store(venue, [scan_record(venue, at_time=CST_NOON - timedelta(minutes=1)), record])
    batch = reader.read()
    feverish = next(r for r in batch if "temperature" in r["dynamodb"]["NewImage"])
    module = counters_module(moto_stack)
    real = module.fevers.add_limited

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "TransactWriteItems")

    monkeypatch.setattr(module.fevers, "add_limited", throttled)
    answer = deliver(moto_stack, batch)
    assert answer == {"batchItemFailures": [{"itemIdentifier": feverish["dynamodb"]["SequenceNumber"]}]}
    monkeypatch.setattr(module.fevers, "add_limited", real)
    assert deliver(moto_stack, batch) == {"batchItemFailures": []}
    assert len(_fever_facts(record.person_id)) == 1
    assert fevers.used("scanner-flaky", window_seconds=3600, now=CST_NOON) == 1
    assert stats.venue_day(venue.venue_id, DAY).scans == 2
