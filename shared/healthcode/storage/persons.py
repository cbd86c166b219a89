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

One own code per account, and a bounded number of dependants: written with the person, in the
same transaction, are the account's *guards* (``storage.models.AccountGuard``): ``owner#<sub>#self``
names the person that is the account's own code (put only if absent or already this person), and
``owner#<sub>#dependants`` counts its dependants (added to only while below the limit). Whenever
a change moves a person to another account or between own code and dependant, the old place is
released and the new one taken in that transaction; a refused guard is ``409 own_code_exists`` or
``409 too_many_dependants``. Concurrent applications cannot both pass: no count-then-write.

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

from pynamodb.exceptions import PutError

from healthcode.errors import Conflict
from healthcode.protection import pii
from healthcode.protection.masking import mask_document, mask_name, mask_phone
from healthcode.storage import audit
from healthcode.storage.base import instant_key
from healthcode.storage.models import AccountGuard, AuditEntry, IdNumberClaim, Person
from healthcode.storage.transactions import Transaction

#: Key prefix of the ID-number claim items (a person id never contains ``#``).
CLAIM_PREFIX: Final = "id#"
#: Owner of a person no account manages yet (registered by officials or at a checkpoint before
#: anyone applied): one value per person, so no partition of ``by_owner`` gathers them all. The
#: first account that applies with the person's ID number takes the code over.
UNCLAIMED_PREFIX: Final = "unclaimed#"
#: Key prefix of an account's guards (an account id never contains ``#``: ``protection.auth``).
GUARD_PREFIX: Final = "owner#"
#: How many times ``edit`` starts again from a fresh read before giving up with a 409.
EDIT_ATTEMPTS: Final = 5


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
    tests: list[dict[str, Any]] | None = None  # latest result per test, stored with the colour
    colour_as_of: datetime | None = None
    next_change_at: str | None = None
    change_bucket: str | None = None
    paper_code_id: str | None = None
    paper_code: str | None = None
    paper_expires_at: datetime | None = None
    link_hash: str | None = field(default=None, repr=False)
    link_expires_at: datetime | None = None
    link_failures: int | None = None
    id_type: str | None = None  # identity document type; None: resident_id
    nationality: str | None = None  # ISO 3166-1 alpha-3 of a passport holder
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


@dataclass(frozen=True)
class Place:
    """Where a person sits in an account: its own code, or one of its dependants."""

    owner_sub: str
    dependant: bool


def place_of(person: PersonView) -> Place | None:
    """The person's place in the account managing it; None while no account manages it."""
    if is_unclaimed_owner(person.owner_sub):
        return None
    return Place(person.owner_sub, bool(person.dependant))


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


def find_by_id_number(id_number: str, id_type: str = pii.RESIDENT_ID) -> PersonView | None:
    """The person holding ``id_number`` of ``id_type`` (tries every hash-key version:
    rotation-safe)."""
    for digest in pii.id_hashes_for_lookup(id_number, id_type):
        for person in Person.by_id_hash.query(digest, limit=1):
            return view_of(person)
    return None


