"""Venues, their phone guards and the coverage counters.

Callers get :class:`VenueView` values, never items.

Item layouts (VenuesTable, key ``venue_id``):

* a venue: ``venue_id = v-<32 hex>`` with its registration, complex root (``by_root``), manager
  (``by_manager``), write shards, its current venue code and that code's generation
  (``code_generation``, absent = 0: a reissue moves it on and older codes are refused) and,
  once closed, ``closed_at`` (a complex's doors and stores carry it too, so a check-in learns it
  from the one item it reads; nothing is deleted: records stay for tracing). The credential number and manager
  phone are ciphertext (``healthcode.protection.pii``, context bound to the venue and field) with masked
  forms for display and, for the phone, a keyed hash.
* a phone guard (Jiangxi's one venue code per phone): ``venue_id = phone#<keyed hash of the
  manager phone>``, ``guards_venue_id`` the venue holding it. Written in the same
  TransactWriteItems as the venue with ``attribute_not_exists``, and the hashes of the phone
  under every other hash-key version are condition-checked in the same transaction, so a
  second venue for a phone is refused even across a hash-key rotation. A guard has no
  ``manager_sub`` and no ``root_venue_id``: it never appears in either index.

Coverage counters (StatsTable): ``pk = COVERAGE#<region>`` with ``sk = <venue type>`` holds the
number of venues of that type registered in the region, at county, prefecture and province
level; ``sk = region#<child region>`` holds the number of venues in each region one level down.
A marker ``pk = COVERED#<venue_id>``, ``sk = COVERAGE`` is put (``attribute_not_exists``) in the
same transaction as the increments, so a redelivered stream record counts a venue once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict, InvalidInput
from healthcode.protection import pii
from healthcode.protection.auth import area_prefix
from healthcode.protection.masking import mask_id_number, mask_name, mask_phone
from healthcode.rules.credentials import CredentialType
from healthcode.rules.geo import Location
from healthcode.rules.venues import (
    VENUE_ID,
    ParentVenue,
    ScannedVenue,
    VenueChange,
    VenueRegistration,
    child_region,
    coverage_levels,
    subject_is_a_person,
)
from healthcode.storage import audit
from healthcode.storage.base import instant_key
from healthcode.storage.connection import client, connection, table_name
from healthcode.storage.models import AuditEntry, Stat, Venue, VenueJoinCode
from healthcode.storage.models import Location as LocationMap
from healthcode.storage.transactions import Transaction

PHONE_GUARD_PREFIX = "phone#"
COVERAGE_PREFIX = "COVERAGE#"
COVERED_PREFIX = "COVERED#"
COVERED_SK = "COVERAGE"
REGION_SK_PREFIX = "region#"
#: Hash kind of a person's credential number (``pii.keyed_hash``), what the export carries.
CREDENTIAL_HASH_KIND = "credential_number"


@dataclass(frozen=True)
class VenueView:
    """A registered venue as stored: its registration (personal fields only masked), complex,
    manager, write shards and current venue code, and the version its next change must match."""

    venue_id: str
    name: str | None
    venue_type: str | None
    subject_name: str | None  # masked when the subject is a person
    credential_type: str | None
    credential_masked: str | None
    region_code: str | None
    location: Location | None
    address: str | None
    manager_sub: str | None
    manager_phone_masked: str | None
    parent_venue_id: str | None
    root_venue_id: str | None
    shards: int
    code: str | None
    code_id: str | None
    code_expires_at: datetime | None
    created_at: datetime | None
    version: int | None
    code_generation: int = 0
    closed_at: datetime | None = None
    zone: str | None = None
    store_number: str | None = None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


def view_of(item: Venue) -> VenueView:
    """The view of a stored venue item (for storage modules that read venues themselves)."""
    where = item.location
    return VenueView(
        venue_id=item.venue_id,
        name=item.name,
        venue_type=item.type,
        subject_name=item.subject_name,
        credential_type=item.credential_type,
        credential_masked=item.credential_masked,
        region_code=item.region_code,
        location=Location(lat=float(where.lat), lng=float(where.lng)) if where is not None else None,
        address=item.address,
        manager_sub=item.manager_sub,
        manager_phone_masked=item.manager_phone_masked,
        parent_venue_id=item.parent_venue_id,
        root_venue_id=item.root_venue_id,
        shards=int(item.shards),
        code=item.code,
        code_id=item.code_id,
        code_expires_at=item.code_expires_at,
        created_at=item.created_at,
        version=None if item.version is None else int(item.version),
        code_generation=int(item.code_generation or 0),
        closed_at=item.closed_at,
        zone=item.zone,
        store_number=item.store_number,
    )


def new_venue_id() -> str:
    """A random venue id: what venue codes carry as their subject."""
    return f"v-{uuid.uuid4().hex}"


def _context(venue_id: str, field: str) -> dict[str, str]:
    return {"table": "venues", "venue_id": venue_id, "field": field}


def credential_masked(credential_type: CredentialType, number: str) -> str:
    """How a credential is shown: an individual's ID number masked, an organisation's number,
    a business registration number or a plate as registered (public, not personal data)."""
    return mask_id_number(number) if credential_type == CredentialType.ID_NUMBER else number


def credential_hash(credential_type: CredentialType | str, number: str) -> str | None:
    """The keyed hash (kind ``credential_number``) a person's credential is exported as; None for
    an organisation's, which is public and exported as registered."""
    return pii.keyed_hash(CREDENTIAL_HASH_KIND, number) if subject_is_a_person(credential_type) else None


