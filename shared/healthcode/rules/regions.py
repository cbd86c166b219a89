"""GB/T 2260 administrative division codes (中华人民共和国行政区划代码).

The codes ship as data in ``healthcode/data/regions.tsv`` (source, licence and how to refresh it:
``healthcode/data/REGIONS.md``): every code listed by any revision the sources carry, with its
latest name, the last revision that listed it and where that revision comes from.

Two sets matter:

* **current** codes, listed by the newest revision: venues, travel histories and risk areas
  must name a current code (``is_region``, ``check_region_code``);
* codes **ever** listed: an ID number carries the code of the place that issued it, possibly
  decades ago and since abolished, so ID numbers are checked against these (``was_region``).

The file is read on first use and once per process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from healthcode import errors

_CODE = re.compile(r"[0-9]{6}")
_PROVINCE = re.compile(r"(?!00)[0-9]{2}0000")
_REVISION = re.compile(r"(19|20)[0-9]{2}(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True)
class _Divisions:
    """The parsed data file."""

    revision: str  # newest revision the data carries, YYYYMM
    names: dict[str, str]  # every code ever listed -> its latest name
    current: frozenset[str]  # codes the newest revision lists


@cache
def _divisions() -> _Divisions:
    text = (resources.files("healthcode") / "data" / "regions.tsv").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    last_listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if (
            len(parts) != 4
            or not _CODE.fullmatch(parts[0])
            or not parts[1]
            or not _REVISION.fullmatch(parts[2])
            or not parts[3]
        ):
            raise ValueError(f"data/regions.tsv line {number}: expected code<TAB>name<TAB>YYYYMM<TAB>source")
        code, name, revision, _source = parts
        names[code] = name
        last_listed[code] = revision
    if not names:
        raise ValueError("data/regions.tsv holds no codes")
    newest = max(last_listed.values())
    return _Divisions(
        revision=newest,
        names=names,
        current=frozenset(code for code, revision in last_listed.items() if revision == newest),
    )


def data_revision() -> str:
    """The newest GB/T 2260 revision (YYYYMM) the shipped data carries."""
    return _divisions().revision


def is_region(code: str) -> bool:
    """``code`` is a current GB/T 2260 code (province, prefecture or county level)."""
    return isinstance(code, str) and code in _divisions().current


def was_region(code: str) -> bool:
    """``code`` was listed by some GB/T 2260 revision (current codes included)."""
    return isinstance(code, str) and code in _divisions().names


def region_name(code: str) -> str:
    """The name of a code ever listed, as its latest revision gives it (e.g. ``德安县``).

    Raises ``KeyError`` for a code no revision lists.
    """
    try:
        return _divisions().names[code]
    except (KeyError, TypeError):
        shown = repr(code) if isinstance(code, str) and _CODE.fullmatch(code) else "the value"
        raise KeyError(f"{shown} is not a GB/T 2260 code") from None


def province_of(code: str) -> str:
    """The province-level code (``xx0000``) a six-digit code belongs to.

    Purely structural: the code itself need not be listed. Raises ``ValueError`` when ``code``
    is not six digits or names no province (``00xxxx``).
    """
    if not isinstance(code, str) or not _CODE.fullmatch(code) or code.startswith("00"):
        raise ValueError("a GB/T 2260 code is six digits and does not start with 00")
    return code[:2] + "0000"


def in_province(code: str, province: str) -> bool:
    """``code`` is a six-digit code inside ``province`` (an ``xx0000`` code).

    A malformed ``code`` is simply not in the province; a malformed ``province`` is a caller's
    mistake and raises ``ValueError``.
    """
    if not isinstance(province, str) or not _PROVINCE.fullmatch(province):
        raise ValueError("province must be a province-level GB/T 2260 code (xx0000)")
    return isinstance(code, str) and bool(_CODE.fullmatch(code)) and code[:2] == province[:2]


def check_region_code(value: object, *, field: str = "region_code") -> str:
    """Validate a region code from a request: six digits, listed by the current revision.

    Surrounding whitespace is dropped. Raises ``InvalidInput`` (code ``invalid_region_code``)
    saying what is wrong; region codes are not personal data, so a six-digit value is quoted.
    """

    def invalid(message: str) -> errors.InvalidInput:
        return errors.InvalidInput(message, field=field, code="invalid_region_code")

    if not isinstance(value, str):
        raise invalid(f"{field} must be a string of six digits (GB/T 2260)")
    code = value.strip()
    if not _CODE.fullmatch(code):
        raise invalid(f"{field} must be six digits (GB/T 2260)")
    if is_region(code):
        return code
    if was_region(code):
        raise invalid(f"{field} {code} ({region_name(code)}) is no longer a current GB/T 2260 code")
    raise invalid(f"{field} {code} is not a GB/T 2260 code")
