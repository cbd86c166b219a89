"""Venues (场所码): register a venue, keep its code current, print its poster, watch its day.

* The venue code is stored on the venue and printed on posters (its QR holds the code's URL);
  it is a compact ES256 JWT naming the venue and a generation, signed by a *venue* key. Its
  life — re-signing after a key rotation, reissue, closing — is ``healthcode.services.venue_codes``.
* Only a complex's own manager may register doors and stores under it (``healthcode.rules.venues``).
* A roadside checkpoint (type ``checkpoint``) is registered by an official, under the credential
  of the authority running it; the official is its manager. The applicant rules of venue owners
  (one venue per phone, a green code) do not apply to it. Any other type needs a venue manager.
* A registration with an ``Idempotency-Key`` derives the venue id from (account, key), so a retry
  after a lost answer finds the venue its first attempt created and answers the same.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from healthcode import clock
from healthcode.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.protection import pii
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.venues import (
    CHECKPOINT,
    JOIN_CODE_ALPHABET,
    JOIN_CODE_LENGTH,
    VENUE_STATUSES,
    VENUE_TYPE_LABELS,
    ParentVenue,
    VenueChange,
    VenueRegistration,
    check_applicant,
    check_change,
    check_registration,
    check_venue_id,
    check_venue_type,
    complex_root,
    join_code_digest,
    join_code_of,
    manager_sees_identity,
)
from healthcode.services import recolour, venue_codes
from healthcode.settings import policy, settings
from healthcode.storage import audit, idempotency, persons, staff, stats
from healthcode.storage import venues as store
from healthcode.storage.idempotency import check_key as check_idempotency_key
from healthcode.storage.persons import Identity
from healthcode.storage.stats import Alert, DayStats
from healthcode.storage.venues import VenuePage, VenueView

__all__ = [
    "Alert",
    "DayStats",
    "IssuedJoinCode",
    "ShownAlert",
    "VenuePage",
    "VenueView",
    "change",
    "check_idempotency_key",
    "day_alerts",
    "day_stats",
    "issue_join_code",
    "listed",
    "managed",
    "poster_png",
    "poster_svg",
    "register",
    "show",
]

logger = get_logger("venues")


def _venue_id_for(sub: str, key: str | None) -> str:
    """A new venue's id: random, or derived from (account, Idempotency-Key) so a retry finds it."""
    if key is None:
        return store.new_venue_id()
    digest = hashlib.sha256(b"venue\x00" + sub.encode() + b"\x00" + key.encode()).hexdigest()
    return f"v-{digest[:32]}"


def _created(venue: VenueView) -> dict[str, Any]:
    return {
        "venue_id": venue.venue_id,
        "code": venue.code,
        "code_url": venue_codes.url_of(str(venue.code)),
        "code_expires_at": venue.code_expires_at,
        "root_venue_id": venue.root_venue_id,
    }


# -- registering -------------------------------------------------------------------------------


