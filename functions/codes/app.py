"""Personal health codes, the citizen side (API.md "Citizen"): apply, list, refresh, QR images,
history, appeals; guardian links; paper codes for people without smartphones.

A code is visible only to the account that manages it (``owner_sub``: the applicant, or the
guardian of a dependant); any other account gets 404, as if it did not exist. Paper codes may
also be issued and printed by community workers (roles ``official`` and ``scanner``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from healthcode import clock
from healthcode.codes import keystore, qr
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.errors import BadRequest, Conflict, InvalidInput, NotFound, Throttled
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.colour import ColourDecision
from healthcode.services import applications as application
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import appeals, audit, persons
from healthcode.storage.models import AuditEntry, Person

logger = get_logger("codes")
app = make_app()

#: Roles that may issue and print paper codes for anyone (community workers).
COMMUNITY_WORKERS = ("official", "scanner")
APPEAL_REASON_MAX = 500
APPEALS_PER_DAY = 5
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
#: Control characters an appeal's text may not hold (tabs and line breaks of a text box may).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NO_STORE = {"Cache-Control": "no-store"}


# -- helpers ---------------------------------------------------------------------------------------


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest(
            "Idempotency-Key must be 1-128 visible ASCII characters", code="invalid_idempotency_key"
        )
    return key


def _managed(person_id: str, who: Caller, *, community_workers: bool = False) -> Person:
    """The person if ``who`` manages their code (or is a community worker, where allowed); 404
    otherwise, so another account learns nothing about whether the code exists."""
    person = persons.get(person_id)
    if person is None or not (
        person.owner_sub == who.sub or (community_workers and who.has(*COMMUNITY_WORKERS))
    ):
        raise NotFound("no such code", code="code_not_found")
    return person


def _fresh_code(person_id: str, decision: ColourDecision) -> tuple[str, datetime]:
    """A dynamic code: pseudonymous subject, level, colour, province; nothing personal."""
    return keystore.sign(
        "code",
        subject=person_id,
        claims={"lvl": int(decision.level), "col": decision.colour, "prv": settings().province},
        lifetime=timedelta(seconds=policy().code_lifetime_seconds),
    )


def _code_answer(person: Person, decision: ColourDecision) -> dict[str, Any]:
    token, expires_at = _fresh_code(person.person_id, decision)
    return {
        "person_id": person.person_id,
        "colour": decision.colour,
        "risk_level": int(decision.level),
        "reason": recolour.reason_text(decision),
        "reasons": [{"code": r.code, "text": r.text, "until": r.until} for r in decision.reasons],
        "next_change_at": decision.next_change_at,
        "token": token,
        "expires_at": expires_at,
        "name_masked": person.name_masked,
        "id_masked": person.id_masked,
        "dependant": bool(person.dependant),
    }


def _image(content_type: str, body: bytes, expires_at: datetime) -> Response[bytes]:
    """An image of a code; ``X-Code-Expires-At`` tells the client when to fetch a new one."""
    headers = {**_NO_STORE, "X-Code-Expires-At": clock.show(expires_at)}
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)


# -- apply, list, refresh --------------------------------------------------------------------------


@app.post(
    "/v1/codes",
    summary="Apply for a personal code (self or a dependant), or renew the declaration",
    description=(
        "Body: {name, id_number, phone, address, region_code, declaration: {symptoms: [str], "
        "temperature?, travel: [{region_code, left_at}], contact_with_case}, dependant?, link_code?}. "
        "201 a new code, 200 the same account renewing (or taking a code over with a link code): "
        "{person_id, colour, risk_level, reason, reasons, token, expires_at, name_masked, id_masked}. "
        "Header Idempotency-Key makes a retry answer like the first attempt."
    ),
)
def apply() -> Response[str]:
    """Apply for a code (self, or a dependant), or renew the declaration: 201 new, 200 renewed."""
    who = caller(app).require("citizen")
    now = clock.now()
    form = application.parse_application(json_body(app), now=now)
    applied = application.apply(form, caller_sub=who.sub, now=now, idempotency_key=_idempotency_key())
    logger.info(
        "code applied",
        extra={
            "person_id": applied.person.person_id,
            "new_code": applied.created,
            "risk_level": int(applied.decision.level),
        },
    )
    return json_response(
        201 if applied.created else 200, _code_answer(applied.person, applied.decision), _NO_STORE
    )


@app.get("/v1/codes", summary="The account's own code and its dependants' codes: {codes: [...]}")
def list_codes() -> Response[str]:
    """The account's own code and its dependants' codes, with their colour now."""
    who = caller(app).require("citizen")
    now = clock.now()
    codes = []
    for person in persons.of_owner(who.sub):
        decision = recolour.current(person, now=now)
        codes.append(
            {
                "person_id": person.person_id,
                "colour": decision.colour,
                "risk_level": int(decision.level),
                "name_masked": person.name_masked,
                "dependant": bool(person.dependant),
            }
        )
    return json_response(200, {"codes": codes}, _NO_STORE)


@app.get(
    "/v1/codes/<person_id>",
    summary="A fresh signed code (policy lifetime, 5 minutes by default) with the current colour",
)
def refresh(person_id: str) -> Response[str]:
    """A fresh dynamic code: one GetItem, and the stored colour while it holds."""
    person = _managed(person_id, caller(app).require("citizen"))
    return json_response(200, _code_answer(person, recolour.current(person)), _NO_STORE)


@app.get("/v1/codes/<person_id>/qr.png", summary="The QR image (PNG) of a fresh code")
def qr_png(person_id: str) -> Response[bytes]:
    person = _managed(person_id, caller(app).require("citizen"))
    token, expires_at = _fresh_code(person_id, recolour.current(person))
    return _image("image/png", qr.qr_png(token), expires_at)


@app.get("/v1/codes/<person_id>/qr.svg", summary="The QR image (SVG) of a fresh code")
def qr_svg(person_id: str) -> Response[bytes]:
    person = _managed(person_id, caller(app).require("citizen"))
    token, expires_at = _fresh_code(person_id, recolour.current(person))
    return _image("image/svg+xml", qr.qr_svg(token), expires_at)


#: Governed steps shown to the citizen beside the colour changes (API.md: every step of a manual
#: override is audited and shown in the person's history), with what each may show.
_STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "override_requested": ("override_id", "colour", "reason_code", "until"),
    "override_approved": ("override_id", "colour", "reason_code", "until"),
    "override_rejected": ("override_id", "colour", "reason_code"),
    "appeal_answered": ("appeal_id", "outcome"),
}


@app.get(
    "/v1/codes/<person_id>/history",
    summary="Every colour change: {changes: [{at, from, to, reason}]}, and override and appeal steps",
)
def history(person_id: str) -> Response[str]:
    """Every colour change, oldest first, with its reason and what caused it; and every step of a
    manual override or an appeal about this person (never the officials' evidence or notes)."""
    _managed(person_id, caller(app).require("citizen"))
    kinds = frozenset({recolour.HISTORY_KIND, *_STEP_FIELDS})
    changes: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for entry in audit.entries(audit.person_subject(person_id), kinds=kinds):
        if entry.kind == recolour.HISTORY_KIND:
            changes.append(
                {
                    "at": entry.at,
                    "from": entry.details.get("from"),
                    "to": entry.details.get("to"),
                    "risk_level": entry.details.get("level"),
                    "reason": entry.details.get("reason"),
                    "cause": entry.details.get("cause"),
                }
            )
        else:
            shown = {name: entry.details.get(name) for name in _STEP_FIELDS[entry.kind]}
            steps.append({"at": entry.at, "kind": entry.kind, **shown})
    return json_response(200, {"person_id": person_id, "changes": changes, "steps": steps}, _NO_STORE)


# -- appeals ---------------------------------------------------------------------------------------


def _appeal_reason(body: dict[str, Any]) -> str:
    application.check_fields(body, frozenset({"reason"}))
    value = body.get("reason")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput("reason is required", field="reason", code="missing_field")
    if not isinstance(value, str) or len(value.strip()) > APPEAL_REASON_MAX:
        raise InvalidInput(
            f"reason must be text of at most {APPEAL_REASON_MAX} characters",
            field="reason",
            code="invalid_reason",
        )
    if _CONTROL.search(value):
        raise InvalidInput(
            "reason must not contain control characters", field="reason", code="invalid_reason"
        )
    return value.strip()


@app.post(
    "/v1/codes/<person_id>/appeals",
    summary="Contest the current colour: {reason} -> 201 {appeal_id}; officials answer it",
)
def appeal(person_id: str) -> Response[str]:
    """Contest the current colour: 201 ``{appeal_id}``; officials see it in the appeal queue."""
    who = caller(app).require("citizen")
    person = _managed(person_id, who)
    reason = _appeal_reason(json_body(app))
    now = clock.now()
    decision = recolour.current(person, now=now)
    if int(decision.level) == 0:
        raise Conflict("a green code has nothing to appeal", code="nothing_to_appeal")
    key = _idempotency_key()
    appeal_id = application.derived_id("ap-", "appeal", who.sub, key) if key else appeals.new_appeal_id()
    if (
        appeals.get(appeal_id) is None
        and appeals.filed_since(who.sub, now - timedelta(days=1)) >= APPEALS_PER_DAY
    ):
        raise Throttled(f"at most {APPEALS_PER_DAY} appeals a day", code="too_many_appeals")
    filed = appeals.file(
        appeal_id=appeal_id,
        person_id=person_id,
        requested_by=who.sub,
        level=int(decision.level),
        colour=decision.colour,
        reason=reason,
        now=now,
    )
    appeal_item = filed.appeal
    return json_response(
        201,
        {
            "appeal_id": appeal_item.request_id,
            "person_id": person_id,
            "status": appeal_item.status,
            "colour": appeal_item.colour,
            "risk_level": appeal_item.level,
            "created_at": clock.parse_instant(appeal_item.created_at),
        },
    )


# -- guardian links --------------------------------------------------------------------------------


@app.post(
    "/v1/codes/<person_id>/links",
    summary="Open a one-time link code (24 h) so another account may take this code over",
)
def open_link(person_id: str) -> Response[str]:
    """Open a one-time link so that another account may take this code over (see
    ``healthcode.services.applications``): the managing account, or an official who checked the person's
    identity in person."""
    who = caller(app).require("citizen", "official")
    person = persons.get(person_id)
    if person is None or not (person.owner_sub == who.sub or who.has("official")):
        raise NotFound("no such code", code="code_not_found")
    code, expires_at = application.open_link(person, actor=who.sub, now=clock.now())
    return json_response(
        201,
        {"person_id": person_id, "link_code": application.show_link_code(code), "expires_at": expires_at},
        _NO_STORE,
    )


# -- paper codes -----------------------------------------------------------------------------------


@app.post(
    "/v1/codes/<person_id>/paper",
    summary="Issue a printable paper code for someone without a smartphone; it revokes the one before",
)
def issue_paper(person_id: str) -> Response[str]:
    """Issue a printable long-lived code (``typ`` paper) bound to the person; it revokes the one
    issued before. It carries no colour: checkpoints verify it online for the current colour."""
    who = caller(app).require("citizen", *COMMUNITY_WORKERS)
    _managed(person_id, who, community_workers=True)
    now = clock.now()
    lifetime = timedelta(days=policy().paper_code_lifetime_days)
    issued: list[tuple[str, datetime]] = []

    def change(person: Person) -> list[AuditEntry]:
        token, expires_at = keystore.sign(
            "paper", subject=person.person_id, claims={"prv": settings().province}, lifetime=lifetime
        )
        jti = str(keystore.verify(token, kinds=("paper",)).claims["jti"])
        issued.append((token, expires_at))
        revoked = person.paper_code_id
        person.paper_code_id, person.paper_code, person.paper_expires_at = jti, token, expires_at
        return [
            persons.audit_entry(
                person.person_id,
                "paper_code_issued",
                actor=who.sub,
                at=now,
                details={"jti": jti, "revoked": revoked, "expires_at": expires_at.isoformat()},
                entry_id=jti,
            )
        ]

    person = persons.edit(person_id, change)
    if person is None:
        raise NotFound("no such code", code="code_not_found")
    token, expires_at = issued[-1]
    return json_response(
        201,
        {
            "person_id": person_id,
            "token": token,
            "expires_at": expires_at,
            "name_masked": person.name_masked,
            "id_masked": person.id_masked,
        },
        _NO_STORE,
    )


@app.get("/v1/codes/<person_id>/paper.png", summary="The current paper code as a printable PNG")
def paper_png(person_id: str) -> Response[bytes]:
    """The current paper code as a printable PNG (large modules for paper)."""
    person = _managed(person_id, caller(app).require("citizen", *COMMUNITY_WORKERS), community_workers=True)
    expires_at = person.paper_expires_at
    if person.paper_code is None or expires_at is None or expires_at <= clock.now():
        raise NotFound("no paper code has been issued, or it has expired", code="no_paper_code")
    return _image("image/png", qr.qr_png(person.paper_code, box_size=12), expires_at)


lambda_handler: Any = lambda_handler_for(app, logger)
