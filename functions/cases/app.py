"""Health officials' routes (流调): cases, contacts, lab results, risk areas, manual colour
overrides under the two-official rule, appeals, and the audited full record of a person.

Facts in, colours out: a case, a lab result, an approved override is written as a fact under
the person, and the colour consumer (FactsTable stream) recomputes the colour. Where the answer
must already show the change — the case person "turns red at once", an applied override — the
route also recomputes synchronously (idempotent; the consumer then finds nothing to change).
Tracing itself runs on the CasesTable stream (``functions/tracing``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.errors import InvalidInput, NotFound, Throttled
from healthcode.protection.logs import get_logger
from healthcode.rules import cases
from healthcode.rules.regions import check_region_code
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, facts, idempotency, overrides, persons
from healthcode.storage import cases as store
from healthcode.storage.models import CaseItem, Person, Request
from pynamodb.exceptions import PutError

logger = get_logger("cases")
app = make_app()

OFFICIAL = "official"
#: Metric emitted (EMF, namespace HealthCode) when an official exceeds the hourly override limit.
OVER_LIMIT_METRIC = "OverrideRequestsOverLimit"
DEFAULT_PAGE, MAX_PAGE = 500, 1000

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _official() -> str:
    return caller(app).require(OFFICIAL).sub


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _page_size() -> int:
    raw = _query("limit")
    if raw is None:
        return DEFAULT_PAGE
    # isascii: str.isdigit() is true for "²" and other digits int() cannot read
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit", code="invalid_limit"
        )
    return int(raw)


def _person(person_id: str) -> Person:
    cases.check_person_id(person_id)
    person = persons.get(person_id, consistent=True)
    if person is None:
        raise NotFound("no such person", field="person_id", code="person_not_found")
    return person


# -- cases ---------------------------------------------------------------------------------------


@app.post(
    "/v1/cases",
    summary="Report a case: the person turns red at once and contact tracing starts",
    description=(
        "Body: {person_id or id_number, status: confirmed | asymptomatic | suspected, diagnosed_at}. "
        "Answer 202 {case_id, person_id, status, tracing, colour, risk_level}. The case id is derived from "
        "(person, diagnosed_at): a retry answers the same case, a new status is recorded on it."
    ),
    responses={202: {"description": "the case"}, 404: _ERRORS, 422: _ERRORS},
)
def report_case() -> Response[str]:
    official = _official()
    now = clock.now()
    report = cases.check_case_report(json_body(app), now=now)
    person = _person(report.person_id) if report.person_id is not None else None
    if person is None and report.id_number is not None:
        person = persons.holder_of(report.id_number)
    if person is None:
        raise NotFound("nobody holds a code under this ID number", field="id_number", code="person_not_found")
    case, created = store.open_case(
        person_id=person.person_id,
        status=report.status,
        diagnosed_at=report.diagnosed_at,
        actor=official,
        origin="official",
        now=now,
    )
    _audit_case(case, actor=official)
    decision = recolour.recompute(person.person_id, now=now, actor=official, cause="case")
    logger.info("case reported", extra={"case_id": case.pk, "new_case": created})
    body: dict[str, Any] = {
        "case_id": case.pk,
        "person_id": person.person_id,
        "status": case.status,
        "tracing": case.tracing,
    }
    if decision is not None:
        body |= {"colour": decision.colour, "risk_level": int(decision.level)}
    return json_response(202, body)


def _audit_case(case: CaseItem, *, actor: str) -> None:
    """The ``case_reported`` entry on the person's trail, at the case's creation and with its
    id: a retried report (even one whose first attempt stopped half-way) writes it once."""
    try:
        audit.append(
            audit.person_subject(str(case.person_id)),
            "case_reported",
            actor=actor,
            at=case.created_at,
            details={"case_id": case.pk, "status": case.status, "origin": case.kind},
            entry_id=case.pk,
        )
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def _case(case_id: str) -> Any:
    case = store.get_case(case_id) if case_id.startswith("case-") and len(case_id) <= 64 else None
    if case is None:
        raise NotFound("no such case", field="case_id", code="case_not_found")
    return case


@app.get(
    "/v1/cases/<case_id>",
    summary="A case and the progress of its contact tracing",
    description="Answer {case_id, person_id, status, diagnosed_at, tracing: pending | done, contacts_found, "
    "tasks_total, tasks_done, traced_at}.",
    responses={200: {"description": "the case"}, 404: _ERRORS},
)
def show_case(case_id: str) -> Response[str]:
    _official()
    case = _case(case_id)
    return json_response(
        200,
        {
            "case_id": case.pk,
            "person_id": case.person_id,
            "status": case.status,
            "diagnosed_at": case.diagnosed_at,
            "tracing": case.tracing,
            "contacts_found": case.contacts_found,
            "tasks_total": case.tasks_total,
            "tasks_done": case.tasks_done,
            "traced_at": case.traced_at,
        },
    )


@app.get(
    "/v1/cases/<case_id>/contacts",
    summary="A case's contacts: one row per person, their strongest exposure",
    description="Query: limit (1-1000, default 500), after (a person_id: the page after it). Answer "
    "{tracing, contacts: [{person_id, kind: close | secondary, venue_id, exposure_at, overlap_minutes}], "
    "next}.",
    responses={200: {"description": "the contacts"}, 404: _ERRORS},
)
def case_contacts(case_id: str) -> Response[str]:
    _official()
    case = _case(case_id)
    after = _query("after")
    if after is not None:
        cases.check_person_id(after, field="after")
    rows, following = store.contacts(case_id, limit=_page_size(), after=after)
    return json_response(
        200,
        {
            "tracing": case.tracing,
            "contacts": [
                {
                    "person_id": row.person_id,
                    "kind": row.kind,
                    "venue_id": row.venue_id,
                    "exposure_at": row.exposure_at,
                    "overlap_minutes": row.overlap_minutes,
                }
                for row in rows
            ],
            "next": following,
        },
    )


# -- lab results ---------------------------------------------------------------------------------


@app.post(
    "/v1/lab-results",
    summary="Import nucleic-acid test results (up to 1,000 rows, each checked on its own)",
    description=(
        "Body: {results: [{id_number, sampled_at, result: negative | positive}]}. Answer 200 {accepted, "
        "rejected: [{index, error, field}], cases: [{index, case_id}]}. A positive row opens a case (as POST "
        "/v1/cases, idempotent per person and sampling time); a negative one clears what the policy says."
    ),
    responses={200: {"description": "what was accepted"}, 422: _ERRORS},
)
def import_lab_results() -> Response[str]:
    official = _official()
    now = clock.now()
    body = json_body(app)
    unknown = sorted(str(key) for key in body if key != "results")
    if unknown:
        raise InvalidInput(f"unexpected field {unknown[0]}", field=unknown[0], code="unexpected_field")
    rows, rejected = cases.check_lab_rows(body.get("results"), now=now)
    found: list[tuple[str, cases.LabRow]] = []
    for row in rows:
        person = persons.holder_of(row.id_number)
        if person is None:
            rejected.append(cases.RejectedRow(row.index, "unknown_person", "id_number"))
        else:
            found.append((person.person_id, row))
    store.save_labs(found, now=now, keep_days=policy().retention_days)
    opened = []
    for person_id, row in found:
        if row.positive:
            case, _ = store.open_case(
                person_id=person_id,
                status=cases.CaseStatus.CONFIRMED,
                diagnosed_at=row.sampled_at,
                actor=official,
                origin="lab",
                now=now,
            )
            _audit_case(case, actor=official)
            opened.append({"index": row.index, "case_id": case.pk})
    logger.info("lab results imported", extra={"accepted": len(found), "rejected": len(rejected)})
    return json_response(
        200,
        {
            "accepted": len(found),
            "rejected": [r.as_dict() for r in sorted(rejected, key=lambda r: r.index)],
            "cases": opened,
        },
    )


# -- risk areas ----------------------------------------------------------------------------------


@app.put(
    "/v1/risk-areas/<region_code>",
    summary="Set a region's risk level; people who travelled there are recoloured",
    description="Body: {level: high | medium | low}. A prefecture or province level covers every code under "
    "it; the most specific level set wins. Answer 200 {region_code, level, updated_at}.",
    responses={200: {"description": "the area"}, 422: _ERRORS},
)
def set_risk_area(region_code: str) -> Response[str]:
    official = _official()
    code = check_region_code(region_code)
    level = cases.check_area_level(json_body(app))
    area = store.put_risk_area(code, level, actor=official, now=clock.now())
    return json_response(
        200, {"region_code": area.region_code, "level": area.level, "updated_at": area.updated_at}
    )


@app.get(
    "/v1/risk-areas/<region_code>",
    summary="A region's risk level as set (low when never set)",
    responses={200: {"description": "the area"}, 422: _ERRORS},
)
def show_risk_area(region_code: str) -> Response[str]:
    _official()
    code = check_region_code(region_code)
    area = store.get_risk_area(code)
    if area is None:
        return json_response(200, {"region_code": code, "level": "low", "updated_at": None})
    return json_response(
        200, {"region_code": area.region_code, "level": area.level, "updated_at": area.updated_at}
    )


# -- overrides -----------------------------------------------------------------------------------


def _override_view(request: Request) -> dict[str, Any]:
    return {
        "override_id": request.request_id,
        "person_id": request.person_id,
        "status": request.status,
        "colour": request.colour,
        "risk_level": request.level,
        "reason_code": request.reason_code,
        "evidence_ref": request.evidence_ref,
        "note": request.note,
        "until": request.until,
        "requested_by": request.requested_by,
        "requested_at": clock.show(clock.parse_instant(request.created_at)),
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
    }


def _check_rate(official: str, now: Any) -> None:
    """429 ``override_rate_exceeded`` (and the metric the alarm watches) past the hourly limit."""
    rules = policy()
    sent = audit.count_by_actor_since(official, overrides.OVERRIDE_REQUESTED, now - timedelta(hours=1))
    if not cases.over_rate_limit(sent, rules):
        return
    with single_metric(
        name=OVER_LIMIT_METRIC, unit=MetricUnit.Count, value=1, namespace="HealthCode"
    ) as metric:
        metric.add_dimension(name="province", value=settings().province)
        metric.add_metadata(key="official", value=official)
    logger.warning("override request refused: hourly limit", extra={"official": official, "sent": sent})
    raise Throttled(
        f"at most {rules.override_requests_per_hour_limit} override requests per hour",
        code="override_rate_exceeded",
    )


@app.put(
    "/v1/persons/<person_id>/colour",
    summary="Request a manual colour change (applied when a second official approves)",
    description=(
        "Body: {colour, reason_code, evidence_ref, note?, until?, risk_level? (when the colour name stands "
        "for two levels)}. Answer 202 {override_id, status: pending_approval} (applied at once only where "
        "the policy does not require a second official). Honours Idempotency-Key. 429 override_rate_exceeded "
        "past the policy's hourly limit per official."
    ),
    responses={202: {"description": "the request"}, 404: _ERRORS, 422: _ERRORS, 429: _ERRORS},
)
def request_colour(person_id: str) -> Response[str]:
    official = _official()
    key = idempotency.check_key(app.current_event.headers.get("idempotency-key"))
    now = clock.now()
    rules = policy()
    change = cases.check_override_body(json_body(app), policy=rules, now=now)
    person = _person(person_id)
    override_id = overrides.override_id_for(official, key)
    if key is not None:
        first = overrides.get(override_id)
        if first is not None and first.requested_by == official and first.person_id == person.person_id:
            return json_response(202, _override_view(first))
    _check_rate(official, now)
    request, _ = overrides.request_override(
        override_id=override_id,
        person_id=person.person_id,
        actor=official,
        change=change,
        now=now,
        second_official_required=rules.override_requires_second_official,
    )
    if request.status == overrides.APPLIED:
        recolour.recompute(person.person_id, now=now, actor=official, cause="override")
    return json_response(202, _override_view(request))


@app.get(
    "/v1/overrides",
    summary="Overrides waiting for a second official, oldest first",
    description="Query: limit, next. Answer {overrides: [...], next}.",
    responses={200: {"description": "pending overrides"}},
)
def pending_overrides() -> Response[str]:
    _official()
    items, following = overrides.pending_overrides(limit=_page_size(), after=_query("next"))
    return json_response(200, {"overrides": [_override_view(i) for i in items], "next": following})


def _override_id(override_id: str) -> str:
    if not override_id.startswith("ovr-") or len(override_id) > 64:
        raise NotFound("no such override", field="override_id", code="override_not_found")
    return override_id


@app.get(
    "/v1/overrides/<override_id>",
    summary="One override request and its state",
    responses={200: {"description": "the override"}, 404: _ERRORS},
)
def show_override(override_id: str) -> Response[str]:
    _official()
    request = overrides.get(_override_id(override_id))
    if request is None or request.kind != "override":
        raise NotFound("no such override", field="override_id", code="override_not_found")
    return json_response(200, _override_view(request))


@app.post(
    "/v1/overrides/<override_id>/approve",
    summary="A second official approves an override: it is applied",
    description="403 cannot_approve_own for the official who requested it; 409 override_not_pending once "
    "decided.",
    responses={200: {"description": "the override, applied"}, 403: _ERRORS, 404: _ERRORS, 409: _ERRORS},
)
def approve_override(override_id: str) -> Response[str]:
    official = _official()
    now = clock.now()
    request = overrides.approve(_override_id(override_id), approver=official, now=now)
    recolour.recompute(request.person_id, now=now, actor=official, cause="override")
    return json_response(200, _override_view(request))


@app.post(
    "/v1/overrides/<override_id>/reject",
    summary="Reject (or withdraw) a pending override: it never takes effect",
    description="Body (optional): {reason}.",
    responses={200: {"description": "the override, rejected"}, 404: _ERRORS, 409: _ERRORS},
)
def reject_override(override_id: str) -> Response[str]:
    official = _official()
    raw = app.current_event.body
    body = json_body(app) if raw else {}
    unknown = sorted(str(key) for key in body if key != "reason")
    if unknown:
        raise InvalidInput(f"unexpected field {unknown[0]}", field=unknown[0], code="unexpected_field")
    reason = cases.check_decision_note(body, field="reason")
    request = overrides.reject(_override_id(override_id), official=official, reason=reason, now=clock.now())
    return json_response(200, _override_view(request))


# -- appeals -------------------------------------------------------------------------------------


def _appeal_view(request: Request) -> dict[str, Any]:
    return {
        "appeal_id": request.request_id,
        "person_id": request.person_id,
        "status": request.status,
        "reason": request.note,
        "colour": request.colour,
        "submitted_at": clock.show(clock.parse_instant(request.created_at)),
        "answer": request.answer,
        "answered_by": request.decided_by,
        "answered_at": request.decided_at,
    }


@app.get(
    "/v1/appeals",
    summary="Appeals officials have not answered yet, oldest first",
    description="Query: status=open (the only list kept), limit, next. Answer {appeals: [...], next}.",
    responses={200: {"description": "open appeals"}, 422: _ERRORS},
)
def list_appeals() -> Response[str]:
    _official()
    status = _query("status") or "open"
    if status != "open":
        raise InvalidInput("status must be open", field="status", code="invalid_status")
    items, following = overrides.open_appeals(limit=_page_size(), after=_query("next"))
    return json_response(200, {"appeals": [_appeal_view(i) for i in items], "next": following})


@app.post(
    "/v1/appeals/<appeal_id>/answer",
    summary="Answer an appeal",
    description="Body: {outcome: upheld | dismissed, answer}. An upheld appeal is corrected by an override "
    "(PUT /v1/persons/{person_id}/colour), which still needs a second official.",
    responses={200: {"description": "the appeal, answered"}, 404: _ERRORS, 409: _ERRORS, 422: _ERRORS},
)
def answer_appeal(appeal_id: str) -> Response[str]:
    official = _official()
    body = json_body(app)
    unknown = sorted(str(key) for key in body if key not in ("outcome", "answer"))
    if unknown:
        raise InvalidInput(f"unexpected field {unknown[0]}", field=unknown[0], code="unexpected_field")
    answer = cases.free_text(body.get("answer"), field="answer", limit=cases.MAX_NOTE)
    outcome = body.get("outcome")
    if not isinstance(outcome, str):
        raise InvalidInput("outcome must be upheld or dismissed", field="outcome", code="invalid_outcome")
    if len(appeal_id) > 64 or "#" in appeal_id:
        raise NotFound("no such appeal", field="appeal_id", code="appeal_not_found")
    request = overrides.answer_appeal(
        appeal_id, official=official, outcome=outcome, answer=answer, now=clock.now()
    )
    return json_response(200, _appeal_view(request))


# -- the full record -----------------------------------------------------------------------------


@app.get(
    "/v1/persons/<person_id>",
    summary="A person's full record with their identity; the read itself is audited",
    responses={200: {"description": "the record"}, 404: _ERRORS},
)
def full_record(person_id: str) -> Response[str]:
    official = _official()
    person = _person(person_id)
    now = clock.now()
    audit.append(
        audit.person_subject(person.person_id),
        "identity_read",
        actor=official,
        at=now,
        details={"fields": ["name", "id_number", "phone", "address"], "route": "GET /v1/persons/{person_id}"},
    )
    identity = persons.identity(person)
    decision = recolour.current(person, now=now)
    state = facts.state_of(person.person_id, consistent=False)
    return json_response(
        200,
        {
            "person_id": person.person_id,
            "name": identity.name,
            "id_number": identity.id_number,
            "phone": identity.phone,
            "address": identity.address,
            "region_code": person.region_code,
            "dependant": person.dependant,
            "colour": decision.colour,
            "risk_level": int(decision.level),
            "reasons": [
                {"code": r.code, "fact_id": r.fact_id, "until": r.until, "text": r.text}
                for r in decision.reasons
            ],
            "next_change_at": decision.next_change_at,
            "facts": [
                {
                    "fact_id": f.fact_id,
                    "kind": str(f.kind),
                    "starts_at": f.starts_at,
                    "expires_at": f.expires_at,
                    "detail": f.detail,
                    "active": f.active(now),
                }
                for f in state.facts
            ],
            "labs": [{"sampled_at": lab.sampled_at, "positive": lab.positive} for lab in state.labs],
            "overrides": [
                {
                    "override_id": o.override_id,
                    "risk_level": int(o.level),
                    "starts_at": o.starts_at,
                    "until": o.until,
                }
                for o in state.overrides
            ],
            "travel": [{"region_code": t.region_code, "left_at": t.left_at} for t in state.travel],
            "created_at": person.created_at,
        },
    )


lambda_handler: Any = lambda_handler_for(app, logger)
