"""Applying for a personal health code (健康码申领): the form, its review, and who manages a code.

The Guizhou rules (seeds, 二(三)) review an application for *completeness*, *accuracy* and
*comparison with known epidemic data*, and a refusal says why. Here:

Completeness and accuracy — :func:`parse_application`
    Every field is checked in turn and the first wrong one is refused with ``422`` naming it
    (``field``) and saying why (``code``): the name (letters, 1–50 characters), the ID number
    (GB 11643: 18 characters, MOD 11-2 check character, a real birth date not in the future, a
    GB/T 2260 province prefix), a mainland mobile number, the address (2–200 characters), the
    region of residence (a current GB/T 2260 code), and the declaration: symptoms from the fixed
    vocabulary ``colour.SYMPTOMS``, an optional temperature of 34–43 °C, trips (a current region
    code and the instant the person left it, not in the future) and whether they had contact
    with a case. Unknown fields are refused too: a misspelt field must not be silently ignored.
    ``dependant: true`` is for a child (under 18) or an elderly parent (60 or over): an adult of
    working age applies from their own account (``not_a_dependant``).

Comparison with epidemic data — in :func:`apply`
    The colour is decided over everything already known about the person (cases, exposures,
    lab results, overrides, earlier declarations) plus the new declaration. A declaration only
    ever *adds* facts, and adding a fact never lowers a colour (``colour``'s property), so a case
    or contact keeps their colour whatever they declare; what they declared earlier keeps
    counting until it expires or a negative test clears it.

Who manages a code — :func:`admit`
    A code is managed by one account, ``owner_sub``: the applicant's own, or their guardian's
    for a dependant. Applying again with the same ID number from that account renews the
    declaration (200, same ``person_id``). From any other account it is refused
    (``409 managed_by_another_account``) — never a silent takeover — unless the application
    carries a *link code*: a one-time code the managing account (or an official, after checking
    the person's identity in person) opens with ``POST /v1/codes/{person_id}/links``, valid for
    ``LINK_LIFETIME`` and void after ``LINK_MAX_FAILURES`` wrong tries. Presenting it moves the
    code to the applying account: a second parent takes over a child's code, or a parent who got
    a smartphone takes their own code back from the child who registered them
    (``dependant: false``). A person registered by officials before anyone applied (owner
    ``persons.unclaimed_owner``) is taken by the first account that applies with the ID number,
    keeping every fact already known. An account holds one code of its own
    (``own_code_exists``) and at most ``MAX_DEPENDANTS`` dependants.

Nothing here logs, and no message repeats a name, ID number or phone number.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from healthcode import clock
from healthcode.errors import Conflict, InvalidInput
from healthcode.protection import pii
from healthcode.rules import colour, idcard, regions
from healthcode.rules.colour import ColourDecision
from healthcode.rules.idcard import IdNumber
from healthcode.rules.policy import Policy
from healthcode.services import recolour
from healthcode.settings import policy as province_policy
from healthcode.storage import facts, persons
from healthcode.storage.models import AuditEntry, Person

NAME_MAX: Final = 50
ADDRESS_MIN: Final = 2
ADDRESS_MAX: Final = 200
#: Temperatures a declaration may carry, °C (the issue's plausible range).
TEMPERATURE_MIN: Final = 34.0
TEMPERATURE_MAX: Final = 43.0
MAX_TRIPS: Final = 30
#: 未成年人保护法: a minor is under 18; 老年人权益保障法: the elderly are 60 and over.
CHILD_UNDER_YEARS: Final = 18
ELDERLY_FROM_YEARS: Final = 60
MAX_DEPENDANTS: Final = 10

#: Guardian link codes: 10 characters without look-alikes (no 0/O, 1/I/L), about 50 bits.
LINK_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_LENGTH: Final = 10
LINK_LIFETIME: Final = timedelta(hours=24)
LINK_MAX_FAILURES: Final = 5

FIELDS: Final = frozenset(
    {"name", "id_number", "phone", "address", "region_code", "declaration", "dependant", "link_code"}
)
DECLARATION_FIELDS: Final = frozenset({"symptoms", "temperature", "travel", "contact_with_case"})
TRIP_FIELDS: Final = frozenset({"region_code", "left_at"})
_NAME_MARKS: Final = frozenset(" ·•.-'’")


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


def _missing(field: str) -> InvalidInput:
    return InvalidInput(f"{field} is required", field=field, code="missing_field")


def check_fields(body: Mapping[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    """Refuse a field the form does not have (422 ``unknown_field``): a misspelt field must not
    be silently ignored."""
    unknown = sorted(str(key) for key in body if key not in allowed)
    if unknown:
        field = f"{prefix}{unknown[0]}"
        raise InvalidInput(f"{field} is not a field of this form", field=field, code="unknown_field")


def _required(body: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _missing(f"{prefix}{key}")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field, code="invalid_type")
    return value


def _has_control(text: str) -> bool:
    return any(unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn") for character in text)


def check_name(value: Any, *, field: str = "name") -> str:
    """A person's name: letters (any script) with spaces, ``·`` and the like; 1–50 characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_name")
    name = " ".join(value.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"{field} must be 1 to {NAME_MAX} characters", field=field, code="invalid_name")
    if not any(unicodedata.category(c).startswith("L") for c in name) or not all(
        unicodedata.category(c)[0] in "LM" or c in _NAME_MARKS for c in name
    ):
        raise InvalidInput(
            f"{field} may hold only letters, spaces and the marks · . - '", field=field, code="invalid_name"
        )
    return name


