"""The authorization matrix over HTTP (OWASP API1 BOLA, API5 BFLA): every route of
``template.yaml`` called with no token, as each of the five roles, and — where a route acts on
someone's resource — as its owner, a guardian and a stranger, and with an id that does not exist.
Expectations come from the table in ``tests/security/http/routes.py``; a template route without a row,
or a row without a route, fails the suite.

Callers with a role a route does not allow act as the resource's owner (the owner with the wrong
role is still refused): the role is checked before anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from healthcode.rules.credentials import org_code_check_character, uscc_check_character

from infra.local.template import ROOT_TEMPLATE, Template
from tests.security.http.routes import ROLES, RULES, TABLE, Area, Ownership, RouteRule
from tests.security.http.world import SecurityStack, World, account, application, child_id_number, venue_form

TEMPLATE_ROUTES = {route.key: route for route in Template(ROOT_TEMPLATE, "matrix", {}, "cn-north-1").routes()}
UNAUTHORIZED = {"message": "Unauthorized"}


class Target(StrEnum):
    OWN = "own"  # the owner's resource (or the one shared resource of a route without owners)
    DEPENDANT = "dependant"  # a code the caller manages as guardian
    UNKNOWN = "unknown"  # a well-formed id nobody holds


class Kind(StrEnum):
    NO_TOKEN = "no token"
    ROLE = "role"  # acting as the owner (or as any caller of that role where nobody owns)
    STRANGER = "stranger"
    GUARDIAN = "guardian"
    UNKNOWN = "unknown id"


@dataclass(frozen=True)
class Case:
    route: str
    kind: Kind
    role: str | None
    status: int
    error: str | None

    @property
    def id(self) -> str:
        who = self.kind.value if self.role is None else f"{self.kind.value} {self.role}"
        return f"{self.route} | {who} -> {self.status}"

    @property
    def succeeds(self) -> bool:
        return self.status < 300


def cases_of(rule: RouteRule) -> Iterator[Case]:
    if rule.public:
        yield Case(rule.key, Kind.NO_TOKEN, None, rule.success, None)
        for role in ROLES:
            yield Case(rule.key, Kind.ROLE, role, rule.success, None)
        return
    yield Case(rule.key, Kind.NO_TOKEN, None, 401, None)
    for role in ROLES:
        status = rule.expected(role)
        yield Case(rule.key, Kind.ROLE, role, status, None if status < 300 else "forbidden_role")
    for role in sorted(rule.bound_roles()):
        assert rule.stranger is not None, f"{rule.key}: an owned route needs its stranger answer"
        yield Case(rule.key, Kind.STRANGER, role, *rule.stranger)
        if rule.guardian_applies:
            yield Case(rule.key, Kind.GUARDIAN, role, rule.success, None)
    if rule.unknown is not None:
        role = sorted(rule.bound_roles() or rule.roles)[0]
        yield Case(rule.key, Kind.UNKNOWN, role, *rule.unknown)


def all_cases() -> list[Case]:
    return [case for key in sorted(TEMPLATE_ROUTES) if key in RULES for case in cases_of(RULES[key])]


CASES = all_cases()


# -- the table against the template and the served OpenAPI document -------------------------------


def test_every_template_route_has_a_row() -> None:
    # GIVEN the routes template.yaml deploys WHEN compared with the table THEN none is missing
    missing = sorted(set(TEMPLATE_ROUTES) - set(RULES))
    assert not missing, f"routes with no row in tests/security/http/routes.py: {missing}"


def test_every_row_is_a_template_route() -> None:
    stale = sorted(set(RULES) - set(TEMPLATE_ROUTES))
    assert not stale, f"rows for routes template.yaml no longer has: {stale}"


def test_public_rows_are_the_routes_without_an_authorizer() -> None:
    # GIVEN the template's authorizer settings THEN the table's public rows are exactly those routes
    assert {k for k, r in TEMPLATE_ROUTES.items() if not r.authorized} == {r.key for r in TABLE if r.public}


def test_the_served_openapi_document_describes_every_row(world: World) -> None:
    # GIVEN the OpenAPI document the stack serves
    document = world.call("GET", "/v1/openapi.json").json()
    described = {
        f"{method.upper()} {path}": operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    # THEN it has exactly the table's routes, and its security says which are public
    assert set(described) == set(RULES)
    for key, operation in described.items():
        assert (operation.get("security") in (None, [])) == RULES[key].public, key


def test_every_owned_route_is_tried_by_a_stranger() -> None:
    # GIVEN the generated cases THEN every route with an owner has a stranger case per bound role
    # and every route with an id has an unknown-id case (so the table cannot silently skip them)
    for rule in TABLE:
        kinds = [c.kind for c in CASES if c.route == rule.key]
        assert kinds.count(Kind.STRANGER) == len(rule.bound_roles()), rule.key
        assert (Kind.UNKNOWN in kinds) == (rule.unknown is not None), rule.key
        assert ("{" in rule.path) <= (rule.unknown is not None or rule.path.endswith("{region_code}")), (
            rule.key
        )


# -- requests for every route --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    body: Any = None
    query: str = ""


def _unknown_person() -> str:
    return f"p-{uuid.uuid4().hex}"


def _person_path(template: str) -> Callable[[World, Target, Case], Call]:
    def build(world: World, target: Target, case: Case) -> Call:
        person_id = {
            Target.OWN: lambda: world.person.person_id,
            Target.DEPENDANT: lambda: world.dependant.person_id,
            Target.UNKNOWN: _unknown_person,
        }[target]()
        if template.endswith("paper.png") and target is not Target.UNKNOWN:
            assert world.paper_issued
        body = {"reason": "我已解除隔离"} if template.endswith("/appeals") else None
        query = ""
        if case.role == "official" and template.endswith("/paper"):
            body = {"reason": "社区网格员上门协助老人打印"}  # an official must say why (audited)
        if case.role == "official" and template.endswith("/paper.png"):
            query = "reason=community-visit"
        return Call(template.format(person_id=person_id), body, query)

    return build


def _venue_path(suffix: str, query: str = "") -> Callable[[World, Target, Case], Call]:
    def build(world: World, target: Target, case: Case) -> Call:
        venue_id = f"v-{uuid.uuid4().hex}" if target is Target.UNKNOWN else world.venue["venue_id"]
        return Call(f"/v1/venues/{venue_id}{suffix}", query=query)

    return build


def _fresh_venue_path(suffix: str) -> Callable[[World, Target, Case], Call]:
    """A venue made for this one call (reissuing or closing the matrix's venue would revoke the
    code the other rows check in with): a mall of the matrix's manager, or for an official a
    roadside checkpoint in the matrix's county (officials act on checkpoints of their area)."""

    def build(world: World, target: Target, case: Case) -> Call:
        if target is Target.UNKNOWN:
            return Call(f"/v1/venues/v-{uuid.uuid4().hex}{suffix}")
        if case.role == "official":
            form = venue_form(type="checkpoint", name="贵阳南收费站卡口")
            venue = world.ok("POST", "/v1/venues", as_=(world.official, ["official"]), json=form)
        else:
            venue = world.register_venue(world.manager)
        return Call(f"/v1/venues/{venue['venue_id']}{suffix}")

    return build


