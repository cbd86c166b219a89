"""Guizhou's assessment indicators (申领率, 查验率, 数据准确性, 码色变更及时性) for a region over
a span of days, read from counters only, and the counters kept at write time for them.
docs/indicators.md defines each figure.

Read side (``GET /v1/reports/indicators``): the region's indicator counters (one GetItem and one
Query), its population (one GetItem), the per venue-day scan counters of each day
(``REGION_SHARDS`` Queries a day) with the types of their venues (kept on them; a BatchGetItem of
venues for counters written before) and the coverage counters (one Query). Never a Scan, never a
scan record.

Write side: :func:`note_person` (a new code), :func:`note_attempt` (an application or manual
registration, refused or not) and :func:`note_colour_change` (a colour written because of a
newly learned fact). A counter is an atomic ``ADD``; when the write fails the request or stream
record it belongs to goes on (a refused application stays a 422, a written colour stays
written) and the loss is logged as ``indicator counter lost``: the indicators can only
under-count, never fail what they measure.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import colour, regions
from healthcode.rules import indicators as rules
from healthcode.rules.colour import ColourDecision
from healthcode.rules.policy import FactKind
from healthcode.rules.venues import coverage_levels
from healthcode.settings import policy, settings
from healthcode.storage import registers as store
from healthcode.storage import stats
from healthcode.storage.connection import StorageError

__all__ = [
    "MAX_DAYS",
    "ColourChange",
    "Indicators",
    "indicators",
    "note_attempt",
    "note_colour_change",
    "note_colour_changes",
    "note_person",
    "note_registration",
    "stated_checkpoint",
    "stated_region",
]

logger = get_logger("indicators")

#: Days one indicators request may span.
MAX_DAYS = 31
#: Facts found by tracing: their colour is late from the moment the case was reported.
_TRACED = frozenset({FactKind.CLOSE_CONTACT, FactKind.SECONDARY_CONTACT})
_LOST = (ClientError, BotoCoreError, StorageError)


# -- write side ----------------------------------------------------------------------------------


def _lost(what: str, error: Exception) -> None:
    logger.warning("indicator counter lost", extra={"counter": what, "error": type(error).__name__})


def note_person(region_code: str) -> None:
    """Count a person who applied for a code with ``region_code`` (application rate)."""
    try:
        store.add_person(region_code)
    except _LOST as error:
        _lost("persons", error)


def attempt_levels(region_code: object) -> tuple[str, ...]:
    """Where an attempt counts: the levels of its region when that is a current code inside the
    province, else the province alone (a refused form may name no usable region)."""
    province = settings().province
    if (
        isinstance(region_code, str)
        and regions.is_region(region_code)
        and regions.in_province(region_code, province)
    ):
        return coverage_levels(region_code)
    return (province,)


def stated_region(event: Mapping[str, object]) -> object:
    """The ``region_code`` a refused application states (None when there is none to read)."""
    return _stated(event, "region_code")


def stated_checkpoint(event: Mapping[str, object]) -> object:
    """The ``checkpoint_id`` a refused manual registration states (None when there is none)."""
    return _stated(event, "checkpoint_id")


def _stated(event: Mapping[str, object], name: str) -> object:
    """A field of a request body read leniently (a refused body may not even be JSON)."""
    body = event.get("body")
    if not isinstance(body, str) or len(body) > 256 * 1024:
        return None
    try:
        text = base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else body
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError, binascii.Error):
        return None
    return value.get(name) if isinstance(value, dict) else None


def note_attempt(region_code: object, *, refused: bool, now: datetime | None = None) -> None:
    """Count an application or manual registration, ``refused`` for invalid data (data accuracy)."""
    try:
        store.add_attempt(attempt_levels(region_code), stats.day_of(now or clock.now()), refused=refused)
    except _LOST as error:
        _lost("attempts", error)


def note_registration(checkpoint_id: object, *, refused: bool, now: datetime | None = None) -> None:
    """Count a manual registration at a checkpoint in the checkpoint's region (one GetItem; an
    unknown checkpoint counts in the province)."""
    region_code: str | None = None
    try:
        if isinstance(checkpoint_id, str) and checkpoint_id.startswith("v-") and len(checkpoint_id) <= 64:
            # the venue store is loaded only where a venue is read (most importers never do)
            from healthcode.storage import venues as venue_store

            venue = venue_store.get(checkpoint_id)
            region_code = venue.region_code if venue is not None else None
    except _LOST as error:
        _lost("attempts", error)
        return
    note_attempt(region_code, refused=refused, now=now)


def _learned(fact: colour.Fact) -> datetime:
    """When the fact behind a colour was learned: for a traced contact, when its case was
    reported (tracing records an exposure with the case's report time)."""
    if fact.kind in _TRACED and fact.recorded_at is not None:
        return fact.recorded_at
    return fact.learned


def colour_change_sample(
    before_reasons: Sequence[Mapping[str, object]],
    decision: ColourDecision,
    facts: Sequence[colour.Fact],
    *,
    written_at: datetime,
) -> tuple[str, int] | None:
    """The cause and whole seconds of a colour change written at ``written_at``: the reasons of
    the new colour that were not reasons before are the news; the earliest learned of them
    sets the delay and names the cause (between facts learned together, the stronger reason).
    None when no new fact is behind the change (an expiry, a negative test)."""
    before = {str(reason.get("fact_id")) for reason in before_reasons}
    by_id = {fact.fact_id: fact for fact in facts}
    news = [by_id[r.fact_id] for r in decision.reasons if r.fact_id not in before and r.fact_id in by_id]
    if not news:
        return None
    # the earliest learned; between facts learned together, the stronger reason (listed first)
    _, first = min(enumerate(news), key=lambda found: (_learned(found[1]), found[0]))
    return str(first.kind), rules.seconds_between(_learned(first), written_at)


def note_colour_change(
    region_code: str,
    before_reasons: Sequence[Mapping[str, object]],
    decision: ColourDecision,
    facts: Sequence[colour.Fact],
    *,
    written_at: datetime,
) -> None:
    """Count a written colour change in the timeliness histogram of its person's region."""
    sample = colour_change_sample(before_reasons, decision, facts, written_at=written_at)
    if sample is None:
        return
    cause, seconds = sample
    try:
        store.add_colour_change(region_code, stats.day_of(written_at), cause, seconds)
    except _LOST as error:
        _lost("colour_change", error)


@dataclass(frozen=True)
class ColourChange:
    """A written colour change to count (:func:`note_colour_changes`)."""

    region_code: str
    before_reasons: Sequence[Mapping[str, object]]
    decision: ColourDecision
    facts: Sequence[colour.Fact]
    written_at: datetime


def note_colour_changes(changes: Sequence[ColourChange]) -> None:
    """Count many written colour changes (a batch of the colour consumer) as
    :func:`note_colour_change` would, with one atomic ``ADD`` per counter item they share."""
    samples = []
    for change in changes:
        sample = colour_change_sample(
            change.before_reasons, change.decision, change.facts, written_at=change.written_at
        )
        if sample is not None:
            samples.append((change.region_code, stats.day_of(change.written_at), *sample))
    if not samples:
        return
    try:
        store.add_colour_changes(samples)
    except _LOST as error:
        _lost("colour_change", error)


# -- read side -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicators:
    region_code: str
    first: str
    last: str
    persons: int
    population: int | None
    application_rate: float | None
    scans: int
    mandatory_scans: int
    mandatory_scan_share: float | None
    mandatory_venues: int
    active_mandatory_venue_days: int
    active_mandatory_venue_share: float | None
    attempts: int
    refused: int
    refused_share: float | None
    complete_records: int
    complete_record_share: float | None
    timeliness: rules.Timeliness
    by_cause: Mapping[str, rules.Timeliness]


def span(first: str | None, last: str | None, *, today: date) -> tuple[str, str]:
    """The days ``from``..``to`` (each ``YYYY-MM-DD``, default today), not after today, ``from``
    not after ``to``, at most ``MAX_DAYS`` days."""
    start = stats.check_day(first, field="from") if first else today.isoformat()
    end = stats.check_day(last, field="to") if last else today.isoformat()
    if end > today.isoformat():
        raise InvalidInput("to must not be after today", field="to", code="invalid_date")
    if start > end:
        raise InvalidInput("from must not be after to", field="from", code="invalid_range")
    if (date.fromisoformat(end) - date.fromisoformat(start)).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a report spans at most {MAX_DAYS} days", field="from", code="range_too_long")
    return start, end


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def indicators(who: Caller, region_code: str, first: str, last: str) -> Indicators:
    """The indicators of a county, prefecture or province (inside the caller's area) over the
    days ``first``..``last``."""
    who.require_area(region_code)
    rules_of_province = policy()
    mandatory = frozenset(rules_of_province.mandatory_venue_types)
    counters = store.indicator_counters(region_code, first, last)
    population = store.population(region_code)
    days = _days(first, last)
    units = [unit for day in days for unit in stats.units(region_code, day)]
    types = {unit.venue_id: unit.venue_type for unit in units if unit.venue_type}
    types |= store.venue_types({unit.venue_id for unit in units} - set(types))
    scans = sum(unit.scans for unit in units)
    at_mandatory = [unit for unit in units if types.get(unit.venue_id) in mandatory]
    mandatory_scans = sum(unit.scans for unit in at_mandatory)
    active = sum(1 for unit in at_mandatory if unit.scans > 0)
    from healthcode.storage import venues as venue_store  # loaded only where a venue is read

    by_type = venue_store.coverage_counts(region_code).by_type
    mandatory_venues = sum(by_type.get(kind, 0) for kind in mandatory)
    complete = sum(unit.complete for unit in units)
    overall = rules.timeliness(rules.merged(counters.timeliness.values()))
    logger.info("indicators", extra={"region_code": region_code, "from": first, "to": last})
    return Indicators(
        region_code=region_code,
        first=first,
        last=last,
        persons=counters.persons,
        population=population,
        application_rate=rules.share(counters.persons, population) if population else None,
        scans=scans,
        mandatory_scans=mandatory_scans,
        mandatory_scan_share=rules.share(mandatory_scans, scans),
        mandatory_venues=mandatory_venues,
        active_mandatory_venue_days=active,
        active_mandatory_venue_share=rules.share(
            min(active, mandatory_venues * len(days)), mandatory_venues * len(days)
        ),
        attempts=counters.attempts,
        refused=counters.refused,
        refused_share=rules.share(counters.refused, counters.attempts),
        complete_records=complete,
        complete_record_share=rules.share(complete, scans),
        timeliness=overall,
        by_cause={cause: rules.timeliness(h) for cause, h in sorted(counters.timeliness.items())},
    )
