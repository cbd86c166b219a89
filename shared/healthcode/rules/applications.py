"""The application form (健康码申领) and the pure checks on who may hold a code.

Every field is checked in turn and the first wrong one is refused with ``422`` naming it
(``field``) and saying why (``code``): the name, the ID number (GB 11643: 18 characters, MOD 11-2
check character, a real birth date not in the future, a GB/T 2260 province prefix), a mainland
mobile number, the address, the region of residence (a current GB/T 2260 code), and the
declaration: symptoms from the fixed vocabulary ``colour.SYMPTOMS``, an optional temperature,
trips (a current region code and the instant the person left it, not in the future) and whether
they had contact with a case. Unknown fields are refused too: a misspelt field must not be
silently ignored.

The ID number is of the document ``id_type`` (default ``resident_id``; passports add their
``nationality``), checked by :func:`healthcode.rules.documents.check_document`.

``dependant: true`` is for someone the account cares for: a child (under 18) or an elderly
person (60 or over) as before, or an adult of any age with a ``dependant_reason``
(``disability``, ``elderly``, ``minor``) — required for an adult of 18-59 and for a document
that carries no birth date (``dependant_reason_required``); a reason the birth date contradicts
(``minor`` for an adult, ``elderly`` under 60) is ``not_a_dependant``.

``assisted: true`` is an application staff make for someone without a phone (with the
``checkpoint_id`` a scanner is assigned to): ``phone`` may then be left out.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from healthcode import clock
from healthcode.errors import Conflict, InvalidInput
from healthcode.rules import colour, documents, forms, regions
from healthcode.rules.documents import Document
from healthcode.rules.forms import ADDRESS_MAX, ADDRESS_MIN, NAME_MAX, TEMPERATURE_MAX, TEMPERATURE_MIN

__all__ = ["ADDRESS_MAX", "ADDRESS_MIN", "NAME_MAX", "TEMPERATURE_MAX", "TEMPERATURE_MIN"]

MAX_TRIPS: Final = 30
#: 未成年人保护法: a minor is under 18; 老年人权益保障法: the elderly are 60 and over.
CHILD_UNDER_YEARS: Final = 18
ELDERLY_FROM_YEARS: Final = 60
#: Why someone is a dependant (``dependant_reason``).
DEPENDANT_REASONS: Final = ("disability", "elderly", "minor")

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
    id_number: Document
    phone: str | None  # None only in an assisted application
    address: str
    region_code: str
    declaration: colour.Declaration
    dependant: bool
    link_code: str | None
    dependant_reason: str | None = None
    assisted: bool = False
    checkpoint_id: str | None = None
    residence: Residence | None = None

    @property
    def id_type(self) -> str:
        return self.id_number.id_type.value

    @property
    def birth_year(self) -> int | None:
        born = self.id_number.birth_date
        return None if born is None else born.year

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
        contact_with_fever=value.get("contact_with_fever") is True,
    )


#: Longest building / unit text (楼栋/单元), after normalisation.
BUILDING_MAX: Final = 64


@dataclass(frozen=True, slots=True)
class Residence:
    """Where a person lives: a region and, where known, the residential venue (a compound or a
    village registered as a venue) and the building or unit in it."""

    region_code: str
    venue_id: str | None = None
    building: str | None = None

    @property
    def key(self) -> str | None:
        """The building's index key ``<venue_id>#<building>``, when both are known."""
        if self.venue_id is None or self.building is None:
            return None
        return f"{self.venue_id}#{self.building}"