def _venue_body_call(world: World, target: Target, body: Any) -> Call:
    venue_id = f"v-{uuid.uuid4().hex}" if target is Target.UNKNOWN else world.venue["venue_id"]
    return Call(f"/v1/venues/{venue_id}", body)


def _checkin(world: World, target: Target, case: Case) -> Call:
    person_id = {
        Target.OWN: lambda: world.person.person_id,
        Target.DEPENDANT: lambda: world.dependant.person_id,
        Target.UNKNOWN: _unknown_person,
    }[target]()
    body = {"venue_code": world.venue["code"], "person_id": person_id, "location": venue_form()["location"]}
    return Call("/v1/checkins", body)


def _verification(world: World, target: Target, case: Case) -> Call:
    body = {
        "code": world.code_of(world.person),
        "checkpoint_id": world.venue["venue_id"],
        "temperature": 36.4,
    }
    return Call("/v1/verifications", body)


def _manual_registration(world: World, target: Target, case: Case) -> Call:
    form = application()
    body = {
        "name": form["name"],
        "id_number": form["id_number"],
        "phone": form["phone"],
        "temperature": 36.6,
        "checkpoint_id": world.venue["venue_id"],
    }
    return Call("/v1/manual-registrations", body)


def _apply(world: World, target: Target, case: Case) -> Call:
    # the matrix's citizen already holds a code of their own: they apply for a child in their care
    return Call("/v1/codes", application(id_number=child_id_number(), dependant=True))


