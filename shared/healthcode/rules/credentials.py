"""Venue subject credentials: the number a venue registers under.

The Jiangxi and Henan guides ask for the subject's 统一社会信用代码, its old 工商注册号, an
individual's 身份证号, or, for a vehicle venue, its 车牌号. Each checker takes raw input and
returns the canonical form to store, or raises :class:`~healthcode.errors.InvalidInput` with
code ``invalid_credential`` and a message saying what is wrong. Messages never repeat the value.

Unified social credit code (GB 32100-2015 with its amendments), 18 characters from the code set
``0-9 A-H J-N P-R T U W-Y`` (no I, O, S, V, Z):

* 1: registration-authority code, 2: organisation-type code, which must be a pair from the
  standard's table (:data:`USCC_ORGANISATION_TYPES`, e.g. ``91`` enterprise, ``92`` individual
  business, ``N2`` village collective economic organisation);
* 3-8: the registering authority's region code, six digits (only the shape is checked: central
  registrations use ``100000`` and region codes are retired over time);
* 9-17: the GB 11714 organisation code, whose last character is its own MOD 11 check
  (:func:`org_code_check_character`);
* 18: the ISO 7064 MOD 31-3 check character (:func:`uscc_check_character`).

Business registration number (工商注册号, GS 15-2006): 15 digits, the last an ISO 7064
MOD 11,10 check digit (:func:`business_licence_check_digit`).

Licence plates (GA 36-2018): see :func:`check_licence_plate`.

ID numbers (GB 11643) are checked by :func:`healthcode.rules.idcard.check_id_number`; its errors are
re-raised with this module's code so that every credential type fails the same way.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from healthcode import clock
from healthcode.errors import InvalidInput

INVALID_CREDENTIAL: Final = "invalid_credential"
INVALID_CREDENTIAL_TYPE: Final = "invalid_credential_type"


class CredentialType(StrEnum):
    """What a venue's ``credential_number`` is (``POST /v1/venues``)."""

    USCC = "uscc"
    BUSINESS_LICENCE = "business_licence"
    ID_NUMBER = "id_number"
    LICENCE_PLATE = "licence_plate"


# --------------------------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015)
# --------------------------------------------------------------------------------------------

