"""Cases: open one (an official's report or a positive lab result), read it and its contacts.

A case is facts in, colours out: opening it writes the case (whose insert starts tracing, see
``services.tracing``) and its case fact under the person (red from the diagnosis on). A case
reported by an official also recolours the person at once, so the answer shows them red.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from healthcode.errors import NotFound
from healthcode.rules import cases, colour
from healthcode.rules.colour import ColourDecision
from healthcode.rules.policy import FactKind
from healthcode.services import recolour
from healthcode.storage import audit, facts, persons
from healthcode.storage import cases as case_store
from healthcode.storage.cases import CaseView, ContactRow

__all__ = [
    "CaseView",
    "ContactRow",
    "ReportedCase",
    "case_fact_id",
    "contacts",
    "open_case",
    "report",
    "show",
]

#: Audit kind of a case on the person's trail.
CASE_REPORTED = "case_reported"


@dataclass(frozen=True)
class ReportedCase:
    case: CaseView
    created: bool
    decision: ColourDecision | None


def case_fact_id(case_id: str) -> str:
    return f"case#{case_id}"


def open_case(
    *,
    person_id: str,
    status: cases.CaseStatus,
    diagnosed_at: datetime,
    actor: str,
    origin: str,
    now: datetime,
) -> tuple[CaseView, bool]:
    """The case of ``person_id`` diagnosed at ``diagnosed_at``, its case fact (red from the
    diagnosis on, open-ended, recorded when the case was first reported) and its
    ``case_reported`` entry on the person's trail. Returns the case and whether it is new.

    Idempotent: a retry — even of an attempt that stopped half-way — finds the same case and
    rewrites the same fact and entry; a new ``status`` (suspected → confirmed) is recorded on
    both, without tracing again. The fact keeps the first report's instant as ``recorded_at``,
    so a repeated report is not news to an override decided since."""
    case_id = cases.case_id_for(person_id, diagnosed_at)
    case, created = case_store.open_case(
        case_id,
        person_id=person_id,
        status=status,
        diagnosed_at=diagnosed_at,
        actor=actor,
        origin=origin,
        now=now,
    )
    reported = case.created_at or now
    fact = colour.Fact(
        fact_id=case_fact_id(case_id),
        kind=FactKind.CASE,
        starts_at=min(diagnosed_at, reported),
        expires_at=None,
        detail=str(status),
        recorded_at=reported,
    )
    facts.add(person_id, facts=[fact], recorded_at=reported, source=case_id)
    # at the case's creation and with its id: a retried report writes the entry once
    audit.append_once(
        audit.person_subject(person_id),
        CASE_REPORTED,
        actor=actor,
        at=reported,
        details={"case_id": case_id, "status": str(status), "origin": case.origin},
        entry_id=case_id,
    )
    return case, created


def report(report: cases.CaseReport, *, official: str, now: datetime) -> ReportedCase:
    """An official reports a case: the person (by id or ID number) turns red at once."""
    person = None
    if report.person_id is not None:
        person = persons.get(report.person_id, consistent=True)
        if person is None:
            raise NotFound("no such person", field="person_id", code="person_not_found")
    elif report.id_number is not None:
        person = persons.holder_of(report.id_number)
    if person is None:
        raise NotFound("nobody holds a code under this ID number", field="id_number", code="person_not_found")
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


def show(case_id: str) -> CaseView:
    case = case_store.get(case_id) if case_store.is_case_id(case_id) else None
    if case is None:
        raise NotFound("no such case", field="case_id", code="case_not_found")
    return case


def contacts(case_id: str, *, limit: int, after: str | None) -> tuple[list[ContactRow], str | None]:
    """One page of the case's contacts (one row per person, by person id; the case is read
    first with :func:`show`), and the person id the next page starts after."""
    return case_store.contacts(case_id, limit=limit, after=after)
