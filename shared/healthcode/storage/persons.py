"""Persons: create, look up (by id, by ID number's keyed hash, by managing account), decrypt.

Personal fields are encrypted with ``healthcode.pii`` under an encryption context that binds
each ciphertext to its person and field; the ID number and phone are also stored as keyed
hashes for lookup. Nothing here logs or returns personal data except ``identity()``, whose
callers must audit the read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError

from healthcode import pii
from healthcode.errors import Conflict
from healthcode.masking import mask_id_number, mask_name, mask_phone
from healthcode.storage.models import Person


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


def get(person_id: str, *, consistent: bool = False) -> Person | None:
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
        phone_hash=pii.keyed_hash("phone", phone) if phone else None,
        name_enc=pii.encrypt(name, context=_context(pid, "name")),
        id_enc=pii.encrypt(id_number, context=_context(pid, "id_number")),
        phone_enc=pii.encrypt(phone, context=_context(pid, "phone")) if phone else None,
        address_enc=pii.encrypt(address, context=_context(pid, "address")) if address else None,
        name_masked=mask_name(name),
        id_masked=mask_id_number(id_number),
        phone_masked=mask_phone(phone) if phone else None,
        region_code=region_code,
        birth_year=birth_year,
        level=0,
        colour="green",
        reasons=[],
        created_at=now,
        updated_at=now,
    )
    return person


def create(person: Person) -> Person:
    """Save a new person; 409 if the id is taken (never overwrites)."""
    try:
        person.save(condition=Person.person_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("this person already exists", code="person_exists") from error
        raise
    return person


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
