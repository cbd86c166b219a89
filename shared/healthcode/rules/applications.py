"""The application form (健康码申领) and the pure checks on who may hold a code.

Every field is checked in turn and the first wrong one is refused with ``422`` naming it
(``field``) and saying why (``code``): the name, the ID number (GB 11643: 18 characters, MOD 11-2
check character, a real birth date not in the future, a GB/T 2260 province prefix), a mainland
mobile number, the address, the region of residence (a current GB/T 2260 code), and the
declaration: symptoms from the fixed vocabulary ``colour.SYMPTOMS``, an optional temperature,
trips (a current region code and the instant the person left it, not in the future) and whether
they had contact with a case. Unknown fields are refused too: a misspelt field must not be
silently ignored. ``dependant: true`` is for a child (under 18) or an elderly parent (60 or
over): an adult of working age applies from their own account (``not_a_dependant``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from healthcode import clock
from healthcode.errors import Conflict, InvalidInput
from healthcode.rules import colour, forms, idcard, regions
from healthcode.rules.forms import ADDRESS_MAX, ADDRESS_MIN, NAME_MAX, TEMPERATURE_MAX, TEMPERATURE_MIN
from healthcode.rules.idcard import IdNumber

__all__ = ["ADDRESS_MAX", "ADDRESS_MIN", "NAME_MAX", "TEMPERATURE_MAX", "TEMPERATURE_MIN"]

MAX_TRIPS: Final = 30
#: 未成年人保护法: a minor is under 18; 老年人权益保障法: the elderly are 60 and over.
CHILD_UNDER_YEARS: Final = 18
ELDERLY_FROM_YEARS: Final = 60
#: The default of the policy's ``max_dependants``.
MAX_DEPENDANTS: Final = 10

#: Guardian link codes: 10 characters without look-alikes (no 0/O, 1/I/L), about 50 bits.
LINK_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_LENGTH: Final = 10


# -- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Application:
    """An application that passed every field check. ``repr`` shows no personal data."""

    name: str
    id_number: IdNumber
    phone: str
    address: str
    region_code: str
    declaration: colour.Declaration
    dependant: bool
    link_code: str | None

    def __repr__(self) -> str:
        return f"Application(region_code={self.region_code!r}, dependant={self.dependant})"


def china_today(now: datetime) -> date:
    return now.astimezone(clock.CHINA).date()


def _required(body: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    """A required value; blank text counts as absent (the spec has refused a wrong type)."""
    value = body[key]
    if isinstance(value, str) and not value.strip():
        raise InvalidInput(f"{prefix}{key} is required", field=f"{prefix}{key}", code="missing_field")
    return value


def check_name(value: Any, *, field: str = "name") -> str:
    return forms.check_name(value, field=field)


def check_address(value: Any, *, field: str = "address") -> str:
    return forms.check_address(value, field=field)


def check_temperature(value: Any, *, field: str = "declaration.temperature") -> float:
    return forms.check_temperature(value, field=field)


def _trips(value: list[dict[str, Any]], *, now: datetime) -> tuple[colour.Travel, ...]:
    trips: list[colour.Travel] = []
    for index, entry in enumerate(value):
        prefix = f"declaration.travel.{index}."
        region_code = regions.check_region_code(
            _required(entry, "region_code", prefix), field=f"{prefix}region_code"
        )
        left_at = _required(entry, "left_at", prefix)
        try:
            left = clock.parse_instant(left_at)
        except ValueError:
            left = None
        if left is None:
            raise InvalidInput(
                f"{prefix}left_at must be an ISO 8601 time with an offset, e.g. 2022-05-18T10:00:00+08:00",
                field=f"{prefix}left_at",
                code="invalid_time",
            )
        if left > now:
            raise InvalidInput(
                f"{prefix}left_at is in the future: declare trips already made",
                field=f"{prefix}left_at",
                code="travel_in_future",
            )
        trips.append(colour.Travel(region_code=region_code, left_at=left))
    return tuple(trips)


def parse_declaration(value: Mapping[str, Any], *, now: datetime) -> colour.Declaration:
    """The health declaration, as the spec let it through (temperature may be left out)."""
    temperature = value.get("temperature")
    return colour.Declaration(
        symptoms=tuple(sorted(set(value["symptoms"]))),
        temperature=None if temperature is None else check_temperature(temperature),
        travel=_trips(value["travel"], now=now),
        contact_with_case=bool(value["contact_with_case"]),
    )


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today`` (a 29 February birthday counts on 1 March)."""
    years = today.year - birth_date.year
    return years - ((today.month, today.day) < (birth_date.month, birth_date.day))


