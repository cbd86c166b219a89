"""Keeping a person's stored colour in step with their facts: the read and write side of the rule.

``healthcode.rules.colour`` decides a colour from facts; this module reads what a decision needs and
keeps the decision on the person's item:

* :func:`current` — the colour to show now. While the stored decision holds (the stored
  ``next_change_at`` has not come yet) it is answered from the item the caller already read,
  with no DynamoDB call. Otherwise it is decided again from the person's facts (one Query, and
  one BatchGetItem of risk areas when they declared travel), without writing.
* :func:`recompute` — decide from the stored facts and, if the level, colour, reasons or next
  change differ from what is stored, write them with a ``colour_change`` history entry in the
  same transaction, under the person's version (a concurrent write makes it start again from a
  fresh read). Redelivered stream records find nothing left to change, so it is idempotent.
* :func:`assess` and :func:`record` — the two halves, for callers that decide before anything is
  stored (an application) or edit other fields in the same write.

Travel: declared trips are stored facts of kind ``travel``; their risk comes from the RiskAreas
table at decision time (the trip's county, its prefecture ``xxyy00`` and its province
``xx0000``; the most specific level set wins, see ``colour.travel_facts``), so a risk-area
change is a reason to call :func:`recompute` for the people who travelled there.

Stored form on ``Person``: ``level``, ``colour``, ``reasons`` (JSON list of ``{code, level,
fact_id, until, text}``, ``until`` in the storage instant format), ``colour_as_of``,
``next_change_at`` (storage instant text, the range key of index ``by_next_change``) and
``change_bucket`` — the UTC hour ``YYYY-MM-DDTHH`` of ``next_change_at``, the partition of that
index. The expiry job reads one bucket per hour and calls :func:`recompute` for each person in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast, get_args

from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.colour import AreaRisk, ColourDecision, Reason
from healthcode.rules.policy import Policy, RiskLevel
from healthcode.settings import policy as province_policy
from healthcode.storage import audit, facts, persons
from healthcode.storage.base import instant_key
from healthcode.storage.persons import Edit, PersonView

#: Audit kind of a colour change (what ``GET /v1/codes/{id}/history`` lists).
HISTORY_KIND: Final = "colour_change"
_AREA_RISKS: Final = frozenset(get_args(AreaRisk))

#: What a change back to green is put down to in the history, by cause.
_BACK_TO_GREEN: Final[dict[str, str]] = {
    "expiry": "风险期满 risk period over",
    "lab": "核酸检测阴性 negative test",
    "override": "人工审核 changed on review",
    "risk_area": "风险地区调整 risk area changed",
}
_NO_RISK: Final = "无风险因素 no risk factors"


# -- stored form -------------------------------------------------------------------------------


def bucket_of(instant: datetime | None) -> str | None:
    """The ``by_next_change`` partition of an instant: its UTC hour, ``YYYY-MM-DDTHH``."""
    return None if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%dT%H")


def reasons_json(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    return [
        {
            "code": reason.code,
            "level": int(reason.level),
            "fact_id": reason.fact_id,
            "until": instant_key(reason.until) if reason.until else None,
            "text": reason.text,
        }
        for reason in reasons
    ]


def _reasons_from_json(raw: Sequence[dict[str, Any]]) -> tuple[Reason, ...]:
    return tuple(
        Reason(
            code=str(item["code"]),
            level=RiskLevel(int(item["level"])),
            fact_id=str(item["fact_id"]),
            until=clock.parse_instant(item["until"]) if item.get("until") else None,
            text=str(item["text"]),
        )
        for item in raw
    )


def stored_decision(person: PersonView, *, at: datetime, policy: Policy) -> ColourDecision | None:
    """The decision stored on ``person`` if it still holds at ``at``, else None."""
    as_of = person.colour_as_of
    if as_of is None or at < as_of:
        return None
    next_change = clock.parse_instant(person.next_change_at) if person.next_change_at else None
    if next_change is not None and at >= next_change:
        return None
    level = RiskLevel(int(person.level))
    return ColourDecision(
        level=level,
        colour=policy.colour(level),
        reasons=_reasons_from_json(person.reasons or []),
        next_change_at=next_change,
        as_of=at,
    )


def reason_text(decision: ColourDecision) -> str | None:
    """The reasons for a colour as one line (None for green: nothing to explain)."""
    texts = list(dict.fromkeys(reason.text for reason in decision.reasons))
    return "；".join(texts) if texts else None


# -- deciding ----------------------------------------------------------------------------------


def _covering_areas(region_code: str) -> tuple[str, ...]:
    return (region_code, f"{region_code[:4]}00", f"{region_code[:2]}0000")


def risk_levels(trips: Iterable[colour.Travel]) -> dict[str, AreaRisk]:
    """The risk levels set on the areas covering ``trips`` (one BatchGetItem per 100 areas)."""
    codes = sorted({code for trip in trips for code in _covering_areas(trip.region_code)})
    levels: dict[str, AreaRisk] = {}
    for region_code, level in facts.area_levels(codes).items():
        if level not in _AREA_RISKS:
            raise ValueError(f"risk area {region_code} has an unknown level")
        levels[region_code] = cast(AreaRisk, level)
    return levels


def assess(
    person_id: str, state: facts.PersonState, *, at: datetime, policy: Policy | None = None
) -> ColourDecision:
    """Decide a person's colour at ``at`` from ``state``, reading the risk areas of their trips."""
    rules = policy or province_policy()
    window = timedelta(days=rules.risk_travel_window_days)
    trips = [trip for trip in state.travel if trip.left_at <= at < trip.left_at + window]
    travel = colour.travel_facts(person_id, trips, risk_levels(trips), policy=rules, at=at) if trips else []
    return colour.decide(
        [*state.facts, *travel], policy=rules, at=at, labs=state.labs, overrides=state.overrides
    )