def _case_body(world: World, target: Target, case: Case) -> Call:
    diagnosed = (world.now() - timedelta(hours=2)).isoformat()
    return Call(
        "/v1/cases", {"person_id": world.patient.person_id, "status": "suspected", "diagnosed_at": diagnosed}
    )


def _case_path(suffix: str) -> Callable[[World, Target, Case], Call]:
    def build(world: World, target: Target, case: Case) -> Call:
        case_id = f"case-{uuid.uuid4().hex[:24]}" if target is Target.UNKNOWN else world.case_id
        return Call(f"/v1/cases/{case_id}{suffix}")

    return build


def _lab_results(world: World, target: Target, case: Case) -> Call:
    sampled = (world.now() - timedelta(hours=3)).isoformat()
    row = {"id_number": world.patient.id_number, "sampled_at": sampled, "result": "negative"}
    return Call("/v1/lab-results", {"results": [row]})


def _override_request(world: World, target: Target, case: Case) -> Call:
    person_id = _unknown_person() if target is Target.UNKNOWN else world.overridden.person_id
    body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-2022-0002"}
    return Call(f"/v1/persons/{person_id}/colour", body)


def _quarantine(world: World, target: Target, case: Case) -> Call:
    person_id = _unknown_person() if target is Target.UNKNOWN else world.person.person_id
    body = {"kind": "home", "from": world.now().isoformat()}
    return Call(f"/v1/persons/{person_id}/quarantine", body)


def _override(world: World, target: Target, case: Case) -> str:
    """The override a call acts on: a fresh pending one when the call must succeed (a decided
    override cannot be decided again), else one shared pending override."""
    if target is Target.UNKNOWN:
        return f"ovr-{uuid.uuid4().hex}"
    if case.succeeds:
        return world.request_override(world.overridden, world.requesting_official)
    return str(
        world._once("override", lambda: world.request_override(world.overridden, world.requesting_official))
    )


def _override_path(suffix: str, body: Any = None) -> Callable[[World, Target, Case], Call]:
    def build(world: World, target: Target, case: Case) -> Call:
        return Call(f"/v1/overrides/{_override(world, target, case)}{suffix}", body)

    return build


def _appeal_answer(world: World, target: Target, case: Case) -> Call:
    if target is Target.UNKNOWN:
        appeal_id = f"ap-{uuid.uuid4().hex}"
    elif case.succeeds:
        appeal_id = world.file_appeal(world.appellant)
    else:
        appeal_id = str(world._once("appeal", lambda: world.file_appeal(world.appellant)))
    return Call(f"/v1/appeals/{appeal_id}/answer", {"outcome": "dismissed", "answer": "隔离期未满"})


def _alert_acknowledgement(world: World, target: Target, case: Case) -> Call:
    """A fresh alert when the call must succeed (an acknowledged alert answers 409): the
    matrix's yellow person verified at the matrix's venue, the stream drained."""
    body = {"note": "已通知社区核查"}
    # a real alert also for an official of another area: it must be refused as outside, not unknown
    if target is Target.UNKNOWN or not (case.succeeds or case.role == "official"):
        return Call(f"/v1/alerts/s-{uuid.uuid4().hex}/acknowledge", body)
    return Call(f"/v1/alerts/{_fresh_alert(world)}/acknowledge", body)


def _fresh_alert(world: World) -> str:
    """An open alert at the matrix's venue (Guiyang): the matrix's yellow person verified there."""
    verified = world.ok(
        "POST",
        "/v1/verifications",
        as_=(world.scanner, ["scanner"]),
        json={
            "code": world.code_of(world.person),
            "checkpoint_id": world.venue["venue_id"],
            "temperature": 36.4,
        },
    )
    world.stack.drain()
    return str(verified["scan_id"])


_credit_serials = iter(range(10_000_000, 99_999_999))


def register_row(region: str) -> dict[str, str]:
    """A market-entity register row with a fresh valid credit code."""
    body = f"{next(_credit_serials):08d}"
    first17 = f"91{region}{body}{org_code_check_character(body)}"
    code = first17 + uscc_check_character(first17)
    return {"credit_code": code, "name": "贵阳某某有限公司", "region_code": region, "type": "enterprise"}


def _fixed(path: str, body: Any = None, query: str = "") -> Callable[[World, Target, Case], Call]:
    return lambda world, target, case: Call(path, body, query)


