"""The world the fuzz and hostile-input suites act on: a local stack of their own with accounts
per role, the citizen's own person (yellow: a declared contact, so it can appeal) and a child in
their care, a venue, a case, an override awaiting approval and an open appeal, all made through
the API as a front end would; a valid body for every write route; and the stack's table item
counts, to show a refused request wrote nothing."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests
from healthcode import clock
from healthcode.rules.idcard import check_character

from tests.e2e.stack import Stack, running_stack

COUNTY = "520102"  # Nanming district, Guiyang
VENUE_LOCATION = {"lat": 26.57, "lng": 106.71}
#: A personal code lives 5 minutes (policy); re-fetch well before.
CODE_REFRESH_SECONDS = 120.0
ROLES = ("citizen", "scanner", "venue_manager", "official")
_serial = itertools.count(500)

#: The role each operation is called as (the one docs/api.md gives it); public routes need none.
ROLE_OF: dict[str, str | None] = {
    "GET /v1/health": None,
    "GET /.well-known/jwks.json": None,
    "GET /v1/openapi.json": None,
    "POST /v1/codes": "citizen",
    "GET /v1/codes": "citizen",
    "GET /v1/codes/{person_id}": "citizen",
    "GET /v1/codes/{person_id}/qr.png": "citizen",
    "GET /v1/codes/{person_id}/qr.svg": "citizen",
    "GET /v1/codes/{person_id}/history": "citizen",
    "POST /v1/codes/{person_id}/appeals": "citizen",
    "GET /v1/codes/{person_id}/appeals": "citizen",
    "POST /v1/codes/{person_id}/links": "citizen",
    "POST /v1/codes/{person_id}/paper": "citizen",
    "GET /v1/codes/{person_id}/paper.png": "citizen",
    "POST /v1/checkins": "citizen",
    "POST /v1/verifications": "scanner",
    "POST /v1/manual-registrations": "scanner",
    "POST /v1/venues": "venue_manager",
    "GET /v1/venues/{venue_id}": "venue_manager",
    "GET /v1/venues/{venue_id}/poster.png": "venue_manager",
    "GET /v1/venues/{venue_id}/poster.svg": "venue_manager",
    "GET /v1/venues/{venue_id}/stats": "venue_manager",
    "GET /v1/venues/{venue_id}/alerts": "venue_manager",
    "PUT /v1/venues/{venue_id}/staff/{sub}": "venue_manager",
    "DELETE /v1/venues/{venue_id}/staff/{sub}": "venue_manager",
    "GET /v1/venues/{venue_id}/staff": "venue_manager",
    "GET /v1/venues": "venue_manager",
    "PATCH /v1/venues/{venue_id}": "venue_manager",
    "POST /v1/venues/{venue_id}/join-codes": "venue_manager",
    # as an official (whom docs/api.md lets act on checkpoints only): the world's manager would
    # revoke or close the world's venue, and every later check-in of the run would be refused
    "POST /v1/venues/{venue_id}/code": "official",
    "DELETE /v1/venues/{venue_id}": "official",
    "GET /v1/reports/daily-scans": "official",
    "GET /v1/reports/coverage": "official",
    "POST /v1/cases": "official",
    "GET /v1/cases/{case_id}": "official",
    "PATCH /v1/cases/{case_id}": "official",
    "GET /v1/cases/{case_id}/contacts": "official",
    "POST /v1/lab-results": "official",
    "PUT /v1/risk-areas/{region_code}": "official",
    "GET /v1/risk-areas/{region_code}": "official",
    "PUT /v1/persons/{person_id}/colour": "official",
    "PUT /v1/persons/{person_id}/quarantine": "official",
    "GET /v1/overrides": "official",
    "GET /v1/overrides/{override_id}": "official",
    "POST /v1/overrides/{override_id}/approve": "official",
    "POST /v1/overrides/{override_id}/reject": "official",
    "GET /v1/appeals": "official",
    "POST /v1/appeals/{appeal_id}/answer": "official",
    "GET /v1/persons/{person_id}": "official",
    "POST /v1/persons/search": "official",
    "GET /v1/alerts": "official",
    "POST /v1/alerts/{alert_id}/acknowledge": "official",
    "GET /v1/audit": "official",
    "PUT /v1/registers/entities": "official",
    "PUT /v1/registers/population": "official",
    "GET /v1/reports/indicators": "official",
    "GET /v1/reports/uncovered-entities": "official",
}


def id_number(born: date, serial: int, region: str = "520103") -> str:
    """A valid ID number (GB 11643 check character computed)."""
    first17 = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_character(first17)


def fresh_id_number() -> str:
    """A valid adult ID number nobody on the stack holds yet."""
    serial = next(_serial)
    return id_number(date(1975, 1, 1) + timedelta(days=serial), serial)


def declaration(**changes: Any) -> dict[str, Any]:
    return {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False, **changes}


def application(number: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "王小明",
        "id_number": number,
        "phone": "13800000000",
        "address": "贵州省贵阳市云岩区中华北路1号",
        "region_code": "520103",
        "declaration": declaration(),
    }
    return {**body, **changes}


def venue_form(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "花果园购物中心",
        "type": "mall",
        "subject_name": "贵阳花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": COUNTY,
        "location": dict(VENUE_LOCATION),
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": "13900000000",
    }
    return {**body, **changes}


@dataclass
class World:
    """The stack, a caller token per role (``tokens``) and the ids of what was made on it."""

    stack: Stack
    tokens: dict[str, str]
    person_id: str
    dependant_id: str
    venue_id: str
    venue_code: str
    case_id: str
    override_id: str
    appeal_id: str
    id_numbers: tuple[str, ...]
    _code: tuple[float, str] = field(default=(-1e9, ""))

    def headers(self, role: str | None) -> dict[str, str]:
        """The caller token of ``role``; ``applicant``: a new citizen account each time (one that
        holds no code yet, so that an application from it is accepted)."""
        if role == "applicant":
            return {"Authorization": f"Bearer {self.stack.token(f'applicant-{next(_serial)}', ['citizen'])}"}
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def call(
        self,
        method: str,
        path: str,
        role: str | None,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        sent = {**self.headers(role), **(headers or {})}
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return self.stack.http.request(
            method, f"{self.stack.url}{path}", json=json, data=data, headers=sent, timeout=120
        )

    def ok(self, method: str, path: str, role: str, body: Any = None) -> Any:
        answer = self.call(method, path, role, json=body)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def personal_code(self) -> str:
        """A fresh code of the citizen's own person."""
        fetched, token = self._code
        if time.monotonic() - fetched > CODE_REFRESH_SECONDS:
            token = str(self.ok("GET", f"/v1/codes/{self.person_id}", "citizen")["token"])
            self._code = (time.monotonic(), token)
        return token

    def fresh_override(self) -> str:
        """A new override awaiting a second official (requested on the dependant)."""
        body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-2022-0004"}
        path = f"/v1/persons/{self.dependant_id}/colour"
        return str(self.ok("PUT", path, "second_official", body)["override_id"])

    def fresh_yellow_person(self) -> tuple[str, str]:
        """A new account (its name in ``tokens``) and its own code, yellow (a declared contact):
        a person who may appeal, with a day's allowance of appeals of their own."""
        account = f"appellant-{next(_serial)}"
        self.tokens[account] = self.stack.token(account, ["citizen"])
        body = application(fresh_id_number(), declaration=declaration(contact_with_case=True))
        return account, str(self.ok("POST", "/v1/codes", account, body)["person_id"])

    def fresh_alert(self) -> str:
        """A new open alert at the world's venue: a fresh yellow person's code verified there by
        the world's scanner, the scans stream drained (an alert's id is its scan's)."""
        account, person_id = self.fresh_yellow_person()
        token = str(self.ok("GET", f"/v1/codes/{person_id}", account)["token"])
        body = {"code": token, "checkpoint_id": self.venue_id, "temperature": 36.5}
        scan_id = str(self.ok("POST", "/v1/verifications", "scanner", body)["scan_id"])
        self.stack.drain()
        return scan_id

    def fresh_appeal(self) -> str:
        """A new open appeal."""
        account, person_id = self.fresh_yellow_person()
        return str(
            self.ok("POST", f"/v1/codes/{person_id}/appeals", account, {"reason": "已完成隔离"})["appeal_id"]
        )

    def fresh_venue(self) -> str:
        """A new venue of the world's manager (reissuing or closing the world's own venue would
        refuse the code its check-ins use)."""
        return str(self.ok("POST", "/v1/venues", "venue_manager", venue_form(name="新门店"))["venue_id"])

    def item_counts(self, *, settle: bool = True) -> dict[str, int]:
        """Items per table. ``settle``: first wait until every stream record written so far is
        processed (then nothing moves unless a request writes: take it before the requests, and
        leave it out after them). moto keeps DescribeTable's ItemCount exact at every moment
        (AWS refreshes it every few hours): one cheap call per table."""
        if settle:
            self.stack.drain()
        dynamodb = self.stack.aws("dynamodb")
        counts = {
            logical_id: int(dynamodb.describe_table(TableName=name)["Table"]["ItemCount"])
            for logical_id, name in sorted(self.stack.info["tables"].items())
        }
        # the indicators' counters (``IND#…``) count refused requests on purpose (data accuracy):
        # they are left out, every other register item counts (a test may Scan moto)
        counted = dynamodb.scan(
            TableName=self.stack.info["tables"]["RegistersTable"],
            Select="COUNT",
            FilterExpression="begins_with(pk, :ind)",
            ExpressionAttributeValues={":ind": {"S": "IND#"}},
        )
        counts["RegistersTable"] -= int(counted["Count"])
        return counts