def register(who: Caller, body: Mapping[str, Any], *, key: str | None) -> dict[str, Any]:
    """Register the venue a ``POST /v1/venues`` body describes, managed by ``who``: its id, code,
    code expiry and complex root (the first answer again for a retried Idempotency-Key)."""
    fingerprint = idempotency.fingerprint_of(body) if key else None
    if key is not None:
        first = idempotency.recall(who.sub, key, fingerprint=fingerprint)
        if first is not None:
            return first
    rules, province = policy(), settings().province
    registration = check_registration(body, province=province)
    checkpoint = registration.venue_type == CHECKPOINT
    if checkpoint and not who.has("official"):
        raise Forbidden(
            "a roadside checkpoint is registered by a health official",
            field="type",
            code="checkpoint_needs_official",
        )
    if checkpoint:
        who.require_area(registration.region_code)  # an official's checkpoint lies in their area
    if not checkpoint and not who.has("venue_manager"):
        raise Forbidden("this needs the role venue_manager", code="forbidden_role")
    if rules.venue_applicant_must_be_green and not checkpoint:
        now = clock.now()
        own = [p for p in persons.of_owner(who.sub) if not p.dependant]
        check_applicant(rules, [recolour.current(p, now=now).level for p in own])
    venue_id = _venue_id_for(who.sub, key)
    parent = None
    if registration.parent_venue_id is not None:
        check_venue_id(registration.parent_venue_id, field="parent_venue_id", what="parent")
        parent = store.parent(registration.parent_venue_id)
    join, joined = _join_use(registration, parent, venue_id=venue_id)
    root = complex_root(
        registration, parent, venue_id=venue_id, manager_sub=who.sub, province=province, joined=joined
    )
    shards = rules.shards(registration.venue_type)
    token = venue_codes.sign(venue_id, venue_codes.FIRST_GENERATION)
    try:
        venue = store.register(
            registration,
            venue_id=venue_id,
            root_venue_id=root,
            manager_sub=who.sub,
            shards=shards,
            code=token,
            code_generation=venue_codes.FIRST_GENERATION,
            now=clock.now(),
            one_per_phone=rules.one_venue_per_phone and not checkpoint,
            join=join,
            open_parents=() if parent is None else tuple(dict.fromkeys((parent.venue_id, root))),
        )
    except store.ParentClosed:
        raise Conflict("the parent venue is closed", field="parent_venue_id", code="parent_closed") from None
    except store.JoinCodeRefused:
        assert join is not None
        refusal = _join_refusal(store.join_code(join.digest), join.parent_venue_id, venue_id=venue_id)
        raise refusal or Conflict(
            "this join code has been used", field="join_code", code="join_code_used"
        ) from None
    except store.VenueExists:
        existing = store.get(venue_id)  # the first attempt of this Idempotency-Key created it
        if existing is None or existing.manager_sub != who.sub:
            raise Conflict("this venue id is taken", code="venue_exists") from None
        venue = existing
    answer = _created(venue)
    if key is not None and not idempotency.remember(who.sub, key, answer, fingerprint=fingerprint):
        answer = idempotency.recall(who.sub, key, fingerprint=fingerprint) or answer
    logger.info("venue registered", extra={"venue_id": venue.venue_id, "venue_type": venue.venue_type})
    return answer


def _join_refusal(found: store.JoinCode | None, parent_venue_id: str, *, venue_id: str) -> Exception | None:
    """Why a join code cannot admit the venue ``venue_id`` under ``parent_venue_id`` now (None:
    it can, or it already admitted this very venue: a retried registration)."""
    if found is None or found.joins_venue_id != parent_venue_id:
        return InvalidInput(
            "this join code was not issued for this parent venue", field="join_code", code="invalid_join_code"
        )
    if found.used_by_venue_id == venue_id:
        return None
    if found.used_by_venue_id is not None:
        return Conflict(
            "this join code has been used: one code admits one store",
            field="join_code",
            code="join_code_used",
        )
    if found.expires_at <= clock.now():
        return InvalidInput(
            "this join code has expired: ask the complex's manager for a new one",
            field="join_code",
            code="join_code_expired",
        )
    return Conflict("this join code is being used: try again", field="join_code", code="join_code_used")


def _join_use(
    registration: VenueRegistration, parent: ParentVenue | None, *, venue_id: str
) -> tuple[store.JoinUse | None, bool]:
    """The join code a registration uses up (None: none, or its own retry used it already) and
    whether it holds a good one for its parent. 422 ``invalid_join_code`` (unknown, or another
    venue's), 422 ``join_code_expired``, 409 ``join_code_used``. Checked here to answer why; the
    registration's own write uses the code up under a condition (one code, one store)."""
    if registration.join_code is None or parent is None:
        return None, False
    digest = join_code_digest(registration.join_code)
    found = store.join_code(digest)
    if found is not None and found.used_by_venue_id is None and found.expires_at > clock.now():
        if found.joins_venue_id == parent.venue_id:
            return store.JoinUse(digest=digest, parent_venue_id=parent.venue_id), True
    refusal = _join_refusal(found, parent.venue_id, venue_id=venue_id)
    if refusal is not None:
        raise refusal
    return None, True


# -- reading -----------------------------------------------------------------------------------