def current(person: PersonView, *, now: datetime | None = None) -> ColourDecision:
    """The person's colour now. If the stored colour is still valid (now < stored next_change_at,
    or no next change) answer from the stored item with NO DynamoDB call; otherwise recompute from
    facts (one Query on the person's facts + risk-area reads for declared travel) without writing."""
    at = now or clock.now()
    rules = province_policy()
    held = stored_decision(person, at=at, policy=rules)
    if held is not None:
        return held
    return assess(person.person_id, facts.state_of(person.person_id, consistent=False), at=at, policy=rules)


# -- storing -----------------------------------------------------------------------------------


def record(person: PersonView, decision: ColourDecision, *, actor: str, cause: str) -> Edit | None:
    """The person with ``decision`` stored on them, or None when nothing stored changes. The
    edit carries the history entry to write with the person: none when only the expiry of a
    reason or the next change moved, one when the colour, the level or the kinds of reason
    changed."""
    reasons = reasons_json(decision.reasons)
    next_change = instant_key(decision.next_change_at) if decision.next_change_at else None
    first = person.colour_as_of is None
    if (
        not first
        and int(person.level) == int(decision.level)
        and person.colour == decision.colour
        and person.reasons == reasons
        and person.next_change_at == next_change
    ):
        return None
    before_codes = sorted({str(item["code"]) for item in person.reasons or []})
    after_codes = sorted({reason.code for reason in decision.reasons})
    shown = first or int(person.level) != int(decision.level) or person.colour != decision.colour
    shown = shown or before_codes != after_codes
    entries: list[audit.Entry] = []
    if shown:
        details = {
            "from": None if first else person.colour,
            "to": decision.colour,
            "from_level": None if first else int(person.level),
            "level": int(decision.level),
            "reasons": after_codes,
            "reason": reason_text(decision) or _BACK_TO_GREEN.get(cause.split(",")[0], _NO_RISK),
            "cause": cause,
        }
        entry_id = f"v{(person.version or 0) + 1}"  # the write that makes the next version
        entries.append(
            audit.person_entry(
                person.person_id,
                HISTORY_KIND,
                actor=actor,
                at=decision.as_of,
                details=details,
                entry_id=entry_id,
            )
        )
    coloured = replace(
        person,
        level=int(decision.level),
        colour=decision.colour,
        reasons=reasons,
        colour_as_of=decision.as_of,
        next_change_at=next_change,
        change_bucket=bucket_of(decision.next_change_at),
    )
    return Edit(person=coloured, entries=tuple(entries))


def recompute(
    person_id: str, *, now: datetime | None = None, actor: str = "system", cause: str
) -> ColourDecision | None:
    """Read the person's state, decide, and if level/colour/reasons/next_change_at changed, write
    the person (optimistic locking, retry on version conflict) with a ``colour_change`` history
    entry in the same transaction. Returns None if the person does not exist. Idempotent.

    A stored decision made at a later instant than ``now`` is left alone (a delayed caller never
    overwrites a newer decision); the decision at ``now`` is still returned."""
    at = now or clock.now()
    rules = province_policy()
    decided: list[ColourDecision] = []

    def change(person: PersonView) -> Edit | None:
        decision = assess(person_id, facts.state_of(person_id), at=at, policy=rules)
        decided.append(decision)
        if person.colour_as_of is not None and person.colour_as_of > at:
            return None
        return record(person, decision, actor=actor, cause=cause)

    if persons.edit(person_id, change) is None:
        return None
    return decided[-1]