def listing_key(venue_id: str, region_code: str, venue_type: str) -> str:
    """A venue's range key in ``by_region`` (whose hash key is its province):
    ``<region_code>#<type>#<venue_id>``, so an area is a prefix of it, an area and a type too."""
    return f"{region_code}#{venue_type}#{venue_id}"


def _build(
    registration: VenueRegistration,
    *,
    venue_id: str,
    root_venue_id: str,
    manager_sub: str,
    shards: int,
    code: str,
    code_generation: int,
    now: datetime,
) -> Venue:
    """A new, unsaved venue item, personal fields encrypted and masked."""
    person = subject_is_a_person(registration.credential_type)
    subject = registration.subject_name
    return Venue(
        venue_id,
        name=registration.name,
        type=registration.venue_type,
        subject_name=mask_name(subject) if person else subject,
        subject_name_enc=pii.encrypt(subject, context=_context(venue_id, "subject_name")) if person else None,
        subject_name_hash=pii.keyed_hash("subject_name", subject) if person else None,
        credential_type=str(registration.credential_type),
        credential_enc=pii.encrypt(
            registration.credential_number, context=_context(venue_id, "credential_number")
        ),
        credential_masked=credential_masked(registration.credential_type, registration.credential_number),
        credential_hash=credential_hash(registration.credential_type, registration.credential_number),
        region_code=registration.region_code,
        location=LocationMap(lat=registration.location.lat, lng=registration.location.lng),
        address=registration.address,
        manager_sub=manager_sub,
        manager_phone_enc=pii.encrypt(
            registration.manager_phone, context=_context(venue_id, "manager_phone")
        ),
        manager_phone_hash=pii.keyed_hash("phone", registration.manager_phone),
        manager_phone_masked=mask_phone(registration.manager_phone),
        parent_venue_id=registration.parent_venue_id,
        root_venue_id=root_venue_id,
        shards=shards,
        code=code,
        code_generation=code_generation,
        created_at=now,
        zone=registration.zone,
        store_number=registration.store_number,
        province=registration.region_code[:2] + "0000",
        region_type_venue=listing_key(venue_id, registration.region_code, registration.venue_type),
    )


@dataclass(frozen=True)
class PhoneGuard:
    """The items that make a phone hold at most one venue: the guard to put and the hashes of
    the phone under the other hash-key versions that must not hold one either."""

    guard: Venue
    other_versions: tuple[str, ...]


def _phone_guard(venue: Venue, phone: str) -> PhoneGuard:
    current, *others = pii.keyed_hashes_for_lookup("phone", phone)
    return PhoneGuard(
        guard=Venue(PHONE_GUARD_PREFIX + current, guards_venue_id=venue.venue_id),
        other_versions=tuple(PHONE_GUARD_PREFIX + digest for digest in others),
    )


