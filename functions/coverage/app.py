"""VenuesTable stream → coverage counters (``healthcode.services.coverage``).

Records of a batch are applied in stream order; once one fails, the rest of the batch is
reported failed too, so the retry resumes in order (an INSERT is never overtaken by the REMOVE
of the same venue).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.protection.logs import get_logger
from healthcode.services import coverage

logger = get_logger("coverage")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class EarlierRecordFailed(RuntimeError):
    """A record after a failed one in the same batch: retried with it, in order."""


def apply(record: DynamoDBRecord) -> int:
    """Apply one stream record to the counters; returns the change in venues counted."""
    stream = record.dynamodb
    if stream is None:
        raise coverage.NotAVenue("a stream record without its change")
    return coverage.apply(record.raw_event.get("eventName", ""), stream.old_image, stream.new_image)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = False

    def handle(record: DynamoDBRecord) -> int:
        nonlocal failed
        if failed:
            raise EarlierRecordFailed("an earlier record of this batch failed")
        done = False
        try:
            change = apply(record)
            done = True
        finally:
            failed = failed or not done
        return change

    answer = process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
    logger.info(
        "coverage counted",
        extra={"records": len(event.get("Records", [])), "failed": len(answer.get("batchItemFailures", []))},
    )
    return dict(answer)
