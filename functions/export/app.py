"""The export consumer: ScansTable and VenuesTable streams → JSON lines in the export bucket.

For each batch (one stream shard, in order):

1. every record becomes an export line (``healthcode.services.export``; TTL expiry and phone guards give
   none; a record that is not an item of its table fails on its own and, after the retries,
   goes to the on-failure queue);
2. the lines are grouped by table and day, and each group is one PutObject under a name made of
   the stream label and the group's first and last sequence numbers, so a redelivered batch
   overwrites what it wrote before;
3. a PutObject that fails marks its group's records as failed (``ReportBatchItemFailures``):
   the batch is retried from the first of them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from healthcode import aws
from healthcode.protection import pii
from healthcode.protection.logs import get_logger
from healthcode.services import export
from healthcode.settings import env, settings

logger = get_logger("export")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

BUCKET_ENV = "EXPORT_BUCKET"
TABLE_OF_ENV: dict[str, export.Table] = {"SCANS_TABLE": "scans", "VENUES_TABLE": "venues"}
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
WRITE_ERRORS = (ClientError, BotoCoreError)


class ExportBatch:
    """The batch's export lines, each with the record it came from, per stream."""

    def __init__(self) -> None:
        self.lines: dict[str, list[tuple[DynamoDBRecord, export.ExportLine]]] = {}
        self.tables = {env(name): table for name, table in TABLE_OF_ENV.items()}

    def add(self, record: DynamoDBRecord) -> None:
        """The record handler: one record → one line or none (a malformed one raises alone)."""
        change, stream = self.change_of(record)
        line = export.export_line(change, province=settings().province, hasher=pii.keyed_hash)
        if line is not None:
            self.lines.setdefault(stream, []).append((record, line))

    def change_of(self, record: DynamoDBRecord) -> tuple[export.Change, str]:
        table_name, stream = export.stream_of(record.event_source_arn or "")
        table = self.tables.get(table_name)
        if table is None:
            raise export.NotExportable("a record from a table the export does not read")
        raw = record.raw_event
        change = raw["dynamodb"]
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, bool) or not isinstance(created, int | float):
            raise export.NotExportable("record without its creation time")
        identity = raw.get("userIdentity") or {}
        operation = raw.get("eventName")
        if operation not in ("INSERT", "MODIFY", "REMOVE"):
            raise export.NotExportable("unknown stream event name")
        decoded = record.dynamodb
        assert decoded is not None  # raw_event["dynamodb"] exists
        return (
            export.Change(
                table=table,
                operation=operation,
                sequence=str(change.get("SequenceNumber", "")),
                changed_at=datetime.fromtimestamp(created, UTC),
                keys=decoded.keys or {},
                image=decoded.new_image if operation != "REMOVE" else None,
                by_ttl=identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL,
            ),
            stream,
        )


def _fail(records: Iterable[DynamoDBRecord]) -> None:
    """Report ``records`` as failed (called while handling the write's error)."""
    info = sys.exc_info()
    for record in records:
        processor.failure_handler(record, info)
        processor.success_messages[:] = [
            m for m in processor.success_messages if id(m) != id(record.raw_event)
        ]


def write(batch: ExportBatch) -> None:
    """One PutObject per table and day; a failed write fails the records it carried."""
    bucket = env(BUCKET_ENV)
    s3 = aws.client("s3")
    for stream, entries in batch.lines.items():
        record_of = {id(line): record for record, line in entries}
        for obj in export.export_objects((line for _, line in entries), stream=stream):
            try:
                s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body(), ContentType=export.CONTENT_TYPE)
            except WRITE_ERRORS:
                logger.warning("export object write failed", extra={"key": obj.key}, exc_info=True)
                _fail(record_of[id(line)] for line in obj.lines)
                continue
            logger.info("exported", extra={"key": obj.key, "lines": len(obj.lines)})


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = ExportBatch()
    with processor(records=event["Records"], handler=batch.add, lambda_context=context):
        processor.process()
        write(batch)
    return processor.response()
