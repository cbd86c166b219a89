"""Identity documents a person may apply with, and the format check of each (GB/T 38962 lists
the certificate types of the health-code data set).

``id_type`` (default ``resident_id``):

``resident_id``
    The mainland resident ID number (GB 11643, :mod:`healthcode.rules.idcard`), and the
    residence permits of Hong Kong, Macao and Taiwan residents (prefixes 810000/820000/830000).
``passport``
    A passport number as printed (ICAO 9303's document number: 5-12 letters and digits, at
    least two digits), with the holder's ``nationality``: the ISO 3166-1 alpha-3 code printed on
    it, checked against the shipped list. A Chinese passport (``CHN``) is checked more
    closely: ``E`` or ``G`` and 8 digits, ``E`` and a letter (not I or O) and 7 digits, or a
    diplomatic, service or public-affairs passport (``D``, ``S``, ``P``, optionally followed
    by ``E``, and 7 or 8 digits).
``hk_macao_permit``
    港澳居民来往内地通行证: ``H`` (Hong Kong) or ``M`` (Macao) and 8 digits (the card since
    2013), or 10 digits (the booklet before it).
``taiwan_permit``
    台湾居民来往大陆通行证: 8 digits (the card since 2015) or 10 digits (the booklet before).
``foreign_permanent_resident``
    外国人永久居留身份证: the 2017 card's 15 characters (the holder's ISO 3166-1 alpha-3
    nationality, a 4-digit code of the issuing office, the birth date ``YYMMDD``, a sequence
    digit and a check digit), or the 2023 card's 18 (``9``, the issuing province's 2 digits, a
    3-digit nationality code, the birth date ``YYYYMMDD``, a 3-digit sequence number and the GB
    11643 MOD 11-2 check character).

Every number is read after NFKC normalisation (full-width letters and digits typed with a
Chinese input method), with surrounding whitespace dropped and letters upper-cased; passports
and permits also drop inner spaces and hyphens. Refusals are ``422 invalid_id_number`` (or
``invalid_id_type`` / ``invalid_nationality``) and never repeat the value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final

from healthcode.errors import InvalidInput
from healthcode.rules import idcard, regions


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"


DEFAULT_ID_TYPE: Final = IdType.RESIDENT_ID
ID_TYPES: Final = tuple(kind.value for kind in IdType)

_PASSPORT = re.compile(r"[A-Z0-9]{5,12}")
_CHINESE_PASSPORT = re.compile(r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E?[0-9]{7,8}")
_HK_MACAO = re.compile(r"[HM]([0-9]{8}|[0-9]{10})")
_TAIWAN = re.compile(r"[0-9]{8}|[0-9]{10}")
_FPR_2017 = re.compile(r"([A-Z]{3})([0-9]{4})([0-9]{6})([0-9])([0-9])")
_FPR_2023 = re.compile(r"9([0-9]{2})([0-9]{3})([0-9]{8})([0-9]{3})([0-9X])")
_ALPHA3 = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Document:
    """A valid identity document. ``repr`` leaves out the number and birth date."""

    id_type: IdType
    number: str = field(repr=False)  # normalised
    birth_date: date | None = field(default=None, repr=False)  # when the number carries it
    nationality: str | None = None  # ISO 3166-1 alpha-3 (passports, 2017 permanent-resident cards)


@cache
def nationalities() -> frozenset[str]:
    """The ISO 3166-1 alpha-3 codes of the shipped list."""
    text = resources.files("healthcode").joinpath("data/iso3166-alpha3.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalise(value: str) -> str:
    """NFKC, no surrounding whitespace, upper case."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def _compact(value: str) -> str:
    return "".join(normalise(value).split()).replace("-", "")


def check_id_type(value: Any, *, field: str = "id_type") -> IdType:
    """``None`` (absent) is ``resident_id``; anything but a known type is ``422 invalid_id_type``."""
    if value is None:
        return DEFAULT_ID_TYPE
    if isinstance(value, str) and value.strip() in ID_TYPES:
        return IdType(value.strip())
    raise InvalidInput(f"{field} must be one of {', '.join(ID_TYPES)}", field=field, code="invalid_id_type")


