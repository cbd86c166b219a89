"""Persons: create, look up (by id, by ID number's keyed hash, by managing account), edit, decrypt.

Personal fields are encrypted with ``healthcode.protection.pii`` under an encryption context that binds
each ciphertext to its person and field; the ID number and phone are also stored as keyed
hashes for lookup. Nothing here logs or returns personal data except ``identity()``, whose
callers must audit the read.

One person per ID number. The index ``by_id_hash`` finds a person but cannot refuse a second
one with the same ID number, so ``create`` writes, in one transaction with the person, a *claim*
item ``id#<keyed hash>`` in the same table naming the person that holds the number. The claim
has none of the indexed attributes, so no index sees it; ``holder_of`` reads it with a
consistent GetItem when the index (eventually consistent) has not caught up yet.

Edits use the person's version (optimistic locking): ``save`` refuses to overwrite a person
someone else wrote since it was read (``ChangedMeanwhile``, a 409), and ``edit`` re-reads and
re-applies a change until it lands. Audit entries about the change go in the same transaction,
so a change and its history entry are written together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict
from healthcode.protection import pii
from healthcode.protection.masking import mask_id_number, mask_name, mask_phone
from healthcode.storage.audit import person_subject
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


def close_link(person: Person) -> None:
    """Close the person's guardian link, if one is open (in place; save to keep it)."""
    person.link_hash = None
    person.link_expires_at = None
    person.link_failures = None


def get(person_id: str, *, consistent: bool = False) -> Person | None:
    if not person_id or "#" in person_id:  # claim items share the table; they are not persons
        return None
    try:
        return Person.get(person_id, consistent_read=consistent)
    except Person.DoesNotExist:
        return None


def find_by_id_number(id_number: str) -> Person | None:
    """The person holding ``id_number`` (tries every hash-key version: rotation-safe)."""
    for digest in pii.keyed_hashes_for_lookup("id_number", id_number):
        for person in Person.by_id_hash.query(digest, limit=1):
            return person
    return None


def holder_of(id_number: str) -> Person | None:
    """Like ``find_by_id_number`` but consistent: the claim item, then the person (GetItems)."""
    for digest in pii.keyed_hashes_for_lookup("id_number", id_number):
        try:
            claim = IdNumberClaim.get(f"{CLAIM_PREFIX}{digest}", consistent_read=True)
        except IdNumberClaim.DoesNotExist:
            continue
        return get(claim.holder, consistent=True)
    return None


def of_owner(owner_sub: str) -> Iterator[Person]:
    """Every code an account manages (its own and its dependants'), one Query."""
    return iter(Person.by_owner.query(owner_sub))


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
) -> Person:
    """A new, unsaved person with its personal fields encrypted and masked."""
    pid = person_id or new_person_id()
    person = Person(
        pid,
        owner_sub=owner_sub,
        dependant=dependant,
        id_hash=pii.keyed_hash("id_number", id_number),
        id_enc=pii.encrypt(id_number, context=_context(pid, "id_number")),
        id_masked=mask_id_number(id_number),
        level=0,
        colour="green",
        reasons=[],
        created_at=now,
    )
    set_identity(
        person,
        name=name,
        phone=phone,
        address=address,
        region_code=region_code,
        birth_year=birth_year,
        now=now,
    )
    return person


def set_identity(
    person: Person,
    *,
    name: str,
    phone: str | None,
    address: str | None,
    region_code: str,
    birth_year: int | None,
    now: datetime,
) -> None:
    """Replace a person's name, phone, address and region (encrypted, hashed, masked) in place.
    The ID number never changes: it is what the person is."""
    pid = person.person_id
    person.name_enc = pii.encrypt(name, context=_context(pid, "name"))
    person.name_masked = mask_name(name)
    person.phone_hash = pii.keyed_hash("phone", phone) if phone else None
    person.phone_enc = pii.encrypt(phone, context=_context(pid, "phone")) if phone else None
    person.phone_masked = mask_phone(phone) if phone else None
    person.address_enc = pii.encrypt(address, context=_context(pid, "address")) if address else None
    person.region_code = region_code
    person.birth_year = birth_year
    person.updated_at = now


def audit_entry(
    person_id: str,
    kind: str,
    *,
    actor: str,
    at: datetime,
    details: Mapping[str, Any],
    entry_id: str,
) -> AuditEntry:
    """An entry of the person's audit trail, to write with ``create``/``save`` in one transaction.
    Same layout as ``storage.audit.append``: ``<UTC instant>#<kind>#<entry_id>``."""
    return AuditEntry(
        person_subject(person_id),
        f"{instant_key(at)}#{kind}#{entry_id}",
        kind=kind,
        actor=actor,
        at=at,
        details=dict(details),
    )


def _refused_by_a_condition(error: TransactWriteError) -> bool:
    """The transaction was cancelled by its conditions (or a concurrent transaction), nothing else."""
    if error.cause_response_code != "TransactionCanceledException":
        return False
    codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
    return bool(codes) and codes <= _RETRYABLE


def create(person: Person, *, entries: Sequence[AuditEntry] = ()) -> Person:
    """Save a new person with the claim on its ID number (and ``entries``), all or nothing;
    409 ``person_exists`` if the id is taken or another person holds the ID number."""
    claim = IdNumberClaim(f"{CLAIM_PREFIX}{person.id_hash}", holder=person.person_id)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(person, condition=Person.person_id.does_not_exist())
            transaction.save(claim, condition=IdNumberClaim.person_id.does_not_exist())
            for entry in entries:
                transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if _refused_by_a_condition(error):
            raise Conflict("this person already exists", code="person_exists") from error
        raise
    return person


def save(person: Person, *, entries: Sequence[AuditEntry] = ()) -> Person:
    """Write an edited person (and ``entries``) if nobody wrote it since it was read;
    ``ChangedMeanwhile`` otherwise. The version moves on by one."""
    try:
        if not entries:
            person.save()
            return person
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(person)
            for entry in entries:
                transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ChangedMeanwhile("the code was changed meanwhile: try again") from error
        raise
    except TransactWriteError as error:
        if _refused_by_a_condition(error):
            raise ChangedMeanwhile("the code was changed meanwhile: try again") from error
        raise
    return person


#: A change to a person, made in place on a fresh read. It returns the audit entries to write
#: with it (possibly none), or None when there is nothing to write.
Change = Callable[[Person], Sequence[AuditEntry] | None]


def edit(person_id: str, change: Change) -> Person | None:
    """Read the person (consistently), apply ``change`` and save, starting again from a fresh
    read if someone else wrote in between. None if there is no such person; the person as
    written (or as read, when ``change`` had nothing to write) otherwise. ``change`` may raise
    to refuse; nothing is written then."""
    for _ in range(EDIT_ATTEMPTS):
        person = get(person_id, consistent=True)
        if person is None:
            return None
        entries = change(person)
        if entries is None:
            return person
        try:
            return save(person, entries=entries)
        except ChangedMeanwhile:
            continue
    raise ChangedMeanwhile("the code is being changed by several requests at once: try again")


def identity(person: Person) -> Identity:
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
