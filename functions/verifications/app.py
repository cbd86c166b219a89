"""Checkpoint verification (亮码核验, ``healthcode.services.verifications``): staff scan a personal
code, or register a person without a phone by ID number (手工登记); every verification is stored
as a scan with its verdict."""

from __future__ import annotations

from typing import Any

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.errors import InvalidInput
from healthcode.protection.logs import get_logger
from healthcode.rules import forms
from healthcode.rules.documents import check_document
from healthcode.services import indicators, verifications

logger = get_logger("verifications")
app = make_app()

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _idempotency_key() -> str | None:
    return verifications.check_idempotency_key(app.current_event.headers.get("idempotency-key"))


@app.post(
    "/v1/verifications",
    summary="Verify a scanned personal or paper code at a checkpoint (亮码核验)",
    description=(
        "The verdict follows the "
        "person's current colour and the province policy; a temperature at or above the threshold never "
        "passes. Answer 200 {scan_id, verdict, colour, risk_level, abnormal, fever, temperature, scanned_at, "
        "checkpoint_id, person: {name_masked, id_masked}}. Forged or replaced codes: 422 invalid_code; "
        "expired: 422 code_expired; unknown checkpoint: 404; a caller not assigned to the checkpoint (or "
        "its complex): 403 not_assigned. Honours Idempotency-Key."
    ),
    responses={
        200: {"description": "the verdict and the stored scan"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
    },
)
def verify() -> Response[str]:
    """Verify a scanned code: signature, expiry, the holder's current colour, the verdict, the scan."""
    who = caller(app).require("scanner")
    body = json_body(app)
    token = str(body["code"]).strip()
    checkpoint_id = str(body["checkpoint_id"]).strip()
    reading = body.get("temperature")
    temperature = None if reading is None else forms.check_temperature(reading)
    key = _idempotency_key()
    answer = verifications.verify(
        who, code=token, checkpoint_id=checkpoint_id, temperature=temperature, key=key, body=body
    )
    return json_response(200, answer)


@app.post(
    "/v1/manual-registrations",
    summary="Register a person without a phone at a checkpoint by ID number (手工登记)",
    description=(
        "At a checkpoint the caller is assigned to (else 403 not_assigned). The person is looked up by ID "
        "number (another name than the registered one: 409 identity_mismatch, nothing written), or "
        "registered (held by no account until they apply), then verified like a scanned code. Answer 201 "
        "{scan_id, verdict, colour, risk_level, abnormal, fever, temperature, scanned_at, checkpoint_id, "
        "person: {name_masked, id_masked}}, never the person's id; with issue_paper_code: true also "
        "paper_code: {token, expires_at, png_base64}. Honours Idempotency-Key."
    ),
    responses={
        201: {"description": "the verdict and the stored scan"},
        403: _ERRORS,
        404: _ERRORS,
        409: _ERRORS,
        422: _ERRORS,
    },
)
def register() -> Response[str]:
    """Register a person without a phone at a checkpoint (name, ID number, phone?, temperature):
    they are looked up by ID number — or registered — and verified like a scanned code."""
    who = caller(app).require("scanner")
    try:
        body = json_body(app)
        name = forms.check_name(body["name"])
        id_number = check_document(
            body["id_number"],
            body.get("id_type"),
            nationality=body.get("nationality"),
            today=clock.now().astimezone(clock.CHINA).date(),
        )
        phone = None if body.get("phone") is None else forms.check_mobile(body["phone"])
        temperature = forms.check_temperature(body["temperature"])
    except InvalidInput:  # refused for invalid data: the data-accuracy indicator counts it
        stated = indicators.stated_checkpoint(app.current_event.raw_event)
        indicators.note_registration(stated, refused=True)
        raise
    checkpoint_id = str(body["checkpoint_id"]).strip()
    indicators.note_registration(checkpoint_id, refused=False)
    key = _idempotency_key()
    answer = verifications.register(
        who,
        name=name,
        id_number=id_number,
        phone=phone,
        temperature=temperature,
        checkpoint_id=checkpoint_id,
        issue_paper_code=body.get("issue_paper_code") is True,
        key=key,
        body=body,
    )
    return json_response(201, answer)


lambda_handler: Any = lambda_handler_for(app, logger)
