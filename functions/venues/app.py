"""Venue managers' routes (``healthcode.services.venues``): register a venue (场所码), read it,
print its poster, watch its day."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.protection.logs import get_logger
from healthcode.rules.venues import VENUE_TYPE_LABELS, report_day
from healthcode.services import staff, venue_codes, venues
from healthcode.services.venues import ShownAlert, VenueView

logger = get_logger("venues")
app = make_app()

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@app.post(
    "/v1/venues",
    summary="Register a venue and get its venue code",
    description="Honours Idempotency-Key.",
    responses={201: {"description": "{venue_id, code, code_expires_at, root_venue_id}"}, 422: _ERRORS},
)
def register() -> Response[str]:
    who = caller(app).require("venue_manager", "official")  # officials: roadside checkpoints only
    key = venues.check_idempotency_key(app.current_event.headers.get("idempotency-key"))
    body = json_body(app)
    return json_response(201, venues.register(who, body, key=key))


def _view(venue: VenueView) -> dict[str, Any]:
    location = venue.location
    return {
        "venue_id": venue.venue_id,
        "name": venue.name,
        "type": venue.venue_type,
        "type_label": VENUE_TYPE_LABELS.get(str(venue.venue_type)),
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
        "code_url": venue_codes.url_of(str(venue.code)) if venue.code else None,
        "code_generation": venue.code_generation,
        "code_expires_at": venue.code_expires_at,
        "created_at": venue.created_at,
        "zone": venue.zone,
        "store_number": venue.store_number,
        "status": "closed" if venue.closed else "active",
    }


def _listed(venue: VenueView) -> dict[str, Any]:
    return {
        "venue_id": venue.venue_id,
        "name": venue.name,
        "type": venue.venue_type,
        "address": venue.address,
        "region_code": venue.region_code,
        "parent_venue_id": venue.parent_venue_id,
        "zone": venue.zone,
        "store_number": venue.store_number,
        "status": "closed" if venue.closed else "active",
    }


@app.get(
    "/v1/venues",
    summary="Venues: a manager's own; an official's or admin's area (?region_code=&type=), paged",
    responses={200: {"description": "{venues: [...], next_cursor}"}, 403: _ERRORS, 422: _ERRORS},
)
def venue_list() -> Response[str]:
    who = caller(app).require("venue_manager", "official", "admin")
    page = venues.listed(
        who,
        region_code=_query("region_code"),
        venue_type=_query("type"),
        status=_query("status"),
        limit=staff.check_page_size(_query("limit")),
        cursor=_query("cursor"),
    )
    return json_response(200, {"venues": [_listed(v) for v in page.venues], "next_cursor": page.next_cursor})


@app.patch(
    "/v1/venues/<venue_id>",
    summary="Change or complete a venue's registration (its manager); a new code when the poster changes",
    responses={200: {"description": "the venue"}, 403: _ERRORS, 404: _ERRORS, 409: _ERRORS, 422: _ERRORS},
)
def venue_change(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager")
    body = json_body(app)
    venue, reissued = venues.change(venue_id, who, body)
    return json_response(200, {**_view(venue), "code_reissued": reissued})


@app.post(
    "/v1/venues/<venue_id>/join-codes",
    summary="A one-time join code for a store's own manager to register under this venue",
    description="Honours Idempotency-Key.",
    responses={201: {"description": "{join_code, expires_at}"}, 403: _ERRORS, 404: _ERRORS, 409: _ERRORS},
)
def venue_join_code(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager")
    key = venues.check_idempotency_key(app.current_event.headers.get("idempotency-key"))
    issued = venues.issue_join_code(venue_id, who, key=key)
    return json_response(201, {"join_code": issued.join_code, "expires_at": issued.expires_at})


@app.get(
    "/v1/venues/<venue_id>",
    summary="The venue as registered, with its venue code",
    responses={200: {"description": "the venue"}, 403: _ERRORS, 404: _ERRORS},
)
def show(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")
    return json_response(200, _view(venues.show(venue_id, who)))


@app.get(
    "/v1/venues/<venue_id>/poster.png",
    summary="Printable A4 poster (PNG, 150 dpi): venue name, address and the QR of its code",
    responses={200: {"description": "image/png"}, 403: _ERRORS, 404: _ERRORS},
)
def poster_png(venue_id: str) -> Response[bytes]:
    who = caller(app).require("venue_manager", "official")
    return Response(
        status_code=200,
        content_type="image/png",
        body=venues.poster_png(venue_id, who),
        headers={"Cache-Control": "private, max-age=300"},
    )


@app.get(
    "/v1/venues/<venue_id>/poster.svg",
    summary="Printable A4 poster (SVG): venue name, address and the QR of its code",
    responses={200: {"description": "image/svg+xml"}, 403: _ERRORS, 404: _ERRORS},
)
def poster_svg(venue_id: str) -> Response[bytes]:
    who = caller(app).require("venue_manager", "official")
    return Response(
        status_code=200,
        content_type="image/svg+xml; charset=utf-8",
        body=venues.poster_svg(venue_id, who),
        headers={"Cache-Control": "private, max-age=300"},
    )


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


# -- the venue code's life (healthcode.services.venue_codes) -------------------------------------


@app.post(
    "/v1/venues/<venue_id>/code",
    summary="Reissue the venue's code: a new poster; every earlier code is refused at check-in",
    description="Body optional: {reason: damaged | forwarded | lost | changed | other}. Audited.",
    responses={
        201: {"description": "{venue_id, code, code_url, generation, reissued_at}"},
        403: _ERRORS,
        404: _ERRORS,
        409: _ERRORS,
        422: _ERRORS,
    },
)
def reissue_code(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")  # officials: roadside checkpoints of their area
    body = json_body(app) if app.current_event.body else {}
    return json_response(201, venue_codes.reissue(venue_id, who, body.get("reason") or "other"))


@app.delete(
    "/v1/venues/<venue_id>",
    summary="Close the venue (a complex with its doors and stores): codes refused, records kept",
    responses={204: {"description": "closed"}, 403: _ERRORS, 404: _ERRORS},
)
def close(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")  # officials: roadside checkpoints of their area
    venue_codes.close(venue_id, who)
    return Response(status_code=204, content_type=None, body="")


@app.get(
    "/v1/venues/<venue_id>/stats",
    summary="The venue's scans on a day (China time), from the counters: {date, scans, abnormal, by_colour}",
    responses={200: {"description": "day statistics"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def day_stats(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager")
    day = report_day(_query("date"), now=clock.now())
    counted = venues.day_stats(venue_id, who, day)
    return json_response(
        200,
        {
            "venue_id": counted.venue_id,
            "date": day,
            "scans": counted.scans,
            "abnormal": counted.abnormal,
            "by_colour": dict(counted.by_colour),
        },
    )


def _visitor(shown: ShownAlert) -> dict[str, Any]:
    """A visitor as the manager may see them: masked, or (where the policy allows) who they are."""
    alert, identity = shown.alert, shown.identity
    masked: dict[str, Any] = {"name_masked": alert.name_masked, "id_masked": alert.id_masked}
    if identity is None:
        return masked
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
    shown = venues.day_alerts(venue_id, who, day)
    alerts = [
        {
            "scan_id": s.alert.scan_id,
            "scanned_at": s.alert.scanned_at,
            "kind": s.alert.kind,
            "colour": s.alert.colour,
            "risk_level": s.alert.level,
            "verdict": s.alert.verdict,
            "temperature": s.alert.temperature,
            "identity_visible": s.identity_visible,
            "person": _visitor(s),
        }
        for s in shown
    ]
    return json_response(200, {"venue_id": venue_id, "date": day, "alerts": alerts})


# -- checkpoint staff (healthcode.services.staff) ------------------------------------------------


def _assignment(assignment: staff.Assignment) -> dict[str, Any]:
    return {"sub": assignment.sub, "assigned_at": assignment.assigned_at}


@app.put(
    "/v1/venues/<venue_id>/staff/<sub>",
    summary="Assign an account to the venue as checkpoint staff (a complex: its doors and stores too)",
    responses={
        200: {"description": "{venue_id, sub, assigned_at}"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
    },
)
def staff_assign(venue_id: str, sub: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")
    assignment = staff.assign(venue_id, unquote(sub), who)
    return json_response(200, {"venue_id": assignment.venue_id, **_assignment(assignment)})


@app.delete(
    "/v1/venues/<venue_id>/staff/<sub>",
    summary="Remove an account from the venue's checkpoint staff",
    responses={
        204: {"description": "removed (or was not assigned)"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
    },
)
def staff_remove(venue_id: str, sub: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")
    staff.remove(venue_id, unquote(sub), who)
    return Response(status_code=204, content_type=None, body="")


@app.get(
    "/v1/venues/<venue_id>/staff",
    summary="The venue's checkpoint staff, paged: {staff: [{sub, assigned_at}], next_cursor}",
    responses={200: {"description": "one page of the staff"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def staff_list(venue_id: str) -> Response[str]:
    who = caller(app).require("venue_manager", "official")
    limit = staff.check_page_size(_query("limit"))
    page = staff.listed(venue_id, who, limit=limit, cursor=_query("cursor"))
    listed = [_assignment(assignment) for assignment in page.staff]
    return json_response(200, {"staff": listed, "next_cursor": page.next_cursor})


lambda_handler: Any = lambda_handler_for(app, logger)
