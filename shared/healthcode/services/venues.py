"""Venues (场所码): register a venue, keep its code current, print its poster, watch its day.

* The venue code is stored on the venue and printed on posters; it is a long-lived ES256 JWT
  signed by a *venue* key. Venue keys rotate separately from personal-code keys, and a retired
  venue key stays in the JWKS (and verifies) for the venue code lifetime, so rotating keys never
  invalidates a printed poster. A code is re-issued (signed by the current key and stored) only
  when it comes within ``reissue_window`` of its expiry, the next time its manager reads the
  venue or a poster; the old poster keeps working until it expires.
* Only a complex's own manager may register doors and stores under it (``healthcode.rules.venues``).
* A roadside checkpoint (type ``checkpoint``) is registered by an official, under the credential
  of the authority running it; the official is its manager. The applicant rules of venue owners
  (one venue per phone, a green code) do not apply to it. Any other type needs a venue manager.
* A registration with an ``Idempotency-Key`` derives the venue id from (account, key), so a retry
  after a lost answer finds the venue its first attempt created and answers the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from healthcode import clock
from healthcode.codes import keystore
from healthcode.errors import Conflict, Forbidden, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.venues import (
    CHECKPOINT,
    VENUE_TYPE_LABELS,
    VenueCode,
    check_applicant,
    check_registration,
    check_venue_id,
    complex_root,
    manager_sees_identity,
)
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, idempotency, persons, staff, stats
from healthcode.storage import venues as store
from healthcode.storage.idempotency import check_key as check_idempotency_key
from healthcode.storage.persons import Identity
from healthcode.storage.stats import Alert, DayStats
from healthcode.storage.venues import VenueView

__all__ = [
    "MAX_REISSUE_WINDOW",
    "Alert",
    "DayStats",
    "ShownAlert",
    "VenueView",
    "check_idempotency_key",
    "day_alerts",
    "day_stats",
    "managed",
    "poster_png",
    "poster_svg",
    "register",
    "show",
]

logger = get_logger("venues")

#: A stored code is re-issued when less than this is left of its life (at most 30 days, at most
#: half the policy's lifetime).
MAX_REISSUE_WINDOW = timedelta(days=30)


def _reissue_window(lifetime: timedelta) -> timedelta:
    return min(MAX_REISSUE_WINDOW, lifetime / 2)


def _sign(venue_code: VenueCode) -> tuple[str, datetime, str]:
    """A fresh venue code: token, expiry and its ``jti``."""
    lifetime = timedelta(days=policy().venue_code_lifetime_days)
    token, expires = keystore.sign(
        "venue", subject=venue_code.venue_id, claims=venue_code.claims(), lifetime=lifetime
    )
    jti = str(jwt.decode(token, options={"verify_signature": False})["jti"])
    return token, expires, jti


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
    root = complex_root(registration, parent, venue_id=venue_id, manager_sub=who.sub, province=province)
    shards = rules.shards(registration.venue_type)
    venue_code = VenueCode(
        venue_id=venue_id,
        name=registration.name,
        venue_type=registration.venue_type,
        province=province,
        region_code=registration.region_code,
        root_venue_id=root,
        location=registration.location,
        shards=shards,
        address=registration.address,
    )
    token, expires, jti = _sign(venue_code)
    try:
        venue = store.register(
            registration,
            venue_id=venue_id,
            root_venue_id=root,
            manager_sub=who.sub,
            shards=shards,
            code=token,
            code_expires_at=expires,
            code_id=jti,
            now=clock.now(),
            one_per_phone=rules.one_venue_per_phone and not checkpoint,
        )
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
        return venue
    raise Forbidden("this venue is managed by another account", field="venue_id", code="not_venue_manager")


def _current_code(venue: VenueView) -> VenueView:
    """``venue`` with a code that is not about to expire (re-issued and stored if it was)."""
    lifetime = timedelta(days=policy().venue_code_lifetime_days)
    expires = venue.code_expires_at
    if venue.code and expires is not None and expires - clock.now() > _reissue_window(lifetime):
        return venue
    token, expires_at, jti = _sign(store.venue_code(venue, province=settings().province))
    try:
        reissued = store.replace_code(venue, code=token, code_id=jti, expires_at=expires_at)
    except store.VenueChanged:
        fresh = store.get(venue.venue_id)  # another request re-issued it first: use that code
        if fresh is None:
            raise NotFound("venue not found", field="venue_id", code="venue_not_found") from None
        return fresh
    logger.info("venue code re-issued", extra={"venue_id": venue.venue_id})
    return reissued


def show(venue_id: str, who: Caller) -> VenueView:
    """The venue as registered, for its manager or an official, with a current code."""
    return _current_code(managed(venue_id, who, officials=True))


def _poster_text(venue: VenueView) -> dict[str, str]:
    return {
        "venue_name": str(venue.name),
        "address": str(venue.address),
        "code": str(venue.code),
        "province_name": policy().name,
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
