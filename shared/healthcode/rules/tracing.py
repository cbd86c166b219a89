"""The contact-tracing rule (docs/api.md), as plain functions over presences.

A *presence* is a person at a venue over ``[start, start + dwell(venue type)]``: every check-in
and every checkpoint verification is one. For a case, the stream consumer

1. reads the case person's presences whose start lies in :func:`case_window`,
2. for each, queries the presences at the same venue and at the other venues of its complex
   whose start lies in :func:`co_visitor_window` (the only starts that can overlap at all),
3. hands everything to :func:`exposures_for`, which keeps the real exposures, and
4. writes one colour fact per exposure (:meth:`Exposure.fact`) and one contact row per person
   (:func:`strongest_per_person`).

Overlap at the same venue of at least ``close_contact_minutes`` is a close exposure, anything
shorter but above zero a secondary one; any overlap above zero at a different venue of the same
complex is secondary. Touching intervals (one ends the instant the other starts) overlap by
zero and are no exposure. All boundaries are compared as exact ``timedelta`` values.

Each exposure counts on its own from the end of its overlap: a close one gives a fact that
expires ``quarantine_days`` after that end, a secondary one ``observation_days`` after it. An
exposure whose fact has already expired is still a contact; it just changes no colour.

Second generation (policy ``trace_generations`` 2, Henan)
    Each close contact's own presences whose start lies in :func:`second_generation_window`
    (from the start of its first close exposure until it turned red, or until now) are traced
    like a case's: anyone overlapping one of them (same venue or same complex, any overlap above
    zero) is a *secondary* contact of the case with ``generation`` 2 and ``via`` the close
    contact (:func:`second_generation_exposures`). Generation 2 never makes a close contact and
    is never traced further; the case person and the close contact are not their own contacts.
    A person's strongest exposure prefers generation 1 over generation 2 of the same kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from healthcode.rules.colour import Fact
from healthcode.rules.policy import FactKind, Policy


class ContactKind(StrEnum):
    """How strongly a contact was exposed: the ``kind`` of a contact row."""

    CLOSE = "close"
    SECONDARY = "secondary"

    @property
    def fact_kind(self) -> FactKind:
        return FactKind.CLOSE_CONTACT if self is ContactKind.CLOSE else FactKind.SECONDARY_CONTACT


#: Ranking used to pick a person's strongest exposure (higher is stronger); a generation-2
#: exposure (always secondary) ranks below every generation-1 one.
_STRENGTH: dict[ContactKind, int] = {ContactKind.CLOSE: 2, ContactKind.SECONDARY: 1}
#: Generations tracing reaches: the case's own contacts, then those of its close contacts.
FIRST, SECOND = 1, 2


def strength(kind: ContactKind, generation: int = FIRST) -> int:
    """How strong an exposure of this kind and generation is (2 close, 1 secondary, 0 secondary
    of generation 2)."""
    return _STRENGTH[ContactKind(kind)] if generation == FIRST else 0


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Presence:
    """One person at one venue from ``start`` for the dwell time of the venue's type.

    ``complex_id`` is the root of the venue's ``parent_venue_id`` chain (the venue itself when
    it stands alone). ``start`` must be timezone-aware and is kept in UTC.
    """

    presence_id: str
    person_id: str
    venue_id: str
    complex_id: str
    venue_type: str
    start: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _require_aware(self.start, "Presence.start"))

    def dwell(self, policy: Policy) -> timedelta:
        return timedelta(minutes=policy.dwell(self.venue_type))

    def end(self, policy: Policy) -> datetime:
        """The instant the presence ends: ``start`` plus the dwell of its venue type."""
        return self.start + self.dwell(policy)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One contact presence overlapping one case presence.

    ``venue_id`` is where the contact was (for a complex exposure, not the case's venue).
    ``exposure_start``/``exposure_end`` bound the overlap; ``overlap`` is their difference.
    ``generation`` 2 exposures were found from the presences of the close contact ``via``
    (``case_presence_id`` is then that contact's presence).
    """

    exposure_id: str
    case_id: str
    person_id: str
    kind: ContactKind
    venue_id: str
    case_presence_id: str
    presence_id: str
    exposure_start: datetime
    exposure_end: datetime
    overlap: timedelta
    generation: int = FIRST
    via: str | None = None

    @property
    def overlap_minutes(self) -> float:
        """The overlap in (possibly fractional) minutes, for display only; rules use ``overlap``."""
        return self.overlap / timedelta(minutes=1)

    @property
    def strength(self) -> int:
        return strength(self.kind, self.generation)

    def expires_at(self, policy: Policy) -> datetime:
        """When this exposure stops counting for colour: its end plus quarantine/observation days."""
        days = (
            policy.tracing.quarantine_days
            if self.kind is ContactKind.CLOSE
            else policy.tracing.observation_days
        )
        return self.exposure_end + timedelta(days=days)

    def fact(self, policy: Policy) -> Fact:
        """The colour fact this exposure gives the contact: from the exposure's start until
        :meth:`expires_at` (exclusive; at that instant the exposure no longer counts)."""
        found = f" (generation 2 via {self.via})" if self.generation == SECOND else ""
        return Fact(
            fact_id=self.exposure_id,
            kind=self.kind.fact_kind,
            starts_at=self.exposure_start,
            expires_at=self.expires_at(policy),
            detail=f"{self.kind.value} contact{found} of case {self.case_id} at venue {self.venue_id}",
        )