REQUESTS: dict[str, Callable[[World, Target, Case], Call]] = {
    "GET /v1/health": _fixed("/v1/health"),
    "GET /.well-known/jwks.json": _fixed("/.well-known/jwks.json"),
    "GET /v1/openapi.json": _fixed("/v1/openapi.json"),
    "POST /v1/codes": _apply,
    "GET /v1/codes": _fixed("/v1/codes"),
    "GET /v1/codes/{person_id}": _person_path("/v1/codes/{person_id}"),
    "GET /v1/codes/{person_id}/qr.png": _person_path("/v1/codes/{person_id}/qr.png"),
    "GET /v1/codes/{person_id}/qr.svg": _person_path("/v1/codes/{person_id}/qr.svg"),
    "GET /v1/codes/{person_id}/history": _person_path("/v1/codes/{person_id}/history"),
    "POST /v1/codes/{person_id}/appeals": _person_path("/v1/codes/{person_id}/appeals"),
    "GET /v1/codes/{person_id}/appeals": _person_path("/v1/codes/{person_id}/appeals"),
    "POST /v1/codes/{person_id}/links": _person_path("/v1/codes/{person_id}/links"),
    "POST /v1/codes/{person_id}/paper": _person_path("/v1/codes/{person_id}/paper"),
    "GET /v1/codes/{person_id}/paper.png": _person_path("/v1/codes/{person_id}/paper.png"),
    "POST /v1/checkins": _checkin,
    "POST /v1/verifications": _verification,
    "POST /v1/manual-registrations": _manual_registration,
    "POST /v1/venues": lambda world, target, case: Call("/v1/venues", venue_form()),
    "GET /v1/venues/{venue_id}": _venue_path(""),
    "GET /v1/venues/{venue_id}/poster.png": _venue_path("/poster.png"),
    "GET /v1/venues/{venue_id}/poster.svg": _venue_path("/poster.svg"),
    "GET /v1/venues/{venue_id}/stats": _venue_path("/stats"),
    "GET /v1/venues": _fixed("/v1/venues"),
    "PATCH /v1/venues/{venue_id}": lambda world, target, case: _venue_body_call(
        world, target, {"zone": "北门广场"}
    ),
    "POST /v1/venues/{venue_id}/join-codes": _venue_path("/join-codes"),
    "GET /v1/venues/{venue_id}/alerts": _venue_path("/alerts"),
    # a fresh account each time: removing the matrix's own scanner would fail its verifications
    "PUT /v1/venues/{venue_id}/staff/{sub}": lambda world, target, case: _venue_path(
        f"/staff/{account('scanner')}"
    )(world, target, case),
    "DELETE /v1/venues/{venue_id}/staff/{sub}": lambda world, target, case: _venue_path(
        f"/staff/{account('scanner')}"
    )(world, target, case),
    "GET /v1/venues/{venue_id}/staff": _venue_path("/staff"),
    "POST /v1/venues/{venue_id}/code": _fresh_venue_path("/code"),
    "DELETE /v1/venues/{venue_id}": _fresh_venue_path(""),
    "POST /v1/cases": _case_body,
    "GET /v1/cases/{case_id}": _case_path(""),
    "PATCH /v1/cases/{case_id}": lambda world, target, case: Call(
        _case_path("")(world, target, case).path, {"status": "excluded"}
    ),
    "GET /v1/cases/{case_id}/contacts": _case_path("/contacts"),
    "POST /v1/lab-results": _lab_results,
    "PUT /v1/risk-areas/{region_code}": _fixed("/v1/risk-areas/520102", {"level": "low"}),
    "GET /v1/risk-areas/{region_code}": _fixed("/v1/risk-areas/520102"),
    "PUT /v1/persons/{person_id}/colour": _override_request,
    "PUT /v1/persons/{person_id}/quarantine": _quarantine,
    "GET /v1/persons/{person_id}": lambda world, target, case: Call(
        f"/v1/persons/{_unknown_person() if target is Target.UNKNOWN else world.person.person_id}"
    ),
    "GET /v1/overrides": _fixed("/v1/overrides"),
    "GET /v1/overrides/{override_id}": _override_path(""),
    "POST /v1/overrides/{override_id}/approve": _override_path("/approve"),
    "POST /v1/overrides/{override_id}/reject": _override_path("/reject", {"reason": "证据不足"}),
    "GET /v1/appeals": _fixed("/v1/appeals"),
    "POST /v1/appeals/{appeal_id}/answer": _appeal_answer,
    "GET /v1/reports/daily-scans": _fixed("/v1/reports/daily-scans", query="format=json"),
    "GET /v1/reports/coverage": _fixed("/v1/reports/coverage", query="region_code=520102"),
    "PUT /v1/registers/entities": lambda world, target, case: Call(
        "/v1/registers/entities", {"entities": [register_row("520102")]}
    ),
    "PUT /v1/registers/population": _fixed(
        "/v1/registers/population", {"regions": [{"region_code": "520102", "population": 1000}]}
    ),
    "GET /v1/reports/uncovered-entities": _fixed(
        "/v1/reports/uncovered-entities", query="region_code=520102"
    ),
    "GET /v1/reports/indicators": _fixed("/v1/reports/indicators", query="region_code=520102"),
    "POST /v1/persons/search": lambda world, target, case: Call(
        "/v1/persons/search", {"id_number": world.person.id_number}
    ),
    "GET /v1/audit": lambda world, target, case: Call("/v1/audit", query=f"subject={world.person.person_id}"),
    "GET /v1/alerts": _fixed("/v1/alerts"),
    "POST /v1/alerts/{alert_id}/acknowledge": _alert_acknowledgement,
}


