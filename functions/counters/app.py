"""The ScansTable stream consumer: per venue-day counters, abnormal-scan alerts, and fever facts.

For each batch (one stream shard, in order):

1. every new scan is read from its record (TTL deletions and anything but INSERT are skipped; a
   record that is not a scan fails on its own and, after the retries, goes to the DLQ);
2. the venue names are read once for the whole batch (one BatchGetItem);
3. each venue-day gets **one** UpdateItem for all of its scans in the batch (``stats.add_day``:
   counted exactly once across redeliveries);
4. each abnormal scan (non-green or fever) gets an ALERT item for the venue's alerts and the
   official side (``stats.put_alerts``, deterministic keys);
5. when the policy says so (Guizhou: yes), a fever reading at a checkpoint (verification or
   manual registration at or above ``fever_threshold_c``) becomes a FEVER fact lasting
   ``fever_fact_hours`` (fact id from the scan id), which the colour consumer picks up.

A write that fails marks only the records it covered as failed (``ReportBatchItemFailures``);
the batch is retried from the first of them, and what was already applied is not applied twice.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from healthcode.protection.logs import get_logger
from healthcode.rules import colour, verdict
from healthcode.rules.policy import FactKind, Policy
from healthcode.settings import policy, settings
from healthcode.storage import facts, stats
from pynamodb.exceptions import PynamoDBException

logger = get_logger("counters")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

#: Scan kinds taken at a checkpoint with a thermometer (a check-in has no reading).
CHECKPOINT_KINDS = frozenset({"verification", "manual"})
#: Failures of a write that leave the batch to be retried (not bugs: those fail the whole batch).
WRITE_ERRORS = (ClientError, BotoCoreError, PynamoDBException, stats.CounterContention)


class ScanBatch:
    """The batch's new scans, each with the record it came from."""

    def __init__(self) -> None:
        self.scans: list[tuple[DynamoDBRecord, stats.CountedScan]] = []

    def add(self, record: DynamoDBRecord) -> None:
        """The record handler: read one record (a malformed scan raises and fails alone)."""
        if record.event_name is not DynamoDBRecordEventName.INSERT:
            return
        change = record.raw_event["dynamodb"]
        self.scans.append((record, stats.counted(change["NewImage"], sequence=str(change["SequenceNumber"]))))


def retention_days(rules: Policy) -> int:
    """Alerts are kept as long as the scans they come from (see the verifications function)."""
    return max(settings().retention_days, rules.tracing.lookback_days)


def fever_fact(scan: stats.CountedScan, rules: Policy) -> colour.Fact | None:
    """The FEVER fact a checkpoint reading gives, if the policy makes it one."""
    if not rules.fever_at_checkpoint_is_fact or scan.kind not in CHECKPOINT_KINDS:
        return None
    if not verdict.is_fever(scan.temperature, rules):
        return None
    return colour.Fact(
        fact_id=f"fever#checkpoint#{scan.scan_id}",
        kind=FactKind.FEVER,
        starts_at=scan.at,
        expires_at=scan.at + timedelta(hours=rules.fever_fact_hours),
        detail=f"checkpoint {scan.venue_id}",
        recorded_at=scan.at,
    )


def _fail(records: Iterable[DynamoDBRecord]) -> None:
    """Report ``records`` as failed (called while handling the write's error)."""
    info = sys.exc_info()
    for record in records:
        processor.failure_handler(record, info)
        processor.success_messages[:] = [
            m for m in processor.success_messages if id(m) != id(record.raw_event)
        ]


def apply(batch: ScanBatch) -> None:
    """Write the batch's counters, alerts and facts; failed writes fail their records."""
    if not batch.scans:
        return
    rules = policy()
    names = stats.venue_names(scan.venue_id for _, scan in batch.scans)
    days: dict[tuple[str, str], list[tuple[DynamoDBRecord, stats.CountedScan]]] = defaultdict(list)
    for entry in batch.scans:
        days[(entry[1].venue_id, entry[1].day)].append(entry)
    for (venue_id, day), entries in days.items():
        try:
            stats.add_day(venue_id, day, [scan for _, scan in entries], name=names.get(venue_id))
        except WRITE_ERRORS:
            logger.warning("counter update failed", extra={"venue_id": venue_id, "day": day}, exc_info=True)
            _fail(record for record, _ in entries)

    abnormal = [(record, scan) for record, scan in batch.scans if scan.abnormal]
    try:
        stats.put_alerts((scan for _, scan in abnormal), retention_days=retention_days(rules))
    except WRITE_ERRORS:
        logger.warning("alert write failed", extra={"alerts": len(abnormal)}, exc_info=True)
        _fail(record for record, _ in abnormal)

    fevers = [(record, scan, fact) for record, scan in batch.scans if (fact := fever_fact(scan, rules))]
    try:
        facts.save(
            facts.item_for(scan.person_id, fact, recorded_at=scan.at, source=f"scan#{scan.scan_id}")
            for _, scan, fact in fevers
        )
    except WRITE_ERRORS:
        logger.warning("fever fact write failed", extra={"facts": len(fevers)}, exc_info=True)
        _fail(record for record, _, _ in fevers)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = ScanBatch()
    with processor(records=event["Records"], handler=batch.add, lambda_context=context):
        processor.process()
        apply(batch)
    return processor.response()
