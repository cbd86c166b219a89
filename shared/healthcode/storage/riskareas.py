"""RiskAreasTable: the level set on each area and, beside the areas, *sweep* items
(``region_code = sweep#<area>#<change>#<part>``) that carry an interrupted risk-area change on
to the next invocation, as tasks do for tracing; and the trips a change reaches (FactsTable's
sparse index ``by_travel_region``, keyed by the exact code visited)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError

from healthcode.errors import Conflict
from healthcode.rules.cases import SWEEP_PREFIX, Sweep
from healthcode.rules.colour import AreaRisk
from healthcode.storage.connection import table
from healthcode.storage.models import Fact, RiskArea, RiskAreaSweep

__all__ = ["RiskAreaView", "add_sweep", "get", "is_sweep_key", "put", "sweep_from_image", "travellers"]

#: Where a page of trips resumes (DynamoDB's ``LastEvaluatedKey``; None: from the start).
Resume = Mapping[str, Any] | None
#: Attempts at setting a level against concurrent changes (optimistic locking).
PUT_ATTEMPTS = 5


@dataclass(frozen=True)
class RiskAreaView:
    region_code: str
    level: str
    updated_at: datetime
    updated_by: str


def _view(area: RiskArea) -> RiskAreaView:
    return RiskAreaView(
        region_code=area.region_code, level=area.level, updated_at=area.updated_at, updated_by=area.updated_by
    )


def _condition_failed(error: PutError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def get(region_code: str) -> RiskAreaView | None:
    try:
        return _view(RiskArea.get(region_code, consistent_read=True))
    except RiskArea.DoesNotExist:
        return None


def put(region_code: str, level: AreaRisk, *, actor: str, now: datetime) -> RiskAreaView:
    """Set an area's level (optimistic locking; a concurrent change is retried on fresh data)."""
    for _ in range(PUT_ATTEMPTS):
        try:
            area = RiskArea.get(region_code, consistent_read=True)
        except RiskArea.DoesNotExist:
            area = RiskArea(region_code)
        area.level = level
        area.updated_at = now
        area.updated_by = actor
        try:
            area.save()
            return _view(area)
        except PutError as error:
            if not _condition_failed(error):
                raise
    raise Conflict("the risk area is being changed by someone else; try again", code="concurrent_change")


# -- sweeps --------------------------------------------------------------------------------------


def is_sweep_key(region_code: object) -> bool:
    return isinstance(region_code, str) and region_code.startswith(SWEEP_PREFIX)


def sweep_from_image(image: Mapping[str, Any]) -> Sweep:
    """The sweep of a sweep item's stream image; ``ValueError`` if malformed (a poison record)."""
    data = image.get("sweep")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as error:
            raise ValueError("sweep is not JSON") from error
    sweep = Sweep.from_json(data)
    if sweep.key != image.get("region_code"):
        raise ValueError("sweep stored under a key that is not its own")
    return sweep


def add_sweep(sweep: Sweep, *, now: datetime) -> None:
    """Write the sweep item (its insert carries the change on); a retry finds it written."""
    try:
        RiskAreaSweep(sweep.key, sweep=sweep.to_json(), created_at=now).save(
            condition=RiskAreaSweep.region_code.does_not_exist()
        )
    except PutError as error:
        if not _condition_failed(error):
            raise


def travellers(
    region_code: str, *, left_since: datetime, after: Resume, limit: int
) -> tuple[list[str], Resume]:
    """One page of the persons with a trip to exactly ``region_code`` left at or after
    ``left_since`` (the person of each trip, repeats included); and where the next page resumes."""
    answer = table(Fact).query(
        region_code,
        range_key_condition=Fact.left_at >= left_since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        index_name="by_travel_region",
        exclusive_start_key=dict(after) if after is not None else None,
        limit=limit,
    )
    found = [str(raw["person_id"]["S"]) for raw in answer.get("Items", [])]
    return found, answer.get("LastEvaluatedKey")