def test_every_row_has_a_request() -> None:
    assert set(REQUESTS) == set(RULES)


# -- who calls -------------------------------------------------------------------------------------


def _owner(world: World, ownership: Ownership) -> str:
    return {
        Ownership.OWNER: lambda: world.citizen,
        Ownership.VENUE_MANAGER: lambda: world.manager,
        Ownership.SECOND_OFFICIAL: lambda: world.official,
    }[ownership]()


def _stranger(world: World, ownership: Ownership) -> str:
    return {
        Ownership.OWNER: lambda: world.stranger_citizen,
        Ownership.VENUE_MANAGER: lambda: world.stranger_manager,
        Ownership.SECOND_OFFICIAL: lambda: world.requesting_official,
    }[ownership]()


def caller_of(world: World, rule: RouteRule, case: Case) -> str:
    assert case.role is not None
    if case.kind is Kind.STRANGER:
        return _stranger(world, rule.ownership)
    if rule.ownership is not Ownership.NONE and case.role not in rule.unbound_roles:
        return _owner(world, rule.ownership)  # the owner, with this role
    return world.of_role(case.role)


def target_of(case: Case) -> Target:
    return {Kind.GUARDIAN: Target.DEPENDANT, Kind.UNKNOWN: Target.UNKNOWN}.get(case.kind, Target.OWN)


# -- the matrix ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(guizhou_stack: SecurityStack) -> World:
    return World(guizhou_stack.stack)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_route_answers_each_caller_as_the_table_says(world: World, case: Case) -> None:
    rule = RULES[case.route]
    # GIVEN the request for the route, on the owner's resource (or the dependant's, or none)
    call = REQUESTS[case.route](world, target_of(case), case)
    url = f"{world.stack.url}{call.path}" + (f"?{call.query}" if call.query else "")
    headers = {}
    if case.kind is not Kind.NO_TOKEN:
        assert case.role is not None
        headers["Authorization"] = f"Bearer {world.token(caller_of(world, rule, case), [case.role])}"
    # WHEN it is sent
    answer = world.stack.http.request(rule.method, url, json=call.body, headers=headers, timeout=60)
    # THEN the status is the table's, with the authorizer's body or the error envelope
    assert answer.status_code == case.status, answer.text[:500]
    if answer.status_code == 401:
        assert answer.json() == UNAUTHORIZED
    elif answer.status_code >= 400:
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "field"}
        assert error["code"] == case.error, error


# -- object ids in bodies and lists (BOLA beyond the path) ----------------------------------------


def test_a_companion_must_be_in_the_callers_care(world: World) -> None:
    # GIVEN the citizen checking in with a stranger's person named as a companion
    theirs = world.apply(account("citizen"))
    body = {
        "venue_code": world.venue["code"],
        "person_id": world.person.person_id,
        "companions": [world.dependant.person_id, theirs.person_id],
        "location": venue_form()["location"],
    }
    # WHEN sent THEN 403 naming that companion, and nobody is checked in
    answer = world.call("POST", "/v1/checkins", as_=(world.citizen, ["citizen"]), json=body)
    assert answer.status_code == 403, answer.text
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        "not_your_person",
        "companions[1]",
    )