#: The GB 32100 code set in value order: a character's index is its value in the check sum.
USCC_CODE_SET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = MappingProxyType({character: value for value, character in enumerate(USCC_CODE_SET)})
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: Registration-authority code -> the organisation-type codes GB 32100-2015 (table A.1, with the
#: amendments adding ``A`` and ``N``) defines under it.
USCC_ORGANISATION_TYPES: Final[MappingProxyType[str, frozenset[str]]] = MappingProxyType(
    {
        "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 中央编办直管群众团体, 其他
        "2": frozenset("19"),  # 外交: 外国常驻新闻机构, 其他
        "3": frozenset("123459"),  # 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 其他
        "4": frozenset("19"),  # 文化: 外国在华文化中心, 其他
        "5": frozenset("1239"),  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
        "6": frozenset("129"),  # 旅游: 外国旅游部门代表机构, 港澳台旅游部门代表机构, 其他
        "7": frozenset("129"),  # 宗教: 宗教活动场所, 宗教院校, 其他
        "8": frozenset("19"),  # 工会: 基层工会, 其他
        "9": frozenset("123"),  # 工商: 企业, 个体工商户, 农民专业合作社
        "A": frozenset("19"),  # 中央军委改革和编制办公室: 军队事业单位, 其他
        "N": frozenset("1239"),  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
        "Y": frozenset("1"),  # 其他: not subdivided, always 1
    }
)

_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_BODY: Final = re.compile(r"[0-9A-Z]{8}")


def uscc_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 are ``first17``.

    ISO 7064 MOD 31-3 as GB 32100 fixes it: ``31 - (sum of value x weight) mod 31``, a result of
    31 written as ``0``. Raises ``ValueError`` unless given 17 characters of the code set.
    """
    if len(first17) != 17 or any(character not in _USCC_VALUE for character in first17):
        raise ValueError("a USCC check character needs 17 characters of the GB 32100 code set")
    total = sum(
        _USCC_VALUE[character] * weight for character, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_CODE_SET[(31 - total % 31) % 31]


def org_code_check_character(first8: str) -> str:
    """The 9th character of a GB 11714 organisation code whose first 8 are ``first8``.

    Digits count their value, letters ``A``-``Z`` count 10-35; ``11 - (weighted sum mod 11)``,
    with 10 written ``X`` and 11 written ``0``. Raises ``ValueError`` unless given 8 digits or
    capital letters.
    """
    if not _ORG_CODE_BODY.fullmatch(first8):
        raise ValueError("an organisation-code check character needs 8 digits or capital letters")
    total = sum(
        int(character, 36) * weight for character, weight in zip(first8, _ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def check_uscc(value: str, *, field: str = "credential_number") -> str:
    """A valid 18-character unified social credit code, upper-cased, or ``InvalidInput``."""
    code = _compact(value, field=field)
    if len(code) != 18:
        raise _invalid("a unified social credit code has 18 characters", field)
    if any(character not in _USCC_VALUE for character in code):
        raise _invalid(
            "a unified social credit code uses only digits and capital letters other than I, O, S, V, Z",
            field,
        )
    authority, organisation_type = code[0], code[1]
    types = USCC_ORGANISATION_TYPES.get(authority)
    if types is None:
        raise _invalid("the first character is not a GB 32100 registration-authority code", field)
    if organisation_type not in types:
        raise _invalid(
            "the second character is not an organisation type of that registration authority", field
        )
    if not code[2:8].isdigit():
        raise _invalid("characters 3-8 must be the six-digit region code of the registering authority", field)
    if code[16] != org_code_check_character(code[8:16]):
        raise _invalid("the organisation code (characters 9-17) fails its GB 11714 check character", field)
    if code[17] != uscc_check_character(code[:17]):
        raise _invalid("the check character (the 18th) does not match; please re-check the code", field)
    return code


# --------------------------------------------------------------------------------------------
# Business registration number (GS 15-2006)
# --------------------------------------------------------------------------------------------


def business_licence_check_digit(first14: str) -> str:
    """The 15th digit of a 工商注册号 whose first 14 digits are ``first14`` (ISO 7064 MOD 11,10).

    Raises ``ValueError`` unless given 14 ASCII digits.
    """
    if len(first14) != 14 or not first14.isascii() or not first14.isdigit():
        raise ValueError("a business registration check digit needs 14 digits")
    product = 10
    for digit in first14:
        total = (product + int(digit)) % 10 or 10
        product = total * 2 % 11
    return str((11 - product) % 10)


def check_business_licence(value: str, *, field: str = "credential_number") -> str:
    """A valid 15-digit business registration number, or ``InvalidInput``."""
    number = _compact(value, field=field)
    if len(number) != 15 or not number.isascii() or not number.isdigit():
        raise _invalid("a business registration number (工商注册号) has 15 digits", field)
    if number[14] != business_licence_check_digit(number[:14]):
        raise _invalid("the check digit (the 15th) does not match; please re-check the number", field)
    return number


# --------------------------------------------------------------------------------------------
# Licence plates (GA 36-2018)
# --------------------------------------------------------------------------------------------

#: The 31 provincial abbreviations that open an ordinary plate.
PLATE_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

_PROVINCE = f"[{PLATE_PROVINCES}]"
_AUTHORITY = "[A-HJ-NP-Z]"  # the issuing authority's letter, never I or O
_SERIAL = "[0-9A-HJ-NP-Z]"  # a serial character: digit or letter, never I or O
# New-energy energy letters: D (battery electric) and F (other) per GA 36-2018, widened when
# the serials ran out to A/B/C/D/E (battery electric) and F/G/H/J/K (other).
_ENERGY = "[A-HJK]"

_PLATE_FORMATS: Final = (
    # ordinary (blue small / yellow large): five serial characters
    re.compile(f"{_PROVINCE}{_AUTHORITY}{_SERIAL}{{5}}"),
    # small new-energy: energy letter, a serial character, four digits
    re.compile(f"{_PROVINCE}{_AUTHORITY}{_ENERGY}{_SERIAL}[0-9]{{4}}"),
    # large new-energy: five digits, energy letter
    re.compile(f"{_PROVINCE}{_AUTHORITY}[0-9]{{5}}{_ENERGY}"),
    # trailer 挂, driving-school 学, police 警: four serial characters and the suffix
    re.compile(f"{_PROVINCE}{_AUTHORITY}{_SERIAL}{{4}}[挂学警]"),
    # Hong Kong / Macao cross-border vehicles, issued by Guangdong under authority Z
    re.compile(f"粤Z{_SERIAL}{{4}}[港澳]"),
    # consulate: four digits and 领
    re.compile(f"{_PROVINCE}{_AUTHORITY}[0-9]{{4}}领"),
    # embassy: 使, three-digit country code, three-digit serial
    re.compile("使[0-9]{6}"),
)

#: Separators people type inside plates: the middle dot (and look-alikes) and hyphens.
_PLATE_SEPARATORS: Final = frozenset("·•・‧-")


def check_licence_plate(value: str, *, field: str = "credential_number") -> str:
    """A valid mainland licence plate, upper-cased without spaces or dots, or ``InvalidInput``.

    Accepted (GA 36-2018): province abbreviation + issuing-authority letter + five serial
    characters (ordinary); + six for new-energy vehicles, small ones with the energy letter
    first and then a serial character and four digits, large ones with five digits and the
    energy letter last; + four serial characters and 挂 (trailer), 学 (driving school) or 警
    (police); 粤Z + four and 港 or 澳 (cross-border); + four digits and 领 (consulate); and 使
    + six digits (embassy). Serial characters are digits or letters other than I and O.
    """
    plate = "".join(
        character for character in _compact(value, field=field) if character not in _PLATE_SEPARATORS
    )
    if not any(pattern.fullmatch(plate) for pattern in _PLATE_FORMATS):
        raise _invalid(
            "not a mainland licence plate: a province abbreviation, the issuing authority's letter, "
            "then five characters (six for new-energy vehicles) without I or O, or a GA 36 suffix",
            field,
        )
    return plate


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------


class _Check(Protocol):
    def __call__(self, value: str, *, field: str = ...) -> str: ...


def _check_id_number(value: str, *, field: str = "credential_number") -> str:
    # A sibling module, imported here so that this one imports without it.
    from healthcode.rules.idcard import check_id_number

    try:
        number: str = check_id_number(value, today=clock.now().date(), field=field).number
    except InvalidInput as error:  # one code for every credential type, the reason kept
        raise _invalid(error.message, field) from None
    return number


_CHECKS: Final[MappingProxyType[str, _Check]] = MappingProxyType(
    {
        CredentialType.USCC: check_uscc,
        CredentialType.BUSINESS_LICENCE: check_business_licence,
        CredentialType.ID_NUMBER: _check_id_number,
        CredentialType.LICENCE_PLATE: check_licence_plate,
    }
)


def check_credential(credential_type: str, value: str, *, field: str = "credential_number") -> str:
    """The canonical ``value`` for ``credential_type`` (a :class:`CredentialType` value).

    An unknown type raises ``InvalidInput`` with code ``invalid_credential_type`` on the field
    ``credential_type``; a bad value raises code ``invalid_credential`` on ``field``.
    """
    check = _CHECKS.get(credential_type) if isinstance(credential_type, str) else None
    if check is None:
        raise InvalidInput(
            "credential_type must be one of " + ", ".join(sorted(_CHECKS)),
            field="credential_type",
            code=INVALID_CREDENTIAL_TYPE,
        )
    if not isinstance(value, str):
        raise _invalid("the credential number must be a string", field)
    return check(value, field=field)


def _compact(value: object, *, field: str) -> str:
    """``value`` NFKC-normalised (full-width to half-width), upper-cased, without whitespace and
    hyphens (``91350100-M000100Y43`` as printed in groups)."""
    if not isinstance(value, str):
        raise _invalid("the credential number must be a string", field)
    text = "".join(unicodedata.normalize("NFKC", value).upper().split())
    return "".join(character for character in text if character not in "-‐‑‒–—")


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field, code=INVALID_CREDENTIAL)
