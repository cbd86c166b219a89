"""Lab-result imports: each valid row becomes a lab fact under its person (negative results
clear what the policy says they clear); a positive row also opens a case, as an official's
report would (idempotent per person and sampling instant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from healthcode.rules import cases, colour
from healthcode.services.cases import open_case
from healthcode.storage import facts, persons

__all__ = ["LabImport", "import_results"]


@dataclass(frozen=True)
class LabImport:
    """What an import did: rows accepted, rows rejected (in index order), cases opened."""

    accepted: int
    rejected: list[cases.RejectedRow]
    opened: list[tuple[int, str]]  # (row index, case id)


def import_results(results: object, *, official: str, keep_days: int, now: datetime) -> LabImport:
    """Check the rows, store the results of the persons found and open a case per positive row."""
    rows, rejected = cases.check_lab_rows(results, now=now)
    found: list[tuple[str, cases.LabRow]] = []
    for row in rows:
        person = persons.holder_of(row.id_number)
        if person is None:
            rejected.append(cases.RejectedRow(row.index, "unknown_person", "id_number"))
        else:
            found.append((person.person_id, row))
    facts.add_labs(
        (
            (person_id, row.lab_id, colour.LabResult(sampled_at=row.sampled_at, positive=row.positive))
            for person_id, row in found
        ),
        recorded_at=now,
        keep_days=keep_days,
    )
    opened = []
    for person_id, row in found:
        if row.positive:
            case, _ = open_case(
                person_id=person_id,
                status=cases.CaseStatus.CONFIRMED,
                diagnosed_at=row.sampled_at,
                actor=official,
                origin="lab",
                now=now,
            )
            opened.append((row.index, case.case_id))
    return LabImport(accepted=len(found), rejected=sorted(rejected, key=lambda r: r.index), opened=opened)
