"""Facts under a person: write them (idempotently, by deterministic id) and read a person's
whole state in one Query, converted to the colour engine's inputs; and the risk levels of the
areas a person's trips cross (RiskAreas table), read when their colour is decided.

Every colouring fact carries ``learned_at``, the instant the system learned it (an override
covers only facts learned before its approval, ``rules.colour``): the fact's own ``learned_at``
when the caller set it, else the instant it is written. A fact stored before the attribute
existed is read as learned at the later of its start and its ``recorded_at`` (the old rule)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.models import BatchWrite

from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.policy import FactKind, RiskLevel
from healthcode.storage.base import ttl_after
from healthcode.storage.models import Fact, RiskArea

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


def item_for(
    person_id: str,
    fact: colour.Fact,
    *,
    recorded_at: datetime,
    source: str | None = None,
    learned_at: datetime | None = None,
) -> Fact:
    """The stored item of ``fact``; learned at ``learned_at``, else the fact's own, else when it
    was recorded."""
    return Fact(
        person_id,
        fact.fact_id,
        kind=str(fact.kind),
        starts_at=fact.starts_at,
        expires_at=fact.expires_at,
        recorded_at=fact.recorded_at or recorded_at,
        learned_at=learned_at or fact.learned_at or fact.recorded_at or recorded_at,
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
        test=result.test,
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


def add(
    person_id: str,
    *,
    facts: Iterable[colour.Fact] = (),
    trips: Iterable[colour.Travel] = (),
    recorded_at: datetime,
    source: str | None = None,
    trip_keep_days: int = 0,
) -> int:
    """Write a person's facts and declared trips together (one batch write of up to 25)."""
    return save(
        [
            *(item_for(person_id, fact, recorded_at=recorded_at, source=source) for fact in facts),
            *(
                travel_item(person_id, trip, recorded_at=recorded_at, keep_days=trip_keep_days)
                for trip in trips
            ),
        ]
    )


def add_sourced(entries: Iterable[tuple[str, colour.Fact, str]]) -> int:
    """Write facts of several persons, each with its own source (``(person_id, fact, source)``,
    the fact's ``recorded_at`` set), in BatchWriteItem requests of 25 like ``save``."""
    items = []
    for person_id, fact, source in entries:
        if fact.recorded_at is None:
            raise ValueError("a sourced fact carries the instant it was recorded")
        items.append(item_for(person_id, fact, recorded_at=fact.recorded_at, source=source))
    return save(items)


def area_levels(region_codes: Sequence[str]) -> dict[str, str]:
    """The risk level set on each of these areas that has one (one BatchGetItem per 100)."""
    if not region_codes:
        return {}
    return {area.region_code: str(area.level) for area in RiskArea.batch_get(region_codes)}


def delete(person_id: str, fact_id: str) -> None:
    Fact(person_id, fact_id).delete()


def state_of(person_id: str, *, consistent: bool = True) -> PersonState:
    """A person's facts, labs, overrides and trips: one paged Query on the person's key."""
    state = PersonState()
    for item in Fact.query(person_id, consistent_read=consistent):
        if item.kind == LAB:
            state.labs.append(
                colour.LabResult(
                    sampled_at=item.starts_at,
                    positive=bool(item.positive),
                    test=item.test or colour.NUCLEIC_ACID,
                )
            )
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
                    learned_at=item.learned_at,
                )
            )
    return state


def add_in_batches(
    entries: Iterable[tuple[str, colour.Fact]], *, recorded_at: datetime, source: str | None = None
) -> int:
    """Write facts of many persons (``(person_id, fact)``) in BatchWriteItem requests of 25,
    retrying refused items (``storage.batches``): for long runs such as tracing's exposures.
    They are learned now, whatever ``recorded_at`` says (an exposure traced today from a case
    reported last week is news to an override approved in between)."""
    from healthcode.storage.batches import write_batches

    learned = clock.now()
    return write_batches(
        Fact,
        (
            item_for(
                person_id, fact, recorded_at=recorded_at, source=source, learned_at=fact.learned_at or learned
            )
            for person_id, fact in entries
        ),
    )


def add_labs(
    results: Iterable[tuple[str, str, colour.LabResult]], *, recorded_at: datetime, keep_days: int
) -> int:
    """Write lab results (``(person_id, lab_id, result)``) as lab facts, in batches like
    ``add_in_batches``."""
    from healthcode.storage.batches import write_batches

    return write_batches(
        Fact,
        (
            lab_item(person_id, lab_id, result, recorded_at=recorded_at, keep_days=keep_days)
            for person_id, lab_id, result in results
        ),
    )
