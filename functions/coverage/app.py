"""VenuesTable stream → coverage counters (venues by type at county, prefecture and province
level, and per child region), read by ``GET /v1/reports/coverage``.

Idempotent under redelivery: a venue is counted in one transaction with a marker item that may
not exist yet (``storage.venues.count_in_coverage``), so a record delivered twice counts once.
Records of a batch are applied in stream order; once one fails, the rest of the batch is
reported failed too, so the retry resumes in order (an INSERT is never overtaken by the REMOVE
of the same venue). Phone-guard items in the table are not venues and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.protection.logs import get_logger
from healthcode.storage import venues as store

logger = get_logger("coverage")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@dataclass(frozen=True)
class Counted:
    venue_id: str
    venue_type: str
    region_code: str


_REGION = re.compile(r"[1-9][0-9]{5}")


class NotAVenue(ValueError):
    """A venue item without a type or a six-digit region: a poison record (sent to the DLQ)."""


def _venue(image: Mapping[str, Any] | None) -> Counted | None:
    """The counted facts of a venue item's image; None for anything else (a phone guard)."""
    if not image:
        return None
    venue_id, venue_type, region_code = image.get("venue_id"), image.get("type"), image.get("region_code")
    if not isinstance(venue_id, str) or not venue_id.startswith("v-"):
        return None
    if (
        not isinstance(venue_type, str)
        or not isinstance(region_code, str)
        or not _REGION.fullmatch(region_code)
    ):
        raise NotAVenue(f"venue item {venue_id} has no valid type and region")
    return Counted(venue_id, venue_type, region_code)


class EarlierRecordFailed(RuntimeError):
    """A record after a failed one in the same batch: retried with it, in order."""


def apply(record: Any) -> int:
    """Apply one stream record to the counters; returns the change in venues counted."""
    stream = record.dynamodb
    old, new = _venue(stream.old_image), _venue(stream.new_image)
    change = 0
    if record.event_name == DynamoDBRecordEventName.MODIFY and old == new:
        return 0
    if old is not None and record.event_name != DynamoDBRecordEventName.INSERT:
        change -= int(store.uncount_from_coverage(old.venue_id, old.venue_type, old.region_code))
    if new is not None and record.event_name != DynamoDBRecordEventName.REMOVE:
        change += int(store.count_in_coverage(new.venue_id, new.venue_type, new.region_code))
    return change


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = False

    def handle(record: Any) -> int:
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
