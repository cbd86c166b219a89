"""Health officials' routes (流调): cases, contacts, lab results, risk areas, manual colour
overrides under the two-official rule, appeals, and the audited full record of a person.

Each route checks its request and hands it to one service (``healthcode.services``: cases, labs,
riskareas, overrides, records). Tracing itself runs on the CasesTable stream
(``functions/tracing``), risk-area sweeps on the RiskAreasTable stream (``functions/riskareas``).
"""

from __future__ import annotations

from typing import Any

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import cases
from healthcode.rules.forms import check_page_size
from healthcode.rules.regions import check_region_code
from healthcode.services import audit_reads, labs, overrides, quarantine, records, riskareas, search
from healthcode.services import cases as case_service
from healthcode.services.overrides import RequestView
from healthcode.settings import policy

logger = get_logger("cases")
app = make_app()

OFFICIAL = "official"
LAB = "lab"
OVERRIDE_KIND = "override"
DEFAULT_PAGE, MAX_PAGE = 500, 1000

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _official() -> str:
    return caller(app).require(OFFICIAL).sub


def _official_caller() -> Caller:
    """The calling official, with their area (``Caller.area``; None: the whole province)."""
    return caller(app).require(OFFICIAL)


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _page_size() -> int:
    return check_page_size(_query("limit"), default=DEFAULT_PAGE, maximum=MAX_PAGE)


# -- cases ---------------------------------------------------------------------------------------


@app.post(
    "/v1/cases",
    summary="Report a case: the person turns red at once and contact tracing starts",
    description=(
        "Answer 202 {case_id, person_id, status, tracing, colour, risk_level}. The case id is derived from "
        "(person, diagnosed_at): a retry answers the same case, a new status is recorded on it. Past the "
        "official's hourly limit of persons coloured: 202 {request_id, status: pending_approval}, carried "
        "out when a second official approves (POST /v1/overrides/{request_id}/approve). A weaker status "
        "reported again changes nothing; a recovered or excluded case is closed: 409 case_closed."
    ),
    responses={202: {"description": "the case"}, 404: _ERRORS, 409: _ERRORS, 422: _ERRORS},
)
def report_case() -> Response[str]:
    who = _official_caller()
    now = clock.now()
    report = cases.check_case_report(json_body(app), now=now)
    reported = case_service.report(report, who=who, now=now)
    if reported.held is not None:
        return json_response(202, _held_view(reported.held))
    case, decision = reported.case, reported.decision
    assert case is not None
    logger.info("case reported", extra={"case_id": case.case_id, "new_case": reported.created})
    body: dict[str, Any] = {
        "case_id": case.case_id,
        "person_id": case.person_id,
        "status": case.status,
        "tracing": case.tracing,
    }
    if decision is not None:
        body |= {"colour": decision.colour, "risk_level": int(decision.level)}
    return json_response(202, body)


@app.get(
    "/v1/cases/<case_id>",
    summary="A case and the progress of its contact tracing",
    description="Answer {case_id, person_id, status, diagnosed_at, tracing: pending | done, contacts_found, "
    "tasks_total, tasks_done, traced_at, generations, history: [{status, at, by}]}.",
    responses={200: {"description": "the case"}, 404: _ERRORS},
)
def show_case(case_id: str) -> Response[str]:
    case = case_service.show(case_id, _official_caller())
    return json_response(
        200,
        {
            "case_id": case.case_id,
            "person_id": case.person_id,
            "status": case.status,
            "diagnosed_at": case.diagnosed_at,
            "tracing": case.tracing,
            "contacts_found": case.contacts_found,
            "tasks_total": case.tasks_total,
            "tasks_done": case.tasks_done,
            "traced_at": case.traced_at,
            "generations": case.generations,
            "history": [{"status": step.status, "at": step.at, "by": step.by} for step in case.history],
        },
    )