def _add_registration(transaction: TransactWrite, venue: Venue, guard: PhoneGuard | None) -> None:
    """Add a new venue (and its phone guard) to ``transaction``; both refuse to overwrite."""
    for other in guard.other_versions if guard else ():
        transaction.condition_check(Venue, other, condition=Venue.venue_id.does_not_exist())
    transaction.save(venue, condition=Venue.venue_id.does_not_exist())
    if guard is not None:
        transaction.save(guard.guard, condition=Venue.venue_id.does_not_exist())


class VenueExists(Exception):
    """A venue with this id is stored already (a retried registration found its first attempt)."""


class VenueChanged(Exception):
    """The venue changed since it was read (optimistic lock): read it again."""


def register(
    registration: VenueRegistration,
    *,
    venue_id: str,
    root_venue_id: str,
    manager_sub: str,
    shards: int,
    code: str,
    code_generation: int,
    now: datetime,
    one_per_phone: bool,
    join: JoinUse | None = None,
    open_parents: tuple[str, ...] = (),
) -> VenueView:
    """Store a new venue, personal fields encrypted and masked (one TransactWriteItems, with its
    phone guard when ``one_per_phone``, and using up ``join``'s code with the parent's audit
    entry). Raises ``VenueExists`` when the id is taken, 409 ``phone_has_venue`` when the phone
    already holds a venue (one venue code per phone), ``JoinCodeRefused`` when the join code was
    used, expired or is for another venue by the time of the write, ``ParentClosed`` when one of
    ``open_parents`` (the parent and the complex's root) was closed by then: checked in the same
    transaction, so a store cannot slip in under a complex while it is being closed."""
    venue = _build(
        registration,
        venue_id=venue_id,
        root_venue_id=root_venue_id,
        manager_sub=manager_sub,
        shards=shards,
        code=code,
        code_generation=code_generation,
        now=now,
    )
    guard = _phone_guard(venue, registration.manager_phone) if one_per_phone else None
    try:
        with TransactWrite(connection=connection()) as transaction:
            _add_registration(transaction, venue, guard)
            for parent_id in open_parents:
                transaction.condition_check(
                    Venue, parent_id, condition=Venue.venue_id.exists() & Venue.closed_at.does_not_exist()
                )
            if join is not None:
                _use_join_code(transaction, join, venue_id=venue_id, by=manager_sub, now=now)
    except TransactWriteError as error:
        raise _refusal(error, guard, joined=join is not None, parents=len(open_parents)) from error
    return view_of(venue)


class ParentClosed(Exception):
    """The parent (or the complex's root) was closed before the registration was written."""


def _refusal(
    error: TransactWriteError, guard: PhoneGuard | None, *, joined: bool = False, parents: int = 0
) -> Exception:
    """What a cancelled registration transaction means: the venue exists (a retry), the phone
    holds a venue (409), the parent was closed, the join code is no longer good, or the error
    itself when something else failed. pynamodb sends condition checks first (the guard's other
    versions, then the open parents), then the puts (the venue, its guard), then the join code's
    update."""
    reasons = (
        error.cancellation_reasons if error.cause_response_code == "TransactionCanceledException" else []
    )
    failed = {
        index for index, reason in enumerate(reasons) if reason and reason.code == "ConditionalCheckFailed"
    }
    checks = len(guard.other_versions) if guard else 0
    if checks + parents in failed:
        return VenueExists("a venue with this id is stored already")
    if failed & set(range(checks, checks + parents)):
        return ParentClosed("the parent venue was closed")
    if guard is not None and failed:
        guard_positions = set(range(checks)) | {checks + parents + 1}
        if failed & guard_positions:
            return Conflict(
                "this phone number already holds a venue code (one venue code per phone number)",
                field="manager_phone",
                code="phone_has_venue",
            )
    last = reasons[-1] if joined and reasons else None  # the join code: the only update, last
    if last is not None and last.code in ("ConditionalCheckFailed", "TransactionConflict"):
        return JoinCodeRefused("the join code was used, expired or names another venue, or is in use")
    return error


def get(venue_id: str) -> VenueView | None:
    """A registered venue (never a phone guard)."""
    if not venue_id.startswith("v-"):
        return None
    try:
        return view_of(Venue.get(venue_id))
    except Venue.DoesNotExist:
        return None