def holder_of(id_number: str, id_type: str = pii.RESIDENT_ID) -> PersonView | None:
    """Like ``find_by_id_number`` but consistent: the claim item, then the person (GetItems)."""
    for digest in pii.id_hashes_for_lookup(id_number, id_type):
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
    id_type: str = pii.RESIDENT_ID,
    nationality: str | None = None,
) -> PersonView:
    """A new, unsaved person with its personal fields encrypted and masked (the ID number
    hashed and masked as its document type says)."""
    pid = person_id or new_person_id()
    person = PersonView(
        person_id=pid,
        owner_sub=owner_sub,
        dependant=dependant,
        id_hash=pii.id_hash(id_number, id_type),
        id_enc=pii.encrypt(id_number, context=_context(pid, "id_number")),
        id_masked=mask_document(id_number, id_type),
        id_type=None if id_type == pii.RESIDENT_ID else id_type,
        nationality=nationality,
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
    name: str | None,
    phone: str | None,
    address: str | None,
    region_code: str,
    birth_year: int | None,
    now: datetime,
) -> PersonView:
    """The person with a new phone, address and region (encrypted, hashed, masked), and a new
    name unless ``name`` is None (the registered name is kept: applications never rename a
    person). The ID number never changes: it is what the person is."""
    pid = person.person_id
    if name is not None:
        person = replace(
            person, name_enc=pii.encrypt(name, context=_context(pid, "name")), name_masked=mask_name(name)
        )
    return replace(
        person,
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


def _self_key(owner_sub: str) -> str:
    return f"{GUARD_PREFIX}{owner_sub}#self"


def _dependants_key(owner_sub: str) -> str:
    return f"{GUARD_PREFIX}{owner_sub}#dependants"


def _guard(key: str) -> AccountGuard | None:
    try:
        return AccountGuard.get(key, consistent_read=True)
    except AccountGuard.DoesNotExist:
        return None


def _take(transaction: Transaction, place: Place, person_id: str, *, max_dependants: int | None) -> None:
    """Take ``place`` for the person: the account's own-code guard (absent, or already this
    person), or one more dependant below ``max_dependants``."""
    if not place.dependant:
        transaction.save(
            "guard:take",
            AccountGuard(_self_key(place.owner_sub), holder=person_id),
            condition=AccountGuard.holder.does_not_exist() | (AccountGuard.holder == person_id),
        )
        return
    condition = None
    if max_dependants is not None:
        condition = AccountGuard.dependants.does_not_exist() | (AccountGuard.dependants < max_dependants)
    transaction.update(
        "guard:take",
        AccountGuard(_dependants_key(place.owner_sub)),
        actions=[AccountGuard.dependants.add(1)],
        condition=condition,
    )


def _release(transaction: Transaction, place: Place, person_id: str) -> None:
    """Give ``place`` back: the own-code guard if it names the person, one dependant fewer.
    A guard that was never written (a person stored before guards existed) is left alone."""
    if not place.dependant:
        held = _guard(_self_key(place.owner_sub))
        if held is not None and held.holder == person_id:
            transaction.delete("guard:release", held, condition=AccountGuard.holder == person_id)
        return
    counted = _guard(_dependants_key(place.owner_sub))
    if counted is not None and int(counted.dependants or 0) > 0:
        transaction.update(
            "guard:release",
            AccountGuard(_dependants_key(place.owner_sub)),
            actions=[AccountGuard.dependants.add(-1)],
            condition=AccountGuard.dependants > 0,
        )


def _move(
    transaction: Transaction,
    person_id: str,
    before: Place | None,
    after: Place | None,
    *,
    max_dependants: int | None,
) -> None:
    if before == after:
        return
    if before is not None:
        _release(transaction, before, person_id)
    if after is not None:
        _take(transaction, after, person_id, max_dependants=max_dependants)


def _account_full(place: Place, person_id: str, *, max_dependants: int | None) -> Conflict | None:
    """Why the account refused ``place`` (re-read: a refusal may also be a concurrent
    transaction on the guard, worth another try): the 409 to answer, or None to try again."""
    if not place.dependant:
        held = _guard(_self_key(place.owner_sub))
        if held is not None and held.holder not in (None, person_id):
            return Conflict(
                "this account already has a code of its own; apply for others as dependants",
                field="dependant",
                code="own_code_exists",
            )
        return None
    counted = _guard(_dependants_key(place.owner_sub))
    if max_dependants is not None and counted is not None and int(counted.dependants or 0) >= max_dependants:
        return Conflict(
            f"an account may manage at most {max_dependants} dependants",
            field="dependant",
            code="too_many_dependants",
        )
    return None


def dependants_counted(owner_sub: str) -> int:
    """How many dependants the account's guard counts (consistent read; for checks and tests)."""
    counted = _guard(_dependants_key(owner_sub))
    return 0 if counted is None else int(counted.dependants or 0)


def own_code_held(owner_sub: str) -> str | None:
    """The person the account's own-code guard names, if any (consistent read)."""
    held = _guard(_self_key(owner_sub))
    return None if held is None else held.holder


def create(
    person: PersonView,
    *,
    entries: Sequence[audit.Entry | AuditEntry] = (),
    max_dependants: int | None = None,
) -> PersonView:
    """Save a new person with the claim on its ID number, its place in the managing account
    (``max_dependants`` bounds the account's dependants) and ``entries``, all or nothing.
    409 ``person_exists`` if the id is taken or another person holds the ID number;
    409 ``own_code_exists`` / ``too_many_dependants`` if the account has no room for it."""
    place = place_of(person)
    for _ in range(EDIT_ATTEMPTS):
        item = _item_of(person)
        transaction = Transaction()
        transaction.save("person", item, condition=Person.person_id.does_not_exist())
        transaction.save(
            "claim",
            IdNumberClaim(f"{CLAIM_PREFIX}{person.id_hash}", holder=person.person_id),
            condition=IdNumberClaim.person_id.does_not_exist(),
        )
        if place is not None:
            _take(transaction, place, person.person_id, max_dependants=max_dependants)
        for index, entry in enumerate(_entry_items(entries)):
            transaction.save(f"entry:{index}", entry, condition=AuditEntry.entry.does_not_exist())
        refused = transaction.commit()
        if not refused:
            return view_of(item)
        if refused & {"person", "claim"} or any(name.startswith("entry:") for name in refused):
            raise Conflict("this person already exists", code="person_exists")
        assert place is not None  # only the guard is left to have refused
        full = _account_full(place, person.person_id, max_dependants=max_dependants)
        if full is not None:
            raise full
    raise ChangedMeanwhile("the account is being changed by several requests at once: try again")


def save(
    person: Person,
    *,
    entries: Sequence[audit.Entry | AuditEntry] = (),
    moved: tuple[Place | None, Place | None] | None = None,
    max_dependants: int | None = None,
) -> PersonView:
    """Write an edited person item (and ``entries``; and, when it ``moved`` between places, the
    account guards) if nobody wrote it since it was read; ``ChangedMeanwhile`` otherwise, or the
    409 of a full account. The version moves on by one."""
    before, after = moved if moved is not None else (None, None)
    if not entries and before == after:
        try:
            person.save()
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise ChangedMeanwhile("the code was changed meanwhile: try again") from error
            raise
        return view_of(person)
    pid = str(person.person_id)
    transaction = Transaction()
    transaction.save("person", person)
    _move(transaction, pid, before, after, max_dependants=max_dependants)
    for index, entry in enumerate(_entry_items(entries)):
        transaction.save(f"entry:{index}", entry, condition=AuditEntry.entry.does_not_exist())
    refused = transaction.commit()
    if not refused:
        return view_of(person)
    if "guard:take" in refused and after is not None:
        full = _account_full(after, pid, max_dependants=max_dependants)
        if full is not None:
            raise full
    raise ChangedMeanwhile("the code was changed meanwhile: try again")


def edit(person_id: str, change: Change, *, max_dependants: int | None = None) -> PersonView | None:
    """Read the person (consistently), decide the change and save it, starting again from a
    fresh read if someone else wrote in between. None if there is no such person; the person as
    written (or as read, when ``change`` had nothing to write) otherwise. ``change`` may raise
    to refuse; nothing is written then. A change that moves the person to another account, or
    between own code and dependant, moves the account guards with it (``max_dependants`` bounds
    the receiving account's dependants)."""
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
            return save(
                item,
                entries=edited.entries,
                moved=(place_of(before), place_of(edited.person)),
                max_dependants=max_dependants,
            )
        except ChangedMeanwhile:
            continue
    raise ChangedMeanwhile("the code is being changed by several requests at once: try again")


#: Items one TransactWriteItems may hold (DynamoDB's limit).
TRANSACTION_ITEMS: Final = 100


@dataclass(frozen=True)
class Held:
    """A person read for a write of many (:func:`save_many`): the item, whose version the
    write is conditioned on, and its view."""

    item: Person
    view: PersonView


def read_many(person_ids: Sequence[str]) -> dict[str, Held]:
    """Many persons read consistently, by id (BatchGetItem, 100 keys a call; unprocessed keys
    retried); ids with no person are left out."""
    wanted = sorted({pid for pid in person_ids if pid and "#" not in pid})
    if not wanted:
        return {}
    return {
        str(item.person_id): Held(item, view_of(item))
        for item in Person.batch_get(wanted, consistent_read=True)
    }


def save_many(edits: Sequence[tuple[Held, Edit]]) -> set[str]:
    """Write the edits of many persons, each under the version it was read at and with its
    entries, in as few TransactWriteItems as the item limit allows: one call for fifty people
    instead of fifty, the same optimistic locking. Returns the ids refused because someone
    wrote them meanwhile (nothing of theirs is written: the caller re-reads them); every other
    edit is written. A transaction some people refused is sent again without them, so a
    conflict costs one more call, not one per person. An edit may not move a person between
    accounts (use :func:`edit`: the account guards go with it)."""
    refused: set[str] = set()
    for chunk in _transaction_chunks(edits):
        while chunk:
            names = _commit_many(chunk)
            if not names:
                break
            refused |= names
            chunk = [(held, change) for held, change in chunk if held.view.person_id not in names]
    return refused


def _transaction_chunks(edits: Sequence[tuple[Held, Edit]]) -> list[list[tuple[Held, Edit]]]:
    chunks: list[list[tuple[Held, Edit]]] = [[]]
    size = 0
    for held, change in edits:
        if place_of(held.view) != place_of(change.person):
            raise ValueError("save_many cannot move a person between accounts")
        items = 1 + len(change.entries)
        if chunks[-1] and size + items > TRANSACTION_ITEMS:
            chunks.append([])
            size = 0
        chunks[-1].append((held, change))
        size += items
    return [chunk for chunk in chunks if chunk]


def _commit_many(chunk: Sequence[tuple[Held, Edit]]) -> set[str]:
    """One transaction of ``chunk``; the ids of the persons whose condition refused it."""
    transaction = Transaction()
    owners: dict[str, str] = {}
    for number, (held, change) in enumerate(chunk):
        _apply(held.item, held.view, change.person)
        transaction.save(f"person:{number}", held.item)
        owners[f"person:{number}"] = held.view.person_id
        for index, entry in enumerate(_entry_items(change.entries)):
            name = f"entry:{number}:{index}"
            transaction.save(name, entry, condition=AuditEntry.entry.does_not_exist())
            owners[name] = held.view.person_id
    return {owners[name] for name in transaction.commit()}


def contact_changes(person: PersonView, *, phone: str | None, address: str | None) -> tuple[str, ...]:
    """Which of the person's phone and address ``phone`` and ``address`` would change (field
    names only, never values: for the audit trail). An absent new value changes nothing."""
    changed: list[str] = []
    pid = person.person_id
    if phone:
        stored_phone = (
            pii.decrypt(person.phone_enc, context=_context(pid, "phone")) if person.phone_enc else None
        )
        if stored_phone != phone:
            changed.append("phone")
    if address:
        stored_address = (
            pii.decrypt(person.address_enc, context=_context(pid, "address")) if person.address_enc else None
        )
        if stored_address != address:
            changed.append("address")
    return tuple(changed)


def name_of(person: PersonView) -> str:
    """Decrypt only the person's name, to compare a typed name with it (never to show it)."""
    return pii.decrypt(person.name_enc, context=_context(person.person_id, "name"))


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


def regions_of(person_ids: Sequence[str]) -> dict[str, str]:
    """The region each person applied with, by person id (BatchGetItem, only two attributes
    read); persons that do not exist are left out. For checks of an official's area."""
    wanted = sorted({pid for pid in person_ids if pid and "#" not in pid})
    if not wanted:
        return {}
    return {
        str(item.person_id): str(item.region_code)
        for item in Person.batch_get(wanted, attributes_to_get=["person_id", "region_code"])
    }