def managed(venue_id: str, who: Caller, *, officials: bool) -> VenueView:
    """The venue, if the caller manages it (or is an official and ``officials``); 404 / 403."""
    check_venue_id(venue_id)
    venue = store.get(venue_id)
    if venue is None:
        raise NotFound("venue not found", field="venue_id", code="venue_not_found")
    if who.has("venue_manager") and venue.manager_sub == who.sub:
        return venue
    if officials and who.has("official"):
        who.require_area(venue.region_code)  # 403 outside_area
        return venue
    raise Forbidden("this venue is managed by another account", field="venue_id", code="not_venue_manager")


def show(venue_id: str, who: Caller) -> VenueView:
    """The venue as registered, for its manager or an official, with a current code."""
    return venue_codes.current(managed(venue_id, who, officials=True))


def _poster_text(venue: VenueView) -> dict[str, str]:
    if venue.closed:
        raise Conflict("this venue is closed: it has no poster", field="venue_id", code="venue_closed")
    return {
        "venue_name": str(venue.name),
        "address": str(venue.address),
        "url": venue_codes.url_of(str(venue.code)),
        "brand": policy().brand,
        "venue_type_label": VENUE_TYPE_LABELS.get(str(venue.venue_type), "其他场所"),
    }


def poster_png(venue_id: str, who: Caller) -> bytes:
    """The venue's printable A4 poster (PNG, 150 dpi) with a current code."""
    from healthcode.codes.poster import poster_png as render  # Pillow: only where posters are drawn

    return render(**_poster_text(show(venue_id, who)))


def poster_svg(venue_id: str, who: Caller) -> bytes:
    """The venue's printable A4 poster (SVG) with a current code."""
    from healthcode.codes.poster import poster_svg as render

    return render(**_poster_text(show(venue_id, who)))


# -- the venue's day ---------------------------------------------------------------------------


def day_stats(venue_id: str, who: Caller, day: str) -> DayStats:
    """The scans at a venue its caller manages on ``day``, from the counters: one GetItem."""
    venue = managed(venue_id, who, officials=False)
    return stats.venue_day(venue.venue_id, day)


@dataclass(frozen=True)
class ShownAlert:
    """An abnormal scan as the venue's manager sees it: who the visitor is where the policy
    allows it (``identity`` then holds them, unless they are no longer registered)."""

    alert: Alert
    identity_visible: bool
    identity: Identity | None


#: Scans after which a venue's manager may learn who the visitor is (where the policy lets
#: managers see identities at all): a personal code scanned (亮码核验) or an identity-checked
#: registration (手工登记) — recorded by the venue's own staff. A check-in is a citizen scanning
#: a poster, which may be a forwarded photo anywhere: it never reveals anyone.
REVEALING_KINDS: frozenset[str] = frozenset({"verification", "manual"})
#: What a revealing scan may have been shown: the dynamic code, the paper code, the ID card.
REVEALING_PRESENTED: frozenset[str] = frozenset({"code", "paper", "id_number"})


def _witnessed(alert: Alert, venue: VenueView, staff_of_venue: dict[str, bool]) -> bool:
    """Whether the scan of ``alert`` really happened at ``venue`` with its own staff checking
    the person: a code scan or a manual registration, of a person of this stack, recorded by an
    account assigned to the venue (or to its complex). Staff looked up once per read."""
    if alert.kind not in REVEALING_KINDS or alert.presented not in REVEALING_PRESENTED:
        return False
    if alert.venue_id != venue.venue_id or not alert.actor:
        return False
    if alert.actor not in staff_of_venue:
        root = venue.root_venue_id or venue.venue_id
        staff_of_venue[alert.actor] = staff.assigned(venue.venue_id, root, alert.actor)
    return staff_of_venue[alert.actor]


def _identity(person_id: str, scan_ids: list[str], *, venue_id: str, actor: str) -> Identity | None:
    """Who the visitor is, the read audited once under the person (and once under the venue),
    naming the manager and the scans that allowed it."""
    person = persons.get(person_id)
    if person is None:
        return None
    identity = persons.identity(person)
    details = {"scan_ids": scan_ids, "venue_id": venue_id, "person_id": person_id, "reason": "alert"}
    audit.append(audit.person_subject(person_id), "identity_read", actor=actor, details=details)
    audit.append(audit.venue_subject(venue_id), "identity_read", actor=actor, details=details)
    return identity