def check_address(value: Any, *, field: str = "address") -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_address")
    address = value.strip()
    if not ADDRESS_MIN <= len(address) <= ADDRESS_MAX or _has_control(address):
        raise InvalidInput(
            f"{field} must be {ADDRESS_MIN} to {ADDRESS_MAX} printable characters",
            field=field,
            code="invalid_address",
        )
    return address


def check_temperature(value: Any, *, field: str = "declaration.temperature") -> float:
    # Only a float can be NaN or infinite; an int of any size is compared exactly below
    # (math.isfinite would overflow converting a 400-digit one).
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise InvalidInput(f"{field} must be a number of °C", field=field, code="invalid_type")
    if not TEMPERATURE_MIN <= value <= TEMPERATURE_MAX:
        raise InvalidInput(
            f"{field} must be between {TEMPERATURE_MIN:g} and {TEMPERATURE_MAX:g} °C",
            field=field,
            code="implausible_temperature",
        )
    return float(value)


def _symptoms(value: Any) -> tuple[str, ...]:
    field = "declaration.symptoms"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{field} must be a list of symptom names", field=field, code="invalid_type")
    unknown = sorted(set(value) - colour.SYMPTOMS)
    if unknown:
        raise InvalidInput(
            f"{field}: unknown symptom; known: {', '.join(sorted(colour.SYMPTOMS))}",
            field=field,
            code="unknown_symptom",
        )
    return tuple(sorted(set(value)))


def _trips(value: Any, *, now: datetime) -> tuple[colour.Travel, ...]:
    field = "declaration.travel"
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be a list of trips", field=field, code="invalid_type")
    if len(value) > MAX_TRIPS:
        raise InvalidInput(f"{field} may list at most {MAX_TRIPS} trips", field=field, code="too_many_trips")
    trips: list[colour.Travel] = []
    for index, entry in enumerate(value):
        prefix = f"{field}.{index}."
        if not isinstance(entry, dict):
            raise InvalidInput(
                f"{field}.{index} must be an object {{region_code, left_at}}",
                field=f"{field}.{index}",
                code="invalid_type",
            )
        check_fields(entry, TRIP_FIELDS, prefix)
        region_code = regions.check_region_code(
            _required(entry, "region_code", prefix), field=f"{prefix}region_code"
        )
        left_at = _required(entry, "left_at", prefix)
        try:
            left = clock.parse_instant(left_at) if isinstance(left_at, str) else None
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