def test_an_account_lists_only_the_codes_it_manages(world: World) -> None:
    # GIVEN the citizen (own code and a dependant) and a stranger with a code of their own
    mine = {world.person.person_id, world.dependant.person_id}
    # WHEN each lists their codes THEN neither sees the other's
    listed = world.ok("GET", "/v1/codes", as_=(world.citizen, ["citizen"]))["codes"]
    assert mine <= {c["person_id"] for c in listed}
    theirs = world.ok("GET", "/v1/codes", as_=(world.stranger_citizen, ["citizen"]))["codes"]
    assert len(theirs) == 1 and not mine & {c["person_id"] for c in theirs}


def test_an_appeal_and_an_override_are_not_interchangeable(world: World) -> None:
    # GIVEN an open appeal and a pending override
    appeal_id = world.file_appeal(world.appellant)
    override_id = world.request_override(world.person, world.requesting_official)
    official = (world.official, ["official"])
    # WHEN an official answers the override as an appeal, or approves the appeal as an override
    answered = world.call(
        "POST", f"/v1/appeals/{override_id}/answer", as_=official, json={"outcome": "upheld", "answer": "好"}
    )
    approved = world.call("POST", f"/v1/overrides/{appeal_id}/approve", as_=official)
    shown = world.call("GET", f"/v1/overrides/{appeal_id}", as_=official)
    # THEN each is unknown under the other's route, and both are still open
    assert (answered.status_code, answered.json()["error"]["code"]) == (404, "appeal_not_found")
    assert (approved.status_code, approved.json()["error"]["code"]) == (404, "override_not_found")
    assert shown.status_code == 404
    assert world.ok("GET", f"/v1/overrides/{override_id}", as_=official)["status"] == "pending_approval"
    open_ids = {a["appeal_id"] for a in world.ok("GET", "/v1/appeals?limit=1000", as_=official)["appeals"]}
    assert appeal_id in open_ids


# -- areas: an official (or admin) acts only inside the area of its token -------------------------

#: A prefecture token reaching the matrix's persons (applied in 520103) and venue (520102), both in
#: Guiyang; and a prefecture of the same province reaching neither.
IN_AREA, OUT_OF_AREA = "520100", "520300"
#: Routes for callers with an area-bound role, and the roles an area does not bind there.
AREA_UNBOUND: dict[str, frozenset[str]] = {
    # admins read the whole audit trail: oversight of officials spans areas
    "GET /v1/audit": frozenset({"admin"}),
}
#: Official and admin routes that act on nothing with a region, and why.
AREA_FREE: dict[str, str] = {
    "GET /v1/risk-areas/{region_code}": "a region's level is where people come from: any official reads it",
}
AREA_ROLES = frozenset({"official", "admin", "lab"})
#: The field a row outside the area is rejected on, for routes taking rows one by one.
#: The error a row outside the area is rejected with: a lab row names a person by ID number, and a
#: holder outside the area is answered as nobody (the import never tells where a number is held).
ROW_ERRORS: dict[str, str] = {"POST /v1/lab-results": "unknown_person"}
ROW_FIELDS: dict[str, str] = {
    "POST /v1/lab-results": "id_number",
    "PUT /v1/registers/entities": "region_code",
}
#: Queries the area axis sends instead of the matrix's (the region asked for is the venue's).
AREA_QUERIES: dict[str, str] = {
    "GET /v1/reports/daily-scans": "format=json&region_code=520102",
    "GET /v1/overrides": "limit=1000",
    "GET /v1/appeals": "limit=1000",
    "GET /v1/venues": "type=mall&limit=500",
}


@dataclass(frozen=True)
class AreaCase:
    route: str
    role: str
    region: str

    @property
    def inside(self) -> bool:
        return self.region == IN_AREA

    @property
    def id(self) -> str:
        return f"{self.route} | {self.role} of {self.region} ({'inside' if self.inside else 'outside'})"


def area_cases() -> list[AreaCase]:
    found: list[AreaCase] = []
    for key in sorted(TEMPLATE_ROUTES):
        rule = RULES.get(key)
        if rule is None or rule.area is None:
            continue
        for role in sorted((rule.roles & AREA_ROLES) - AREA_UNBOUND.get(key, frozenset())):
            found.extend(AreaCase(key, role, region) for region in (IN_AREA, OUT_OF_AREA))
    return found


AREA_CASES = area_cases()


