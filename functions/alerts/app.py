"""Health officials' alerts (``healthcode.services.alerts``): the abnormal scans of their area,
paged, and their acknowledgement with a note."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.protection.logs import get_logger
from healthcode.services import alerts
from healthcode.services.alerts import AlertView

logger = get_logger("alerts")
app = make_app()

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _shown(alert: AlertView) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "venue_id": alert.venue_id,
        "venue_name": alert.venue_name,
        "region_code": alert.region_code,
        "scanned_at": alert.scanned_at,
        "kind": alert.kind,
        "colour": alert.colour,
        "risk_level": alert.level,
        "temperature": alert.temperature,
        "verdict": alert.verdict,
        "person": {"name_masked": alert.name_masked, "id_masked": alert.id_masked},
        "status": alert.status,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at,
    }


@app.get(
    "/v1/alerts",
    summary="Abnormal scans of the caller's area on a day, paged: {alerts, next_cursor}",
    description="Query: date (default today, China time), region_code (default the caller's area), "
    "status=open|acknowledged, verdict, limit (1-500, default 100), cursor.",
    responses={200: {"description": "one page of alerts"}, 403: _ERRORS, 422: _ERRORS},
)
def list_alerts() -> Response[str]:
    who = caller(app).require("official")
    params = {
        "date": _query("date"),
        "region_code": _query("region_code"),
        "status": _query("status"),
        "verdict": _query("verdict"),
        "limit": _query("limit"),
        "cursor": _query("cursor"),
    }
    page = alerts.listed(alerts.check_query(params, who, now=clock.now()))
    return json_response(200, {"alerts": [_shown(a) for a in page.alerts], "next_cursor": page.next_cursor})


@app.post(
    "/v1/alerts/<alert_id>/acknowledge",
    summary="Acknowledge an alert of the caller's area with a note (once)",
    responses={
        200: {"description": "the alert, acknowledged_by and acknowledged_at set"},
        403: _ERRORS,
        404: _ERRORS,
        409: _ERRORS,
        422: _ERRORS,
    },
)
def acknowledge(alert_id: str) -> Response[str]:
    who = caller(app).require("official")
    body = json_body(app)
    return json_response(200, _shown(alerts.acknowledge(unquote(alert_id), body.get("note"), who)))


lambda_handler: Any = lambda_handler_for(app, logger)
