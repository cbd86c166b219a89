"""Rows of the market-entity register (``PUT /v1/registers/entities``) and of the population
register (``PUT /v1/registers/population``): each row checked on its own, so one bad row is
refused with its own error and the others are taken.

A register row is ``{credit_code, name, region_code, type}``: the unified social credit code
(NFKC-normalised, so full-width characters count as their ASCII forms, then checked like a
venue's credential: both check characters and the organisation-type table), the entity's name,
a current GB/T 2260 code inside the province, and the kind of market entity. A CSV upload has a
header line naming the same four columns (in any order).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from healthcode.errors import InvalidInput
from healthcode.rules import regions
from healthcode.rules.credentials import check_uscc

#: Rows one upload may hold.
MAX_ROWS: Final = 10_000
#: Characters of an entity's name (after normalisation).
NAME_MAX: Final = 200
COLUMNS: Final = ("credit_code", "name", "region_code", "type")
#: Kinds of market entity (市场主体): 企业, 个体工商户, 农民专业合作社, 其他.
ENTITY_TYPES: Final = ("enterprise", "individual_business", "farmer_cooperative", "other")
#: A population figure's upper bound (no region holds more people than this).
POPULATION_MAX: Final = 200_000_000


@dataclass(frozen=True, slots=True)
class Row:
    """A register row that passed its checks."""

    credit_code: str
    name: str
    region_code: str
    type: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why row ``index`` (0-based, in upload order) was refused."""

    index: int
    error: str
    field: str | None


def _text(value: object, field: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"{field} is required", field=field, code="missing_field")
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_type")
    return unicodedata.normalize("NFKC", value).strip()


def check_name(value: object) -> str:
    """An entity's name: NFKC, whitespace collapsed, 1 to 200 characters, no control or
    formatting characters. Refused with ``invalid_entity_name``."""
    name = " ".join(_text(value, "name").split())
    if len(name) > NAME_MAX:
        raise InvalidInput(
            f"name must be 1 to {NAME_MAX} characters", field="name", code="invalid_entity_name"
        )
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise InvalidInput("name may not hold control characters", field="name", code="invalid_entity_name")
    return name


def check_row(value: object, *, province: str) -> Row:
    """One register row, or ``InvalidInput`` naming its first mistake (and field)."""
    if not isinstance(value, Mapping):
        raise InvalidInput("a register row is an object", field=None, code="invalid_row")
    unknown = sorted(str(k) for k in value if k not in COLUMNS)
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not a register column", field=unknown[0], code="unknown_field")
    try:
        credit_code = check_uscc(_text(value.get("credit_code"), "credit_code"), field="credit_code")
    except InvalidInput as refused:
        if refused.code in ("missing_field", "invalid_type"):
            raise
        raise InvalidInput(refused.message, field="credit_code", code="invalid_credit_code") from None
    name = check_name(value.get("name"))
    region_code = regions.check_region_code(_text(value.get("region_code"), "region_code"))
    if not regions.in_province(region_code, province):
        raise InvalidInput(
            f"region_code {region_code} is not inside this province ({province})",
            field="region_code",
            code="region_outside_province",
        )
    kind = _text(value.get("type"), "type")
    if kind not in ENTITY_TYPES:
        raise InvalidInput(
            f"type must be one of {', '.join(ENTITY_TYPES)}", field="type", code="invalid_entity_type"
        )
    return Row(credit_code=credit_code, name=name, region_code=region_code, type=kind)


def csv_rows(data: bytes) -> Iterator[dict[str, Any] | None]:
    """The rows of a CSV upload as ``{column: value}`` (None for a line with the wrong number of
    cells). The header must name exactly the four columns; a document that is not UTF-8 text or
    has no such header is refused whole with ``invalid_csv``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8 text", field=None, code="invalid_csv") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or sorted(cell.strip() for cell in header) != sorted(COLUMNS):
            raise InvalidInput(
                f"the CSV's first line must name the columns {','.join(COLUMNS)}",
                field=None,
                code="invalid_csv",
            )
        names = [cell.strip() for cell in header]
        for line in reader:
            if not line or line == [""]:
                continue
            yield dict(zip(names, line, strict=True)) if len(line) == len(names) else None
    except csv.Error:
        raise InvalidInput(
            "the CSV is malformed (an unclosed quote?)", field=None, code="invalid_csv"
        ) from None


def check_population(value: object, *, index: int) -> int:
    """A population figure: a whole number from 0 to 200,000,000."""
    field = f"regions[{index}].population"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= POPULATION_MAX:
        raise InvalidInput(
            f"{field} must be a whole number from 0 to {POPULATION_MAX}",
            field=field,
            code="invalid_population",
        )
    return value