def make_world(stack: Stack) -> World:
    tokens = {role: stack.token(f"fuzz-{role}", [role]) for role in ROLES}
    tokens["second_official"] = stack.token("fuzz-second-official", ["official"])
    tokens["applicant"] = stack.token("fuzz-applicant", ["citizen"])  # an account without a code yet

    def ok(method: str, path: str, token: str, body: Any = None) -> Any:
        answer = stack.http.request(
            method, f"{stack.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    own = id_number(date(1985, 6, 12), 1)
    citizen = tokens["citizen"]
    person = ok(
        "POST", "/v1/codes", citizen, application(own, declaration=declaration(contact_with_case=True))
    )
    dependant = ok(
        "POST",
        "/v1/codes",
        citizen,
        application(
            id_number(date(2016, 9, 1), 2), dependant=True, declaration=declaration(symptoms=["cough"])
        ),
    )
    venue = ok("POST", "/v1/venues", tokens["venue_manager"], venue_form())
    # the world's scanner is assigned to the venue, where its verifications happen
    ok("PUT", f"/v1/venues/{venue['venue_id']}/staff/fuzz-scanner", tokens["venue_manager"])
    patient = ok(
        "POST", "/v1/codes", stack.token("fuzz-patient", ["citizen"]), application(fresh_id_number())
    )
    case = ok(
        "POST",
        "/v1/cases",
        tokens["official"],
        {
            "person_id": patient["person_id"],
            "status": "confirmed",
            "diagnosed_at": clock.show(clock.now() - timedelta(hours=1)),
        },
    )
    override = ok(
        "PUT",
        f"/v1/persons/{person['person_id']}/colour",
        tokens["second_official"],
        {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-2022-0001"},
    )
    appeal = ok(
        "POST", f"/v1/codes/{person['person_id']}/appeals", citizen, {"reason": "已完成隔离，核酸阴性"}
    )
    ok("POST", f"/v1/codes/{person['person_id']}/paper", citizen)
    return World(
        stack=stack,
        tokens=tokens,
        person_id=person["person_id"],
        dependant_id=dependant["person_id"],
        venue_id=venue["venue_id"],
        venue_code=venue["code"],
        case_id=case["case_id"],
        override_id=override["override_id"],
        appeal_id=appeal["appeal_id"],
        id_numbers=(own, *(fresh_id_number() for _ in range(20))),
    )


@contextmanager
def running_world(province: str = "520000") -> Iterator[World]:
    with running_stack(province) as stack:
        yield make_world(stack)


@dataclass(frozen=True)
class Write:
    """A write route (``template`` as the document names it) called on ``path`` with a body it
    accepts, as ``role``."""

    method: str
    template: str
    path: str
    role: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _writes(world: World) -> dict[str, Any]:
    now = clock.now()
    recent = clock.show(now - timedelta(hours=2))
    person = world.person_id

    def appeal() -> tuple[str, str, dict[str, Any]]:
        account, person_id = world.fresh_yellow_person()
        return f"/v1/codes/{person_id}/appeals", account, {"reason": "已隔离期满"}

    return {
        "POST /v1/codes": lambda: (
            "/v1/codes",
            "applicant",
            application(
                fresh_id_number(),
                dependant=False,
                declaration=declaration(travel=[{"region_code": "520103", "left_at": recent}]),
            ),
        ),
        "POST /v1/codes/{person_id}/appeals": lambda: appeal(),
        # an official issuing someone's paper code must give the reason (audited)
        "POST /v1/codes/{person_id}/paper": lambda: (
            f"/v1/codes/{person}/paper",
            "official",
            {"reason": "社区走访：老人无智能手机"},
        ),
        "POST /v1/venues/{venue_id}/code": lambda: (
            f"/v1/venues/{world.fresh_venue()}/code",
            "venue_manager",
            {"reason": "damaged"},
        ),
        "POST /v1/checkins": lambda: (
            "/v1/checkins",
            "citizen",
            {
                "venue_code": world.venue_code,
                "person_id": person,
                "companions": [world.dependant_id],
                "location": {"lat": VENUE_LOCATION["lat"] + 0.001, "lng": VENUE_LOCATION["lng"]},
            },
        ),
        "POST /v1/verifications": lambda: (
            "/v1/verifications",
            "scanner",
            {"code": world.personal_code(), "checkpoint_id": world.venue_id, "temperature": 36.5},
        ),
        "POST /v1/manual-registrations": lambda: (
            "/v1/manual-registrations",
            "scanner",
            {
                "name": "赵大爷",
                "id_number": fresh_id_number(),
                "phone": "13700000000",
                "temperature": 36.6,
                "checkpoint_id": world.venue_id,
            },
        ),
        "POST /v1/venues": lambda: (
            "/v1/venues",
            "venue_manager",
            venue_form(name="南明菜市场", type="farmers_market", manager_phone=f"139{next(_serial):08d}"),
        ),
        # the world's venue completed (zone, store number, its position taken again): its poster,
        # so its code, stays
        "PATCH /v1/venues/{venue_id}": lambda: (
            f"/v1/venues/{world.venue_id}",
            "venue_manager",
            {
                "zone": "南门广场",
                "store_number": f"NM-{next(_serial) % 1000:03d}",
                "location": dict(VENUE_LOCATION),
            },
        ),
        "POST /v1/cases": lambda: (
            "/v1/cases",
            "official",
            {"person_id": person, "status": "suspected", "diagnosed_at": recent},
        ),
        "PATCH /v1/cases/{case_id}": lambda: (
            f"/v1/cases/{world.case_id}",
            "official",
            {"status": "excluded"},
        ),
        "POST /v1/lab-results": lambda: (
            "/v1/lab-results",
            "official",
            {"results": [{"id_number": world.id_numbers[0], "sampled_at": recent, "result": "negative"}]},
        ),
        "PUT /v1/risk-areas/{region_code}": lambda: (
            f"/v1/risk-areas/{COUNTY}",
            "official",
            {"level": "medium"},
        ),
        "PUT /v1/persons/{person_id}/colour": lambda: (
            f"/v1/persons/{world.dependant_id}/colour",
            "official",
            {
                "colour": "green",
                "reason_code": "recovered",
                "evidence_ref": "EV-2022-0003",
                "note": "核酸两次阴性",
                "until": clock.show(now + timedelta(days=7)),
                "risk_level": 0,
            },
        ),
        "PUT /v1/persons/{person_id}/quarantine": lambda: (
            f"/v1/persons/{world.dependant_id}/quarantine",
            "official",
            {"kind": "home", "from": clock.show(now), "until": clock.show(now + timedelta(days=14))},
        ),
        "POST /v1/overrides/{override_id}/reject": lambda: (
            f"/v1/overrides/{world.fresh_override()}/reject",
            "official",
            {"reason": "证据不足"},
        ),
        "POST /v1/appeals/{appeal_id}/answer": lambda: (
            f"/v1/appeals/{world.fresh_appeal()}/answer",
            "official",
            {"outcome": "dismissed", "answer": "流调结果维持原判"},
        ),
        "POST /v1/persons/search": lambda: (
            "/v1/persons/search",
            "official",
            {"id_number": world.id_numbers[0], "id_type": "resident_id"},
        ),
        "POST /v1/alerts/{alert_id}/acknowledge": lambda: (
            f"/v1/alerts/{world.fresh_alert()}/acknowledge",
            "official",
            {"note": "已通知社区核查，转运隔离"},
        ),
        "PUT /v1/registers/entities": lambda: (
            "/v1/registers/entities",
            "official",
            {
                "entities": [
                    {
                        "credit_code": "91440300708461136T",
                        "name": "贵阳某某商贸有限公司",
                        "region_code": COUNTY,
                        "type": "enterprise",
                    }
                ]
            },
        ),
        "PUT /v1/registers/population": lambda: (
            "/v1/registers/population",
            "official",
            {"regions": [{"region_code": COUNTY, "population": 612_000}]},
        ),
    }


#: Every write route that takes a body (``tests/security/http/test_hostile_input.py`` checks that this
#: is every route whose document has a request body).
WRITE_ROUTES: tuple[str, ...] = (
    "POST /v1/codes",
    "POST /v1/codes/{person_id}/appeals",
    "POST /v1/codes/{person_id}/paper",
    "POST /v1/checkins",
    "POST /v1/verifications",
    "POST /v1/manual-registrations",
    "POST /v1/venues",
    "PATCH /v1/venues/{venue_id}",
    "POST /v1/venues/{venue_id}/code",
    "POST /v1/cases",
    "PATCH /v1/cases/{case_id}",
    "POST /v1/lab-results",
    "PUT /v1/risk-areas/{region_code}",
    "PUT /v1/persons/{person_id}/colour",
    "PUT /v1/persons/{person_id}/quarantine",
    "POST /v1/overrides/{override_id}/reject",
    "POST /v1/appeals/{appeal_id}/answer",
    "POST /v1/persons/search",
    "POST /v1/alerts/{alert_id}/acknowledge",
    "PUT /v1/registers/entities",
    "PUT /v1/registers/population",
)


def write_for(world: World, key: str) -> Write:
    """The write route ``key`` with a body it accepts now: a new applicant's application, a scan
    of the world's venue by its own citizen, a rejection of a fresh override..."""
    path, role, body = _writes(world)[key]()
    method, template = key.split(" ", 1)
    return Write(method, template, path, role, body)
