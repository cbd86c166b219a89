"""Risk-area changes, driven by the RiskAreasTable stream: recolour the people who travelled there.

When an area's level changes (set, raised, lowered, removed), everyone whose declared trip it
covers — a trip to the area itself or, for a prefecture (``xxyy00``) or province (``xx0000``),
to any code under it — and who left less than ``risk_travel_window_days`` ago is recomputed
(``recolour.recompute``, cause ``risk_area``): raising a level raises their colour, lowering it
lowers the colours it caused. Trips are found through the FactsTable index
``by_travel_region`` (its key is the exact code visited), one Query per covered code; never a
Scan. A change that touches more people than one invocation can recompute carries on through a
*sweep* item in the same table, whose INSERT this consumer picks up (``storage.cases.run_sweep``).

A record whose level did not change (the same level set again) does nothing. Recomputing is
idempotent, so a redelivered record only repeats work.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.rules import cases
from healthcode.services import recolour
from healthcode.settings import policy
from healthcode.storage import cases as store

logger = get_logger("riskareas")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_REGION = re.compile(r"[1-9]\d{5}")


class Invocation:
    """The invocation's time budget (see ``functions/tracing``)."""

    def __init__(self, context: LambdaContext) -> None:
        self.context = context
        self.margin = min(store.DEFAULT_MARGIN_SECONDS, self.remaining() / 4)

    def remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0


_invocation: Invocation | None = None


def _change_of(record: DynamoDBRecord, region_code: str) -> store.Sweep | None:
    """The sweep a change of an area's level calls for, or None when the level is the same."""
    assert record.dynamodb is not None
    old, new = record.dynamodb.old_image or {}, record.dynamodb.new_image or {}
    if old.get("level") == new.get("level"):
        return None
    version = new.get("version", old.get("version", 0))
    change = f"v{int(version)}" if new else f"removed-v{int(version)}"
    return store.Sweep(area=region_code, change=change, cutoff=cases.travel_cutoff(clock.now(), policy()))


def _recompute(person_id: str) -> None:
    recolour.recompute(person_id, now=clock.now(), cause="risk_area")


def record_handler(record: DynamoDBRecord) -> None:
    if record.dynamodb is None or record.event_name is None:
        return
    if _invocation is None:
        raise RuntimeError("record_handler runs inside lambda_handler only")
    region_code = str(record.dynamodb.keys.get("region_code", ""))
    if store.is_sweep_key(region_code):
        if record.event_name.name != "INSERT":
            return
        sweep: store.Sweep | None = store.sweep_from_item(record.dynamodb.new_image)
    elif _REGION.fullmatch(region_code):
        sweep = _change_of(record, region_code)
    else:
        raise ValueError("a risk-area record whose key is neither a region code nor a sweep")
    if sweep is None:
        return
    outcome = store.run_sweep(
        sweep,
        recompute=_recompute,
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
