"""The ScansTable stream consumer: per venue-day counters, abnormal-scan alerts and fever facts
(``healthcode.services.counters``).

Each new scan is read from its record (TTL deletions and anything but INSERT are skipped; a
record that is not a scan fails on its own and, after the retries, goes to the DLQ); the batch's
scans are then written together, and a write that fails reports only the records it covered
(``ReportBatchItemFailures``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.edge.streams import AggregatingProcessor
from healthcode.services import counters
from healthcode.services.counters import CountedScan

processor: AggregatingProcessor[CountedScan] = AggregatingProcessor(write=counters.apply)


def read(record: DynamoDBRecord) -> CountedScan | None:
    """One record: the new scan it carries, or None (not an INSERT)."""
    if record.event_name is not DynamoDBRecordEventName.INSERT:
        return None
    change = record.raw_event["dynamodb"]
    return counters.counted(change["NewImage"], sequence=str(change["SequenceNumber"]))


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=read, processor=processor, context=context)