@app.patch(
    "/v1/cases/<case_id>",
    summary="Change a case's status: upgrades apply at once, recovered and excluded need a second official",
    description=(
        "Body {status}. suspected → asymptomatic or confirmed, asymptomatic → confirmed: 200 {case_id, "
        "person_id, status, history, colour, risk_level}, the case fact learned again (an override approved "
        "before does not hide it). recovered (from asymptomatic or confirmed) and excluded (from any open "
        "status): 202 {request_id, status: pending_approval}; when a different official approves it (POST "
        "/v1/overrides/{request_id}/approve) the case person's red is released by policy and, for an "
        "excluded case, every exposure found through it stops counting. 409 status_unchanged, "
        "case_closed, invalid_status_change; 403 outside_area for a case person outside the official's area."
    ),
    responses={
        200: {"description": "the case, upgraded"},
        202: {"description": "held for a second official"},
        403: _ERRORS,
        404: _ERRORS,
        409: _ERRORS,
        422: _ERRORS,
    },
)
def change_case_status(case_id: str) -> Response[str]:
    who = _official_caller()
    status = cases.check_status_body(json_body(app))
    changed = case_service.change_status(case_id, status, who=who, now=clock.now())
    if changed.held is not None:
        return json_response(202, _held_view(changed.held))
    case, decision = changed.case, changed.decision
    logger.info("case status changed", extra={"case_id": case.case_id, "status": case.status})
    body: dict[str, Any] = {
        "case_id": case.case_id,
        "person_id": case.person_id,
        "status": case.status,
        "history": [{"status": step.status, "at": step.at, "by": step.by} for step in case.history],
    }
    if decision is not None:
        body |= {"colour": decision.colour, "risk_level": int(decision.level)}
    return json_response(200, body)


@app.get(
    "/v1/cases/<case_id>/contacts",
    summary="A case's contacts: one row per person, their strongest exposure",
    description="Query: limit (1-1000, default 500), after (a person_id: the page after it). Answer "
    "{tracing, contacts: [{person_id, kind: close | secondary, venue_id, exposure_at, overlap_minutes, "
    "generation: 1 | 2, via}], next}; via is the close contact a generation-2 contact was found through.",
    responses={200: {"description": "the contacts"}, 404: _ERRORS},
)
def case_contacts(case_id: str) -> Response[str]:
    case = case_service.show(case_id, _official_caller())
    after = _query("after")
    if after is not None:
        cases.check_person_id(after, field="after")
    rows, following = case_service.contacts(case_id, limit=_page_size(), after=after)
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
                    "generation": row.generation,
                    "via": row.via,
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
        "Answer 200 {accepted, "
        "rejected: [{index, error, field}], cases: [{index, case_id}]}. A positive row opens a case (as POST "
        "/v1/cases, idempotent per person and sampling time) and recolours its person at once; a negative "
        "one clears what the policy says. Roles official or lab. Past the account's hourly limit of persons "
        "coloured the positive rows wait for a second official: 202 {request_id, status: pending_approval, "
        "accepted, rejected, cases: []}."
    ),
    responses={200: {"description": "what was accepted"}, 202: {"description": "held"}, 422: _ERRORS},
)
def import_lab_results() -> Response[str]:
    who = caller(app).require(OFFICIAL, LAB)
    now = clock.now()
    body = json_body(app)
    imported = labs.import_results(
        body["results"],
        who=who,
        keep_days=policy().retention_days,
        now=now,
        laboratory=not who.has(OFFICIAL),
    )
    logger.info(
        "lab results imported", extra={"accepted": imported.accepted, "rejected": len(imported.rejected)}
    )
    answer = {
        "accepted": imported.accepted,
        "rejected": [r.as_dict() for r in imported.rejected],
        "cases": [{"index": index, "case_id": case_id} for index, case_id in imported.opened],
    }
    if imported.held is not None:
        return json_response(202, {**_held_view(imported.held), **answer})
    return json_response(200, answer)


# -- risk areas ----------------------------------------------------------------------------------


@app.put(
    "/v1/risk-areas/<region_code>",
    summary="Set a region's risk level; people who travelled there are recoloured",
    description="A prefecture or province level covers every code under "
    "it; the most specific level set wins. Answer 200 {region_code, level, updated_at}. A prefecture- or "
    "province-level change, any lowering, and raises past the official's hourly limit wait for a second "
    "official: 202 {request_id, status: pending_approval}.",
    responses={200: {"description": "the area"}, 202: {"description": "held"}, 422: _ERRORS},
)
def set_risk_area(region_code: str) -> Response[str]:
    who = _official_caller()
    code = check_region_code(region_code)
    level = cases.check_area_level(json_body(app))
    change = riskareas.set_level(code, level, who=who, now=clock.now())
    if change.held is not None:
        return json_response(202, _held_view(change.held))
    area = change.area
    assert area is not None
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
    level, updated_at = riskareas.show(code)
    return json_response(200, {"region_code": code, "level": level, "updated_at": updated_at})


# -- overrides -----------------------------------------------------------------------------------


def _held_view(request: RequestView) -> dict[str, Any]:
    """An official's act waiting for (or decided by) a second official."""
    return {
        "request_id": request.request_id,
        "kind": request.kind,
        "status": request.status,
        "person_id": request.person_id,
        "reason": request.note,
        "requested_by": request.requested_by,
        "requested_at": clock.show(request.created_at),
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
        "result": request.result,
    }


def _decision_view(request: RequestView) -> dict[str, Any]:
    return _override_view(request) if request.kind == OVERRIDE_KIND else _held_view(request)


