"""Check-ins (扫场所码, ``healthcode.services.checkins``): a citizen scans a venue's poster for
themselves and the family members in their care; each person is one presence."""

from __future__ import annotations

from typing import Any

from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.protection.logs import get_logger
from healthcode.services import checkins

logger = get_logger("checkins")
app = make_app()

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@app.post(
    "/v1/checkins",
    summary="Scan a venue code: one presence per person (the caller and companions in their care)",
    description=(
        "venue_code: the poster's URL (https://<CodeBaseUrl>/v/<code>) or the bare code. Answer 201 "
        "{venue: {venue_id, name, address, type}, scanned_at, checkins: [{person_id, name_masked, colour, "
        "risk_level, verdict}]}. Honours Idempotency-Key."
    ),
    responses={201: {"description": "the check-ins"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def check_in() -> Response[str]:
    who = caller(app).require("citizen")
    key = checkins.check_idempotency_key(app.current_event.headers.get("idempotency-key"))
    body = json_body(app)
    return json_response(201, checkins.check_in(who, body, key=key))


lambda_handler: Any = lambda_handler_for(app, logger)