def day_alerts(venue_id: str, who: Caller, day: str) -> list[ShownAlert]:
    """The abnormal scans at a venue its caller manages on ``day``, in time order. Identities
    only where the province policy lets its manager see them *and* the scan was witnessed at
    the venue by its own staff (:func:`_witnessed`); each revealed person's read is audited
    once per read."""
    venue = managed(venue_id, who, officials=False)
    rules = policy()
    found = stats.alerts(venue.venue_id, day)
    staff_of_venue: dict[str, bool] = {}
    revealing: dict[str, list[str]] = {}
    for alert in found:
        if manager_sees_identity(rules, alert.level) and _witnessed(alert, venue, staff_of_venue):
            revealing.setdefault(alert.person_id, []).append(alert.scan_id)
    identities = {
        person_id: _identity(person_id, scan_ids, venue_id=venue.venue_id, actor=who.sub)
        for person_id, scan_ids in revealing.items()
    }
    return [
        ShownAlert(
            alert=alert,
            identity_visible=alert.scan_id in revealing.get(alert.person_id, ()),
            identity=identities.get(alert.person_id)
            if alert.scan_id in revealing.get(alert.person_id, ())
            else None,
        )
        for alert in found
    ]


# -- lists (GET /v1/venues) -----------------------------------------------------------------------


