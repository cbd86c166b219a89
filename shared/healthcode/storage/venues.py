"""Venues, their phone guards and the coverage counters.

Callers get :class:`VenueView` values, never items.

Item layouts (VenuesTable, key ``venue_id``):

* a venue: ``venue_id = v-<32 hex>`` with its registration, complex root (``by_root``), manager
  (``by_manager``), write shards and its current venue code. The credential number and manager
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

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict
from healthcode.protection import pii
from healthcode.protection.masking import mask_id_number, mask_name, mask_phone
from healthcode.rules.credentials import CredentialType
from healthcode.rules.geo import Location
from healthcode.rules.venues import (
    ParentVenue,
    VenueCode,
    VenueRegistration,
    child_region,
    coverage_levels,
    subject_is_a_person,
)
from healthcode.storage.connection import connection
from healthcode.storage.models import Location as LocationMap
from healthcode.storage.models import Stat, Venue

PHONE_GUARD_PREFIX = "phone#"
COVERAGE_PREFIX = "COVERAGE#"
COVERED_PREFIX = "COVERED#"
COVERED_SK = "COVERAGE"
REGION_SK_PREFIX = "region#"


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


def _build(
    registration: VenueRegistration,
    *,
    venue_id: str,
    root_venue_id: str,
    manager_sub: str,
    shards: int,
    code: str,
    code_expires_at: datetime,
    code_id: str,
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
        code_id=code_id,
        code_expires_at=code_expires_at,
        created_at=now,
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
    code_expires_at: datetime,
    code_id: str,
    now: datetime,
    one_per_phone: bool,
) -> VenueView:
    """Store a new venue, personal fields encrypted and masked (one TransactWriteItems, with its
    phone guard when ``one_per_phone``). Raises ``VenueExists`` when the id is taken, 409
    ``phone_has_venue`` when the phone already holds a venue (one venue code per phone)."""
    venue = _build(
        registration,
        venue_id=venue_id,
        root_venue_id=root_venue_id,
        manager_sub=manager_sub,
        shards=shards,
        code=code,
        code_expires_at=code_expires_at,
        code_id=code_id,
        now=now,
    )
    guard = _phone_guard(venue, registration.manager_phone) if one_per_phone else None
    try:
        with TransactWrite(connection=connection()) as transaction:
            _add_registration(transaction, venue, guard)
    except TransactWriteError as error:
        raise _refusal(error, guard) from error
    return view_of(venue)


def _refusal(error: TransactWriteError, guard: PhoneGuard | None) -> Exception:
    """What a cancelled registration transaction means: the venue exists (a retry), the phone
    holds a venue (409), or the error itself when something else failed."""
    reasons = (
        error.cancellation_reasons if error.cause_response_code == "TransactionCanceledException" else []
    )
    failed = {
        index for index, reason in enumerate(reasons) if reason and reason.code == "ConditionalCheckFailed"
    }
    checks = len(guard.other_versions) if guard else 0
    if checks in failed:  # items: the condition checks, then the venue, then the guard
        return VenueExists("a venue with this id is stored already")
    if guard is not None and failed:
        guard_positions = set(range(checks)) | {checks + 1}
        if failed & guard_positions:
            return Conflict(
                "this phone number already holds a venue code (one venue code per phone number)",
                field="manager_phone",
                code="phone_has_venue",
            )
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
    )


def venue_code(venue: VenueView, *, province: str) -> VenueCode:
    """The claims of ``venue``'s code, from what is stored."""
    if venue.location is None:
        raise ValueError(f"venue {venue.venue_id} has no location")
    return VenueCode(
        venue_id=venue.venue_id,
        name=str(venue.name),
        venue_type=str(venue.venue_type),
        province=province,
        region_code=str(venue.region_code),
        root_venue_id=venue.root_venue_id or venue.venue_id,
        location=venue.location,
        shards=int(venue.shards),
        address=str(venue.address),
    )


def replace_code(venue: VenueView, *, code: str, code_id: str, expires_at: datetime) -> VenueView:
    """Store a re-issued code (optimistic lock on the venue's version): the venue with it, or
    ``VenueChanged`` when another request changed the venue first."""
    item = Venue(venue.venue_id, version=venue.version)
    try:
        item.update(
            actions=[Venue.code.set(code), Venue.code_id.set(code_id), Venue.code_expires_at.set(expires_at)]
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise VenueChanged(venue.venue_id) from error
        raise
    return view_of(item)


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
