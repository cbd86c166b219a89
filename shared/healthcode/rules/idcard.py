"""Citizen ID numbers (GB 11643-1999 公民身份号码) and mainland mobile numbers.

An ID number is 18 characters: a six-digit GB/T 2260 region code (where it was issued), the
birth date ``YYYYMMDD``, a three-digit sequence number whose last digit is odd for men and even
for women, and a check character (ISO 7064 MOD 11-2 over the first 17 digits, ``X`` for 10).

Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证) carry numbers of
the same form under the prefixes ``810000``, ``820000`` and ``830000``. Numbers are read after
Unicode NFKC normalisation, so full-width digits typed with a Chinese input method (``１１０…``)
are the ASCII ones.

Both validators raise ``InvalidInput`` with a message that says *why* a value is refused but
never repeats the value: ID numbers and phone numbers are personal data, and error messages
end up in responses and logs.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import date
from typing import Literal

from healthcode import errors
from healthcode.rules import regions
from healthcode.rules.forms import check_mobile

__all__ = ["check_mobile"]  # the one mobile-number checker lives in forms

#: ISO 7064 MOD 11-2 weights: 2^(17-i) mod 11 for positions i = 0..16.
_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
#: Check character for each remainder of the weighted sum modulo 11.
_CHECK_CHARACTERS = "10X98765432"
_BODY = re.compile(r"[0-9]{17}")

#: Region prefixes of the residence permits of Hong Kong, Macao and Taiwan residents.
RESIDENCE_PERMIT_REGIONS: frozenset[str] = frozenset({"810000", "820000", "830000"})

#: No one born before this date is taken to hold an ID number.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

Sex = Literal["male", "female"]


@dataclasses.dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid ID number and what it says. ``repr`` leaves out the number and birth date."""

    region: str  # the six-digit GB/T 2260 code it was issued under (possibly since abolished)
    birth_date: date = dataclasses.field(repr=False)
    sex: Sex
    number: str = dataclasses.field(repr=False)  # normalised: 18 characters, upper-case X


def check_character(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) for the first 17 digits."""
    if not isinstance(first17, str) or not _BODY.fullmatch(first17):
        raise ValueError("the check character needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def check_id_number(value: str, *, today: date, field: str = "id_number") -> IdNumber:
    """Validate a citizen ID number; return it normalised with its region, birth date and sex.

    The value is NFKC-normalised (full-width digits), surrounding whitespace is dropped and a
    final lower-case ``x`` is read as ``X``. Refused
    (``InvalidInput``, code ``invalid_id_number``): anything but 18 characters of 17 digits and
    a digit or ``X``; a check character that does not match; a birth date that is not a real
    date, is before 1900-01-01 or after ``today``; a region prefix whose province GB/T 2260 has
    never listed (the residence-permit prefixes ``RESIDENCE_PERMIT_REGIONS`` are taken).
    """

    def invalid(reason: str) -> errors.InvalidInput:
        return errors.InvalidInput(f"{field} {reason}", field=field, code="invalid_id_number")

    if not isinstance(value, str):
        raise invalid("must be a string of 18 characters")
    number = unicodedata.normalize("NFKC", value).strip()
    if len(number) != 18:
        raise invalid("must be 18 characters: 17 digits and a check character")
    if number[17] == "x":
        number = number[:17] + "X"
    body, check = number[:17], number[17]
    if not _BODY.fullmatch(body):
        raise invalid("must start with 17 digits")
    if check not in _CHECK_CHARACTERS:
        raise invalid("must end with a digit or X")
    if check_character(body) != check:
        raise invalid("fails the GB 11643 checksum: the last character does not match the first 17 digits")
    birth_date = _birth_date(body[6:14])
    if birth_date is None:
        raise invalid("carries a birth date (characters 7-14) that is not a real date")
    if birth_date < EARLIEST_BIRTH_DATE:
        raise invalid("carries a birth date before 1900-01-01")
    if birth_date > today:
        raise invalid("carries a birth date in the future")
    region = body[:6]
    permit = region in RESIDENCE_PERMIT_REGIONS
    if not permit and (body.startswith("00") or not regions.was_region(regions.province_of(region))):
        raise invalid("starts with a region code (first 6 digits) of no GB/T 2260 province")
    return IdNumber(
        region=region,
        birth_date=birth_date,
        sex="male" if int(body[16]) % 2 == 1 else "female",
        number=number,
    )


def _birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