def parse_declaration(value: Any, *, now: datetime) -> colour.Declaration:
    """The health declaration: every question answered (temperature may be left out)."""
    if not isinstance(value, dict):
        raise InvalidInput("declaration must be an object", field="declaration", code="invalid_type")
    check_fields(value, DECLARATION_FIELDS, "declaration.")
    for key in ("symptoms", "travel", "contact_with_case"):
        if value.get(key) is None:
            raise _missing(f"declaration.{key}")
    symptoms = _symptoms(value["symptoms"])
    temperature = value.get("temperature")
    degrees = None if temperature is None else check_temperature(temperature)
    trips = _trips(value["travel"], now=now)
    contact = _boolean(value["contact_with_case"], "declaration.contact_with_case")
    return colour.Declaration(symptoms=symptoms, temperature=degrees, travel=trips, contact_with_case=contact)


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
    """Check an application field by field (see the module docstring); 422 on the first error."""
    check_fields(body, FIELDS)
    name = check_name(_required(body, "name"))
    id_number = idcard.check_id_number(_required(body, "id_number"), today=china_today(now))
    phone = idcard.check_mobile(_required(body, "phone"))
    address = check_address(_required(body, "address"))
    region_code = regions.check_region_code(_required(body, "region_code"))
    declaration = parse_declaration(_required(body, "declaration"), now=now)
    dependant = False if body.get("dependant") is None else _boolean(body["dependant"], "dependant")
    if dependant:
        check_dependant(id_number, today=china_today(now))
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


# -- who manages a code --------------------------------------------------------------------------


class Admission(StrEnum):
    """What an application does to the code of its ID number."""

    NEW = "new"  # nobody holds the ID number yet
    RENEWAL = "renewal"  # the applying account manages it already
    TAKEOVER = "takeover"  # it moves to the applying account (link code, or nobody managed it)


def admit(*, caller_sub: str, holder_sub: str | None, link_code: str | None) -> Admission:
    """The rule of who may apply with an ID number already held (see the module docstring)."""
    if holder_sub is None:
        return Admission.NEW
    if holder_sub == caller_sub:
        return Admission.RENEWAL
    if persons.is_unclaimed_owner(holder_sub) or link_code is not None:
        return Admission.TAKEOVER
    raise Conflict(
        "this ID number's code is managed by another account; ask that account for a link code",
        field="id_number",
        code="managed_by_another_account",
    )


