"""The one checker for each thing people type into a form: a person's name, a mainland mobile
number, a body temperature, an address or other short printable text.

Each returns the value in canonical form or raises ``InvalidInput`` naming the field; no message
repeats what was typed (names, numbers and addresses are personal data). The request specs
(``healthcode.edge.specs``) check types and lengths first; these check what a schema cannot say.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final

from healthcode.errors import InvalidInput

#: A person's name: at most 50 characters once runs of whitespace are collapsed.
NAME_MAX: Final = 50
#: Marks a name may hold besides letters and combining marks: spaces, the middle dots of
#: transliterated names (阿卜杜拉·买买提; also written •, ‧ or ・), full stops, hyphens and
#: apostrophes (O'Neil, O’Neil).
NAME_PUNCTUATION: Final = frozenset(" ·•‧・.-'’")
#: Body temperatures a person can have, °C.
TEMPERATURE_MIN: Final = 34.0
TEMPERATURE_MAX: Final = 43.0
#: A person's address (a venue's has bounds of its own).
ADDRESS_MIN: Final = 2
ADDRESS_MAX: Final = 200
#: Unicode categories refused in text: controls, format characters, surrogates, private use,
#: unassigned, line and paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}")


def check_name(value: object, *, field: str = "name") -> str:
    """A person's name as on their ID card: letters of any script and combining marks, with the
    marks of :data:`NAME_PUNCTUATION`, starting with a letter; 1 to 50 characters after
    NFC normalisation and collapsing whitespace. Refused with ``invalid_name``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_name")
    name = unicodedata.normalize("NFC", " ".join(value.split()))
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"{field} must be 1 to {NAME_MAX} characters", field=field, code="invalid_name")
    if not all(unicodedata.category(c)[0] in "LM" or c in NAME_PUNCTUATION for c in name):
        raise InvalidInput(
            f"{field} may hold only letters, spaces, middle dots, full stops, hyphens and apostrophes",
            field=field,
            code="invalid_name",
        )
    if not unicodedata.category(name[0]).startswith("L"):
        raise InvalidInput(f"{field} must start with a letter", field=field, code="invalid_name")
    return name


#: The middle dots a transliterated name may be written with, compared as one.
_MIDDLE_DOTS: Final = str.maketrans({"•": "·", "‧": "·", "・": "·", "\uff65": "·"})


def name_key(name: str) -> str:
    """What two spellings of one name share: NFKC (full-width letters as half-width), runs of
    whitespace as one space, no leading or trailing space, Latin letters case-folded, the middle
    dots of transliterated names as one. ``name_key(a) == name_key(b)``: the same name."""
    folded = unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS)
    return " ".join(folded.split()).casefold()


def same_name(typed: str, stored: str) -> bool:
    """Whether a typed name is the stored one (compared on :func:`name_key`)."""
    return name_key(typed) == name_key(stored)


def check_mobile(value: object, *, field: str = "phone") -> str:
    """A mainland mobile number; its 11 digits.

    Whitespace and hyphens anywhere are dropped, then one leading ``+86`` or ``86``. What
    remains must be ``1[3-9]`` and nine more digits. Refused with ``invalid_phone``.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_phone")
    digits = "".join(value.split()).replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86"):  # no mobile number starts with 8
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise InvalidInput(
            f"{field} must be a mainland mobile number: 11 digits starting 13 to 19, optionally after +86",
            field=field,
            code="invalid_phone",
        )
    return digits


def check_temperature(value: object, *, field: str = "temperature") -> float:
    """A body temperature, °C: a JSON number (never a boolean or text) from 34 to 43. Refused
    with ``invalid_temperature``. An int of any size is compared exactly (``float()`` of a
    400-digit one would overflow)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise InvalidInput(
            f"{field} must be a number of degrees Celsius", field=field, code="invalid_temperature"
        )
    if not TEMPERATURE_MIN <= value <= TEMPERATURE_MAX:
        raise InvalidInput(
            f"{field} must be between {TEMPERATURE_MIN:g} and {TEMPERATURE_MAX:g} °C",
            field=field,
            code="invalid_temperature",
        )
    return float(value)


def check_text(
    value: object, *, field: str, max_chars: int, min_chars: int = 1, code: str | None = None
) -> str:
    """Short printable text (a venue's name, an address): NFC-normalised, surrounding whitespace
    dropped and inner runs collapsed, no control or invisible format characters, within the
    length bounds. Refused with ``code`` (``invalid_<field>`` by default)."""
    code = code or f"invalid_{field}"
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code=code)
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in text):
        raise InvalidInput(f"{field} contains control or invisible characters", field=field, code=code)
    if not min_chars <= len(text) <= max_chars:
        raise InvalidInput(f"{field} must be {min_chars} to {max_chars} characters", field=field, code=code)
    return text


def check_address(
    value: object, *, field: str = "address", min_chars: int = ADDRESS_MIN, max_chars: int = ADDRESS_MAX
) -> str:
    """An address: printable text within the bounds (a person's by default), ``invalid_address``."""
    return check_text(value, field=field, min_chars=min_chars, max_chars=max_chars, code="invalid_address")


def check_page_size(raw: str | None, *, default: int = 100, maximum: int = 500) -> int:
    """A list's ``?limit=``: ``default`` when absent or empty, else a whole number from 1 to
    ``maximum`` in ASCII digits (``str.isdigit`` also takes "²" and other digits ``int`` cannot
    read); anything else 422 ``invalid_limit``."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {maximum}", field="limit", code="invalid_limit"
        )
    return int(raw)
