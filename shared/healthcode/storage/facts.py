"""Facts under a person: write them (idempotently, by deterministic id) and read a person's
whole state in one Query, converted to the colour engine's inputs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.models import BatchWrite

from healthcode.rules import colour
from healthcode.rules.policy import FactKind, RiskLevel
from healthcode.storage.base import ttl_after
from healthcode.storage.models import Fact

#: Stored kinds that are not a FactKind.
TRAVEL, LAB, OVERRIDE = "travel", "lab", "override"
#: Facts stay (for audit and appeals) this long after they stop counting, then TTL removes them.
KEEP_AFTER_EXPIRY_DAYS = 30


@dataclass
class PersonState:
    """Everything the colour engine needs about one person."""

    facts: list[colour.Fact] = field(default_factory=list)
    labs: list[colour.LabResult] = field(default_factory=list)
    overrides: list[colour.Override] = field(default_factory=list)
    travel: list[colour.Travel] = field(default_factory=list)


def item_for(person_id: str, fact: colour.Fact, *, recorded_at: datetime, source: str | None = None) -> Fact:
    return Fact(
        person_id,
        fact.fact_id,
        kind=str(fact.kind),
        starts_at=fact.starts_at,
        expires_at=fact.expires_at,
        recorded_at=fact.recorded_at or recorded_at,
        detail=fact.detail,
        source=source,
        expires_ttl=ttl_after(fact.expires_at, KEEP_AFTER_EXPIRY_DAYS) if fact.expires_at else None,
    )


def override_item(person_id: str, override: colour.Override, *, recorded_at: datetime, source: str) -> Fact:
    return Fact(
        person_id,
        f"override#{override.override_id}",
        kind=OVERRIDE,
        starts_at=override.starts_at,
        expires_at=override.until,
        recorded_at=recorded_at,
        level=int(override.level),
        detail=override.reason_code,
        source=source,
        expires_ttl=ttl_after(override.until, KEEP_AFTER_EXPIRY_DAYS) if override.until else None,
    )


def lab_item(
    person_id: str, lab_id: str, result: colour.LabResult, *, recorded_at: datetime, keep_days: int
) -> Fact:
    return Fact(
        person_id,
        f"lab#{lab_id}",
        kind=LAB,
        starts_at=result.sampled_at,
        recorded_at=recorded_at,
        positive=result.positive,
        expires_ttl=ttl_after(result.sampled_at, keep_days),
    )


def travel_item(person_id: str, trip: colour.Travel, *, recorded_at: datetime, keep_days: int) -> Fact:
    """A declared trip, indexed by region (``by_travel_region``) so a risk-area change finds it."""
    return Fact(
        person_id,
        f"trip#{trip.region_code}#{trip.left_at:%Y%m%dT%H%M%S}",
        kind=TRAVEL,
        starts_at=trip.left_at,
        recorded_at=recorded_at,
        travel_region=trip.region_code,
        left_at=trip.left_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expires_ttl=ttl_after(trip.left_at, keep_days),
    )


def save(items: Iterable[Fact]) -> int:
    """Write facts in batches of 25 (pynamodb retries unprocessed items). Same id, same item:
    re-delivery of the same fact rewrites it unchanged, and a fact given twice (two trips to one
    region declared at the same second) is written once, the last given: BatchWriteItem refuses
    a batch that names one key twice."""
    unique = {(item.person_id, item.fact_id): item for item in items}
    with BatchWrite(Fact) as batch:
        for item in unique.values():
            batch.save(item)
    return len(unique)


def delete(person_id: str, fact_id: str) -> None:
    Fact(person_id, fact_id).delete()


def state_of(person_id: str, *, consistent: bool = True) -> PersonState:
    """A person's facts, labs, overrides and trips: one paged Query on the person's key."""
    state = PersonState()
    for item in Fact.query(person_id, consistent_read=consistent):
        if item.kind == LAB:
            state.labs.append(colour.LabResult(sampled_at=item.starts_at, positive=bool(item.positive)))
        elif item.kind == OVERRIDE:
            state.overrides.append(
                colour.Override(
                    override_id=item.fact_id.removeprefix("override#"),
                    level=RiskLevel(int(item.level or 0)),
                    starts_at=item.starts_at,
                    until=item.expires_at,
                    reason_code=item.detail or "manual",
                )
            )
        elif item.kind == TRAVEL:
            state.travel.append(colour.Travel(region_code=str(item.travel_region), left_at=item.starts_at))
        elif item.kind in FactKind.__members__.values():
            state.facts.append(
                colour.Fact(
                    fact_id=item.fact_id,
                    kind=FactKind(item.kind),
                    starts_at=item.starts_at,
                    expires_at=item.expires_at,
                    detail=item.detail,
                    recorded_at=item.recorded_at,
                )
            )
    return state
