"""Lab-result imports: each valid row becomes a lab fact under its person (negative nucleic-acid
results clear what the policy says they clear); a row's ``test`` is ``nucleic_acid`` (the
default) or ``igg_antibody``: antibody results, positive or negative, are kept and shown on the
code (``tests``) but never open a case. A positive nucleic-acid row also opens a case, as an
official's report would (idempotent per person and sampling instant), written with its lab fact
in one transaction, and its person is recoloured at once (no wait for the stream).

Imports come from laboratory systems (role ``lab``) or officials. The persons of positive rows
count against the importing account's hourly limit (policy ``lab_coloured_persons_per_hour_limit``
for a laboratory, ``official_coloured_persons_per_hour_limit`` for an official; atomic). Past it
the positive rows are held for a second official (``services.approvals``, kind ``lab_results``:
person ids, lab ids and sampling instants, never an ID number) and nobody turns red until a
different official approves; the negative rows are stored at once (they colour nobody).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.protection.auth import Caller
from healthcode.rules import cases, colour
from healthcode.services import account_limits, approvals, recolour
from healthcode.services.cases import LabOfCase, open_case
from healthcode.settings import policy
from healthcode.storage import facts, persons
from healthcode.storage.overrides import RequestView

__all__ = ["HELD_KIND", "LabImport", "execute_held", "import_results"]

#: Kind of held positive rows (``services.approvals``).
HELD_KIND = "lab_results"


@dataclass(frozen=True)
class LabImport:
    """What an import did: rows accepted, rows rejected (in index order), cases opened, and the
    request its positive rows wait in when the account is past its limit."""

    accepted: int
    rejected: list[cases.RejectedRow]
    opened: list[tuple[int, str]]  # (row index, case id)
    held: RequestView | None = None


@dataclass(frozen=True)
class _Positive:
    index: int
    person_id: str
    lab_id: str
    sampled_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "person_id": self.person_id,
            "lab_id": self.lab_id,
            "sampled_at": self.sampled_at.isoformat(),
        }


def _open_cases(
    positives: Sequence[_Positive], *, actor: str, recoloured_by: str, keep_days: int, now: datetime
) -> list[tuple[int, str]]:
    """A case per positive row, with its lab fact in the same transaction; then each person's
    colour recomputed at once."""
    opened = []
    for row in positives:
        lab = LabOfCase(lab_id=row.lab_id, sampled_at=row.sampled_at, keep_days=keep_days)
        case, _ = open_case(
            person_id=row.person_id,
            status=cases.CaseStatus.CONFIRMED,
            diagnosed_at=row.sampled_at,
            actor=actor,
            origin="lab",
            now=now,
            lab=lab,
        )
        opened.append((row.index, case.case_id))
    for person_id in sorted({row.person_id for row in positives}):
        recolour.recompute(person_id, now=now, actor=recoloured_by, cause="case")
    return opened


def import_results(
    results: object, *, who: Caller, keep_days: int, now: datetime, laboratory: bool = False
) -> LabImport:
    """Check the rows, store the results of the persons found and open a case per positive row
    (or hold the positive rows for a second official past the account's limit). A row whose
    person lies outside the caller's area is rejected (``outside_area``), the others go on."""
    official = who.sub
    rows, rejected = cases.check_lab_rows(results, now=now)
    account_limits.official_write(official, now=now)  # one import, one write
    found: list[tuple[str, cases.LabRow]] = []
    for row in rows:
        person = persons.holder_of(row.id_number, row.id_type)
        if person is None or not who.covers(person.region_code):
            # a holder outside the caller's area is answered as nobody: an import must not tell
            # which ID numbers are registered elsewhere (a search never does)
            rejected.append(cases.RejectedRow(row.index, "unknown_person", "id_number"))
        else:
            found.append((person.person_id, row))
    facts.add_labs(
        (
            (
                person_id,
                row.lab_id,
                colour.LabResult(sampled_at=row.sampled_at, positive=row.positive, test=row.test),
            )
            for person_id, row in found
            if not row.opens_case
        ),
        recorded_at=now,
        keep_days=keep_days,
    )
    positives = [
        _Positive(row.index, person_id, row.lab_id, row.sampled_at)
        for person_id, row in found
        if row.opens_case
    ]
    held = None
    opened: list[tuple[int, str]] = []
    if positives:
        rules = policy()
        limit = (
            rules.lab_coloured_persons_per_hour_limit
            if laboratory
            else rules.official_coloured_persons_per_hour_limit
        )
        people = len({row.person_id for row in positives})
        if approvals.within_limit(approvals.COLOURED_PERSONS, official, limit=limit, now=now, amount=people):
            opened = _open_cases(
                positives, actor=official, recoloured_by=official, keep_days=keep_days, now=now
            )
        else:
            seed = hashlib.sha256("\n".join(sorted(row.lab_id for row in positives)).encode()).hexdigest()
            held = approvals.hold(
                HELD_KIND,
                actor=official,
                action={"rows": [row.as_json() for row in positives], "keep_days": keep_days},
                why="over_limit",
                now=now,
                seed=seed,
            )
    return LabImport(
        accepted=len(found), rejected=sorted(rejected, key=lambda r: r.index), opened=opened, held=held
    )


def execute_held(action: Mapping[str, Any], approval: approvals.Approval) -> dict[str, Any]:
    """Carry out held positive rows once a second official approved them (idempotent per row)."""
    positives = [
        _Positive(
            index=int(row["index"]),
            person_id=str(row["person_id"]),
            lab_id=str(row["lab_id"]),
            sampled_at=clock.parse_instant(str(row["sampled_at"])),
        )
        for row in action["rows"]
    ]
    opened = _open_cases(
        positives,
        actor=approval.requested_by,
        recoloured_by=approval.approved_by,
        keep_days=int(action["keep_days"]),
        now=approval.now,
    )
    return {"cases": [{"index": index, "case_id": case_id} for index, case_id in opened]}
