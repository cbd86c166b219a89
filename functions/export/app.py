"""The export consumer: ScansTable and VenuesTable streams → JSON lines in the export bucket
(``healthcode.services.export``).

Each record becomes an export line or none (TTL expiry, phone guards); a record that is not an
item of its table fails on its own and, after the retries, goes to the on-failure queue. The
batch's lines are then written as one object per table and day, named after the stream and the
first and last sequence numbers, so a redelivered batch overwrites what it wrote before; a
PutObject that fails reports only its records (``ReportBatchItemFailures``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.edge.streams import AggregatingProcessor
from healthcode.services import export
from healthcode.settings import env

processor: AggregatingProcessor[export.StreamLine] = AggregatingProcessor(write=export.write)

TABLE_OF_ENV: dict[str, export.Table] = {"SCANS_TABLE": "scans", "VENUES_TABLE": "venues"}
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def change_of(record: DynamoDBRecord) -> tuple[export.Change, str]:
    """The change a record carries and the label of its stream; ``NotExportable`` otherwise."""
    table_name, stream = export.stream_of(record.event_source_arn or "")
    table = {env(name): table for name, table in TABLE_OF_ENV.items()}.get(table_name)
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


def read(record: DynamoDBRecord) -> export.StreamLine | None:
    """One record: its export line, or None when nothing about it is exported."""
    change, stream = change_of(record)
    return export.read(change, stream=stream)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=read, processor=processor, context=context)
