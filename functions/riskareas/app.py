"""Risk-area changes, driven by the RiskAreasTable stream: recolour the people who travelled there
(``healthcode.services.riskareas``).

When an area's level changes (set, raised, lowered, removed), everyone whose declared trip it
covers and who left less than ``risk_travel_window_days`` ago is recomputed; a change that
touches more people than one invocation can recompute carries on through a *sweep* item in the
same table, whose INSERT this consumer picks up. A record whose level did not change (the same
level set again) does nothing. Recomputing is idempotent, so a redelivered record only repeats
work.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.services import riskareas
from healthcode.settings import policy

logger = get_logger("riskareas")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class Invocation:
    """The invocation's time budget (see ``functions/tracing``)."""

    def __init__(self, context: LambdaContext) -> None:
        self.context = context
        self.margin = min(riskareas.DEFAULT_MARGIN_SECONDS, self.remaining() / 4)

    def remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0


_invocation: Invocation | None = None


def record_handler(record: DynamoDBRecord) -> None:
    if record.dynamodb is None or record.event_name is None:
        return
    if _invocation is None:
        raise RuntimeError("record_handler runs inside lambda_handler only")
    sweep = riskareas.sweep_of_record(
        record.event_name.name,
        str(record.dynamodb.keys.get("region_code", "")),
        record.dynamodb.old_image or {},
        record.dynamodb.new_image or {},
        policy=policy(),
        now=clock.now(),
    )
    if sweep is None:
        return
    outcome = riskareas.run_sweep(
        sweep,
        remaining_seconds=_invocation.remaining,
        margin_seconds=_invocation.margin,
        now=clock.now(),
    )
    logger.info(
        "risk area swept",
        extra={
            "area": sweep.area,
            "part": sweep.part,
            "persons": outcome.persons,
            "continued": outcome.continued,
        },
    )


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _invocation
    _invocation = Invocation(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
