"""Personal health codes, the citizen side (docs/api.md): apply, list, refresh, QR images,
history, appeals; guardian links; paper codes for people without smartphones."""

from __future__ import annotations

import base64
import re
from typing import Any

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, language, make_app
from healthcode.edge.router import Response
from healthcode.errors import BadRequest, InvalidInput
from healthcode.protection.logs import get_logger
from healthcode.rules.applications import parse_application
from healthcode.rules.colour import fact_text
from healthcode.services import applications, codes, indicators
from healthcode.services.recolour import reason_text
from healthcode.settings import policy

logger = get_logger("codes")
app = make_app()

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
#: Control characters an appeal's text may not hold (tabs and line breaks of a text box may).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NO_STORE = {"Cache-Control": "no-store"}


# -- parsing and answers ---------------------------------------------------------------------------


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest(
            "Idempotency-Key must be 1-128 visible ASCII characters", code="invalid_idempotency_key"
        )
    return key


def _appeal_reason(body: dict[str, Any]) -> str:
    """The reason of an appeal the route's spec let through, trimmed; what a schema does not
    say: no control characters (tabs and line breaks of a text box are fine)."""
    reason = str(body["reason"])
    if _CONTROL.search(reason):
        raise InvalidInput(
            "reason must not contain control characters", field="reason", code="invalid_reason"
        )
    return reason.strip()


def _language() -> str:
    return language(app.current_event.raw_event)


def _code_answer(code: codes.Code) -> dict[str, Any]:
    """A code's answer; reasons and the display message in the caller's language."""
    person, decision = code.person, code.decision
    lang = _language()
    answer = {
        "person_id": person.person_id,
        "colour": decision.colour,
        "risk_level": int(decision.level),
        "reason": reason_text(decision, lang),
        "reasons": [
            {"code": r.code, "text": fact_text(r.code, policy(), lang), "until": r.until}
            for r in decision.reasons
        ],
        "next_change_at": decision.next_change_at,
        "token": code.token,
        "expires_at": code.expires_at,
        "valid_for_seconds": max(0, int((code.expires_at - clock.now()).total_seconds())),
        "name_masked": person.name_masked,
        "id_masked": person.id_masked,
        "dependant": bool(person.dependant),
        "id_type": person.id_type or "resident_id",
        "display": codes.display(decision, language=lang),
    }
    if code.paper is not None:
        answer["paper_code"] = code.paper
    return answer


def _image(image: codes.Image) -> Response[bytes]:
    """An image of a code; ``X-Code-Expires-At`` tells the client when to fetch a new one."""
    headers = {**_NO_STORE, "X-Code-Expires-At": clock.show(image.expires_at)}
    return Response(status_code=200, content_type=image.content_type, body=image.body, headers=headers)


# -- apply, list, refresh --------------------------------------------------------------------------


@app.post(
    "/v1/codes",
    summary="Apply for a personal code (self or a dependant), or renew the declaration",
    description=(
        "201 a new code, 200 the same account renewing (or taking a code over with a link code): "
        "{person_id, colour, risk_level, reason, reasons, token, expires_at, name_masked, id_masked}. "
        "Header Idempotency-Key makes a retry answer like the first attempt."
    ),
)
def apply() -> Response[str]:
    """Apply for a code (self, or a dependant), or renew the declaration: 201 new, 200 renewed."""
    who = caller(app).require("citizen", "scanner", "official")  # staff: assisted applications only
    now = clock.now()
    try:
        form = parse_application(json_body(app), now=now)
    except InvalidInput:  # refused for invalid data: the data-accuracy indicator counts it
        indicators.note_attempt(indicators.stated_region(app.current_event.raw_event), refused=True, now=now)
        raise
    indicators.note_attempt(form.region_code, refused=False, now=now)
    code = codes.apply(form, who=who, now=now, idempotency_key=_idempotency_key())
    logger.info(
        "code applied",
        extra={
            "person_id": code.person.person_id,
            "new_code": code.created,
            "risk_level": int(code.decision.level),
        },
    )
    return json_response(201 if code.created else 200, _code_answer(code), _NO_STORE)


@app.get("/v1/codes", summary="The account's own code and its dependants' codes: {codes: [...]}")
def list_codes() -> Response[str]:
    """The account's own code and its dependants' codes, with their colour now."""
    held = codes.of_account(caller(app).require("citizen"), now=clock.now())
    listed = [
        {
            "person_id": person.person_id,
            "colour": decision.colour,
            "risk_level": int(decision.level),
            "name_masked": person.name_masked,
            "dependant": bool(person.dependant),
        }
        for person, decision in held
    ]
    return json_response(200, {"codes": listed}, _NO_STORE)


@app.get(
    "/v1/codes/<person_id>",
    summary="A fresh signed code (policy lifetime, 5 minutes by default) with the current colour",
)
def refresh(person_id: str) -> Response[str]:
    """A fresh dynamic code: one GetItem, and the stored colour while it holds."""
    code = codes.refresh(person_id, caller(app).require("citizen"))
    tests = [
        {"test": lab.test, "result": "positive" if lab.positive else "negative", "sampled_at": lab.sampled_at}
        for lab in code.tests
    ]
    return json_response(200, {**_code_answer(code), "tests": tests}, _NO_STORE)