def parent(venue_id: str) -> ParentVenue | None:
    """What the complex rule needs of a would-be parent, or None if there is no such venue."""
    venue = get(venue_id)
    if venue is None or venue.region_code is None or venue.manager_sub is None:
        return None
    return ParentVenue(
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id or venue.venue_id,
        region_code=venue.region_code,
        manager_sub=venue.manager_sub,
        closed=venue.closed,
    )


class VenueClosed(Exception):
    """The venue is closed: its code is not reissued."""


def store_code(venue: VenueView, *, code: str, generation: int) -> VenueView:
    """Store ``code`` as the venue's current code at ``generation`` (a reissue moves it on; a
    re-signing keeps it), under the optimistic lock on the venue's version and only while it is
    open. Raises ``VenueChanged`` when another request changed the venue first, ``VenueClosed``
    when it is closed."""
    item = Venue(venue.venue_id, version=venue.version)
    try:
        item.update(
            actions=[
                Venue.code.set(code),
                Venue.code_generation.set(generation),
                Venue.code_id.remove(),
                Venue.code_expires_at.remove(),
            ],
            condition=Venue.closed_at.does_not_exist(),
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            current = get(venue.venue_id)
            if current is not None and current.closed:
                raise VenueClosed(venue.venue_id) from error
            raise VenueChanged(venue.venue_id) from error
        raise
    return view_of(item)


def close(venue_id: str, *, now: datetime) -> bool:
    """Close a venue (``closed_at``; its version moves on, so an edit read before fails). False
    when it was closed already or is not a venue. Its records are kept."""
    try:
        client().update_item(
            TableName=table_name("VenuesTable"),
            Key={"venue_id": {"S": venue_id}},
            UpdateExpression="SET closed_at = :at ADD version :one",
            ConditionExpression="attribute_exists(venue_id) AND attribute_not_exists(closed_at)",
            ExpressionAttributeValues={":at": {"S": instant_key(now)}, ":one": {"N": "1"}},
        )
    except client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def complex_members(root_venue_id: str) -> list[VenueView]:
    """Every venue of a complex (its root included): one Query on ``by_root``."""
    return [view_of(venue) for venue in Venue.by_root.query(root_venue_id)]


# --- coverage counters ------------------------------------------------------------------------


def count_in_coverage(venue_id: str, venue_type: str, region_code: str) -> bool:
    """Count a new venue in its county, prefecture and province (by type, and in its parent
    regions' per-region totals). False if it was already counted (a redelivered record)."""
    return _apply_coverage(venue_id, venue_type, region_code, +1)


def uncount_from_coverage(venue_id: str, venue_type: str, region_code: str) -> bool:
    """Take a removed venue out of the counters. False if it was not counted."""
    return _apply_coverage(venue_id, venue_type, region_code, -1)


def _apply_coverage(venue_id: str, venue_type: str, region_code: str, delta: int) -> bool:
    levels = coverage_levels(region_code)
    marker = Stat(COVERED_PREFIX + venue_id, COVERED_SK, venue_id=venue_id, name=venue_type)
    try:
        with TransactWrite(connection=connection()) as transaction:
            if delta > 0:
                transaction.save(marker, condition=Stat.pk.does_not_exist())
            else:
                transaction.delete(marker, condition=Stat.pk.exists())
            for level in levels:
                transaction.update(Stat(COVERAGE_PREFIX + level, venue_type), actions=[Stat.total.add(delta)])
            for upper in levels[1:]:
                child = child_region(upper, region_code)
                if child is not None:
                    transaction.update(
                        Stat(COVERAGE_PREFIX + upper, REGION_SK_PREFIX + child),
                        actions=[Stat.total.add(delta)],
                    )
    except TransactWriteError as error:
        reasons = (
            error.cancellation_reasons if error.cause_response_code == "TransactionCanceledException" else []
        )
        first = reasons[0] if reasons else None  # the marker: the only put or delete, always first
        if first is not None and first.code == "ConditionalCheckFailed":
            return False
        raise
    return True


@dataclass(frozen=True)
class CoverageCounts:
    by_type: Mapping[str, int]
    by_region: Mapping[str, int]


def coverage_counts(region_code: str) -> CoverageCounts:
    """A region's coverage counters: one Query."""
    by_type: dict[str, int] = {}
    by_region: dict[str, int] = {}
    for item in Stat.query(COVERAGE_PREFIX + region_code):
        total = int(item.total or 0)
        if item.sk.startswith(REGION_SK_PREFIX):
            by_region[item.sk.removeprefix(REGION_SK_PREFIX)] = total
        else:
            by_type[item.sk] = total
    return CoverageCounts(by_type=by_type, by_region=by_region)


# --- what a check-in reads of a venue ---------------------------------------------------------

#: The attributes of a venue a check-in reads (a projection: the ciphertexts and the code stay
#: behind), with the names DynamoDB reserves spelled as placeholders.
SCANNED_ATTRIBUTES = (
    "venue_id",
    "#name",
    "#type",
    "address",
    "region_code",
    "root_venue_id",
    "#location",
    "shards",
    "code_generation",
    "closed_at",
)
SCANNED_NAMES = {"#name": "name", "#type": "type", "#location": "location"}


def scanned_of(raw: Mapping[str, Any]) -> ScannedVenue | None:
    """A venue item as a check-in read it (DynamoDB JSON, the projection above); None for an
    item that is no registered venue (a phone guard)."""
    item = Venue.from_raw_data(dict(raw))
    if not item.venue_id.startswith("v-") or item.type is None or item.region_code is None:
        return None
    where = item.location
    return ScannedVenue(
        venue_id=item.venue_id,
        name=str(item.name),
        address=str(item.address or ""),
        venue_type=item.type,
        region_code=item.region_code,
        root_venue_id=item.root_venue_id or item.venue_id,
        location=Location(lat=float(where.lat), lng=float(where.lng)) if where is not None else None,
        shards=int(item.shards or 1),
        generation=int(item.code_generation or 0),
        closed=item.closed_at is not None,
    )


# --- join codes (a store's own manager registers under a complex) -----------------------------

JOIN_PREFIX = "join#"
#: Audit kinds on a complex's trail.
JOIN_CODE_ISSUED = "join_code_issued"
STORE_JOINED = "store_joined"


@dataclass(frozen=True)
class JoinCode:
    """A stored join code (its digest, never the code): the venue it admits a store under."""

    digest: str
    joins_venue_id: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    used_by_venue_id: str | None


@dataclass(frozen=True)
class JoinUse:
    """The join code a registration uses up in its own transaction."""

    digest: str
    parent_venue_id: str


class JoinCodeRefused(Exception):
    """The join code was used, expired or names another venue when the registration was written."""


def issue_join_code(
    digest: str, *, venue_id: str, by: str, now: datetime, expires_at: datetime
) -> JoinCode | None:
    """Store a new join code (by its digest) for ``venue_id`` with the venue's audit entry, in one
    TransactWriteItems; never overwrites a stored one: None when a code with this digest is
    stored already (a retried keyed request, whose code is derived from its key)."""
    item = VenueJoinCode(
        JOIN_PREFIX + digest, joins_venue_id=venue_id, issued_by=by, issued_at=now, expires_at=expires_at
    )
    details = {"expires_at": instant_key(expires_at)}
    entry = audit.item_of(
        audit.Entry(audit.venue_subject(venue_id), JOIN_CODE_ISSUED, by, now, details, digest[:16])
    )
    write = Transaction()
    write.save("code", item, condition=VenueJoinCode.venue_id.does_not_exist())
    write.save("entry", entry, condition=AuditEntry.entry.does_not_exist())
    if write.commit():
        return None
    return _join_view(item)


def join_code(digest: str) -> JoinCode | None:
    """The stored join code with this digest (read consistently: a use counts at once)."""
    try:
        return _join_view(VenueJoinCode.get(JOIN_PREFIX + digest, consistent_read=True))
    except VenueJoinCode.DoesNotExist:
        return None


def _join_view(item: VenueJoinCode) -> JoinCode:
    return JoinCode(
        digest=item.venue_id.removeprefix(JOIN_PREFIX),
        joins_venue_id=item.joins_venue_id,
        issued_by=item.issued_by,
        issued_at=item.issued_at,
        expires_at=item.expires_at,
        used_by_venue_id=item.used_by_venue_id,
    )


def _use_join_code(
    transaction: TransactWrite, join: JoinUse, *, venue_id: str, by: str, now: datetime
) -> None:
    """Use up ``join``'s code for the new venue (only if unused, unexpired and for its parent),
    with the parent's audit entry naming the store and the account that registered it."""
    condition = (
        VenueJoinCode.venue_id.exists()
        & VenueJoinCode.used_by_venue_id.does_not_exist()
        & (VenueJoinCode.joins_venue_id == join.parent_venue_id)
        & (VenueJoinCode.expires_at > now)
    )
    transaction.update(
        VenueJoinCode(JOIN_PREFIX + join.digest),
        actions=[
            VenueJoinCode.used_by_venue_id.set(venue_id),
            VenueJoinCode.used_by.set(by),
            VenueJoinCode.used_at.set(now),
        ],
        condition=condition,
    )
    details = {"venue_id": venue_id, "by": by}
    entry = audit.Entry(audit.venue_subject(join.parent_venue_id), STORE_JOINED, by, now, details, venue_id)
    transaction.save(audit.item_of(entry), condition=AuditEntry.entry.does_not_exist())


# --- lists (GET /v1/venues) -------------------------------------------------------------------


@dataclass(frozen=True)
class VenuePage:
    venues: list[VenueView]
    next_cursor: str | None


def _status_condition(status: str | None) -> Any:
    """The filter of ``?status=``: ``closed`` venues carry ``closed_at``, ``active`` ones do not."""
    if status == "closed":
        return Venue.closed_at.exists()
    if status == "active":
        return Venue.closed_at.does_not_exist()
    return None


def _refused_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this list gave", field="cursor", code="invalid_cursor")


#: DynamoDB pages (of ``limit`` items each) one request for an area's venues reads at most.
MAX_LIST_PAGES = 8
#: Hash kind of a venue list's cursor MAC (``pii.keyed_hash``).
CURSOR_KIND = "venue_list_cursor"
_MAX_CURSOR_CHARS = 2048


def _encode_cursor(listing: str, plain: Mapping[str, str] | None) -> str | None:
    """An opaque cursor: the last key and the list it belongs to (``listing``: the caller and
    the filters), with a keyed MAC over both, so an altered cursor or one from another list is
    refused, whatever it is altered to."""
    if not plain:
        return None
    payload = json.dumps({"l": listing, **plain}, sort_keys=True, separators=(",", ":"))
    document = {"p": payload, "m": pii.keyed_hash(CURSOR_KIND, payload)}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, listing: str, names: frozenset[str]) -> dict[str, str]:
    """The fields (exactly ``names``) of a cursor this very list gave; else 422 ``invalid_cursor``."""
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise _refused_cursor()
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        payload, mac = document["p"], document["m"]
        if not isinstance(payload, str) or not isinstance(mac, str):
            raise _refused_cursor()
        if not any(
            hmac.compare_digest(mac, good) for good in pii.keyed_hashes_for_lookup(CURSOR_KIND, payload)
        ):
            raise _refused_cursor()
        plain = json.loads(payload)
    except (ValueError, binascii.Error, TypeError, KeyError) as error:
        raise _refused_cursor() from error
    if not isinstance(plain, dict) or plain.pop("l", None) != listing or set(plain) != names:
        raise _refused_cursor()
    if not all(isinstance(value, str) and value for value in plain.values()) or not VENUE_ID.fullmatch(
        plain["v"]
    ):
        raise _refused_cursor()
    return plain


