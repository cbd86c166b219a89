"""The market-entity and population registers an area's officials and admins upload, and the
entities of a region that hold no venue code (Henan: market-supervision departments compare the
market entities of their area with the use of venue codes).

An upload is taken row by row: each row is checked on its own (``rules.registers``) and must lie
inside the caller's area; the good rows are upserted by credit code, the others answered with
their index, error code and field. The counts per region (``entities``, ``with_code``) follow
from the RegistersTable stream (``reconcile``), never from a Scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules import registers as rules
from healthcode.settings import settings
from healthcode.storage import registers as store
from healthcode.storage.registers import Uncovered, credit_code_of

__all__ = [
    "Uncovered",
    "Upload",
    "credit_code_of",
    "csv_upload",
    "put_population",
    "reconcile",
    "uncovered_entities",
    "upload_entities",
]

logger = get_logger("registers")


@dataclass(frozen=True)
class Upload:
    accepted: int
    rejected: Sequence[rules.Refusal]


def _too_many(count: int) -> InvalidInput:
    return InvalidInput(
        f"an upload holds at most {rules.MAX_ROWS} rows ({count} sent); split it",
        field="entities",
        code="too_many_rows",
    )


def upload_entities(who: Caller, rows: Sequence[object]) -> Upload:
    """Check each row, upsert the good ones by credit code; answer the others per row."""
    if len(rows) > rules.MAX_ROWS:
        raise _too_many(len(rows))
    province = settings().province
    taken: dict[str, store.Entity] = {}
    row_of: dict[str, int] = {}
    rejected: list[rules.Refusal] = []
    for index, raw in enumerate(rows):
        try:
            row = rules.check_row(raw, province=province)
            if not who.covers(row.region_code):
                raise InvalidInput(
                    "this region lies outside your area", field="region_code", code="outside_area"
                )
            if row.credit_code in taken:
                raise InvalidInput(
                    "this credit code is on an earlier row of the upload",
                    field="credit_code",
                    code="duplicate_credit_code",
                )
        except InvalidInput as refused:
            rejected.append(rules.Refusal(index=index, error=refused.code, field=refused.field))
            continue
        taken[row.credit_code] = store.Entity(row.credit_code, row.name, row.region_code, row.type)
        row_of[row.credit_code] = index
    if who.area is not None and taken:
        # an entity registered in another area is not the caller's to rename or move there
        for code, region in store.stored_regions(list(taken)).items():
            if not who.covers(region):
                del taken[code]
                rejected.append(rules.Refusal(index=row_of[code], error="outside_area", field="credit_code"))
        rejected.sort(key=lambda refusal: refusal.index)
    accepted = store.put_entities(list(taken.values()), at=clock.now(), actor=who.sub)
    logger.info("register uploaded", extra={"accepted": accepted, "rejected": len(rejected)})
    return Upload(accepted=accepted, rejected=tuple(rejected))


def csv_upload(who: Caller, data: bytes) -> Upload:
    """A CSV upload (header ``credit_code,name,region_code,type``): rows with the wrong number
    of cells are refused as ``invalid_row``."""
    rows: list[object] = []
    for row in rules.csv_rows(data):
        rows.append(row)
        if len(rows) > rules.MAX_ROWS:
            raise _too_many(len(rows))
    return upload_entities(who, rows)


def put_population(who: Caller, figures: Sequence[Mapping[str, Any]]) -> int:
    """Set the population of regions inside the caller's area (the whole list refused on the
    first mistake: a figure is few and typed by hand)."""
    province = settings().province
    checked: dict[str, int] = {}
    for index, entry in enumerate(figures):
        field = f"regions[{index}].region_code"
        code = regions.check_region_code(entry.get("region_code"), field=field)
        if not regions.in_province(code, province):
            raise InvalidInput(
                f"{field} {code} is not inside this province ({province})",
                field=field,
                code="region_outside_province",
            )
        who.require_area(code)
        if code in checked:
            raise InvalidInput(f"{field} {code} is given twice", field=field, code="duplicate_region_code")
        checked[code] = rules.check_population(entry.get("population"), index=index)
    written = store.put_population(checked, at=clock.now(), actor=who.sub)
    logger.info("population registered", extra={"regions": written})
    return written


def _prefectures(region_code: str) -> list[str]:
    if region_code.endswith("0000"):
        return sorted(store.entity_counts(region_code).by_region)
    return [region_code[:4] + "00"]


def uncovered_entities(
    who: Caller, region_code: str, *, limit: int, cursor: str | None
) -> tuple[list[Uncovered], str | None]:
    """A page of the register entities of a region (inside the caller's area) without a venue
    code, in region then credit-code order."""
    who.require_area(region_code)
    return store.uncovered(region_code, _prefectures(region_code), limit=limit, cursor=cursor)


def reconcile(credit_codes: Iterable[str]) -> int:
    """Bring the counts of these entities in line with their items; how many changed."""
    return sum(int(store.reconcile(code)) for code in sorted(set(credit_codes)))