def check_account(codes: Iterable[tuple[str, bool]], *, person_id: str | None, dependant: bool) -> None:
    """An account holds one code of its own and at most ``MAX_DEPENDANTS`` dependants.
    ``codes`` are the account's codes as (person_id, dependant); ``person_id`` is the code being
    applied for (it does not count against itself)."""
    others = [is_dependant for pid, is_dependant in codes if pid != person_id]
    if not dependant and not all(others):
        raise Conflict(
            "this account already has a code of its own; apply for others as dependants",
            field="dependant",
            code="own_code_exists",
        )
    if dependant and sum(others) >= MAX_DEPENDANTS:
        raise Conflict(
            f"an account may manage at most {MAX_DEPENDANTS} dependants",
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


_LINK_REFUSALS: Final[dict[LinkCheck, tuple[str, str]]] = {
    LinkCheck.NONE: ("invalid_link_code", "no link code is open for this code; ask the managing account"),
    LinkCheck.EXPIRED: ("link_code_expired", "the link code has expired; ask for a new one"),
    LinkCheck.WRONG: ("invalid_link_code", "the link code does not match"),
}


def new_link_code() -> str:
    return "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))


def show_link_code(code: str) -> str:
    """``ABCDEFGHJK`` → ``ABCDE-FGHJK`` (easier to read out and type)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def derived_id(prefix: str, purpose: str, caller_sub: str, idempotency_key: str) -> str:
    """A deterministic id for a client's retried request (caller and ``Idempotency-Key``)."""
    digest = hashlib.sha256(f"{purpose}\x00{caller_sub}\x00{idempotency_key}".encode()).hexdigest()
    return f"{prefix}{digest[:32]}"


# -- applying --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    person: Person
    decision: ColourDecision
    created: bool


def apply(
    form: Application, *, caller_sub: str, now: datetime, idempotency_key: str | None = None
) -> Applied:
    """Review ``form`` against what is known and store it: a new code, a renewed declaration, or
    a code moving to this account. The colour is decided at once over every fact, old and new;
    the colour consumer keeps it in step afterwards."""
    rules = province_policy()
    number = form.id_number.number
    wanted_id = derived_id("p-", "apply", caller_sub, idempotency_key) if idempotency_key else None
    holder = persons.holder_of(number)
    if holder is None and wanted_id is not None and persons.get(wanted_id, consistent=True) is not None:
        raise Conflict("this Idempotency-Key was used for another application", code="idempotency_key_reused")
    if holder is None:
        try:
            return _create(form, caller_sub=caller_sub, now=now, rules=rules, person_id=wanted_id)
        except Conflict:
            # A concurrent request may have created the person since we looked (its claim on the
            # ID number, or its place among the account's codes, refused ours): go on as if we
            # had seen it. Any other conflict stands.
            holder = persons.holder_of(number)
            if holder is None:
                raise
    admission = admit(caller_sub=caller_sub, holder_sub=holder.owner_sub, link_code=form.link_code)
    person, decision = _update(form, holder, admission, caller_sub=caller_sub, now=now, rules=rules)
    return Applied(person=person, decision=decision, created=person.person_id == wanted_id)


def _declared(person_id: str, form: Application, *, now: datetime, rules: Policy) -> facts.PersonState:
    """The declaration's facts and its trips still within the travel window, written as facts."""
    declared = colour.declaration_facts(person_id, form.declaration, policy=rules, at=now)
    window = timedelta(days=rules.risk_travel_window_days)
    trips = [trip for trip in form.declaration.travel if trip.left_at + window > now]
    keep_days = rules.risk_travel_window_days + facts.KEEP_AFTER_EXPIRY_DAYS
    facts.save(
        [
            *(facts.item_for(person_id, fact, recorded_at=now, source="declaration") for fact in declared),
            *(facts.travel_item(person_id, trip, recorded_at=now, keep_days=keep_days) for trip in trips),
        ]
    )
    return facts.PersonState(facts=declared, travel=trips)


def _account_codes(caller_sub: str) -> list[tuple[str, bool]]:
    return [(person.person_id, bool(person.dependant)) for person in persons.of_owner(caller_sub)]


def _create(
    form: Application, *, caller_sub: str, now: datetime, rules: Policy, person_id: str | None
) -> Applied:
    check_account(_account_codes(caller_sub), person_id=None, dependant=form.dependant)
    pid = person_id or persons.new_person_id()
    # Facts first: a crash before the person exists leaves facts nobody reads (TTL removes them),
    # never a stored colour whose facts are missing.
    state = _declared(pid, form, now=now, rules=rules)
    decision = recolour.assess(pid, state, at=now, policy=rules)
    person = persons.build(
        owner_sub=caller_sub,
        dependant=form.dependant,
        name=form.name,
        id_number=form.id_number.number,
        phone=form.phone,
        address=form.address,
        region_code=form.region_code,
        birth_year=form.id_number.birth_date.year,
        now=now,
        person_id=pid,
    )
    entries = recolour.record(person, decision, actor=caller_sub, cause="application") or []
    persons.create(person, entries=entries)
    return Applied(person=person, decision=decision, created=True)


def _update(
    form: Application,
    holder: Person,
    admission: Admission,
    *,
    caller_sub: str,
    now: datetime,
    rules: Policy,
) -> tuple[Person, ColourDecision]:
    pid = holder.person_id
    check_account(_account_codes(caller_sub), person_id=pid, dependant=form.dependant)
    presented = pii.keyed_hashes_for_lookup("link_code", form.link_code) if form.link_code else []
    expected_owner = holder.owner_sub
    if admission is Admission.TAKEOVER and not persons.is_unclaimed_owner(expected_owner):
        # Refuse a wrong code before anything is written for someone else's code.
        _require_link(pid, presented, now=now)
    _declared(pid, form, now=now, rules=rules)
    decided: list[ColourDecision] = []

    def change(person: Person) -> list[AuditEntry]:
        if person.owner_sub != expected_owner:
            raise Conflict("the code changed hands meanwhile: apply again", code="concurrent_update")
        entries: list[AuditEntry] = []
        if admission is Admission.TAKEOVER:
            if not persons.is_unclaimed_owner(person.owner_sub):
                outcome = check_link(
                    stored_hash=person.link_hash,
                    expires_at=person.link_expires_at,
                    presented=presented,
                    now=now,
                )
                if outcome is not LinkCheck.OK:
                    code, message = _LINK_REFUSALS[outcome]
                    raise InvalidInput(message, field="link_code", code=code)
            entries.append(
                persons.audit_entry(
                    pid,
                    "guardian_change",
                    actor=caller_sub,
                    at=now,
                    details={
                        "from_owner": person.owner_sub,
                        "to_owner": caller_sub,
                        "dependant": form.dependant,
                    },
                    entry_id=f"v{(person.version or 0) + 1}",
                )
            )
            person.owner_sub = caller_sub
            persons.close_link(person)
        person.dependant = form.dependant
        persons.set_identity(
            person,
            name=form.name,
            phone=form.phone,
            address=form.address,
            region_code=form.region_code,
            birth_year=form.id_number.birth_date.year,
            now=now,
        )
        decision = recolour.assess(pid, facts.state_of(pid), at=now, policy=rules)
        decided.append(decision)
        entries += recolour.record(person, decision, actor=caller_sub, cause="declaration") or []
        return entries

    person = persons.edit(pid, change)
    if person is None:  # removed meanwhile: nothing to renew
        raise Conflict("the code changed meanwhile: apply again", code="concurrent_update")
    return person, decided[-1]


def _require_link(person_id: str, presented: Sequence[str], *, now: datetime) -> None:
    """Check a presented link code against the open link; count a wrong one (the link closes
    after ``LINK_MAX_FAILURES``) and refuse with 422."""
    person = persons.get(person_id, consistent=True)
    if person is None:
        raise Conflict("the code changed meanwhile: apply again", code="concurrent_update")
    outcome = check_link(
        stored_hash=person.link_hash, expires_at=person.link_expires_at, presented=presented, now=now
    )
    if outcome is LinkCheck.OK:
        return
    if outcome is LinkCheck.WRONG:
        persons.edit(person_id, _count_failure(person.link_hash))
    code, message = _LINK_REFUSALS[outcome]
    raise InvalidInput(message, field="link_code", code=code)


def _count_failure(link_hash: str | None) -> Callable[[Person], list[AuditEntry] | None]:
    def change(person: Person) -> list[AuditEntry] | None:
        if person.link_hash != link_hash:
            return None  # the link was closed or replaced meanwhile
        person.link_failures = int(person.link_failures or 0) + 1
        if person.link_failures >= LINK_MAX_FAILURES:
            persons.close_link(person)
        return []

    return change


def open_link(person: Person, *, actor: str, now: datetime) -> tuple[str, datetime]:
    """Open a guardian link on ``person`` (replacing any open one): the one-time code to hand over
    and its expiry. The code is stored only as its keyed hash."""
    code = new_link_code()
    expires_at = now + LINK_LIFETIME

    def change(fresh: Person) -> list[AuditEntry]:
        fresh.link_hash = pii.keyed_hash("link_code", code)
        fresh.link_expires_at = expires_at
        fresh.link_failures = 0
        return [
            persons.audit_entry(
                fresh.person_id,
                "link_opened",
                actor=actor,
                at=now,
                details={"expires_at": expires_at.isoformat()},
                entry_id=f"v{(fresh.version or 0) + 1}",
            )
        ]

    if persons.edit(person.person_id, change) is None:
        raise Conflict("the code changed meanwhile: try again", code="concurrent_update")
    return code, expires_at