def _and(condition: Any, more: Any) -> Any:
    return more if condition is None else condition & more


def of_manager(
    manager_sub: str,
    *,
    region_code: str | None,
    venue_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> VenuePage:
    """A manager's venues in id order, at most ``limit``, optionally only those in an area, of a
    type, of a status (one Query on ``by_manager``, paged on until the page is full when the
    filter drops venues). A cursor not given by this list → 422 ``invalid_cursor``."""
    listing = json.dumps(["manager", manager_sub, region_code, venue_type, status])
    start = None
    if cursor is not None:
        plain = _decode_cursor(cursor, listing, frozenset({"v"}))
        start = {"manager_sub": {"S": manager_sub}, "venue_id": {"S": plain["v"]}}
    condition = _status_condition(status)
    if region_code is not None:
        condition = _and(condition, Venue.region_code.startswith(area_prefix(region_code)))
    if venue_type is not None:
        condition = _and(condition, Venue.type == venue_type)
    found = Venue.by_manager.query(
        manager_sub, filter_condition=condition, limit=limit, last_evaluated_key=start
    )
    venues = [view_of(item) for item in found]
    last = found.last_evaluated_key
    return VenuePage(venues, _encode_cursor(listing, {"v": last["venue_id"]["S"]} if last else None))


def area_prefix_of(region_code: str | None, venue_type: str | None) -> str:
    """The ``region_type_venue`` prefix of the venues of an area (a county, a prefecture, a
    province, or None: the province) and, for a county, of a type in it."""
    if region_code is None or region_code.endswith("0000"):
        return ""
    if region_code.endswith("00"):
        return region_code[:4]
    return f"{region_code}#{venue_type}#" if venue_type else f"{region_code}#"


def in_area(
    province: str,
    *,
    region_code: str | None,
    venue_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> VenuePage:
    """The venues of an area in region, type and id order, at most ``limit``: a Query on
    ``by_region`` (``begins_with`` the area's prefix; a county's type is part of the prefix, a
    wider area's type and a status are filters). A filter may drop most of what is read, so one
    request reads at most :data:`MAX_LIST_PAGES` pages of ``limit`` items: a page may then hold
    fewer venues than ``limit`` (even none) with a ``next_cursor`` to go on from. A cursor not
    given by this very list (another area, another type, altered) → 422 ``invalid_cursor``."""
    prefix = area_prefix_of(region_code, venue_type)
    listing = json.dumps(["area", province, region_code, venue_type, status])
    start = None
    if cursor is not None:
        plain = _decode_cursor(cursor, listing, frozenset({"v", "k"}))
        key = plain["k"]
        if not key.startswith(prefix) or not key.endswith("#" + plain["v"]) or key.count("#") != 2:
            raise _refused_cursor()
        start = {
            "venue_id": {"S": plain["v"]},
            "province": {"S": province},
            "region_type_venue": {"S": key},
        }
    condition = _status_condition(status)
    if venue_type and not prefix.endswith("#"):
        condition = _and(condition, Venue.type == venue_type)
    pages = Venue.by_region.query(
        province,
        Venue.region_type_venue.startswith(prefix) if prefix else None,
        filter_condition=condition,
        page_size=limit,
        last_evaluated_key=start,
    ).page_iter
    venues: list[VenueView] = []
    last: Mapping[str, Any] | None = None
    for read, page in enumerate(pages, start=1):
        rows = list(page.get("Items", []))
        wanted = limit - len(venues)
        if len(rows) > wanted:  # the page is full inside this read: go on after its last row
            rows = rows[:wanted]
            venues += [view_of(Venue.from_raw_data(row)) for row in rows]
            last = rows[-1]
            break
        venues += [view_of(Venue.from_raw_data(row)) for row in rows]
        last = pages.last_evaluated_key
        if last is None or len(venues) >= limit or read >= MAX_LIST_PAGES:
            break
    plain_next = {"v": last["venue_id"]["S"], "k": last["region_type_venue"]["S"]} if last else None
    return VenuePage(venues, _encode_cursor(listing, plain_next))


# --- changes (PATCH /v1/venues/{venue_id}) ---------------------------------------------------

VENUE_CHANGED = "venue_changed"


def change(
    venue: VenueView, wanted: VenueChange, *, by: str, now: datetime, one_per_phone: bool
) -> VenueView:
    """Apply a checked change to ``venue`` as read (its version), with the venue's audit entry
    naming the changed fields (never their values), in one TransactWriteItems; a changed phone
    moves its guard when ``one_per_phone``. Raises ``VenueChanged`` when the venue changed (or
    closed) since it was read, 409 ``phone_has_venue`` when the new phone holds a venue."""
    venue_id = venue.venue_id
    actions = _change_actions(venue, wanted)
    item = Venue(venue_id, version=venue.version)
    entry = audit.Entry(
        audit.venue_subject(venue_id), VENUE_CHANGED, by, now, {"fields": list(wanted.fields)}
    )
    guard = None
    if wanted.manager_phone is not None and one_per_phone:
        guard = _phone_guard(item, wanted.manager_phone)
    old_guard = _own_phone_guard(venue_id) if guard is not None else None
    try:
        with TransactWrite(connection=connection()) as transaction:
            for other in guard.other_versions if guard else ():
                transaction.condition_check(Venue, other, condition=Venue.venue_id.does_not_exist())
            if old_guard is not None and guard is not None and old_guard != guard.guard.venue_id:
                transaction.delete(
                    Venue(old_guard), condition=Venue.guards_venue_id == venue_id, add_version_condition=False
                )
            if guard is not None and old_guard != guard.guard.venue_id:
                transaction.save(guard.guard, condition=Venue.venue_id.does_not_exist())
            transaction.save(audit.item_of(entry), condition=AuditEntry.entry.does_not_exist())
            transaction.update(item, actions=actions, condition=Venue.closed_at.does_not_exist())
    except TransactWriteError as error:
        reasons = (
            error.cancellation_reasons if error.cause_response_code == "TransactionCanceledException" else []
        )
        failed = {i for i, reason in enumerate(reasons) if reason and reason.code == "ConditionalCheckFailed"}
        if len(reasons) - 1 in failed:  # the venue: the transaction's only update, last
            raise VenueChanged(venue_id) from error
        if failed:
            raise Conflict(
                "this phone number already holds a venue code (one venue code per phone number)",
                field="manager_phone",
                code="phone_has_venue",
            ) from error
        raise
    changed = get(venue_id)
    if changed is None:
        raise VenueChanged(venue_id)
    return changed


def _own_phone_guard(venue_id: str) -> str | None:
    """The key of the phone guard the venue holds now (under its stored phone hash), if it holds
    one (a venue registered while the province kept no such rule holds none)."""
    stored = Venue.get(venue_id, consistent_read=True, attributes_to_get=["manager_phone_hash"])
    digest = stored.manager_phone_hash
    if not digest:
        return None
    try:
        guard = Venue.get(PHONE_GUARD_PREFIX + digest, consistent_read=True)
    except Venue.DoesNotExist:
        return None
    return guard.venue_id if guard.guards_venue_id == venue_id else None


def _change_actions(venue: VenueView, wanted: VenueChange) -> list[Any]:
    """The update actions of a change: personal fields encrypted, masked and hashed as at
    registration (the subject's form follows the credential's kind)."""
    venue_id = venue.venue_id
    actions: list[Any] = []
    for name in ("name", "address", "zone", "store_number"):
        value = getattr(wanted, name)
        if value is not None:
            actions.append(getattr(Venue, name).set(value))
    if wanted.location is not None:
        actions.append(Venue.location.set(LocationMap(lat=wanted.location.lat, lng=wanted.location.lng)))
    if wanted.manager_phone is not None:
        phone = wanted.manager_phone
        actions += [
            Venue.manager_phone_enc.set(pii.encrypt(phone, context=_context(venue_id, "manager_phone"))),
            Venue.manager_phone_hash.set(pii.keyed_hash("phone", phone)),
            Venue.manager_phone_masked.set(mask_phone(phone)),
        ]
    kind = wanted.credential_type or venue.credential_type
    if wanted.credential_type is not None and wanted.credential_number is not None:
        number = wanted.credential_number
        hashed = credential_hash(wanted.credential_type, number)
        actions += [
            Venue.credential_type.set(str(wanted.credential_type)),
            Venue.credential_enc.set(pii.encrypt(number, context=_context(venue_id, "credential_number"))),
            Venue.credential_masked.set(credential_masked(wanted.credential_type, number)),
            Venue.credential_hash.set(hashed) if hashed is not None else Venue.credential_hash.remove(),
        ]
    if wanted.subject_name is not None:
        subject = wanted.subject_name
        if kind is None or subject_is_a_person(kind):
            actions += [
                Venue.subject_name.set(mask_name(subject)),
                Venue.subject_name_enc.set(pii.encrypt(subject, context=_context(venue_id, "subject_name"))),
                Venue.subject_name_hash.set(pii.keyed_hash("subject_name", subject)),
            ]
        else:
            actions += [
                Venue.subject_name.set(subject),
                Venue.subject_name_enc.remove(),
                Venue.subject_name_hash.remove(),
            ]
    return actions