def _override_view(request: RequestView) -> dict[str, Any]:
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
        "requested_at": clock.show(request.created_at),
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
    }


@app.put(
    "/v1/persons/<person_id>/colour",
    summary="Request a manual colour change (applied when a second official approves)",
    description=(
        "Answer 202 {override_id, status: pending_approval} (applied at once only where "
        "the policy does not require a second official). Honours Idempotency-Key. 429 rate_limited "
        "past the policy's hourly limit per official."
    ),
    responses={202: {"description": "the request"}, 404: _ERRORS, 422: _ERRORS, 429: _ERRORS},
)
def request_colour(person_id: str) -> Response[str]:
    who = _official_caller()
    key = overrides.check_idempotency_key(app.current_event.headers.get("idempotency-key"))
    now = clock.now()
    change = cases.check_override_body(json_body(app), policy=policy(), now=now)
    cases.check_person_id(person_id)
    request = overrides.request(person_id, change, who=who, idempotency_key=key, now=now)
    return json_response(202, _override_view(request))


@app.put(
    "/v1/persons/<person_id>/quarantine",
    summary="Place, extend or shorten a person's quarantine (red while it lasts)",
    description=(
        "Body {kind: centralised/home, from, until?} (until defaults to from + the policy's "
        "quarantine_days). Placing or extending: 200 {person_id, quarantine: {kind, from, until}, "
        "colour, risk_level}; past the official's hourly limit of persons coloured, or ending a "
        "quarantine in force early: 202 {request_id, status: pending_approval}."
    ),
    responses={
        200: {"description": "the quarantine in force"},
        202: {"description": "held"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
        429: _ERRORS,
    },
)
def place_quarantine(person_id: str) -> Response[str]:
    who = _official_caller()
    cases.check_person_id(person_id)
    now = clock.now()
    order = quarantine.check_order(json_body(app), now=now)
    placed = quarantine.place(person_id, order, who=who, now=now)
    if placed.held is not None:
        return json_response(202, _held_view(placed.held))
    fact, decision = placed.fact, placed.decision
    return json_response(
        200,
        {
            "person_id": person_id,
            "quarantine": None
            if fact is None
            else {"kind": fact.detail, "from": fact.starts_at, "until": fact.expires_at},
            "colour": None if decision is None else decision.colour,
            "risk_level": None if decision is None else int(decision.level),
        },
    )


@app.get(
    "/v1/overrides",
    summary="Overrides (or other acts) waiting for a second official, oldest first",
    description="Query: kind (override, the default; case, case_status, lab_results, risk_area: acts held "
    "for a second official), limit, next. Answer {overrides: [...], next}.",
    responses={200: {"description": "pending overrides"}, 404: _ERRORS},
)
def pending_overrides() -> Response[str]:
    who = _official_caller()
    kind = _query("kind") or OVERRIDE_KIND
    if kind == OVERRIDE_KIND:
        items, following = overrides.pending_overrides(who, limit=_page_size(), after=_query("next"))
    else:
        items, following = overrides.pending_acts(who, kind, limit=_page_size(), after=_query("next"))
    return json_response(200, {"overrides": [_decision_view(i) for i in items], "next": following})


@app.get(
    "/v1/overrides/<override_id>",
    summary="One override request and its state",
    responses={200: {"description": "the override"}, 404: _ERRORS},
)
def show_override(override_id: str) -> Response[str]:
    return json_response(200, _decision_view(overrides.show(override_id, _official_caller())))


@app.post(
    "/v1/overrides/<override_id>/approve",
    summary="A second official approves an override: it is applied",
    description="Also approves an act held for a second official (request_id req-…), which is then carried "
    "out once. 403 cannot_approve_own for the official who requested it; 409 already_decided once decided "
    "(of concurrent decisions one answers 200).",
    responses={200: {"description": "the override, applied"}, 403: _ERRORS, 404: _ERRORS, 409: _ERRORS},
)
def approve_override(override_id: str) -> Response[str]:
    request = overrides.approve(override_id, who=_official_caller(), now=clock.now())
    return json_response(200, _decision_view(request))


@app.post(
    "/v1/overrides/<override_id>/reject",
    summary="Reject (or withdraw) a pending override: it never takes effect",
    responses={200: {"description": "the override, rejected"}, 404: _ERRORS, 409: _ERRORS},
)
def reject_override(override_id: str) -> Response[str]:
    who = _official_caller()
    raw = app.current_event.body
    body = json_body(app) if raw else {}
    reason = cases.check_decision_note(body, field="reason")
    request = overrides.reject(override_id, who=who, reason=reason, now=clock.now())
    return json_response(200, _decision_view(request))


# -- appeals -------------------------------------------------------------------------------------


def _appeal_view(request: RequestView) -> dict[str, Any]:
    return {
        "appeal_id": request.request_id,
        "person_id": request.person_id,
        "status": request.status,
        "reason": request.note,
        "colour": request.colour,
        "submitted_at": clock.show(request.created_at),
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
    who = _official_caller()
    status = _query("status") or "open"
    if status != "open":
        raise InvalidInput("status must be open", field="status", code="invalid_status")
    items, following = overrides.open_appeals(who, limit=_page_size(), after=_query("next"))
    return json_response(200, {"appeals": [_appeal_view(i) for i in items], "next": following})


@app.post(
    "/v1/appeals/<appeal_id>/answer",
    summary="Answer an appeal",
    description="An upheld appeal is corrected by an override "
    "(PUT /v1/persons/{person_id}/colour), which still needs a second official.",
    responses={200: {"description": "the appeal, answered"}, 404: _ERRORS, 409: _ERRORS, 422: _ERRORS},
)
def answer_appeal(appeal_id: str) -> Response[str]:
    who = _official_caller()
    body = json_body(app)
    answer = cases.free_text(body["answer"], field="answer", limit=cases.MAX_NOTE)
    outcome = str(body["outcome"])
    request = overrides.answer_appeal(appeal_id, who=who, outcome=outcome, answer=answer, now=clock.now())
    return json_response(200, _appeal_view(request))


# -- the full record -----------------------------------------------------------------------------


@app.get(
    "/v1/persons/<person_id>",
    summary="A person's full record with their identity; the read itself is audited",
    responses={200: {"description": "the record"}, 404: _ERRORS},
)
def full_record(person_id: str) -> Response[str]:
    who = _official_caller()
    cases.check_person_id(person_id)
    record = records.full_record(person_id, who=who, route="GET /v1/persons/{person_id}")
    person, identity, decision, state, now = (
        record.person,
        record.identity,
        record.decision,
        record.state,
        record.read_at,
    )
    return json_response(
        200,
        {
            "person_id": person.person_id,
            "name": identity.name,
            "id_number": identity.id_number,
            "id_type": person.id_type or "resident_id",
            "nationality": person.nationality,
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


# -- finding a person, reading the audit trail -----------------------------------------------------

#: Roles that find persons and read the audit trail: officials, and admins (who never act on colours).
READERS = ("official", "admin")


@app.post(
    "/v1/persons/search",
    summary="Find a person by ID number (in the body, never the URL), inside the caller's area",
    description="Body {id_number, id_type?}. Answer {persons: [{person_id, name_masked, id_masked, colour, "
    "risk_level, region_code}]}: nobody outside the caller's area is ever answered (the same empty list as "
    "for a number nobody holds). Audited like a record read. Roles official or admin; 429 rate_limited past "
    "the account's hourly limit of searches.",
    responses={200: {"description": "the matches"}, 422: _ERRORS, 429: _ERRORS},
)
def search_persons() -> Response[str]:
    who = caller(app).require(*READERS)
    found = search.search(who, json_body(app), now=clock.now())
    return json_response(
        200,
        {
            "persons": [
                {
                    "person_id": m.person_id,
                    "name_masked": m.name_masked,
                    "id_masked": m.id_masked,
                    "colour": m.colour,
                    "risk_level": m.risk_level,
                    "region_code": m.region_code,
                }
                for m in found
            ]
        },
    )


@app.get(
    "/v1/audit",
    summary="The audit trail of a subject, or an account's acts, newest first",
    description="Query: exactly one of subject (p-…, v-…, person#…, venue#…, account#…) and actor (an "
    "account id); limit (1-500, default 100), cursor. Answer {entries: [{at, actor, action, subject, "
    "detail}], next_cursor}. Admins read any; officials the persons and venues of their area (403 "
    "outside_area) and their own acts (403 own_acts_only). The read is itself audited.",
    responses={200: {"description": "one page of entries"}, 403: _ERRORS, 422: _ERRORS},
)
def read_audit() -> Response[str]:
    who = caller(app).require(*READERS)
    limit = audit_reads.check_page_size(_query("limit"))
    page = audit_reads.read(
        who,
        subject=_query("subject"),
        actor=_query("actor"),
        limit=limit,
        cursor=_query("cursor"),
        now=clock.now(),
    )
    return json_response(
        200,
        {
            "entries": [
                {
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.kind,
                    "subject": e.subject,
                    "detail": dict(e.details),
                }
                for e in page.entries
            ],
            "next_cursor": page.next_cursor,
        },
    )


lambda_handler: Any = lambda_handler_for(app, logger)
