"""Venue managers' routes: register a venue (场所码), read it, print its poster, watch its day.

Decisions (README "Venue codes"):

* The venue code is stored on the venue and printed on posters; it is a long-lived ES256 JWT
  signed by a *venue* key. Venue keys rotate separately from personal-code keys, and a retired
  venue key stays in the JWKS (and verifies) for the venue code lifetime, so rotating keys never
  invalidates a printed poster. A code is re-issued (signed by the current key and stored) only
  when it comes within ``reissue_window`` of its expiry, the next time its manager reads the
  venue or a poster; the old poster keeps working until it expires.
* Only a complex's own manager may register doors and stores under it (``healthcode.rules.venues``).
* ``POST /v1/venues`` honours ``Idempotency-Key``: the venue id is derived from (account, key),
  so a retry after a lost answer finds the venue its first attempt created and answers the same.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import jwt
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from healthcode import clock
from healthcode.codes import keystore
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
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
    report_day,
)
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, idempotency, persons, stats
from healthcode.storage import venues as store
from healthcode.storage.models import Venue

logger = get_logger("venues")
app = make_app()

#: A stored code is re-issued when less than this is left of its life (at most 30 days, at most
#: half the policy's lifetime).
MAX_REISSUE_WINDOW = timedelta(days=30)

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


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


def _created(venue: Venue) -> dict[str, Any]:
    return {
        "venue_id": venue.venue_id,
        "code": venue.code,
        "code_expires_at": venue.code_expires_at,
        "root_venue_id": venue.root_venue_id,
    }


@app.post(
    "/v1/venues",
    summary="Register a venue and get its venue code",
    description=(
        "Body: {name, type, subject_name, credential_type (uscc | business_licence | id_number | "
        "licence_plate), credential_number, region_code, location: {lat, lng}, address, manager_phone, "
        "parent_venue_id?}. Honours Idempotency-Key."
    ),
    responses={201: {"description": "{venue_id, code, code_expires_at, root_venue_id}"}, 422: _ERRORS},
)
def register() -> Response[str]:
    who = caller(app).require("venue_manager")
    key = idempotency.check_key(app.current_event.headers.get("idempotency-key"))
    body = json_body(app)
    fingerprint = idempotency.fingerprint_of(body) if key else None
    if key is not None:
        first = idempotency.recall(who.sub, key, fingerprint=fingerprint)
        if first is not None:
            return json_response(201, first)
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
    venue = store.build(
        registration,
        venue_id=venue_id,
        root_venue_id=root,
        manager_sub=who.sub,
        shards=shards,
        code=token,
        code_expires_at=expires,
        code_id=jti,
        now=clock.now(),
    )
    guard = store.phone_guard(venue, registration.manager_phone) if rules.one_venue_per_phone else None
    try:
        store.create(venue, guard)
    except store.VenueExists:
        existing = store.get(venue_id)  # the first attempt of this Idempotency-Key created it
        if existing is None or existing.manager_sub != who.sub:
            raise Conflict("this venue id is taken", code="venue_exists") from None
        venue = existing
    answer = _created(venue)
    if key is not None and not idempotency.remember(who.sub, key, answer, fingerprint=fingerprint):
        answer = idempotency.recall(who.sub, key, fingerprint=fingerprint) or answer
    logger.info("venue registered", extra={"venue_id": venue.venue_id, "venue_type": venue.type})
    return json_response(201, answer)


def _venue(venue_id: str, who: Caller, *, officials: bool) -> Venue:
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


def _current_code(venue: Venue) -> Venue:
    """``venue`` with a code that is not about to expire (re-issued and stored if it was)."""
    lifetime = timedelta(days=policy().venue_code_lifetime_days)
    expires = venue.code_expires_at
    if venue.code and expires is not None and expires - clock.now() > _reissue_window(lifetime):
        return venue
    token, expires_at, jti = _sign(store.venue_code(venue, province=settings().province))
    try:
        store.replace_code(venue, code=token, code_id=jti, expires_at=expires_at)
    except store.VenueChanged:
        fresh = store.get(venue.venue_id)  # another request re-issued it first: use that code
        if fresh is None:
            raise NotFound("venue not found", field="venue_id", code="venue_not_found") from None
        return fresh
    logger.info("venue code re-issued", extra={"venue_id": venue.venue_id})
    return venue


def _view(venue: Venue) -> dict[str, Any]:
    location = venue.location
    return {
        "venue_id": venue.venue_id,
        "name": venue.name,
        "type": venue.type,
        "type_label": VENUE_TYPE_LABELS.get(str(venue.type)),
        "subject_name": venue.subject_name,
        "credential_type": venue.credential_type,
        "credential_masked": venue.credential_masked,
        "region_code": venue.region_code,
        "location": {"lat": float(location.lat), "lng": float(location.lng)} if location else None,
        "address": venue.address,
        "manager_phone_masked": venue.manager_phone_masked,
        "parent_venue_id": venue.parent_venue_id,
        "root_venue_id": venue.root_venue_id,
        "shards": int(venue.shards),
        "code": venue.code,
        "code_expires_at": venue.code_expires_at,
        "created_at": venue.created_at,
    }


@app.get(
    "/v1/venues/<venue_id>",
    summary="The venue as registered, with its venue code",
    responses={200: {"description": "the venue"}, 403: _ERRORS, 404: _ERRORS},
)
def show(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")
    venue = _current_code(_venue(venue_id, who, officials=True))
    return json_response(200, _view(venue))


def _poster_text(venue: Venue) -> dict[str, str]:
    return {
        "venue_name": str(venue.name),
        "address": str(venue.address),
        "code": str(venue.code),
        "province_name": policy().name,
        "venue_type_label": VENUE_TYPE_LABELS.get(str(venue.type), "其他场所"),
    }


@app.get(
    "/v1/venues/<venue_id>/poster.png",
    summary="Printable A4 poster (PNG, 150 dpi): venue name, address and the QR of its code",
    responses={200: {"description": "image/png"}, 403: _ERRORS, 404: _ERRORS},
)
def poster_png(venue_id: str) -> Response[bytes]:
    from healthcode.codes.poster import poster_png as render

    who = caller(app).require("venue_manager", "official")
    venue = _current_code(_venue(venue_id, who, officials=True))
    return Response(
        status_code=200,
        content_type="image/png",
        body=render(**_poster_text(venue)),
        headers={"Cache-Control": "private, max-age=300"},
    )


@app.get(
    "/v1/venues/<venue_id>/poster.svg",
    summary="Printable A4 poster (SVG): venue name, address and the QR of its code",
    responses={200: {"description": "image/svg+xml"}, 403: _ERRORS, 404: _ERRORS},
)
def poster_svg(venue_id: str) -> Response[bytes]:
    from healthcode.codes.poster import poster_svg as render

    who = caller(app).require("venue_manager", "official")
    venue = _current_code(_venue(venue_id, who, officials=True))
    return Response(
        status_code=200,
        content_type="image/svg+xml; charset=utf-8",
        body=render(**_poster_text(venue)),
        headers={"Cache-Control": "private, max-age=300"},
    )


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


@app.get(
    "/v1/venues/<venue_id>/stats",
    summary="The venue's scans on a day (China time), from the counters: {date, scans, abnormal, by_colour}",
    responses={200: {"description": "day statistics"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def day_stats(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager")
    day = report_day(_query("date"), now=clock.now())
    venue = _venue(venue_id, who, officials=False)
    counted = stats.venue_day(venue.venue_id, day)
    return json_response(
        200,
        {
            "venue_id": venue.venue_id,
            "date": day,
            "scans": counted.scans,
            "abnormal": counted.abnormal,
            "by_colour": dict(counted.by_colour),
        },
    )


def _alert_person(alert: stats.Alert, *, venue_id: str, actor: str, see: bool) -> dict[str, Any]:
    """A visitor as the manager may see them: masked, or (where the policy allows) who they are,
    the read audited under the venue and under the person."""
    masked: dict[str, Any] = {"name_masked": alert.name_masked, "id_masked": alert.id_masked}
    if not see:
        return masked
    person = persons.get(alert.person_id)
    if person is None:
        return masked
    identity = persons.identity(person)
    details = {
        "scan_id": alert.scan_id,
        "venue_id": venue_id,
        "person_id": alert.person_id,
        "reason": "alert",
    }
    audit.append(audit.venue_subject(venue_id), "identity_read", actor=actor, details=details)
    audit.append(audit.person_subject(alert.person_id), "identity_read", actor=actor, details=details)
    return {
        "person_id": alert.person_id,
        "name": identity.name,
        "id_number": identity.id_number,
        "phone": identity.phone,
        "name_masked": alert.name_masked,
        "id_masked": alert.id_masked,
    }


@app.get(
    "/v1/venues/<venue_id>/alerts",
    summary="The venue's abnormal scans on a day; identities only where the province policy allows",
    responses={200: {"description": "{date, alerts: [...]}"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def day_alerts(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager")
    day = report_day(_query("date"), now=clock.now())
    venue = _venue(venue_id, who, officials=False)
    rules = policy()
    shown = []
    for alert in stats.alerts(venue.venue_id, day):
        see = manager_sees_identity(rules, alert.level)
        shown.append(
            {
                "scan_id": alert.scan_id,
                "scanned_at": alert.scanned_at,
                "kind": alert.kind,
                "colour": alert.colour,
                "risk_level": alert.level,
                "verdict": alert.verdict,
                "temperature": alert.temperature,
                "identity_visible": see,
                "person": _alert_person(alert, venue_id=venue.venue_id, actor=who.sub, see=see),
            }
        )
    return json_response(200, {"venue_id": venue.venue_id, "date": day, "alerts": shown})


lambda_handler: Any = lambda_handler_for(app, logger)
