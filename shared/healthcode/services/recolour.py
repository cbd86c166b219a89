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

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast, get_args

from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.colour import AreaRisk, ColourDecision, Reason
from healthcode.rules.policy import Policy, RiskLevel
from healthcode.services import indicators
from healthcode.settings import policy as province_policy
from healthcode.storage import audit, facts, persons
from healthcode.storage.base import instant_key
from healthcode.storage.persons import Edit, PersonView

#: Audit kind of a colour change (what ``GET /v1/codes/{id}/history`` lists).
HISTORY_KIND: Final = "colour_change"
_AREA_RISKS: Final = frozenset(get_args(AreaRisk))

#: What a change back to green is put down to in the history, by cause: (Chinese, English).
_BACK_TO_GREEN: Final[dict[str, tuple[str, str]]] = {
    "case_recovered": ("康复出院", "recovered"),
    "case_excluded": ("排除病例", "case excluded"),
    "expiry": ("风险期满", "risk period over"),
    "lab": ("核酸检测阴性", "negative test"),
    "normal_temperature": ("申报体温正常", "normal temperature declared"),
    "quarantine": ("隔离解除", "quarantine ended"),
    "override": ("人工审核", "changed on review"),
    "risk_area": ("风险地区调整", "risk area changed"),
}
_NO_RISK: Final = ("无风险因素", "no risk factors")


def green_text(cause: str, language: str = "zh") -> str:
    """Why a colour went back to green, by the change's ``cause``, in ``language``."""
    chinese, english = _BACK_TO_GREEN.get(cause.split(",")[0], _NO_RISK)
    return chinese if language == "zh" else english


def history_text(reasons: Sequence[str], cause: str, language: str, policy: Policy | None = None) -> str:
    """A history entry's reason in ``language`` from what it stored: the reason codes of the
    colour it changed to (none: back to green, put down to ``cause``)."""
    if not reasons:
        return green_text(cause, language)
    rules = policy or province_policy()
    names = list(dict.fromkeys(colour.fact_text(code, rules, language) for code in reasons))
    return ("；" if language == "zh" else "; ").join(names)


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


def tests_json(tests: Iterable[colour.LabResult]) -> list[dict[str, Any]]:
    """The latest result of each test as stored with the colour (and shown on the code)."""
    return [
        {
            "test": lab.test,
            "result": "positive" if lab.positive else "negative",
            "sampled_at": instant_key(lab.sampled_at),
        }
        for lab in tests
    ]


def _tests_from_json(raw: Sequence[dict[str, Any]] | None) -> tuple[colour.LabResult, ...]:
    return tuple(
        colour.LabResult(
            sampled_at=clock.parse_instant(str(item["sampled_at"])),
            positive=item["result"] == "positive",
            test=str(item["test"]),
        )
        for item in raw or []
    )


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
        tests=_tests_from_json(person.tests),
    )


