"""Persons: create, look up (by id, by ID number's keyed hash, by managing account), edit, decrypt.

Callers get :class:`PersonView` values, never items. Personal fields are encrypted with
``healthcode.protection.pii`` under an encryption context that binds each ciphertext to its
person and field; the ID number and phone are also stored as keyed hashes for lookup. Nothing
here logs or returns personal data except ``identity()``, whose callers must audit the read.

One person per ID number. The index ``by_id_hash`` finds a person but cannot refuse a second
one with the same ID number, so ``create`` writes, in one transaction with the person, a *claim*
item ``id#<keyed hash>`` in the same table naming the person that holds the number. The claim
has none of the indexed attributes, so no index sees it; ``holder_of`` reads it with a
consistent GetItem when the index (eventually consistent) has not caught up yet.

Edits use the person's version (optimistic locking): ``save`` refuses to overwrite a person
someone else wrote since it was read (``ChangedMeanwhile``, a 409), and ``edit`` re-reads and
re-applies a change until it lands. A change is a function from the person as read to the
person as it should be (an :class:`Edit`, with the audit entries about it): entries go in the
same transaction, so a change and its history entry are written together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict
from healthcode.protection import pii
from healthcode.protection.masking import mask_id_number, mask_name, mask_phone
from healthcode.storage import audit
from healthcode.storage.base import instant_key
from healthcode.storage.connection import connection
from healthcode.storage.models import AuditEntry, IdNumberClaim, Person

#: Key prefix of the ID-number claim items (a person id never contains ``#``).
CLAIM_PREFIX: Final = "id#"
#: Owner of a person no account manages yet (registered by officials or at a checkpoint before
#: anyone applied): one value per person, so no partition of ``by_owner`` gathers them all. The
#: first account that applies with the person's ID number takes the code over.
UNCLAIMED_PREFIX: Final = "unclaimed#"
#: How many times ``edit`` starts again from a fresh read before giving up with a 409.
EDIT_ATTEMPTS: Final = 5
_RETRYABLE: Final = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class ChangedMeanwhile(Conflict):
    """The person was written by someone else since it was read (its version moved on)."""

    default_code = "concurrent_update"


@dataclass(frozen=True)
class PersonView:
    """A person as stored: masked and encrypted personal fields, the stored colour
    (``healthcode.services.recolour``), the paper code, an open guardian link, the version.
    ``repr`` shows no ciphertext."""

    person_id: str
    owner_sub: str  # the account that manages this code (self or guardian)
    dependant: bool
    id_hash: str
    name_masked: str
    id_masked: str
    region_code: str
    created_at: datetime
    updated_at: datetime
    name_enc: str = field(repr=False)
    id_enc: str = field(repr=False)
    phone_hash: str | None = field(default=None, repr=False)
    phone_enc: str | None = field(default=None, repr=False)
    address_enc: str | None = field(default=None, repr=False)
    phone_masked: str | None = None
    birth_year: int | None = None
    level: int = 0
    colour: str = "green"
    reasons: list[dict[str, Any]] = field(default_factory=list)  # JSON of the reasons: never mutate
    colour_as_of: datetime | None = None
    next_change_at: str | None = None
    change_bucket: str | None = None
    paper_code_id: str | None = None
    paper_code: str | None = None
    paper_expires_at: datetime | None = None
    link_hash: str | None = field(default=None, repr=False)
    link_expires_at: datetime | None = None
    link_failures: int | None = None
    version: int | None = None


_FIELDS: Final = tuple(f.name for f in fields(PersonView))
#: Fields a change may not touch: the key, and the version (``save`` moves it on).
_FIXED: Final = frozenset({"person_id", "version"})


@dataclass(frozen=True)
class Edit:
    """What a change makes of a person, and the audit entries to write with it."""

    person: PersonView
    entries: Sequence[audit.Entry] = ()


#: A change to a person, decided on a fresh read: the edit to write, or None for nothing to write.
Change = Callable[[PersonView], Edit | None]


def view_of(item: Person) -> PersonView:
    """The view of a stored person item (for storage modules that read persons themselves)."""
    values: dict[str, Any] = {name: getattr(item, name) for name in _FIELDS}
    values["dependant"] = bool(values["dependant"])
    values["level"] = int(values["level"] or 0)
    values["reasons"] = list(values["reasons"] or [])
    for name in ("birth_year", "link_failures", "version"):
        values[name] = None if values[name] is None else int(values[name])
    return PersonView(**values)


def _item_of(person: PersonView) -> Person:
    """A new, unsaved item holding ``person`` (no version: it does not exist yet)."""
    values = {name: getattr(person, name) for name in _FIELDS if name not in _FIXED}
    return Person(person.person_id, **values)


def _apply(item: Person, before: PersonView, after: PersonView) -> None:
    """Set on ``item`` the fields ``after`` changed from ``before``."""
    for name in _FIELDS:
        value = getattr(after, name)
        if value != getattr(before, name):
            if name in _FIXED:
                raise ValueError(f"a change may not set {name}")
            setattr(item, name, value)


def _context(person_id: str, field: str) -> dict[str, str]:
    return {"table": "persons", "person_id": person_id, "field": field}


def new_person_id() -> str:
    """A random, pseudonymous id: it is what codes carry as their subject."""
    return f"p-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Identity:
    name: str
    id_number: str
    phone: str | None
    address: str | None


def unclaimed_owner(person_id: str) -> str:
    """The ``owner_sub`` of a person no account manages yet."""
    return f"{UNCLAIMED_PREFIX}{person_id}"


def is_unclaimed_owner(owner_sub: str) -> bool:
    return owner_sub.startswith(UNCLAIMED_PREFIX)


def without_link(person: PersonView) -> PersonView:
    """The person with their guardian link closed, if one was open."""
    return replace(person, link_hash=None, link_expires_at=None, link_failures=None)


def _item(person_id: str, *, consistent: bool) -> Person | None:
    if not person_id or "#" in person_id:  # claim items share the table; they are not persons
        return None
    try:
        return Person.get(person_id, consistent_read=consistent)
    except Person.DoesNotExist:
        return None


def get(person_id: str, *, consistent: bool = False) -> PersonView | None:
    item = _item(person_id, consistent=consistent)
    return None if item is None else view_of(item)


def find_by_id_number(id_number: str) -> PersonView | None:
    """The person holding ``id_number`` (tries every hash-key version: rotation-safe)."""
    for digest in pii.keyed_hashes_for_lookup("id_number", id_number):
        for person in Person.by_id_hash.query(digest, limit=1):
            return view_of(person)
    return None


def holder_of(id_number: str) -> PersonView | None:
    """Like ``find_by_id_number`` but consistent: the claim item, then the person (GetItems)."""
    for digest in pii.keyed_hashes_for_lookup("id_number", id_number):
        try:
            claim = IdNumberClaim.get(f"{CLAIM_PREFIX}{digest}", consistent_read=True)
        except IdNumberClaim.DoesNotExist:
            continue
        return get(claim.holder, consistent=True)
    return None


def of_owner(owner_sub: str) -> Iterator[PersonView]:
    """Every code an account manages (its own and its dependants'), one Query."""
    return (view_of(person) for person in Person.by_owner.query(owner_sub))


def build(
    *,
    owner_sub: str,
    dependant: bool,
    name: str,
    id_number: str,
    phone: str | None,
    address: str | None,
    region_code: str,
    birth_year: int | None,
    now: datetime,
    person_id: str | None = None,
) -> PersonView:
    """A new, unsaved person with its personal fields encrypted and masked."""
    pid = person_id or new_person_id()
    person = PersonView(
        person_id=pid,
        owner_sub=owner_sub,
        dependant=dependant,
        id_hash=pii.keyed_hash("id_number", id_number),
        id_enc=pii.encrypt(id_number, context=_context(pid, "id_number")),
        id_masked=mask_id_number(id_number),
        name_enc="",
        name_masked="",
        region_code=region_code,
        created_at=now,
        updated_at=now,
    )
    return with_identity(
        person,
        name=name,
        phone=phone,
        address=address,
        region_code=region_code,
        birth_year=birth_year,
        now=now,
    )


def with_identity(
    person: PersonView,
    *,
    name: str,
    phone: str | None,
    address: str | None,
    region_code: str,
    birth_year: int | None,
    now: datetime,
) -> PersonView:
    """The person with a new name, phone, address and region (encrypted, hashed, masked).
    The ID number never changes: it is what the person is."""
    pid = person.person_id
    return replace(
        person,
        name_enc=pii.encrypt(name, context=_context(pid, "name")),
        name_masked=mask_name(name),
        phone_hash=pii.keyed_hash("phone", phone) if phone else None,
        phone_enc=pii.encrypt(phone, context=_context(pid, "phone")) if phone else None,
        phone_masked=mask_phone(phone) if phone else None,
        address_enc=pii.encrypt(address, context=_context(pid, "address")) if address else None,
        region_code=region_code,
        birth_year=birth_year,
        updated_at=now,
    )


def audit_entry(
    person_id: str,
    kind: str,
    *,
    actor: str,
    at: datetime,
    details: Mapping[str, Any],
    entry_id: str,
) -> AuditEntry:
    """The item of an entry of the person's audit trail, for storage modules that write it in
    their own transaction (services use ``audit.person_entry``)."""
    return AuditEntry(
        audit.person_subject(person_id),
        f"{instant_key(at)}#{kind}#{entry_id}",
        kind=kind,
        actor=actor,
        at=at,
        details=dict(details),
    )


def _entry_items(entries: Sequence[audit.Entry | AuditEntry]) -> list[AuditEntry]:
    return [audit.item_of(entry) if isinstance(entry, audit.Entry) else entry for entry in entries]


def _refused_by_a_condition(error: TransactWriteError) -> bool:
    """The transaction was cancelled by its conditions (or a concurrent transaction), nothing else."""
    if error.cause_response_code != "TransactionCanceledException":
        return False
    codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
    return bool(codes) and codes <= _RETRYABLE


def create(person: PersonView, *, entries: Sequence[audit.Entry | AuditEntry] = ()) -> PersonView:
    """Save a new person with the claim on its ID number (and ``entries``), all or nothing;
    409 ``person_exists`` if the id is taken or another person holds the ID number."""
    item = _item_of(person)
    claim = IdNumberClaim(f"{CLAIM_PREFIX}{person.id_hash}", holder=person.person_id)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(item, condition=Person.person_id.does_not_exist())
            transaction.save(claim, condition=IdNumberClaim.person_id.does_not_exist())
            for entry in _entry_items(entries):
                transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if _refused_by_a_condition(error):
            raise Conflict("this person already exists", code="person_exists") from error
        raise
    return view_of(item)


def save(person: Person, *, entries: Sequence[audit.Entry | AuditEntry] = ()) -> PersonView:
    """Write an edited person item (and ``entries``) if nobody wrote it since it was read;
    ``ChangedMeanwhile`` otherwise. The version moves on by one."""
    try:
        if not entries:
            person.save()
            return view_of(person)
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(person)
            for entry in _entry_items(entries):
                transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ChangedMeanwhile("the code was changed meanwhile: try again") from error
        raise
    except TransactWriteError as error:
        if _refused_by_a_condition(error):
            raise ChangedMeanwhile("the code was changed meanwhile: try again") from error
        raise
    return view_of(person)


def edit(person_id: str, change: Change) -> PersonView | None:
    """Read the person (consistently), decide the change and save it, starting again from a
    fresh read if someone else wrote in between. None if there is no such person; the person as
    written (or as read, when ``change`` had nothing to write) otherwise. ``change`` may raise
    to refuse; nothing is written then."""
    for _ in range(EDIT_ATTEMPTS):
        item = _item(person_id, consistent=True)
        if item is None:
            return None
        before = view_of(item)
        edited = change(before)
        if edited is None:
            return before
        _apply(item, before, edited.person)
        try:
            return save(item, entries=edited.entries)
        except ChangedMeanwhile:
            continue
    raise ChangedMeanwhile("the code is being changed by several requests at once: try again")


def identity(person: PersonView) -> Identity:
    """Decrypt a person's identity. Callers must write an audit entry for the read."""
    pid = person.person_id
    return Identity(
        name=pii.decrypt(person.name_enc, context=_context(pid, "name")),
        id_number=pii.decrypt(person.id_enc, context=_context(pid, "id_number")),
        phone=pii.decrypt(person.phone_enc, context=_context(pid, "phone")) if person.phone_enc else None,
        address=pii.decrypt(person.address_enc, context=_context(pid, "address"))
        if person.address_enc
        else None,
    )


def due_for_change(buckets: Sequence[str], *, now: datetime) -> Iterator[str]:
    """Persons whose stored colour is due to change by ``now``, from ``by_next_change``: one
    Query per hour bucket (in the order given), ``next_change_at <= now``."""
    for bucket in buckets:
        for person in Person.by_next_change.query(bucket, Person.next_change_at <= instant_key(now)):
            yield str(person.person_id)