def test_every_official_route_says_how_areas_bind_it() -> None:
    # GIVEN the table THEN every route officials or admins call names its answer outside the
    # caller's area, or is listed as acting on nothing with a region
    missing = sorted(
        rule.key
        for rule in TABLE
        if rule.roles & {"official", "admin"} and rule.area is None and rule.key not in AREA_FREE
    )
    assert not missing, f"official/admin rows without area= in tests/security/http/routes.py: {missing}"
    assert not set(AREA_FREE) & {rule.key for rule in TABLE if rule.area is not None}


def test_admins_never_act_on_colours() -> None:
    # GIVEN the table THEN no route that colours a person, opens a case or changes a risk area
    # admits the admin role (admins read audit and reports, and manage registers)
    acting = [
        key
        for key in RULES
        if key.split()[0] != "GET"
        and any(part in key for part in ("/cases", "/lab-results", "/risk-areas", "/colour", "/overrides"))
    ]
    assert acting
    assert not [key for key in acting if "admin" in RULES[key].roles]


def _area_call(world: World, case: AreaCase) -> Call:
    rule = RULES[case.route]
    status = rule.success if case.inside or rule.area is not Area.FORBIDDEN else 403
    matrix_case = Case(case.route, Kind.ROLE, case.role, status, None)
    call = REQUESTS[case.route](world, Target.OWN, matrix_case)
    if case.route in AREA_QUERIES:
        call = Call(call.path, call.body, AREA_QUERIES[case.route])
    return call


def _listed(world: World, route: str, body: Any) -> tuple[str, set[str]]:
    """The matrix's person a list or search must show inside the area, and the persons it shows."""
    if route == "POST /v1/persons/search":
        return world.person.person_id, {p["person_id"] for p in body["persons"]}
    if route == "GET /v1/overrides":
        return world.overridden.person_id, {o["person_id"] for o in body["overrides"]}
    if route == "GET /v1/appeals":
        return world.appellant.person_id, {a["person_id"] for a in body["appeals"]}
    if route == "GET /v1/venues":
        return world.venue["venue_id"], {v["venue_id"] for v in body["venues"]}
    if route == "GET /v1/alerts":
        return str(world._once("alert", lambda: _fresh_alert(world))), {a["alert_id"] for a in body["alerts"]}
    raise AssertionError(f"no list check for {route}")


def _prepare_list(world: World, route: str) -> None:
    """Something of the matrix's area for a list to show (or hide)."""
    if route == "GET /v1/overrides":
        world._once("override", lambda: world.request_override(world.overridden, world.requesting_official))
    if route == "GET /v1/appeals":
        world._once("appeal", lambda: world.file_appeal(world.appellant))
    if route == "GET /v1/alerts":
        world._once("alert", lambda: _fresh_alert(world))


@pytest.mark.parametrize("case", AREA_CASES, ids=[case.id for case in AREA_CASES])
def test_route_answers_each_area_as_the_table_says(world: World, case: AreaCase) -> None:
    rule = RULES[case.route]
    assert rule.area is not None
    if rule.area is Area.EMPTY:
        _prepare_list(world, case.route)
    # GIVEN the matrix's request, sent with a token whose area is Guiyang (inside) or Zunyi
    call = _area_call(world, case)
    caller = caller_of(world, rule, Case(case.route, Kind.ROLE, case.role, rule.success, None))
    url = f"{world.stack.url}{call.path}" + (f"?{call.query}" if call.query else "")
    token = world.token(caller, [case.role], case.region)
    # WHEN it is sent
    answer = world.stack.http.request(
        rule.method, url, json=call.body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    # THEN inside it succeeds as for a caller without an area; outside it is refused, or what
    # lies outside is left out (lists, searches) or rejected row by row (lab results)
    if case.inside or rule.area is not Area.FORBIDDEN:
        assert answer.status_code == rule.success, answer.text[:500]
    else:
        assert answer.status_code == 403, answer.text[:500]
        assert answer.json()["error"]["code"] == "outside_area"
        return
    if rule.area is Area.EMPTY:
        marker, shown = _listed(world, case.route, answer.json())
        assert (marker in shown) == case.inside, shown
    elif rule.area is Area.ROW:
        rejected = answer.json()["rejected"]
        field = ROW_FIELDS[case.route]
        error = ROW_ERRORS.get(case.route, "outside_area")
        expected = [] if case.inside else [{"index": 0, "error": error, "field": field}]
        assert rejected == expected