def _check_status(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in VENUE_STATUSES:
        raise InvalidInput(
            "status must be " + " or ".join(VENUE_STATUSES), field="status", code="invalid_status"
        )
    return value


def _check_list_region(value: str | None, *, province: str) -> str | None:
    """``?region_code=``: a code of this province that is or was in GB/T 2260 (venues keep the
    code they registered with), or absent."""
    if value is None or value == "":
        return None
    if not (len(value) == 6 and value.isascii() and value.isdigit()) or not (
        regions.is_region(value) or regions.was_region(value)
    ):
        raise InvalidInput(
            "region_code must be a GB/T 2260 code", field="region_code", code="invalid_region_code"
        )
    if not regions.in_province(value, province):
        raise InvalidInput(
            f"region_code {value} is not inside this province ({province})",
            field="region_code",
            code="region_outside_province",
        )
    return value


def listed(
    who: Caller,
    *,
    region_code: str | None,
    venue_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> VenuePage:
    """One page of venues: an official's or admin's of ``region_code`` (default: their whole
    area; outside it 403 ``outside_area``), a venue manager's own otherwise; either filtered by
    type and status. Each page is one Query on an index (never a Scan)."""
    province = settings().province
    wanted_status = _check_status(status)
    kind = check_venue_type(venue_type) if venue_type else None
    region = _check_list_region(region_code, province=province)
    if who.has("official", "admin"):
        if region is not None:
            who.require_area(region)
        return store.in_area(
            province,
            region_code=region or who.area,
            venue_type=kind,
            status=wanted_status,
            limit=limit,
            cursor=cursor,
        )
    return store.of_manager(
        who.sub, region_code=region, venue_type=kind, status=wanted_status, limit=limit, cursor=cursor
    )


# -- changes (PATCH /v1/venues/{venue_id}) --------------------------------------------------------

#: Attempts of a change racing other writes to the venue (a code re-signed, another change).
CHANGE_ATTEMPTS = 3


def _open(venue: VenueView) -> VenueView:
    if venue.closed:
        raise Conflict("this venue is closed", field="venue_id", code="venue_closed")
    return venue


#: Fields stored in clear on the venue, compared with a change before anything is written (a
#: phone or credential number is stored encrypted or hashed: a change to it is always written).
_PLAIN_FIELDS: Final = ("name", "address", "subject_name", "credential_type", "zone", "store_number")


def _differs(venue: VenueView, wanted: VenueChange, name: str) -> bool:
    if name == "location":
        here, there = venue.location, wanted.location
        return here is None or there is None or (float(here.lat), float(here.lng)) != (there.lat, there.lng)
    if name in _PLAIN_FIELDS:
        return bool(getattr(venue, name) != getattr(wanted, name))
    return True


def change(venue_id: str, who: Caller, body: Mapping[str, Any]) -> tuple[VenueView, bool]:
    """Apply a ``PATCH`` of the venue by its manager: every field checked as at registration,
    the change audited (the fields, never their values). A change to what the poster shows
    issues a new code (the old one is revoked). The venue as changed, and whether its code was
    reissued. 409 ``venue_closed`` for a closed venue."""
    venue = _open(managed(venue_id, who, officials=False))
    rules = policy()
    one_per_phone = rules.one_venue_per_phone and venue.venue_type != CHECKPOINT
    for _ in range(CHANGE_ATTEMPTS):
        asked = check_change(body, venue_type=str(venue.venue_type), credential_type=venue.credential_type)
        wanted = replace(asked, fields=tuple(name for name in asked.fields if _differs(venue, asked, name)))
        if not wanted.fields:  # nothing differs (a retried PATCH): nothing written, no new code
            return venue, False
        try:
            changed = store.change(venue, wanted, by=who.sub, now=clock.now(), one_per_phone=one_per_phone)
            break
        except store.VenueChanged:
            fresh = store.get(venue_id)  # changed or closed since it was read: read it again
            if fresh is None:
                raise NotFound("venue not found", field="venue_id", code="venue_not_found") from None
            venue = _open(fresh)
    else:
        raise Conflict("the venue is being changed: try again", field="venue_id", code="venue_changed")
    logger.info("venue changed", extra={"venue_id": venue_id, "fields": list(wanted.fields)})
    if not wanted.shows_on_poster:
        return changed, False
    venue_codes.reissue(venue_id, who, "changed")
    reissued = store.get(venue_id)
    if reissued is None:
        raise NotFound("venue not found", field="venue_id", code="venue_not_found")
    return reissued, True


# -- join codes (a store's own manager registers under a complex) ---------------------------------


@dataclass(frozen=True)
class IssuedJoinCode:
    """A join code as handed to the complex's manager (the only time it is seen in clear)."""

    join_code: str
    expires_at: datetime


def _join_symbols(venue_id: str, who: Caller, key: str | None) -> list[int]:
    """The symbols of a new join code: random; for a request with an Idempotency-Key, derived
    from (account, key, venue) under the stack's keyed hash, so a retry issues the same code
    (unguessable without the hash key, like a random one)."""
    if key is None:
        return [secrets.randbelow(len(JOIN_CODE_ALPHABET)) for _ in range(JOIN_CODE_LENGTH)]
    seed = pii.keyed_hash("join_code_request", f"{idempotency.record_id(who.sub, key)}#{venue_id}")
    digest = hashlib.sha256(seed.encode()).digest()
    return [byte % len(JOIN_CODE_ALPHABET) for byte in digest[:JOIN_CODE_LENGTH]]


def issue_join_code(venue_id: str, who: Caller, *, key: str | None = None) -> IssuedJoinCode:
    """A one-time join code for the venue, issued by its manager: a store's own manager
    registers under the venue with it, once, within the policy's ``join_code_lifetime_days``.
    Only its digest is stored; issuing is on the venue's audit trail. A retried Idempotency-Key
    answers the code its first attempt issued."""
    venue = _open(managed(venue_id, who, officials=False))
    code = join_code_of(_join_symbols(venue.venue_id, who, key))
    now = clock.now()
    expires_at = now + timedelta(days=policy().join_code_lifetime_days)
    digest = join_code_digest(code.replace("-", ""))
    issued = store.issue_join_code(
        digest, venue_id=venue.venue_id, by=who.sub, now=now, expires_at=expires_at
    )
    if issued is None:  # the same keyed request, issued before
        stored = store.join_code(digest)
        if stored is None or stored.joins_venue_id != venue.venue_id or stored.issued_by != who.sub:
            raise Conflict(
                "this join code request was answered before: send a new key", code="concurrent_update"
            )
        expires_at = stored.expires_at
    logger.info("join code issued", extra={"venue_id": venue.venue_id})
    return IssuedJoinCode(join_code=code, expires_at=expires_at)