@app.get("/v1/codes/<person_id>/qr.png", summary="The QR image (PNG) of a fresh code")
def qr_png(person_id: str) -> Response[bytes]:
    return _image(codes.qr_image(person_id, caller(app).require("citizen")))


@app.get("/v1/codes/<person_id>/qr.svg", summary="The QR image (SVG) of a fresh code")
def qr_svg(person_id: str) -> Response[bytes]:
    return _image(codes.qr_image(person_id, caller(app).require("citizen"), svg=True))


@app.get(
    "/v1/codes/<person_id>/history",
    summary="Every colour change: {changes: [{at, from, to, reason}]}, and override and appeal steps",
)
def history(person_id: str) -> Response[str]:
    """Every colour change, oldest first, and every step of an override or appeal about the person."""
    found = codes.history(person_id, caller(app).require("citizen"), language=_language())
    body = {"person_id": person_id, "changes": found.changes, "steps": found.steps}
    return json_response(200, body, _NO_STORE)


# -- appeals ---------------------------------------------------------------------------------------


@app.post(
    "/v1/codes/<person_id>/appeals",
    summary="Contest the current colour: {reason} -> 201 {appeal_id}; officials answer it",
)
def appeal(person_id: str) -> Response[str]:
    """Contest the current colour: 201 ``{appeal_id}``; officials see it in the appeal queue."""
    who = caller(app).require("citizen")
    person = codes.managed(person_id, who)  # 404 before anything about the body
    reason = _appeal_reason(json_body(app))
    from healthcode.services import appeals  # the appeal routes only

    filed = appeals.file(person, who=who, reason=reason, now=clock.now(), idempotency_key=_idempotency_key())
    return json_response(
        201,
        {
            "appeal_id": filed.request_id,
            "person_id": person_id,
            "status": filed.status,
            "colour": filed.colour,
            "risk_level": filed.level,
            "created_at": filed.created_at,
        },
    )


@app.get(
    "/v1/codes/<person_id>/appeals",
    summary="The person's appeals: {appeals: [{appeal_id, created_at, reason, status, answer, answered_at}]}",
)
def list_appeals(person_id: str) -> Response[str]:
    """The appeals about a code the caller manages, oldest first, with the officials' answers."""
    person = codes.managed(person_id, caller(app).require("citizen"))  # 404 for anyone else
    from healthcode.services import appeals  # the appeal routes only

    return json_response(200, {"appeals": appeals.of_person(person)}, _NO_STORE)


# -- guardian links --------------------------------------------------------------------------------


@app.post(
    "/v1/codes/<person_id>/links",
    summary="Open a one-time link code (24 h) so another account may take this code over",
)
def open_link(person_id: str) -> Response[str]:
    """Open a one-time link so that another account may take this code over: the managing
    account, or an official who checked the person's identity in person."""
    who = caller(app).require("citizen", "official")
    link = applications.open_link(person_id, who=who, now=clock.now())
    body = {"person_id": link.person_id, "link_code": link.link_code, "expires_at": link.expires_at}
    return json_response(201, body, _NO_STORE)


# -- paper codes -----------------------------------------------------------------------------------


def _paper_reason() -> str | None:
    """An official's reason for acting on someone's paper code: the body's ``reason`` (the body
    is optional), checked by the route's spec."""
    raw = app.current_event.body
    body = json_body(app) if raw else {}
    return codes.check_paper_reason(body.get("reason"))


@app.post(
    "/v1/codes/<person_id>/paper",
    summary="Issue a printable paper code for someone without a smartphone; it revokes the one before",
    description=(
        "The managing account, or an official giving {reason} (audited). 201 {person_id, token, "
        "expires_at, name_masked, id_masked, png_base64}: png_base64 is the labelled printable card."
    ),
)
def issue_paper(person_id: str) -> Response[str]:
    """Issue a printable long-lived code bound to the person; it revokes the one issued before."""
    who = caller(app).require(*codes.PAPER_ROLES)
    paper = codes.issue_paper(person_id, who, reason=_paper_reason(), now=clock.now())
    return json_response(
        201,
        {
            "person_id": person_id,
            "token": paper.token,
            "expires_at": paper.expires_at,
            "name_masked": paper.person.name_masked,
            "id_masked": paper.person.id_masked,
            "png_base64": base64.b64encode(paper.png()).decode("ascii"),
        },
        _NO_STORE,
    )


@app.get(
    "/v1/codes/<person_id>/paper.png",
    summary="The current paper code as a labelled printable PNG (officials add ?reason=, audited)",
)
def paper_png(person_id: str) -> Response[bytes]:
    """The current paper code as a labelled printable PNG (large modules for paper)."""
    who = caller(app).require(*codes.PAPER_ROLES)
    reason = codes.check_paper_reason(app.current_event.get_query_string_value("reason"))
    return _image(codes.paper_image(person_id, who, reason=reason, now=clock.now()))


lambda_handler: Any = lambda_handler_for(app, logger)
