"""Applying for a personal health code (健康码申领): the review, who manages a code, guardian links.

The Guizhou rules (seeds, 二(三)) review an application for *completeness*, *accuracy* and
*comparison with known epidemic data*, and a refusal says why. Here:

Completeness and accuracy — :func:`healthcode.rules.applications.parse_application`
    Every field is checked in turn; the first wrong one is refused with ``422``.

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
    (``dependant: false``). A person registered by officials or at a checkpoint before anyone
    applied (owner ``persons.unclaimed_owner``) is taken by the first account that applies with
    the ID number *and the name as registered*, keeping every fact already known. An account
    holds one code of its own (``own_code_exists``) and at most the policy's ``max_dependants``
    (``too_many_dependants``): guards written in the same transaction as the person
    (``storage.persons``), so concurrent applications cannot pass the limits together.

Who a person is — :func:`apply`
    The name belongs to the ID number: once a person is registered (by an application, at a
    checkpoint, by officials), every later application with that ID number — a renewal, a takeover
    with a link code, the claim of an unclaimed person — must give the same name (compared on
    normalised text: ``rules.forms.same_name``), else ``409 identity_mismatch`` and nothing is
    written. The registered name is never overwritten by an application. A changed phone or
    address is taken, and each changed field is audited on the person (``contact_changed``,
    naming the field, never the values).

Assisted applications — :func:`apply_assisted`
    Staff (a scanner at a checkpoint it is assigned to, or an official; the codes service checks
    which) apply for someone without a phone (Guizhou 线下申领, Henan 纸质版, Jiangxi 值守登记).
    The person is then held by no account (owner ``persons.unclaimed_owner``) until they, or a
    guardian, apply with the ID number and the same name — the claim above. An assisted
    application for a person already held unclaimed renews their declaration (same name, else
    ``409 identity_mismatch``); for a person an account manages it is ``409
    managed_by_another_account``. Each is audited on the person (``assisted_application``, with
    the staff account and the checkpoint; never the values).

Identity documents
    The ID number is of the form's document type (``rules.documents``): the person is found by
    the keyed hash of (type, number), and resident ID numbers hash as they always did.

Nothing here logs, and no message repeats a name, ID number or phone number.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from healthcode.errors import Conflict, InvalidInput, NotFound
from healthcode.protection import pii
from healthcode.protection.auth import Caller
from healthcode.rules import colour
from healthcode.rules.applications import (  # noqa: F401 - the form's names, re-exported
    ADDRESS_MAX,
    ADDRESS_MIN,
    CHILD_UNDER_YEARS,
    ELDERLY_FROM_YEARS,
    LINK_ALPHABET,
    LINK_LENGTH,
    MAX_DEPENDANTS,
    MAX_TRIPS,
    NAME_MAX,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    Application,
    LinkCheck,
    age_on,
    check_account,
    check_address,
    check_dependant,
    check_link,
    check_name,
    check_temperature,
    china_today,
    parse_application,
    parse_declaration,
    parse_link_code,
)
from healthcode.rules.colour import ColourDecision
from healthcode.rules.forms import same_name
from healthcode.rules.policy import FactKind, Policy
from healthcode.services import account_limits, indicators, recolour, residences
from healthcode.settings import policy as province_policy
from healthcode.storage import audit, facts, persons
from healthcode.storage.persons import Edit, PersonView

#: Guardian links: how long an opened link code lasts, and how many wrong tries close it.
LINK_LIFETIME: Final = timedelta(hours=24)
LINK_MAX_FAILURES: Final = 5


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
    person: PersonView
    decision: ColourDecision
    created: bool


#: The audit kind of an application staff make for someone without a phone.
ASSISTED_KIND: Final = "assisted_application"


def apply_assisted(
    form: Application,
    *,
    staff_sub: str,
    details: Mapping[str, Any],
    now: datetime,
    idempotency_key: str | None = None,
    staff: Caller | None = None,
) -> Applied:
    """An application staff make for someone without a phone (see the module docstring);
    ``details`` (who acted, the checkpoint) go on the person's audit entry. For a person already
    registered, ``staff`` (an official with an area) must cover the region they are registered
    in (``403 outside_area``), and the renewal keeps that region: staff cannot move a person into
    their own area by typing another one."""
    rules = province_policy()
    number, id_type = form.id_number.number, form.id_type
    wanted_id = derived_id("p-", "assisted", staff_sub, idempotency_key) if idempotency_key else None
    holder = persons.holder_of(number, id_type)
    if holder is None and wanted_id is not None and persons.get(wanted_id, consistent=True) is not None:
        raise Conflict("this Idempotency-Key was used for another application", code="idempotency_key_reused")
    assisted = {**details, "channel": "assisted"}
    if holder is None:
        try:
            return _create(
                form, caller_sub=staff_sub, now=now, rules=rules, person_id=wanted_id, assisted=assisted
            )
        except Conflict:
            holder = persons.holder_of(number, id_type)
            if holder is None:
                raise
    if staff is not None:
        staff.require_area(holder.region_code)
    if not persons.is_unclaimed_owner(holder.owner_sub):
        raise Conflict(
            "this ID number's code is managed by an account; its paper code is printed from there",
            field="id_number",
            code="managed_by_another_account",
        )
    person, decision = _update(
        form, holder, Admission.RENEWAL, caller_sub=staff_sub, now=now, rules=rules, assisted=assisted
    )
    return Applied(person=person, decision=decision, created=person.person_id == wanted_id)


def apply(
    form: Application, *, caller_sub: str, now: datetime, idempotency_key: str | None = None
) -> Applied:
    """Review ``form`` against what is known and store it: a new code, a renewed declaration, or
    a code moving to this account. The colour is decided at once over every fact, old and new;
    the colour consumer keeps it in step afterwards."""
    rules = province_policy()
    if form.residence is not None:
        residences.check_venue(form.residence)  # before anything is written
    number, id_type = form.id_number.number, form.id_type
    wanted_id = derived_id("p-", "apply", caller_sub, idempotency_key) if idempotency_key else None
    holder = persons.holder_of(number, id_type)
    if holder is None and wanted_id is not None and persons.get(wanted_id, consistent=True) is not None:
        raise Conflict("this Idempotency-Key was used for another application", code="idempotency_key_reused")
    if holder is None:
        try:
            return _create(form, caller_sub=caller_sub, now=now, rules=rules, person_id=wanted_id)
        except Conflict:
            # A concurrent request may have created the person since we looked (its claim on the
            # ID number, or its place among the account's codes, refused ours): go on as if we
            # had seen it. Any other conflict stands.
            holder = persons.holder_of(number, id_type)
            if holder is None:
                raise
    admission = admit(caller_sub=caller_sub, holder_sub=holder.owner_sub, link_code=form.link_code)
    person, decision = _update(form, holder, admission, caller_sub=caller_sub, now=now, rules=rules)
    return Applied(person=person, decision=decision, created=person.person_id == wanted_id)


def check_identity(name: str, holder: PersonView) -> None:
    """The typed name must be the registered one (normalised): ``409 identity_mismatch``
    otherwise, before anything is written. The message never repeats either name."""
    if not same_name(name, persons.name_of(holder)):
        raise Conflict(
            "the name does not match the one registered with this ID number",
            field="name",
            code="identity_mismatch",
        )


def _declared(
    person_id: str,
    form: Application,
    *,
    now: datetime,
    rules: Policy,
    previous: Sequence[colour.Fact] = (),
) -> facts.PersonState:
    """The declaration's facts (a self-declared fever among ``previous`` ended by a normal
    temperature, travel to another prefecture of the person's province) and its trips still
    within the travel window, written as facts; the residence kept when the form gives one."""
    declared = colour.declaration_facts(person_id, form.declaration, policy=rules, at=now, previous=previous)
    declared += colour.prefecture_travel_facts(
        person_id, form.declaration.travel, home_region=form.region_code, policy=rules, at=now
    )
    if form.residence is not None:
        residences.record(person_id, form.residence, now=now)
    window = timedelta(days=rules.risk_travel_window_days)
    trips = [trip for trip in form.declaration.travel if trip.left_at + window > now]
    facts.add(
        person_id,
        facts=declared,
        trips=trips,
        recorded_at=now,
        source="declaration",
        trip_keep_days=rules.risk_travel_window_days + facts.KEEP_AFTER_EXPIRY_DAYS,
    )
    return facts.PersonState(facts=declared, travel=trips)


#: Contact fields whose change on an application is audited (by name, never by value).
CONTACT_FIELDS: Final = ("phone", "address")


def _account_codes(caller_sub: str) -> list[tuple[str, bool]]:
    return [(person.person_id, bool(person.dependant)) for person in persons.of_owner(caller_sub)]


def _create(
    form: Application,
    *,
    caller_sub: str,
    now: datetime,
    rules: Policy,
    person_id: str | None,
    assisted: Mapping[str, Any] | None = None,
) -> Applied:
    if assisted is None:
        check_account(
            _account_codes(caller_sub),
            person_id=None,
            dependant=form.dependant,
            max_dependants=rules.max_dependants,
        )
    pid = person_id or persons.new_person_id()
    # Facts first: a crash before the person exists leaves facts nobody reads (TTL removes them),
    # never a stored colour whose facts are missing.
    state = _declared(pid, form, now=now, rules=rules)
    decision = recolour.assess(pid, state, at=now, policy=rules)
    person = persons.build(
        owner_sub=caller_sub if assisted is None else persons.unclaimed_owner(pid),
        dependant=form.dependant and assisted is None,
        name=form.name,
        id_number=form.id_number.number,
        phone=form.phone,
        address=form.address,
        region_code=form.region_code,
        birth_year=form.birth_year,
        now=now,
        person_id=pid,
        id_type=form.id_type,
        nationality=form.id_number.nationality,
    )
    coloured = recolour.record(person, decision, actor=caller_sub, cause="application")
    if coloured is not None:
        person = coloured.person
    entries = list(coloured.entries if coloured else ())
    if assisted is not None:
        entries.append(_assisted_entry(pid, form, caller_sub, now, assisted, version=0))
    created = persons.create(person, entries=entries, max_dependants=rules.max_dependants)
    indicators.note_person(created.region_code)  # the application-rate indicator
    return Applied(person=created, decision=decision, created=True)


def _update(
    form: Application,
    holder: PersonView,
    admission: Admission,
    *,
    caller_sub: str,
    now: datetime,
    rules: Policy,
    assisted: Mapping[str, Any] | None = None,
) -> tuple[PersonView, ColourDecision]:
    pid = holder.person_id
    if assisted is None:
        check_account(
            _account_codes(caller_sub),
            person_id=pid,
            dependant=form.dependant,
            max_dependants=rules.max_dependants,
        )
    presented = pii.keyed_hashes_for_lookup("link_code", form.link_code) if form.link_code else []
    expected_owner = holder.owner_sub
    if admission is Admission.TAKEOVER and not persons.is_unclaimed_owner(expected_owner):
        # Refuse a wrong code before anything is written for someone else's code.
        _require_link(pid, presented, now=now)
    # The name after the link (a wrong link code must not tell whether a name fits an ID number),
    # before anything is written.
    check_identity(form.name, holder)
    claiming = persons.is_unclaimed_owner(expected_owner)
    if admission is Admission.TAKEOVER:
        # The code changes hands before anything is declared on it: a claimant who loses a race
        # for it (409) leaves no fact on someone else's person.
        _take_over(pid, form, presented, expected_owner, caller_sub=caller_sub, now=now, rules=rules)
        expected_owner = caller_sub
    declared = _declared(pid, form, now=now, rules=rules, previous=facts.state_of(pid).facts)
    fever_ended = any(fact.kind is FactKind.FEVER and fact.expires_at == now for fact in declared.facts)
    cause = "normal_temperature" if fever_ended else "declaration"
    decided: list[ColourDecision] = []

    def change(person: PersonView) -> Edit:
        if person.owner_sub != expected_owner:
            raise Conflict("the code changed hands meanwhile: apply again", code="concurrent_update")
        entries: list[audit.Entry] = []
        version = (person.version or 0) + 1
        for changed in persons.contact_changes(person, phone=form.phone, address=form.address):
            entries.append(
                audit.person_entry(
                    pid,
                    "contact_changed",
                    actor=caller_sub,
                    at=now,
                    details={
                        "field": changed,
                        "channel": "assisted" if assisted else "claim" if claiming else admission.value,
                    },
                    entry_id=f"v{version}-{changed}",
                )
            )
        if assisted is not None:
            entries.append(_assisted_entry(pid, form, caller_sub, now, assisted, version=version))
        kept = person
        person = persons.with_identity(
            replace(person, dependant=form.dependant and assisted is None),
            name=None,  # the registered name stays (checked equal by check_identity)
            phone=form.phone,
            address=form.address,
            region_code=form.region_code if assisted is None else person.region_code,
            birth_year=form.birth_year,
            now=now,
        )
        if form.phone is None:  # an assisted application without a phone keeps the one stored
            person = replace(
                person, phone_hash=kept.phone_hash, phone_enc=kept.phone_enc, phone_masked=kept.phone_masked
            )
        decision = recolour.assess(pid, facts.state_of(pid), at=now, policy=rules)
        decided.append(decision)
        coloured = recolour.record(person, decision, actor=caller_sub, cause=cause)
        if coloured is None:
            return Edit(person=person, entries=tuple(entries))
        return Edit(person=coloured.person, entries=(*entries, *coloured.entries))

    person = persons.edit(pid, change, max_dependants=rules.max_dependants)
    if person is None:  # removed meanwhile: nothing to renew
        raise Conflict("the code changed meanwhile: apply again", code="concurrent_update")
    return person, decided[-1]


def _assisted_entry(
    person_id: str,
    form: Application,
    staff_sub: str,
    now: datetime,
    details: Mapping[str, Any],
    *,
    version: int,
) -> audit.Entry:
    """The audit entry of an assisted application: who, where, which document type; no values."""
    return audit.person_entry(
        person_id,
        ASSISTED_KIND,
        actor=staff_sub,
        at=now,
        details={**details, "id_type": form.id_type, "phone_given": form.phone is not None},
        entry_id=f"v{version}-assisted",
    )


def _take_over(
    person_id: str,
    form: Application,
    presented: Sequence[str],
    expected_owner: str,
    *,
    caller_sub: str,
    now: datetime,
    rules: Policy,
) -> None:
    """Move the code to the caller's account — a claim of an unclaimed person, or a guardian's
    handover with a valid link code — audited; 409 ``concurrent_update`` when it changed hands
    meanwhile (the loser of two claims), 422 for a link code that stopped being valid."""

    def take(person: PersonView) -> Edit:
        if person.owner_sub != expected_owner:
            raise Conflict("the code changed hands meanwhile: apply again", code="concurrent_update")
        claiming = persons.is_unclaimed_owner(person.owner_sub)
        if not claiming:
            outcome = check_link(
                stored_hash=person.link_hash,
                expires_at=person.link_expires_at,
                presented=presented,
                now=now,
            )
            if outcome is not LinkCheck.OK:
                code, message = _LINK_REFUSALS[outcome]
                raise InvalidInput(message, field="link_code", code=code)
        entry = audit.person_entry(
            person_id,
            "guardian_change",
            actor=caller_sub,
            at=now,
            details={
                "from_owner": person.owner_sub,
                "to_owner": caller_sub,
                "dependant": form.dependant,
                "channel": "claim" if claiming else "link_code",
            },
            entry_id=f"v{(person.version or 0) + 1}",
        )
        taken = replace(person, owner_sub=caller_sub, dependant=form.dependant)
        return Edit(person=persons.without_link(taken), entries=(entry,))

    if persons.edit(person_id, take, max_dependants=rules.max_dependants) is None:
        raise Conflict("the code changed meanwhile: apply again", code="concurrent_update")


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
        link_hash = person.link_hash

        def count_failure(fresh: PersonView) -> Edit | None:
            if fresh.link_hash != link_hash:
                return None  # the link was closed or replaced meanwhile
            failures = int(fresh.link_failures or 0) + 1
            counted = replace(fresh, link_failures=failures)
            return Edit(person=persons.without_link(counted) if failures >= LINK_MAX_FAILURES else counted)

        persons.edit(person_id, count_failure)
    code, message = _LINK_REFUSALS[outcome]
    raise InvalidInput(message, field="link_code", code=code)


# -- guardian links --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """An open guardian link: the one-time code to hand over (shown ``ABCDE-FGHJK``)."""

    person_id: str
    link_code: str
    expires_at: datetime


def open_link(person_id: str, *, who: Caller, now: datetime) -> Link:
    """Open a guardian link on a code (replacing any open one), for the managing account or an
    official who checked the person's identity in person; 404 for anyone else. The code is
    stored only as its keyed hash. At most the policy's ``link_codes_per_hour_limit`` an account
    (429 ``rate_limited``)."""
    person = persons.get(person_id)
    if person is None or not (person.owner_sub == who.sub or who.has("official")):
        raise NotFound("no such code", code="code_not_found")
    if person.owner_sub != who.sub:
        who.require_area(person.region_code)  # an official of another area: 403 outside_area
    account_limits.link_code(who.sub, now=now)
    code = new_link_code()
    expires_at = now + LINK_LIFETIME

    def change(fresh: PersonView) -> Edit:
        opened = replace(
            fresh, link_hash=pii.keyed_hash("link_code", code), link_expires_at=expires_at, link_failures=0
        )
        entry = audit.person_entry(
            fresh.person_id,
            "link_opened",
            actor=who.sub,
            at=now,
            details={"expires_at": expires_at.isoformat()},
            entry_id=f"v{(fresh.version or 0) + 1}",
        )
        return Edit(person=opened, entries=(entry,))

    if persons.edit(person.person_id, change) is None:
        raise Conflict("the code changed meanwhile: try again", code="concurrent_update")
    return Link(person_id=person_id, link_code=show_link_code(code), expires_at=expires_at)