def check_dependant(id_number: IdNumber, *, today: date) -> None:
    """A dependant is a child under 18 or an elderly person of 60 or over, by their ID number."""
    age = age_on(id_number.birth_date, today)
    if CHILD_UNDER_YEARS <= age < ELDERLY_FROM_YEARS:
        raise InvalidInput(
            f"a dependant is a child under {CHILD_UNDER_YEARS} or a person of {ELDERLY_FROM_YEARS} or over; "
            "adults of other ages apply from their own account",
            field="dependant",
            code="not_a_dependant",
        )


def parse_link_code(value: Any, *, field: str = "link_code") -> str:
    """A guardian link code as typed: case, spaces and hyphens do not matter."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_link_code")
    code = "".join(value.split()).replace("-", "").upper()
    if len(code) != LINK_LENGTH or any(character not in LINK_ALPHABET for character in code):
        raise InvalidInput(
            f"{field} must be the {LINK_LENGTH}-character code the managing account received",
            field=field,
            code="invalid_link_code",
        )
    return code


def parse_application(body: Mapping[str, Any], *, now: datetime) -> Application:
    """An application the spec of ``POST /v1/codes`` let through, checked for what a schema
    cannot say (see the module docstring); 422 on the first error."""
    today = china_today(now)
    name = check_name(_required(body, "name"))
    id_number = idcard.check_id_number(_required(body, "id_number"), today=today)
    phone = forms.check_mobile(_required(body, "phone"))
    address = check_address(_required(body, "address"))
    region_code = regions.check_region_code(_required(body, "region_code"))
    declaration = parse_declaration(body["declaration"], now=now)
    dependant = bool(body.get("dependant"))
    if dependant:
        check_dependant(id_number, today=today)
    link_code = None if body.get("link_code") is None else parse_link_code(body["link_code"])
    return Application(
        name=name,
        id_number=id_number,
        phone=phone,
        address=address,
        region_code=region_code,
        declaration=declaration,
        dependant=dependant,
        link_code=link_code,
    )


def check_account(
    codes: Iterable[tuple[str, bool]],
    *,
    person_id: str | None,
    dependant: bool,
    max_dependants: int = MAX_DEPENDANTS,
) -> None:
    """An account holds one code of its own and at most ``max_dependants`` dependants (the
    policy's ``max_dependants``). ``codes`` are the account's codes as (person_id, dependant);
    ``person_id`` is the code being applied for (it does not count against itself). A quick
    refusal before anything is written; the guards written with the person
    (``storage.persons``) are what holds under concurrent requests."""
    others = [is_dependant for pid, is_dependant in codes if pid != person_id]
    if not dependant and not all(others):
        raise Conflict(
            "this account already has a code of its own; apply for others as dependants",
            field="dependant",
            code="own_code_exists",
        )
    if dependant and sum(others) >= max_dependants:
        raise Conflict(
            f"an account may manage at most {max_dependants} dependants",
            field="dependant",
            code="too_many_dependants",
        )


class LinkCheck(StrEnum):
    OK = "ok"
    NONE = "none"  # no link open
    EXPIRED = "expired"
    WRONG = "wrong"


def check_link(
    *, stored_hash: str | None, expires_at: datetime | None, presented: Sequence[str], now: datetime
) -> LinkCheck:
    """Compare the keyed hashes of a presented link code with the open link (constant time)."""
    if stored_hash is None or expires_at is None:
        return LinkCheck.NONE
    if now >= expires_at:
        return LinkCheck.EXPIRED
    if any(hmac.compare_digest(stored_hash.encode(), digest.encode()) for digest in presented):
        return LinkCheck.OK
    return LinkCheck.WRONG