def check_nationality(value: Any, *, field: str = "nationality") -> str:
    """An ISO 3166-1 alpha-3 code of the shipped list (NFKC, case-insensitive)."""
    code = normalise(value) if isinstance(value, str) else ""
    if not _ALPHA3.fullmatch(code) or code not in nationalities():
        raise InvalidInput(
            f"{field} must be the ISO 3166-1 alpha-3 code printed on the passport, e.g. USA",
            field=field,
            code="invalid_nationality",
        )
    return code


def check_document(
    value: Any,
    id_type: Any = None,
    *,
    today: date,
    nationality: Any = None,
    field: str = "id_number",
    nationality_field: str = "nationality",
) -> Document:
    """Validate an ID number of ``id_type`` (and a passport's ``nationality``); the document
    with its number normalised. ``nationality`` is required for a passport and refused for the
    other types (``nationality_not_allowed``)."""
    kind = check_id_type(id_type)
    if kind is not IdType.PASSPORT and nationality is not None:
        raise InvalidInput(
            f"{nationality_field} is given with passports only",
            field=nationality_field,
            code="nationality_not_allowed",
        )

    def invalid(reason: str) -> InvalidInput:
        return InvalidInput(f"{field} {reason}", field=field, code="invalid_id_number")

    if not isinstance(value, str):
        raise invalid("must be a string")
    if kind is IdType.RESIDENT_ID:
        resident = idcard.check_id_number(value, today=today, field=field)
        return Document(kind, resident.number, birth_date=resident.birth_date)
    number = _compact(value)
    if kind is IdType.PASSPORT:
        if nationality is None:
            raise InvalidInput(
                f"{nationality_field} is required with a passport",
                field=nationality_field,
                code="missing_field",
            )
        country = check_nationality(nationality, field=nationality_field)
        if not _PASSPORT.fullmatch(number) or sum(char.isdigit() for char in number) < 2:
            raise invalid("must be the passport number as printed: 5-12 letters and digits")
        if country == "CHN" and not _CHINESE_PASSPORT.fullmatch(number):
            raise invalid("is not the number of a Chinese passport (E, G, D, S or P and 7-8 digits)")
        return Document(kind, number, nationality=country)
    if kind is IdType.HK_MACAO_PERMIT:
        if not _HK_MACAO.fullmatch(number):
            raise invalid("must be H or M and 8 digits (or 10 for the booklet)")
        return Document(kind, number)
    if kind is IdType.TAIWAN_PERMIT:
        if not _TAIWAN.fullmatch(number):
            raise invalid("must be 8 digits (or 10 for the booklet)")
        return Document(kind, number)
    return _permanent_resident(number, today=today, invalid=invalid)


def _permanent_resident(number: str, *, today: date, invalid: Any) -> Document:
    kind = IdType.FOREIGN_PERMANENT_RESIDENT
    old = _FPR_2017.fullmatch(number)
    if old is not None:
        country = old.group(1)
        if country not in nationalities():
            raise invalid("starts with a nationality that is no ISO 3166-1 alpha-3 code")
        born = _date(old.group(3), two_digit_year=True, today=today)
        if born is None:
            raise invalid("carries a birth date (characters 8-13) that is not a real date")
        return Document(kind, number, birth_date=born, nationality=country)
    new = _FPR_2023.fullmatch(number)
    if new is None:
        raise invalid("must be the 15 characters of the 2017 card or the 18 of the 2023 card")
    if not regions.was_region(f"{new.group(1)}0000"):
        raise invalid("carries an issuing province (characters 2-3) GB/T 2260 has never listed")
    if idcard.check_character(number[:17]) != number[17]:
        raise invalid("fails the MOD 11-2 checksum: the last character does not match the first 17")
    born = _date(new.group(3), two_digit_year=False, today=today)
    if born is None or born < idcard.EARLIEST_BIRTH_DATE or born > today:
        raise invalid("carries a birth date (characters 7-14) that is not a real date in the past")
    return Document(kind, number, birth_date=born)


def _date(digits: str, *, two_digit_year: bool, today: date) -> date | None:
    try:
        if two_digit_year:
            year = 2000 + int(digits[:2])
            if year > today.year:
                year -= 100
            born = date(year, int(digits[2:4]), int(digits[4:6]))
            return born if born <= today else date(year - 100, born.month, born.day)
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