def check_residence(value: Mapping[str, Any], *, field: str = "residence") -> Residence:
    """``{region_code, venue_id?, building?}`` as the spec let it through: a current region
    code; a venue id without ``#``; a building only with its venue, normalised (NFKC, spaces
    collapsed), 1 to ``BUILDING_MAX`` printable characters."""
    region_code = regions.check_region_code(value.get("region_code"), field=f"{field}.region_code")
    venue_id = value.get("venue_id")
    if venue_id is not None and (not isinstance(venue_id, str) or not venue_id.strip() or "#" in venue_id):
        raise InvalidInput("venue_id is not a venue id", field=f"{field}.venue_id", code="invalid_venue_id")
    raw = value.get("building")
    building = None
    if raw is not None:
        building = " ".join(unicodedata.normalize("NFKC", str(raw)).split())
        if not building or len(building) > BUILDING_MAX or not building.isprintable():
            raise InvalidInput(
                f"building must be 1-{BUILDING_MAX} printable characters",
                field=f"{field}.building",
                code="invalid_building",
            )
        if venue_id is None:
            raise InvalidInput(
                "a building is given with the residential venue it belongs to",
                field=f"{field}.venue_id",
                code="missing_field",
            )
    return Residence(
        region_code=region_code, venue_id=None if venue_id is None else venue_id.strip(), building=building
    )


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today`` (a 29 February birthday counts on 1 March)."""
    years = today.year - birth_date.year
    return years - ((today.month, today.day) < (birth_date.month, birth_date.day))


def check_dependant(id_number: Document, *, today: date, reason: str | None = None) -> str:
    """Why this person is a dependant (see the module docstring): the reason given, or the one
    their birth date says (``minor``, ``elderly``)."""
    born = id_number.birth_date
    age = None if born is None else age_on(born, today)
    if reason is None:
        if age is not None and age < CHILD_UNDER_YEARS:
            return "minor"
        if age is not None and age >= ELDERLY_FROM_YEARS:
            return "elderly"
        raise InvalidInput(
            f"an adult dependant needs a dependant_reason ({', '.join(DEPENDANT_REASONS)}); "
            "adults who can apply themselves apply from their own account",
            field="dependant_reason",
            code="dependant_reason_required",
        )
    if age is not None and (
        (reason == "minor" and age >= CHILD_UNDER_YEARS) or (reason == "elderly" and age < ELDERLY_FROM_YEARS)
    ):
        raise InvalidInput(
            f"dependant_reason {reason} does not fit the birth date of the ID number: a minor is under "
            f"{CHILD_UNDER_YEARS}, the elderly are {ELDERLY_FROM_YEARS} or over",
            field="dependant_reason",
            code="not_a_dependant",
        )
    return reason


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
    id_number = documents.check_document(
        _required(body, "id_number"), body.get("id_type"), today=today, nationality=body.get("nationality")
    )
    assisted = body.get("assisted") is True
    raw_phone = body.get("phone")
    if assisted and (raw_phone is None or (isinstance(raw_phone, str) and not raw_phone.strip())):
        phone = None
    else:
        phone = forms.check_mobile(_absent("phone") if raw_phone is None else _required(body, "phone"))
    address = check_address(_required(body, "address"))
    region_code = regions.check_region_code(_required(body, "region_code"))
    declaration = parse_declaration(body["declaration"], now=now)
    dependant = bool(body.get("dependant"))
    reason = body.get("dependant_reason")
    if reason is not None and reason not in DEPENDANT_REASONS:
        raise InvalidInput(
            f"dependant_reason must be one of {', '.join(DEPENDANT_REASONS)}",
            field="dependant_reason",
            code="invalid_dependant_reason",
        )
    dependant_reason = check_dependant(id_number, today=today, reason=reason) if dependant else None
    link_code = None if body.get("link_code") is None else parse_link_code(body["link_code"])
    checkpoint = body.get("checkpoint_id")
    return Application(
        name=name,
        id_number=id_number,
        phone=phone,
        address=address,
        region_code=region_code,
        declaration=declaration,
        dependant=dependant,
        link_code=link_code,
        dependant_reason=dependant_reason,
        assisted=assisted,
        checkpoint_id=str(checkpoint).strip() if isinstance(checkpoint, str) and checkpoint.strip() else None,
        residence=None if body.get("residence") is None else check_residence(body["residence"]),
    )


def _absent(key: str) -> Any:
    raise InvalidInput(f"{key} is required", field=key, code="missing_field")


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
