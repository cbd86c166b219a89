"""Cases: open one (an official's report or a positive lab result), read it and its contacts.

A case is facts in, colours out: opening it writes the case (whose insert starts tracing, see
``services.tracing``), its case fact under the person (red from the diagnosis on) and its audit
entry in ONE transaction (``storage.cases.open_case``), so no crash leaves contacts traced and the
case person green. A case reported by an official also recolours the person at once, so the
answer shows them red.

One official cannot red-code many: a report of a new case counts one person against the
official's hourly limit (policy ``official_coloured_persons_per_hour_limit``, an atomic counter);
past it the report is held for a second official (``services.approvals``, kind ``case``) and
answers ``202 pending_approval``; nobody turns red until a different official approves it.

A case's status changes with :func:`change_status` (``rules.cases.check_status_change``): an
upgrade applies at once (the case fact learned again, the person recoloured); closing it as
``recovered`` or ``excluded`` waits for a second official (kind ``case_status``), and on
approval (:func:`execute_status_change`) releases the case person's red by policy
(``recovery_monitoring_days`` of yellow after recovery, none by default) and, for an excluded
case, has tracing end every exposure fact found through it (a ``RELEASE`` item on the case,
``services.tracing.release``; the colour consumer then recolours each contact).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.errors import Conflict, NotFound
from healthcode.protection.auth import Caller
from healthcode.rules import cases
from healthcode.rules.colour import ColourDecision
from healthcode.services import account_limits, approvals, areas, recolour
from healthcode.settings import policy
from healthcode.storage import cases as case_store
from healthcode.storage import persons
from healthcode.storage.cases import CASE_REPORTED, CaseView, ContactRow, LabOfCase, case_fact_id
from healthcode.storage.overrides import RequestView

__all__ = [
    "CASE_REPORTED",
    "HELD_KIND",
    "CaseView",
    "ContactRow",
    "LabOfCase",
    "ReportedCase",
    "StatusChange",
    "case_fact_id",
    "change_status",
    "contacts",
    "execute_held",
    "execute_status_change",
    "open_case",
    "report",
    "show",
]

#: Kind of a held case report (``services.approvals``).
HELD_KIND = "case"
#: Kind of a case closed as recovered or excluded, waiting for a second official.
STATUS_KIND = "case_status"
#: Attempts at a status change against concurrent changes of the same case.
CHANGE_ATTEMPTS = 3


@dataclass(frozen=True)
class ReportedCase:
    """A report's outcome: the case and the person's colour, or the request it waits in."""

    case: CaseView | None
    created: bool
    decision: ColourDecision | None
    held: RequestView | None = None


def open_case(
    *,
    person_id: str,
    status: cases.CaseStatus,
    diagnosed_at: datetime,
    actor: str,
    origin: str,
    now: datetime,
    lab: LabOfCase | None = None,
) -> tuple[CaseView, bool]:
    """The case of ``person_id`` diagnosed at ``diagnosed_at`` with its case fact and audit entry,
    written together (``storage.cases.open_case``). Returns the case and whether it is new.

    Idempotent: a retry finds the same case and writes nothing; a new ``status`` (suspected →
    confirmed) or a positive ``lab`` result not recorded before is news: the fact is learned
    again now, so an override approved before it does not hide it."""
    case_id = cases.case_id_for(person_id, diagnosed_at)
    return case_store.open_case(
        case_id,
        person_id=person_id,
        status=status,
        diagnosed_at=diagnosed_at,
        actor=actor,
        origin=origin,
        now=now,
        lab=lab,
    )


def report(report: cases.CaseReport, *, who: Caller, now: datetime) -> ReportedCase:
    """An official reports a case: the person (by id or ID number) turns red at once, unless
    the official is past their hourly limit of persons coloured: then it waits for a second
    official (``held``). A person outside the official's area: 403 ``outside_area`` when named by
    id; when named by ID number, 404 as if nobody held it (as a search answers)."""
    official = who.sub
    account_limits.official_write(official, now=now)
    person = None
    if report.person_id is not None:
        person = persons.get(report.person_id, consistent=True)
        if person is None:
            raise NotFound("no such person", field="person_id", code="person_not_found")
    elif report.id_number is not None:
        person = persons.holder_of(report.id_number, report.id_type)
        if person is not None and not who.covers(person.region_code):
            person = None  # answered as nobody: a report must not tell where an ID number is held
    if person is None:
        raise NotFound("nobody holds a code under this ID number", field="id_number", code="person_not_found")
    who.require_area(person.region_code)
    case_id = cases.case_id_for(person.person_id, report.diagnosed_at)
    if case_store.get(case_id, consistent=True) is None and not approvals.within_limit(
        approvals.COLOURED_PERSONS,
        official,
        limit=policy().official_coloured_persons_per_hour_limit,
        now=now,
    ):
        held = approvals.hold(
            HELD_KIND,
            actor=official,
            action={
                "person_id": person.person_id,
                "status": str(report.status),
                "diagnosed_at": report.diagnosed_at.isoformat(),
            },
            why="over_limit",
            now=now,
            person_id=person.person_id,
            seed=f"{case_id}#{report.status}",
        )
        return ReportedCase(case=None, created=False, decision=None, held=held)
    case, created = open_case(
        person_id=person.person_id,
        status=report.status,
        diagnosed_at=report.diagnosed_at,
        actor=official,
        origin="official",
        now=now,
    )
    decision = recolour.recompute(person.person_id, now=now, actor=official, cause="case")
    return ReportedCase(case=case, created=created, decision=decision)


def execute_held(action: Mapping[str, Any], approval: approvals.Approval) -> dict[str, Any]:
    """Carry out a held case report once a second official approved it (idempotent)."""
    person_id = str(action["person_id"])
    case, _ = open_case(
        person_id=person_id,
        status=cases.CaseStatus(str(action["status"])),
        diagnosed_at=clock.parse_instant(str(action["diagnosed_at"])),
        actor=approval.requested_by,
        origin="official",
        now=approval.now,
    )
    decision = recolour.recompute(person_id, now=approval.now, actor=approval.approved_by, cause="case")
    result: dict[str, Any] = {"case_id": case.case_id, "person_id": person_id, "status": case.status}
    if decision is not None:
        result |= {"colour": decision.colour, "risk_level": int(decision.level)}
    return result


def show(case_id: str, who: Caller) -> CaseView:
    """The case, for an official of its person's area (403 ``outside_area`` otherwise)."""
    case = case_store.get(case_id) if case_store.is_case_id(case_id) else None
    if case is None:
        raise NotFound("no such case", field="case_id", code="case_not_found")
    areas.require_person(who, case.person_id)
    return case


