"""Venues (场所码): register a venue, keep its code current, print its poster, watch its day.

* The venue code is stored on the venue and printed on posters; it is a long-lived ES256 JWT
  signed by a *venue* key. Venue keys rotate separately from personal-code keys, and a retired
  venue key stays in the JWKS (and verifies) for the venue code lifetime, so rotating keys never
  invalidates a printed poster. A code is re-issued (signed by the current key and stored) only
  when it comes within ``reissue_window`` of its expiry, the next time its manager reads the
  venue or a poster; the old poster keeps working until it expires.
* Only a complex's own manager may register doors and stores under it (``healthcode.rules.venues``).
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
from healthcode.storage import audit, idempotency, persons, stats
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
    if rules.venue_applicant_must_be_green:
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
            one_per_phone=rules.one_venue_per_phone,
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


def _identity(alert: Alert, *, venue_id: str, actor: str) -> Identity | None:
    """Who the visitor of ``alert`` is, the read audited under the venue and under the person."""
    person = persons.get(alert.person_id)
    if person is None:
        return None
    identity = persons.identity(person)
    details = {
        "scan_id": alert.scan_id,
        "venue_id": venue_id,
        "person_id": alert.person_id,
        "reason": "alert",
    }
    audit.append(audit.venue_subject(venue_id), "identity_read", actor=actor, details=details)
    audit.append(audit.person_subject(alert.person_id), "identity_read", actor=actor, details=details)
    return identity


def day_alerts(venue_id: str, who: Caller, day: str) -> list[ShownAlert]:
    """The abnormal scans at a venue its caller manages on ``day``, in time order; identities
    only where the province policy lets its manager see them (each read audited)."""
    venue = managed(venue_id, who, officials=False)
    rules = policy()
    shown = []
    for alert in stats.alerts(venue.venue_id, day):
        see = manager_sees_identity(rules, alert.level)
        identity = _identity(alert, venue_id=venue.venue_id, actor=who.sub) if see else None
        shown.append(ShownAlert(alert=alert, identity_visible=see, identity=identity))
    return shown