@dataclass(frozen=True, slots=True)
class ContactSummary:
    """One row of ``GET /v1/cases/{case_id}/contacts``: a person's strongest exposure."""

    person_id: str
    kind: ContactKind
    venue_id: str
    exposure_at: datetime
    overlap: timedelta
    exposure_id: str
    generation: int = FIRST
    via: str | None = None

    @property
    def overlap_minutes(self) -> float:
        return self.overlap / timedelta(minutes=1)


def case_window(diagnosed_at: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """Start times of the case's presences that count: ``[diagnosed_at − lookback_days,
    diagnosed_at]``, both ends inclusive."""
    diagnosed = _require_aware(diagnosed_at, "diagnosed_at")
    return diagnosed - timedelta(days=policy.tracing.lookback_days), diagnosed


def in_case_window(presences: Iterable[Presence], diagnosed_at: datetime, policy: Policy) -> list[Presence]:
    """The presences whose start lies in :func:`case_window` (inclusive), in start order."""
    first, last = case_window(diagnosed_at, policy)
    return sorted((p for p in presences if first <= p.start <= last), key=lambda p: (p.start, p.presence_id))


def co_visitor_window(case_presence: Presence, policy: Policy, venue_type: str) -> tuple[datetime, datetime]:
    """Start times ``t`` of presences at a venue of ``venue_type`` that can overlap
    ``case_presence`` at all: ``case.start − dwell(venue_type) < t < case.end``.

    Both ends are **exclusive**: a presence starting exactly at either bound only touches the
    case presence. A query that includes the bounds (DynamoDB ``BETWEEN``) is still safe — it can
    only add touching presences, which :func:`exposures_for` discards.
    """
    dwell = timedelta(minutes=policy.dwell(venue_type))
    return case_presence.start - dwell, case_presence.end(policy)


def exposure_id(case_id: str, case_presence_id: str, presence_id: str) -> str:
    """Deterministic id of the exposure of ``presence_id`` to ``case_presence_id`` in a case,
    so re-running tracing (a retried stream batch) writes the same facts. It starts with the
    case id, so a case's exposures share a prefix."""
    key = json.dumps([case_id, case_presence_id, presence_id], ensure_ascii=True, separators=(",", ":"))
    return f"exposure#{case_id}#{hashlib.sha256(key.encode('ascii')).hexdigest()[:32]}"


def _exposure(
    case_id: str, case_presence: Presence, contact: Presence, policy: Policy, *, via: str | None = None
) -> Exposure | None:
    if case_presence.venue_id == contact.venue_id:
        same_venue = True
    elif case_presence.complex_id == contact.complex_id:
        same_venue = False
    else:
        return None
    start = max(case_presence.start, contact.start)
    end = min(case_presence.end(policy), contact.end(policy))
    overlap = end - start
    if overlap <= timedelta(0):
        return None
    close = via is None and same_venue and overlap >= timedelta(minutes=policy.tracing.close_contact_minutes)
    return Exposure(
        exposure_id=exposure_id(case_id, case_presence.presence_id, contact.presence_id),
        case_id=case_id,
        person_id=contact.person_id,
        kind=ContactKind.CLOSE if close else ContactKind.SECONDARY,
        venue_id=contact.venue_id,
        case_presence_id=case_presence.presence_id,
        presence_id=contact.presence_id,
        exposure_start=start,
        exposure_end=end,
        overlap=overlap,
        generation=FIRST if via is None else SECOND,
        via=via,
    )


def exposures_for(
    case_id: str,
    case_person_id: str,
    case_presences: Iterable[Presence],
    candidates: Iterable[Presence],
    policy: Policy,
) -> list[Exposure]:
    """Every exposure of another person to the case: each case presence against each candidate.

    ``case_presences`` are the case person's presences already selected by :func:`case_window`
    (a query on that range, or :func:`in_case_window`); one of another person is a caller's bug.
    ``candidates`` may hold anything the window queries returned — other venues and complexes,
    the case person, presences that do not overlap, the same presence twice: only real
    exposures come back, once each, ordered by person, start and id.
    """
    own = {p.presence_id: p for p in case_presences}
    strangers = [p for p in own.values() if p.person_id != case_person_id]
    if strangers:
        raise ValueError(f"case {case_id}: case presences of another person ({strangers[0].presence_id})")
    others = {p.presence_id: p for p in candidates if p.person_id != case_person_id}
    found = [
        exposure
        for case_presence in own.values()
        for contact in others.values()
        if (exposure := _exposure(case_id, case_presence, contact, policy)) is not None
    ]
    return sorted(found, key=lambda e: (e.person_id, e.exposure_start, e.exposure_id))


def second_generation_window(
    exposure_start: datetime, turned_red_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Start times of a close contact's own presences traced in generation 2: from the start of
    its (first) close exposure until it turned red, or until ``now`` if it has not; both ends
    inclusive. A window that would end before it starts is empty at its start."""
    first = _require_aware(exposure_start, "exposure_start")
    last = _require_aware(turned_red_at if turned_red_at is not None else now, "turned_red_at")
    return first, max(first, last)


def second_generation_exposures(
    case_id: str,
    case_person_id: str,
    via: str,
    contact_presences: Iterable[Presence],
    candidates: Iterable[Presence],
    policy: Policy,
) -> list[Exposure]:
    """Every exposure found from the close contact ``via``'s own presences (already selected by
    :func:`second_generation_window`): secondary, generation 2, never of the case person or of
    ``via`` itself; ordered like :func:`exposures_for`."""
    own = {p.presence_id: p for p in contact_presences}
    strangers = [p for p in own.values() if p.person_id != via]
    if strangers:
        raise ValueError(f"case {case_id}: presences of {via} include another person's")
    others = {p.presence_id: p for p in candidates if p.person_id not in (case_person_id, via)}
    found = [
        exposure
        for contact_presence in own.values()
        for other in others.values()
        if (exposure := _exposure(case_id, contact_presence, other, policy, via=via)) is not None
    ]
    return sorted(found, key=lambda e: (e.person_id, e.exposure_start, e.exposure_id))


def _beats(challenger: Exposure, holder: Exposure) -> bool:
    """Whether ``challenger`` is a stronger exposure than ``holder``: the stronger kind (generation
    1 before 2), then the longer overlap, then the later end (it counts for colour longest), then
    the smaller id."""
    a = (challenger.strength, challenger.overlap, challenger.exposure_end)
    b = (holder.strength, holder.overlap, holder.exposure_end)
    if a != b:
        return a > b
    return challenger.exposure_id < holder.exposure_id


def strongest_per_person(exposures: Iterable[Exposure]) -> list[ContactSummary]:
    """One row per person: their strongest exposure (close over secondary, generation 1 over 2,
    then the longest overlap, then the latest end, then the smallest exposure id). Close contacts
    first, then secondary of generation 1, then of generation 2, each by person id."""
    best: dict[str, Exposure] = {}
    for exposure in exposures:
        current = best.get(exposure.person_id)
        if current is None or _beats(exposure, current):
            best[exposure.person_id] = exposure
    rows = [
        ContactSummary(
            person_id=e.person_id,
            kind=e.kind,
            venue_id=e.venue_id,
            exposure_at=e.exposure_start,
            overlap=e.overlap,
            exposure_id=e.exposure_id,
            generation=e.generation,
            via=e.via,
        )
        for e in best.values()
    ]
    return sorted(rows, key=lambda row: (-strength(row.kind, row.generation), row.person_id))