def reason_text(decision: ColourDecision, language: str = "zh", policy: Policy | None = None) -> str | None:
    """The reasons for a colour as one line in ``language`` (``zh`` by default, else English),
    naming each fact and when the colour will change: a yellow code whose every reason ends
    says when it turns green; another says when it is assessed again. None for green."""
    if not decision.reasons:
        return None
    rules = policy or province_policy()
    chinese = language == "zh"
    names = list(dict.fromkeys(colour.fact_text(reason.code, rules, language) for reason in decision.reasons))
    text = ("；" if chinese else "; ").join(names)
    ends = [reason.until for reason in decision.reasons]
    if not ends or any(end is None for end in ends):
        return text
    when = max(end for end in ends if end is not None).astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")
    if decision.level == RiskLevel.YELLOW:
        return f"{text}，{when} 转为绿码" if chinese else f"{text}; turns green at {when}"
    return f"{text}，{when} 后重新评定" if chinese else f"{text}; assessed again at {when}"


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
    travel = (
        colour.travel_facts(person_id, trips, risk_levels(trips), policy=rules, at=at, labs=state.labs)
        if trips
        else []
    )
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
    tests = tests_json(decision.tests)
    next_change = instant_key(decision.next_change_at) if decision.next_change_at else None
    first = person.colour_as_of is None
    if (
        not first
        and int(person.level) == int(decision.level)
        and person.colour == decision.colour
        and person.reasons == reasons
        and person.next_change_at == next_change
        and (person.tests or []) == tests
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
            "reason": reason_text(decision) or green_text(cause),
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
        tests=tests or None,
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
    # the last attempt's person as read, facts and edit: what was written, if anything
    last: list[tuple[PersonView, facts.PersonState, Edit | None]] = []

    def change(person: PersonView) -> Edit | None:
        state = facts.state_of(person_id)
        decision = assess(person_id, state, at=at, policy=rules)
        decided.append(decision)
        edit = None
        if person.colour_as_of is None or person.colour_as_of <= at:
            edit = record(person, decision, actor=actor, cause=cause)
        last.append((person, state, edit))
        return edit

    if persons.edit(person_id, change) is None:
        return None
    before, state, written = last[-1]
    if written is not None and written.entries and before.colour_as_of is not None:
        # the timeliness indicator: a colour change written because of a newly learned fact
        indicators.note_colour_change(
            before.region_code, before.reasons or [], decided[-1], state.facts, written_at=decided[-1].as_of
        )
    return decided[-1]


# -- many people at once (the colour consumer's batch) ------------------------------------------

#: People decided at once by :func:`recompute_many` (each decision waits on one Query).
DECIDERS: Final = 8


@dataclass(frozen=True)
class _Planned:
    """One person of :func:`recompute_many`: as read, their facts, the decision, the edit."""

    held: persons.Held
    state: facts.PersonState
    decision: ColourDecision
    edit: Edit | None


def recompute_many(
    causes: Mapping[str, str], *, now: datetime | None = None, actor: str = "system"
) -> dict[str, BaseException | None]:
    """:func:`recompute` for many people (person id → cause), with the fewest DynamoDB calls
    that keep optimistic locking: the people read in one BatchGetItem per hundred, each one's
    facts queried and decided ``DECIDERS`` at a time, and every changed person written with
    their history entry under the version read, many people a TransactWriteItems
    (``persons.save_many``). Someone written meanwhile starts again alone through
    :func:`recompute` (fresh read, its own retries). The timeliness counters of the changes
    are added once per counter item.

    Returns, per person id, None when done (unknown people included: nothing to do) or the
    error that stopped that person's recomputation; one person's error never stops the others.
    """
    at = now or clock.now()
    rules = province_policy()
    held = persons.read_many(list(causes))
    outcomes: dict[str, BaseException | None] = {pid: None for pid in causes}

    def plan(pid: str) -> _Planned | BaseException:
        try:
            state = facts.state_of(pid)
            decision = assess(pid, state, at=at, policy=rules)
            person = held[pid].view
            edit = None
            if person.colour_as_of is None or person.colour_as_of <= at:
                edit = record(person, decision, actor=actor, cause=causes[pid])
            return _Planned(held[pid], state, decision, edit)
        except Exception as error:  # noqa: BLE001 - one person's failure is theirs alone
            return error

    planned: list[_Planned] = []
    with ThreadPoolExecutor(max_workers=max(1, min(DECIDERS, len(held)))) as pool:
        for pid, result in zip(held, pool.map(plan, list(held)), strict=True):
            if isinstance(result, BaseException):
                outcomes[pid] = result
            else:
                planned.append(result)
    changed = [(item.held, item.edit) for item in planned if item.edit is not None]
    refused = persons.save_many(changed) if changed else set()
    for pid in refused:
        outcomes[pid] = _recompute_alone(pid, at=at, actor=actor, cause=causes[pid])
    indicators.note_colour_changes(
        [
            indicators.ColourChange(
                item.held.view.region_code,
                item.held.view.reasons or [],
                item.decision,
                item.state.facts,
                item.decision.as_of,
            )
            for item in planned
            if item.edit is not None
            and item.edit.entries
            and item.held.view.colour_as_of is not None
            and item.held.view.person_id not in refused
        ]
    )
    return outcomes


def _recompute_alone(pid: str, *, at: datetime, actor: str, cause: str) -> BaseException | None:
    try:
        recompute(pid, now=at, actor=actor, cause=cause)
    except Exception as error:  # noqa: BLE001 - reported for this person's records
        return error
    return None
