"""Timeliness at scale: a station's tracing split into tasks of a few shards each, each task in a
partition of its own, and the stream pump's ``ParallelizationFactor`` lanes (order kept per
partition key, lanes side by side)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from healthcode.rules.cases import Presence, TracingTask, VenueToSearch
from healthcode.services import tracing
from healthcode.storage import cases as case_store

from infra.bench import tracing_model
from infra.local.streams import PumpStats, ShardState, SourceState, StreamPump
from infra.local.template import StreamSource

START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def station_task(shards: int = 32) -> TracingTask:
    presence = Presence("pr-1", "p-case", "v-station", "v-station", "transit_hub", START)
    return TracingTask("case-1", "p-case", presence, VenueToSearch("v-station", "transit_hub", shards))


# -- tasks of a share of the shards ---------------------------------------------------------------


def test_a_station_is_searched_by_tasks_of_a_few_shards_each() -> None:
    task = station_task(32)
    shares = task.split(tracing.SHARDS_PER_TASK)
    assert len(shares) == 32 // tracing.SHARDS_PER_TASK
    covered = [shard for share in shares for shard in range(share.shard_from, share.shard_end)]
    assert covered == list(range(32))  # every shard once, none twice
    assert all(share.shard == share.shard_from for share in shares)
    assert len({share.key for share in shares}) == len(shares)
    assert len({case_store.task_partition(share) for share in shares}) == len(shares)
    assert all(case_store.task_partition(share).startswith("case-1#TASK#") for share in shares)


def test_a_small_venue_keeps_one_task_and_its_key() -> None:
    task = station_task(tracing.SHARDS_PER_TASK)
    assert task.split(tracing.SHARDS_PER_TASK) == [task]
    assert "shard_to" not in task.to_json()


def test_a_share_survives_storage_and_its_continuations_stay_in_it() -> None:
    share = station_task(32).split(4)[2]
    assert TracingTask.from_json(share.to_json()) == share
    following = share.continuation(share.shard_from + 1, {"pk": {"S": "x"}})
    assert (following.shard_from, following.shard_to) == (share.shard_from, share.shard_to)
    assert case_store.task_partition(following) == case_store.task_partition(share)
    assert following.key != share.key
    with pytest.raises(ValueError, match="outside"):
        share.continuation(share.shard_end, None)


def test_a_stored_share_outside_its_venue_is_refused() -> None:
    stored = {**station_task(32).split(4)[0].to_json(), "shard_to": 40}
    with pytest.raises(ValueError):
        TracingTask.from_json(stored)


def test_the_model_meets_the_goal_with_the_templates_parallelism() -> None:
    modelled = tracing_model.model(10000)
    assert modelled["trace.modelled_aws_seconds_10000_contacts"] <= 60
    assert modelled["trace.critical_path_calls_10000_contacts"] < 1000


# -- ParallelizationFactor in the local stack's pump -----------------------------------------------


def record(key: str, number: int) -> dict[str, Any]:
    return {"dynamodb": {"Keys": {"pk": {"S": key}}, "SequenceNumber": f"{number:021d}"}}


def pump_with(invoke: Any, *, concurrently: bool) -> StreamPump:
    pump = StreamPump.__new__(StreamPump)
    pump.invoke = invoke
    pump.lanes_concurrently = concurrently
    pump.stats = PumpStats()
    pump._stats_lock = threading.Lock()
    return pump


def source(factor: int) -> SourceState:
    spec = StreamSource(
        function="F",
        table="T",
        batch_size=3,
        max_retries=0,
        bisect=False,
        report_item_failures=True,
        on_failure_queue=None,
        starting_position="TRIM_HORIZON",
        parallelization=factor,
    )
    return SourceState(source=spec, stream_arn="arn", hash_key="pk")


def keys_of(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


def key_in_another_lane(state: SourceState, key: str) -> str:
    """A partition key whose records go to another lane than ``key``'s."""
    factor = state.source.parallelization
    lane = StreamPump._lane_of(state, record(key, 0), factor)
    return next(
        other
        for other in (f"other{n}" for n in range(1000))
        if StreamPump._lane_of(state, record(other, 0), factor) != lane
    )


def test_lanes_keep_each_keys_order_and_split_keys_over_batches() -> None:
    batches: list[list[tuple[str, str]]] = []
    pump = pump_with(lambda _f, event: batches.append(keys_of(event)) or {}, concurrently=False)
    shard = ShardState("s", None)
    written = [record(f"k{n % 8}", n) for n in range(64)]
    shard.buffer.extend(written)
    state = source(4)
    assert pump._deliver(state, shard) == 64
    delivered = [entry for batch in batches for entry in batch]
    assert sorted(delivered) == sorted(keys_of({"Records": written}))
    for key in {k for k, _ in delivered}:
        numbers = [n for k, n in delivered if k == key]
        assert numbers == sorted(numbers)  # one key's records in the order written
    for batch in batches:  # a batch holds the records of one lane only
        assert len({StreamPump._lane_of(state, record(key, 0), 4) for key, _ in batch}) == 1
    assert len(shard.lanes) > 1


def test_a_failing_lane_does_not_hold_the_others() -> None:
    delivered: list[str] = []

    def invoke(_function: str, event: dict[str, Any]) -> Any:
        failing = [r for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] == "bad"]
        if failing:
            return {"batchItemFailures": [{"itemIdentifier": failing[0]["dynamodb"]["SequenceNumber"]}]}
        delivered.extend(k for k, _ in keys_of(event))
        return {}

    state = source(10)
    good = key_in_another_lane(state, "bad")
    pump = pump_with(invoke, concurrently=False)
    shard = ShardState("s", None)
    shard.buffer.extend([record("bad", 1), record(good, 2), record(good, 3)])
    pump._deliver(state, shard)
    assert delivered == [good, good]
    assert pump.stats.sent_to_dlq == 1


def test_lanes_are_delivered_side_by_side_on_the_local_stack() -> None:
    # two lanes' invocations must meet: delivered one after the other, the barrier breaks
    meeting = threading.Barrier(2, timeout=30)

    def invoke(_function: str, _event: dict[str, Any]) -> Any:
        meeting.wait()
        return {}

    state = source(10)
    keys = ["a", key_in_another_lane(state, "a")]
    shard = ShardState("s", None)
    shard.buffer.extend([record(keys[0], 1), record(keys[1], 2)])
    assert pump_with(invoke, concurrently=True)._deliver(state, shard) == 2
