"""DynamoDB Streams → Lambda, as the event source mapping does it, and TTL deletion.

Per stream source of the template (``Type: DynamoDB`` events) and per shard, records are read
in order and handed to the consumer in batches of ``BatchSize``:

* the consumer answers ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}``
  (``ReportBatchItemFailures``): records before the lowest failed one are checkpointed, the
  batch is retried from that record on;
* an unhandled error (or an answer that names an unknown record) fails the whole batch; with
  ``BisectBatchOnFunctionError`` the batch is split in two and each half retried on its own
  (splitting does not use up a retry), so one poison record ends up alone;
* after ``MaximumRetryAttempts`` retries the failed records' batch info goes to the
  ``OnFailure`` SQS destination in Lambda's own message format, and the shard moves on;
* with ``ParallelizationFactor`` N, a shard's records are split by the hash of their partition
  key into N lanes whose batches are delivered concurrently (one thread each; the function's
  execution environments bound how many run at once): order, retries and failures are per
  lane, so records of one partition key stay in order, as Lambda keeps them; on the local stack
  the sources of a step are also delivered side by side (each event source mapping polls on
  its own: the colour consumer does not wait for a tracing task of another table).

TTL: AWS deletes expired items in the background (within days), writing ``REMOVE`` records
whose ``userIdentity`` is the DynamoDB service. ``TtlSweeper.sweep`` does that on the stack
clock when asked (``POST /_local/ttl``) or every ``interval`` seconds; between sweeps expired
items stay, as in AWS — so code must not rely on TTL for correctness.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from healthcode import clock

from infra.local import moto_patches
from infra.local.events import stream_record
from infra.local.template import StreamSource, Template

log = logging.getLogger("localstack.streams")
Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass
class Batch:
    records: list[dict[str, Any]]
    attempts: int = 0


@dataclass
class Lane:
    """The records of a shard whose partition keys hash to one of ``ParallelizationFactor``
    concurrent batches: delivered in order, retried and failed on their own."""

    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    batches: deque[Batch] = field(default_factory=deque)

    @property
    def pending(self) -> bool:
        return bool(self.buffer or self.batches)


@dataclass
class ShardState:
    shard_id: str
    iterator: str | None
    #: Records read and not yet handed to a lane (with a factor of 1: the one lane's own).
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    batches: deque[Batch] = field(default_factory=deque)
    closed: bool = False
    #: With ``ParallelizationFactor`` > 1: the lanes, by partition-key hash.
    lanes: dict[int, Lane] = field(default_factory=dict)
    #: The last record read: where to pick the shard up again if its iterator goes stale.
    last_sequence: str | None = None


@dataclass
class SourceState:
    source: StreamSource
    stream_arn: str
    shards: dict[str, ShardState] = field(default_factory=dict)
    #: The table's partition key attribute: what lanes are split by.
    hash_key: str = ""


@dataclass
class PumpStats:
    invocations: int = 0
    records_delivered: int = 0
    batches_failed: int = 0
    sent_to_dlq: int = 0


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style pattern matching used by Lambda event filtering (common subset)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(sub, value.get(key)) for key, sub in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict):
                if "prefix" in option and isinstance(value, str) and value.startswith(option["prefix"]):
                    return True
                if "exists" in option and (value is not None) == bool(option["exists"]):
                    return True
                if "anything-but" in option:
                    excluded = option["anything-but"]
                    excluded = excluded if isinstance(excluded, list) else [excluded]
                    if value is not None and value not in excluded:
                        return True
            elif option == value:
                return True
        return False
    return bool(pattern == value)


class StreamPump:
    """Reads every stream source's shards and delivers batches to its consumer.

    A shard iterator in moto holds the table's shard object, and moto's own transactions roll
    back by replacing every table they touched with a copy taken before: after one cancelled
    ``TransactWriteItems`` a reader holding iterators would never see another record of those
    tables (DynamoDB loses nothing). So a pump always runs on the copy-free transactions of
    ``infra.local.moto_patches``, in the local stack and in process alike.
    """

    def __init__(
        self,
        template: Template,
        clients: Mapping[str, Any],
        invoke: Invoke,
        *,
        lanes_concurrently: bool = False,
    ) -> None:
        """``lanes_concurrently``: deliver a shard's lanes in threads at once, for an ``invoke``
        that runs each invocation in its own execution environment (the local stack); the
        in-process stack shares one handler module per function, so its lanes take turns."""
        moto_patches.apply()
        self.lanes_concurrently = lanes_concurrently
        self.template = template
        self.dynamodb = clients["dynamodb"]
        self.streams = clients["dynamodbstreams"]
        self.sqs = clients["sqs"]
        self.invoke = invoke
        self.lock = threading.RLock()
        self.stats = PumpStats()
        self._stats_lock = threading.Lock()  # lanes count concurrently
        self.ttl_deleted: set[tuple[str, str]] = set()  # (table name, canonical key json)
        self.sources: list[SourceState] = []
        for source in template.stream_sources():
            table = template.physical_name(source.table)
            arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            schema = template.tables()[source.table]["KeySchema"]
            hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
            self.sources.append(SourceState(source=source, stream_arn=arn, hash_key=hash_key))

    # -- reading ---------------------------------------------------------------------------

    def _refresh_shards(self, state: SourceState) -> None:
        description = self.streams.describe_stream(StreamArn=state.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in state.shards:
                continue
            kind = "LATEST" if state.source.starting_position == "LATEST" else "TRIM_HORIZON"
            iterator = self.streams.get_shard_iterator(
                StreamArn=state.stream_arn, ShardId=shard_id, ShardIteratorType=kind
            )["ShardIterator"]
            state.shards[shard_id] = ShardState(shard_id=shard_id, iterator=iterator)

    def _fetch(self, state: SourceState, shard: ShardState) -> int:
        if shard.iterator is None:
            return 0
        fetched = 0
        repositioned = False
        while True:
            try:
                answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            except (
                self.streams.exceptions.TrimmedDataAccessException,
                self.streams.exceptions.ExpiredIteratorException,
            ):
                if repositioned:
                    raise
                shard.iterator, repositioned = self._reposition(state, shard), True
                continue
            shard.iterator = answer.get("NextShardIterator")
            records = answer.get("Records", [])
            if records:
                shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            table = self.template.physical_name(state.source.table)
            for raw in records:
                ttl = (
                    raw["eventName"] == "REMOVE"
                    and (table, _key_id(raw["dynamodb"]["Keys"])) in self.ttl_deleted
                )
                record = stream_record(
                    raw, stream_arn=state.stream_arn, region=self.template.region, ttl_delete=ttl
                )
                if self._passes_filters(state.source, record):
                    shard.buffer.append(record)
                fetched += 1
            if not records or shard.iterator is None:
                return fetched

    def _reposition(self, state: SourceState, shard: ShardState) -> str:
        """A fresh iterator just after the last record read (or at the shard's oldest record).

        A reader's iterator can go stale: it expires (15 minutes in AWS), or, on DynamoDB Local,
        a ``TRIM_HORIZON`` iterator taken on an empty shard names sequence number 1 while the
        engine numbers records across all its tables, so reading it once records exist is
        refused as reading trimmed data. Lambda's poller then carries on from its checkpoint,
        losing and repeating nothing; so does the pump."""
        where: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
            if shard.last_sequence is not None
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        return str(
            self.streams.get_shard_iterator(StreamArn=state.stream_arn, ShardId=shard.shard_id, **where)[
                "ShardIterator"
            ]
        )

    @staticmethod
    def _passes_filters(source: StreamSource, record: dict[str, Any]) -> bool:
        if not source.filters:
            return True
        return any(_matches(json.loads(f["Pattern"]), record) for f in source.filters)

    # -- delivering ------------------------------------------------------------------------

    def _deliver(self, state: SourceState, shard: ShardState) -> int:
        factor = state.source.parallelization
        if factor <= 1:
            return self._deliver_lane(state, shard, shard)
        while shard.buffer:
            record = shard.buffer.popleft()
            shard.lanes.setdefault(self._lane_of(state, record, factor), Lane()).buffer.append(record)
        busy = [lane for lane in shard.lanes.values() if lane.pending]
        if len(busy) <= 1 or not self.lanes_concurrently:
            return sum(self._deliver_lane(state, shard, lane) for lane in busy)
        with ThreadPoolExecutor(max_workers=len(busy)) as pool:
            return sum(pool.map(lambda lane: self._deliver_lane(state, shard, lane), busy))

    @staticmethod
    def _lane_of(state: SourceState, record: dict[str, Any], factor: int) -> int:
        key = record["dynamodb"]["Keys"].get(state.hash_key)
        return zlib.crc32(json.dumps(key, sort_keys=True).encode()) % factor

    def _count(self, **amounts: int) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _deliver_lane(self, state: SourceState, shard: ShardState, lane: Lane | ShardState) -> int:
        delivered = 0
        source = state.source
        while lane.batches or lane.buffer:
            if not lane.batches:
                take = min(source.batch_size, len(lane.buffer))
                lane.batches.append(Batch([lane.buffer.popleft() for _ in range(take)]))
            batch = lane.batches[0]
            failed_from = self._invoke(source, batch)
            if failed_from is None:
                lane.batches.popleft()
                delivered += len(batch.records)
                continue
            self._count(batches_failed=1)
            if failed_from == "bisect":
                lane.batches.popleft()
                half = len(batch.records) // 2
                lane.batches.appendleft(Batch(batch.records[half:], batch.attempts))
                lane.batches.appendleft(Batch(batch.records[:half], batch.attempts))
                continue
            remaining = batch.records[failed_from:]
            delivered += failed_from
            batch.attempts += 1
            if 0 <= source.max_retries < batch.attempts:
                lane.batches.popleft()
                self._to_on_failure(state, shard, remaining, batch.attempts)
                continue
            lane.batches[0] = Batch(remaining, batch.attempts)
            return delivered  # retry on the next step, as Lambda retries after a pause
        return delivered

    def _invoke(self, source: StreamSource, batch: Batch) -> int | str | None:
        """None on success; the index of the first record to retry; or "bisect"."""
        self._count(invocations=1)
        try:
            answer = self.invoke(source.function, {"Records": batch.records})
        except Exception:  # noqa: BLE001 - a function error, as Lambda sees it
            log.warning("stream consumer %s failed:\n%s", source.function, traceback.format_exc(limit=3))
            if source.bisect and len(batch.records) > 1:
                return "bisect"
            return 0
        self._count(records_delivered=len(batch.records))
        if not source.report_item_failures or not isinstance(answer, dict):
            return None
        failures = answer.get("batchItemFailures") or []
        if not failures:
            return None
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch.records]
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return "bisect" if source.bisect and len(batch.records) > 1 else 0
            indexes.append(sequence_numbers.index(identifier))
        return min(indexes)

    def _to_on_failure(
        self, state: SourceState, shard: ShardState, records: list[dict[str, Any]], attempts: int
    ) -> None:
        self._count(sent_to_dlq=len(records))
        if state.source.on_failure_queue is None:
            log.error(
                "%d records of %s dropped after retries (no on-failure destination)",
                len(records),
                state.source.function,
            )
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.template.arn(state.source.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts + 1,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": state.stream_arn,
            },
        }
        queue_url = self.template.ref(state.source.on_failure_queue)
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

    # -- driving ---------------------------------------------------------------------------

    def step(self) -> tuple[int, bool]:
        """One pass over every source and shard: (records fetched, anything still pending)."""
        with self.lock:
            if not self.lanes_concurrently:
                outcomes = [self._step_source(state) for state in self.sources]
            else:  # each event source mapping polls on its own, as in AWS
                with ThreadPoolExecutor(max_workers=len(self.sources) or 1) as pool:
                    outcomes = list(pool.map(self._step_source, self.sources))
            return sum(f for f, _ in outcomes), any(p for _, p in outcomes)

    def _step_source(self, state: SourceState) -> tuple[int, bool]:
        fetched = 0
        pending = False
        self._refresh_shards(state)
        for shard in state.shards.values():
            fetched += self._fetch(state, shard)
            self._deliver(state, shard)
            lanes = any(lane.pending for lane in shard.lanes.values())
            pending = pending or bool(shard.buffer or shard.batches or lanes)
        return fetched, pending

    def drain(self, timeout_s: float = 120.0, before_each: Callable[[], None] | None = None) -> None:
        """Return once every record written so far (and every record those consumers wrote in
        turn) has been delivered, retried to exhaustion, or sent to the on-failure queue."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("stream records still pending after the drain timeout")
            if before_each:
                before_each()
            fetched, pending = self.step()
            quiet = quiet + 1 if not fetched and not pending else 0


def _iso(value: Any) -> str | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")
    return None


def _key_id(keys: Mapping[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True)


class TtlSweeper:
    """Deletes items whose TTL attribute (epoch seconds) is at or before the stack clock.

    This emulates AWS's background TTL process, so it reads whole tables (a Scan) — the only Scan
    anywhere, and never in a request or stream path. Items whose TTL is more than five years in
    the past are left alone, as AWS does.
    """

    FIVE_YEARS = 5 * 365 * 86400

    def __init__(self, template: Template, dynamodb: Any, pump: StreamPump) -> None:
        self.dynamodb = dynamodb
        self.pump = pump
        self.tables: dict[str, tuple[str, list[str]]] = {}
        for logical_id, props in template.tables().items():
            ttl = props.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled"):
                keys = [k["AttributeName"] for k in props["KeySchema"]]
                self.tables[template.physical_name(logical_id)] = (ttl["AttributeName"], keys)

    def sweep(self) -> int:
        now = clock.timestamp()
        deleted = 0
        for table, (attribute, key_names) in self.tables.items():
            paginator = self.dynamodb.get_paginator("scan")
            pages = paginator.paginate(
                TableName=table,
                FilterExpression="#t <= :now AND #t >= :oldest",
                ExpressionAttributeNames={"#t": attribute},
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":oldest": {"N": str(now - self.FIVE_YEARS)},
                },
            )
            for page in pages:
                for item in page.get("Items", []):
                    key = {name: item[name] for name in key_names}
                    with self.pump.lock:
                        self.pump.ttl_deleted.add((table, _key_id(key)))
                    try:
                        self.dynamodb.delete_item(
                            TableName=table,
                            Key=key,
                            ConditionExpression="#t <= :now",
                            ExpressionAttributeNames={"#t": attribute},
                            ExpressionAttributeValues={":now": {"N": str(now)}},
                        )
                        deleted += 1
                    except self.dynamodb.exceptions.ConditionalCheckFailedException:
                        pass  # rewritten with a later expiry since the scan
        return deleted