def contacts(case_id: str, *, limit: int, after: str | None) -> tuple[list[ContactRow], str | None]:
    """One page of the case's contacts (one row per person, by person id; the case is read
    first with :func:`show`), and the person id the next page starts after."""
    return case_store.contacts(case_id, limit=limit, after=after)


# -- status changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    """A status change's outcome: the case as changed and its person's colour, or the request
    it waits in (``held``: closing a case needs a second official)."""

    case: CaseView
    decision: ColourDecision | None
    held: RequestView | None = None


def change_status(case_id: str, status: cases.CaseStatus, *, who: Caller, now: datetime) -> StatusChange:
    """An official changes a case's status (404 ``case_not_found``; 403 ``outside_area`` for a
    case person outside their area; 409 for a change the lifecycle refuses). An upgrade applies
    at once; ``recovered`` / ``excluded`` is held for a second official. Of concurrent changes
    one applies; the others are checked again against what it wrote (409 ``status_unchanged``
    for the same change)."""
    account_limits.official_write(who.sub, now=now)
    for _ in range(CHANGE_ATTEMPTS):
        case = show(case_id, who)
        if cases.check_status_change(case.status, status) == cases.RELEASE:
            held = approvals.hold(
                STATUS_KIND,
                actor=who.sub,
                action={"case_id": case_id, "from": case.status, "status": str(status)},
                why=f"case_{status}",
                now=now,
                person_id=case.person_id,
                seed=f"{case_id}#{status}",
            )
            return StatusChange(case=case, decision=None, held=held)
        changed = case_store.change_status(
            case_id, expected=str(case.status), status=status, actor=who.sub, now=now
        )
        if changed is not None:
            assert changed.person_id is not None
            decision = recolour.recompute(changed.person_id, now=now, actor=who.sub, cause="case")
            return StatusChange(case=changed, decision=decision)
    raise Conflict("the case is being changed by someone else; try again", code="concurrent_change")


def execute_status_change(action: Mapping[str, Any], approval: approvals.Approval) -> dict[str, Any]:
    """Close a case once a second official approved it (idempotent: an approval retried after a
    crash finishes the releases). A case that meanwhile can no longer take the change (closed
    otherwise, gone) or whose status moved on since the request (an upgrade: the approver
    decided on another case than there is) is left alone: the result says why
    (``applied: false``)."""
    case_id, status = str(action["case_id"]), cases.CaseStatus(str(action["status"]))
    result: dict[str, Any] = {"case_id": case_id, "status": str(status)}
    for _ in range(CHANGE_ATTEMPTS):
        case = case_store.get(case_id, consistent=True)
        if case is None or case.person_id is None:
            return result | {"applied": False, "reason": "case_not_found"}
        if case.status == status:
            break
        try:
            cases.check_status_change(case.status, status)
        except Conflict as refusal:
            return result | {"applied": False, "reason": refusal.code, "case_status": case.status}
        if action.get("from") is not None and case.status != action["from"]:
            # The request was made about another status (a suspected case since confirmed): the
            # approver did not see the case as it is, so nothing is released on it.
            return result | {"applied": False, "reason": "case_changed", "case_status": case.status}
        monitoring = policy().recovery_monitoring_days if status == cases.CaseStatus.RECOVERED else 0
        changed = case_store.change_status(
            case_id,
            expected=str(case.status),
            status=status,
            actor=approval.requested_by,
            approved_by=approval.approved_by,
            now=approval.now,
            monitoring_days=monitoring,
        )
        if changed is not None:
            break
    else:
        return result | {"applied": False, "reason": "concurrent_change"}
    person_id = str(case.person_id)
    if status == cases.CaseStatus.EXCLUDED:  # tracing ends its contacts' exposures (services.tracing)
        case_store.start_release(case_store.Release(case_id, released_at=approval.now))
    decision = recolour.recompute(
        person_id, now=approval.now, actor=approval.approved_by, cause=f"case_{status}"
    )
    result |= {
        "applied": True,
        "person_id": person_id,
        "contacts_released": status == cases.CaseStatus.EXCLUDED,
    }
    if decision is not None:
        result |= {"colour": decision.colour, "risk_level": int(decision.level)}
    return result
