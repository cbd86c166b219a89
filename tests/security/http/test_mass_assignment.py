"""Mass assignment over HTTP (OWASP API3:2023, broken object property level authorization):
colours, levels, ids, owners, statuses and versions a client puts in a write route's body are
refused (422 ``unknown_field`` naming the field) or ignored — never
stored. Where it matters the state is read back: a case stays red whatever the application
says, a venue cannot choose its id or manager, an override cannot be born approved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.security.http import forgery
from tests.security.http.world import (
    VENUE_LOCATION,
    Person,
    SecurityStack,
    World,
    account,
    application,
    venue_form,
)

#: What a refusal of an unknown field is called (the citizen-facing forms and the officials' ones
#: were written apart; both name the field).
REFUSED = {"unknown_field"}
#: Server-owned properties a client might try to set on any resource.
#: A county of the world's province, for the registers' rows.
COUNTY_OF_WORLD = "520102"
SERVER_FIELDS: dict[str, Any] = {
    "colour": "green",
    "risk_level": 0,
    "level": 0,
    "person_id": "p-" + "0" * 32,
    "venue_id": "v-" + "0" * 32,
    "owner_sub": "attacker",
    "manager_sub": "attacker",
    "status": "approved",
    "version": 99,
    "created_at": "2020-01-01T00:00:00+08:00",
}


@pytest.fixture(scope="module")
def world(guizhou_stack: SecurityStack) -> World:
    return World(guizhou_stack.stack)


def _red(world: World) -> Person:
    """A person reported as a confirmed case: red at once."""
    person = world.apply(account("citizen"))
    world.report_case(person)
    shown = world.ok("GET", f"/v1/codes/{person.person_id}", as_=(person.owner, ["citizen"]))
    assert (shown["colour"], shown["risk_level"]) == ("red", 2)
    return person


# -- every write route refuses server-owned fields ---------------------------------------------------


@dataclass(frozen=True)
class WriteRoute:
    """A write route with a valid body; ``own`` lists the body's own fields (never smuggled)."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    role: str
    caller: Callable[[World], str]
    own: frozenset[str]
    extra: tuple[str, ...] = ()  # route-specific server fields besides SERVER_FIELDS


def _diagnosed(world: World) -> str:
    return (world.now() - timedelta(hours=1)).isoformat()


def _negative_row(world: World) -> dict[str, Any]:
    sampled = (world.now() - timedelta(hours=2)).isoformat()
    return {"id_number": world.patient.id_number, "sampled_at": sampled, "result": "negative"}


def _shared_override(world: World) -> str:
    """One pending override for the reject route's bodies: an unknown field is refused before the
    override is looked up, and the one valid body rejects it."""
    return str(
        world._once("mass-override", lambda: world.request_override(world.person, world.requesting_official))
    )


def _shared_appeal(world: World) -> str:
    """One appeal for the answer route's bodies (appeals are limited per account and day)."""
    return str(world._once("mass-appeal", lambda: world.file_appeal(world.appellant)))


def _shared_alert(world: World) -> str:
    """One open alert for the acknowledge route: a red code verified at the world's checkpoint,
    the scans stream drained (an alert's id is its scan's). Only the one valid body acknowledges
    it; the smuggled ones are refused before it is looked up."""

    def make() -> str:
        person = _red(world)
        scanned = world.ok(
            "POST",
            "/v1/verifications",
            as_=(world.scanner, ["scanner"]),
            json={"code": world.code_of(person), "checkpoint_id": world.venue["venue_id"]},
        )
        world.stack.drain()
        return str(scanned["scan_id"])

    return str(world._once("mass-alert", make))


WRITE_ROUTES: dict[str, WriteRoute] = {
    "POST /v1/codes": WriteRoute(
        "POST",
        lambda w: "/v1/codes",
        lambda w: application(),
        "citizen",
        lambda w: account("citizen"),
        frozenset(
            {"name", "id_number", "phone", "address", "region_code", "declaration", "dependant", "link_code"}
        ),
        ("token", "expires_at", "reason"),
    ),
    "POST /v1/codes/{person_id}/appeals": WriteRoute(
        "POST",
        lambda w: f"/v1/codes/{w.person.person_id}/appeals",
        lambda w: {"reason": "已解除隔离"},
        "citizen",
        lambda w: w.citizen,
        frozenset({"reason"}),
        ("appeal_id", "outcome", "answer"),
    ),
    "POST /v1/checkins": WriteRoute(
        "POST",
        lambda w: "/v1/checkins",
        lambda w: {
            "venue_code": w.venue["code"],
            "person_id": w.person.person_id,
            "location": dict(VENUE_LOCATION),
        },
        "citizen",
        lambda w: w.citizen,
        frozenset({"venue_code", "person_id", "companions", "location"}),
        ("verdict", "scan_id", "scanned_at"),
    ),
    "POST /v1/verifications": WriteRoute(
        "POST",
        lambda w: "/v1/verifications",
        lambda w: {"code": w.code_of(w.person), "checkpoint_id": w.venue["venue_id"]},
        "scanner",
        lambda w: w.scanner,
        frozenset({"code", "checkpoint_id", "temperature"}),
        ("verdict", "abnormal", "scan_id"),
    ),
    "POST /v1/manual-registrations": WriteRoute(
        "POST",
        lambda w: "/v1/manual-registrations",
        lambda w: {
            "name": "王小明",  # the name w.person applied with (another → 409 identity_mismatch)
            "id_number": w.person.id_number,
            "phone": "13800000000",
            "temperature": 36.5,
            "checkpoint_id": w.venue["venue_id"],
        },
        "scanner",
        lambda w: w.scanner,
        frozenset({"name", "id_number", "phone", "temperature", "checkpoint_id"}),
        ("verdict", "abnormal", "scan_id"),
    ),
    "POST /v1/venues": WriteRoute(
        "POST",
        lambda w: "/v1/venues",
        lambda w: venue_form(),
        "venue_manager",
        lambda w: w.manager,
        frozenset(venue_form()) | {"parent_venue_id"},
        ("root_venue_id", "code", "shards", "code_expires_at"),
    ),
    # a manager changes what they registered, never what the server keeps or what fixes the
    # venue's place in the system (type, region, complex)
    "PATCH /v1/venues/{venue_id}": WriteRoute(
        "PATCH",
        lambda w: f"/v1/venues/{w.venue['venue_id']}",
        lambda w: {"zone": "北门广场"},
        "venue_manager",
        lambda w: w.manager,
        frozenset(
            {
                "name",
                "address",
                "manager_phone",
                "subject_name",
                "credential_type",
                "credential_number",
                "zone",
                "store_number",
                "location",
            }
        ),
        ("root_venue_id", "code", "shards", "type", "region_code", "parent_venue_id", "closed_at"),
    ),
    # a reissue says why, nothing else: never the code, its generation or whether the venue is
    # open (a venue of its own each time: reissuing the world's venue would revoke its code)
    "POST /v1/venues/{venue_id}/code": WriteRoute(
        "POST",
        lambda w: f"/v1/venues/{w.register_venue(w.manager)['venue_id']}/code",
        lambda w: {"reason": "damaged"},
        "venue_manager",
        lambda w: w.manager,
        frozenset({"reason"}),
        ("code", "generation", "code_generation", "closed_at", "venue_id"),
    ),
    "POST /v1/cases": WriteRoute(
        "POST",
        lambda w: "/v1/cases",
        lambda w: {"person_id": w.patient.person_id, "status": "confirmed", "diagnosed_at": _diagnosed(w)},
        "official",
        lambda w: w.official,
        frozenset({"person_id", "id_number", "status", "diagnosed_at"}),
        ("case_id", "tracing", "contacts_found"),
    ),
    "POST /v1/lab-results": WriteRoute(
        "POST",
        lambda w: "/v1/lab-results",
        lambda w: {"results": [_negative_row(w)]},
        "official",
        lambda w: w.official,
        frozenset({"results"}),
        ("accepted", "case_id"),
    ),
    "PUT /v1/risk-areas/{region_code}": WriteRoute(
        "PUT",
        lambda w: "/v1/risk-areas/520103",
        lambda w: {"level": "low"},
        "official",
        lambda w: w.official,
        frozenset({"level"}),
        ("region_code", "updated_at"),
    ),
    "PUT /v1/persons/{person_id}/colour": WriteRoute(
        "PUT",
        lambda w: f"/v1/persons/{w.person.person_id}/colour",
        lambda w: {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-1"},
        "official",
        lambda w: w.official,
        frozenset({"colour", "reason_code", "evidence_ref", "note", "until", "risk_level"}),
        ("override_id", "requested_by", "decided_by", "approved_by"),
    ),
    "PUT /v1/persons/{person_id}/quarantine": WriteRoute(
        "PUT",
        lambda w: f"/v1/persons/{w.person.person_id}/quarantine",
        lambda w: {"kind": "home", "from": w.now().isoformat()},
        "official",
        lambda w: w.official,
        frozenset({"kind", "from", "until"}),
        ("quarantine", "approved_by"),
    ),
    "POST /v1/overrides/{override_id}/reject": WriteRoute(
        "POST",
        lambda w: f"/v1/overrides/{_shared_override(w)}/reject",
        lambda w: {"reason": "证据不足"},
        "official",
        lambda w: w.official,
        frozenset({"reason"}),
        ("decided_by",),
    ),
    "POST /v1/persons/search": WriteRoute(
        "POST",
        lambda w: "/v1/persons/search",
        lambda w: {"id_number": w.patient.id_number},
        "official",
        lambda w: w.official,
        frozenset({"id_number", "id_type"}),
    ),
    "POST /v1/alerts/{alert_id}/acknowledge": WriteRoute(
        "POST",
        lambda w: f"/v1/alerts/{_shared_alert(w)}/acknowledge",
        lambda w: {"note": "已通知社区，转运隔离"},
        "official",
        lambda w: w.official,
        frozenset({"note"}),
        ("acknowledged_by", "acknowledged_at"),
    ),
    "PUT /v1/registers/entities": WriteRoute(
        "PUT",
        lambda w: "/v1/registers/entities",
        lambda w: {
            "entities": [
                {
                    "credit_code": "91440300708461136T",
                    "name": "贵阳某某商贸有限公司",
                    "region_code": COUNTY_OF_WORLD,
                    "type": "enterprise",
                }
            ]
        },
        "official",
        lambda w: w.official,
        frozenset({"entities"}),
        ("accepted",),
    ),
    "PUT /v1/registers/population": WriteRoute(
        "PUT",
        lambda w: "/v1/registers/population",
        lambda w: {"regions": [{"region_code": COUNTY_OF_WORLD, "population": 500_000}]},
        "official",
        lambda w: w.official,
        frozenset({"regions"}),
    ),
    "POST /v1/appeals/{appeal_id}/answer": WriteRoute(
        "POST",
        lambda w: f"/v1/appeals/{_shared_appeal(w)}/answer",
        lambda w: {"outcome": "dismissed", "answer": "隔离期未满"},
        "official",
        lambda w: w.official,
        frozenset({"outcome", "answer"}),
        ("answered_by",),
    ),
}

SMUGGLING = [
    pytest.param(route, name, id=f"{route} + {name}")
    for route, spec in WRITE_ROUTES.items()
    for name in (*SERVER_FIELDS, *spec.extra)
    if name not in spec.own
]


def test_the_table_names_every_route_that_reads_a_json_body() -> None:
    from tests.security.http.routes import TABLE

    # GIVEN the write routes (POST/PUT); those that read no body are tried in their own tests below
    without_body = {
        "POST /v1/codes/{person_id}/links",
        "POST /v1/codes/{person_id}/paper",
        "POST /v1/overrides/{override_id}/approve",
        "PUT /v1/venues/{venue_id}/staff/{sub}",
        "POST /v1/venues/{venue_id}/join-codes",
    }
    writes = {rule.key for rule in TABLE if rule.method in ("POST", "PUT")}
    with_body = {key for key, spec in WRITE_ROUTES.items() if spec.method in ("POST", "PUT")}
    assert writes == with_body | without_body


def _smuggled_value(name: str) -> Any:
    return SERVER_FIELDS.get(name, "attacker-chosen")


@pytest.mark.parametrize(("route", "name"), SMUGGLING)
def test_a_server_owned_field_in_a_write_body_is_refused(world: World, route: str, name: str) -> None:
    spec = WRITE_ROUTES[route]
    # GIVEN a valid body for the route with a server-owned property added
    body = {**spec.body(world), name: _smuggled_value(name)}
    # WHEN sent by a caller the route serves
    answer = world.call(spec.method, spec.path(world), as_=(spec.caller(world), [spec.role]), json=body)
    # THEN refused, naming the field: nothing was written with it
    assert answer.status_code == 422, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] in REFUSED and error["field"] == name, error


@pytest.mark.parametrize("route", sorted(WRITE_ROUTES))
def test_each_write_body_is_valid_without_the_smuggled_fields(world: World, route: str) -> None:
    # GIVEN the same bodies without the extra property THEN each is served (the refusals above
    # are about the property, not a broken body)
    spec = WRITE_ROUTES[route]
    answer = world.call(
        spec.method, spec.path(world), as_=(spec.caller(world), [spec.role]), json=spec.body(world)
    )
    assert answer.status_code < 300, answer.text[:300]


# -- state read back -------------------------------------------------------------------------------


def test_a_case_stays_red_whatever_the_application_says(world: World) -> None:
    # GIVEN a person reported as a confirmed case (red)
    person = _red(world)
    renewal = application(id_number=person.id_number)
    who = (person.owner, ["citizen"])
    # WHEN the account renews the application claiming green, level 0, in the form or the declaration
    for smuggled in (
        {"colour": "green", "risk_level": 0},
        {"declaration": {**renewal["declaration"], "colour": "green"}},
    ):
        refused = world.call("POST", "/v1/codes", as_=who, json={**renewal, **smuggled})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_field"
    # AND renews honestly, declaring nothing wrong
    renewed = world.call("POST", "/v1/codes", as_=who, json=renewal)
    # THEN the code is the same person's and still red, at refresh and at a checkpoint
    assert renewed.status_code == 200, renewed.text
    assert (renewed.json()["person_id"], renewed.json()["colour"]) == (person.person_id, "red")
    assert world.ok("GET", f"/v1/codes/{person.person_id}", as_=who)["risk_level"] == 2
    scanned = world.ok(
        "POST",
        "/v1/verifications",
        as_=(world.scanner, ["scanner"]),
        json={"code": world.code_of(person), "checkpoint_id": world.venue["venue_id"]},
    )
    assert (scanned["colour"], scanned["risk_level"]) == ("red", 2) and scanned["verdict"] != "pass"


def test_a_tampered_code_cannot_carry_a_greener_colour(world: World) -> None:
    # GIVEN a red person's code with its colour claims edited to green (signature kept)
    person = _red(world)
    tampered = forgery.tampered(world.code_of(person), lvl=0, col="green")
    body = {"code": tampered, "checkpoint_id": world.venue["venue_id"]}
    # WHEN scanned THEN refused as forged
    answer = world.call("POST", "/v1/verifications", as_=(world.scanner, ["scanner"]), json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_code")


def test_checkins_and_registrations_take_colour_from_the_record(world: World) -> None:
    # GIVEN a red person
    person = _red(world)
    checkin = {
        "venue_code": world.venue["code"],
        "person_id": person.person_id,
        "location": dict(VENUE_LOCATION),
    }
    # WHEN they check in THEN the presence is red, whatever a client could have wished
    shown = world.ok("POST", "/v1/checkins", as_=(person.owner, ["citizen"]), json=checkin)
    assert [(c["person_id"], c["colour"], c["risk_level"]) for c in shown["checkins"]] == [
        (person.person_id, "red", 2)
    ]
    # AND a checkpoint registering them by ID number (no phone) finds them red too
    registration = {
        "name": "王小明",
        "id_number": person.id_number,
        "phone": "13800000000",
        "temperature": 36.5,
        "checkpoint_id": world.venue["venue_id"],
    }
    registered = world.ok(
        "POST", "/v1/manual-registrations", as_=(world.scanner, ["scanner"]), json=registration
    )
    assert registered["colour"] == "red" and "person_id" not in registered


def test_a_venue_cannot_choose_its_id_manager_or_complex(world: World) -> None:
    # GIVEN a manager who asks for a venue id and another manager of their choosing
    chosen = f"v-{uuid.uuid4().hex}"
    who = (account("venue_manager"), ["venue_manager"])
    for smuggled in ({"venue_id": chosen}, {"manager_sub": world.manager}, {"root_venue_id": chosen}):
        refused = world.call("POST", "/v1/venues", as_=who, json={**venue_form(), **smuggled})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_field"
    # THEN no venue has that id
    missing = world.call("GET", f"/v1/venues/{chosen}", as_=(world.official, ["official"]))
    assert missing.status_code == 404
    # AND a store cannot join another manager's complex
    under = world.call(
        "POST", "/v1/venues", as_=who, json=venue_form(parent_venue_id=world.venue["venue_id"])
    )
    assert (under.status_code, under.json()["error"]["code"]) == (403, "not_parent_manager")
    # AND an honest registration gets a server-made id, managed by the caller alone
    created = world.ok("POST", "/v1/venues", as_=who, json=venue_form())
    assert created["venue_id"] != chosen and created["root_venue_id"] == created["venue_id"]
    assert world.call("GET", f"/v1/venues/{created['venue_id']}", as_=who).status_code == 200
    other = world.call("GET", f"/v1/venues/{created['venue_id']}", as_=(world.manager, ["venue_manager"]))
    assert other.status_code == 403


def test_a_case_cannot_choose_its_id(world: World) -> None:
    chosen = f"case-{uuid.uuid4().hex[:24]}"
    body = {
        "person_id": world.patient.person_id,
        "status": "confirmed",
        "diagnosed_at": _diagnosed(world),
        "case_id": chosen,
    }
    official = (world.official, ["official"])
    refused = world.call("POST", "/v1/cases", as_=official, json=body)
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "case_id")
    assert world.call("GET", f"/v1/cases/{chosen}", as_=official).status_code == 404


def test_an_override_cannot_be_born_approved_or_mislabelled(world: World) -> None:
    # GIVEN a red person and an official asking for green
    person = _red(world)
    requester = (account("official"), ["official"])
    path = f"/v1/persons/{person.person_id}/colour"
    body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-9"}
    # WHEN the request says it is applied, or approved by someone, or green at level 2
    for smuggled in ({"status": "applied"}, {"approved_by": "official-2"}, {"decided_by": "official-2"}):
        refused = world.call("PUT", path, as_=requester, json={**body, **smuggled})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_field"
    mislabelled = world.call("PUT", path, as_=requester, json={**body, "risk_level": 2})
    assert (mislabelled.status_code, mislabelled.json()["error"]["code"]) == (422, "invalid_risk_level")
    # THEN an honest request waits for a second official, and the person stays red meanwhile
    pending = world.ok("PUT", path, as_=requester, json=body)
    assert pending["status"] == "pending_approval"
    assert (
        world.ok("GET", f"/v1/persons/{person.person_id}", as_=(world.official, ["official"]))["colour"]
        == "red"
    )
    # AND the requester cannot approve it by naming someone else in the body
    own = world.call(
        "POST",
        f"/v1/overrides/{pending['override_id']}/approve",
        as_=requester,
        json={"requested_by": "official-2", "status": "applied"},
    )
    assert (own.status_code, own.json()["error"]["code"]) == (403, "cannot_approve_own")
    # AND a second official's approval applies what was requested, not what its body says
    approved = world.ok(
        "POST",
        f"/v1/overrides/{pending['override_id']}/approve",
        as_=(world.official, ["official"]),
        json={"colour": "red", "risk_level": 2, "status": "rejected"},
    )
    assert (approved["status"], approved["colour"], approved["risk_level"]) == ("applied", "green", 0)


def test_paper_codes_and_links_act_on_the_path_person_only(world: World) -> None:
    # GIVEN a citizen's code and another account's person named in the request bodies
    mine, theirs = world.person, world.appellant
    who = (mine.owner, ["citizen"])
    redirect = {"person_id": theirs.person_id, "sub": theirs.person_id, "owner_sub": mine.owner}
    # WHEN they ask for a paper code with that body THEN it is refused: the paper route reads only
    # an official's reason, and any other field is unknown (nothing issued)
    refused = world.call("POST", f"/v1/codes/{mine.person_id}/paper", as_=who, json=redirect)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "unknown_field")
    paper = world.ok("POST", f"/v1/codes/{mine.person_id}/paper", as_=who)
    # AND a link code asked with that body is for the path's person: the body is not read
    link = world.ok("POST", f"/v1/codes/{mine.person_id}/links", as_=who, json=redirect)
    _, claims, _ = forgery.parts(paper["token"])
    assert (paper["person_id"], claims["sub"]) == (mine.person_id, mine.person_id)
    assert link["person_id"] == mine.person_id
    # AND the other person's code still belongs to its own account
    assert world.call("GET", f"/v1/codes/{theirs.person_id}", as_=who).status_code == 404


def test_lab_rows_with_server_fields_are_rejected_row_by_row(world: World) -> None:
    # GIVEN a negative lab row carrying a colour and a person id
    person = _red(world)
    sampled = (world.now() - timedelta(hours=2)).isoformat()
    row = {"id_number": person.id_number, "sampled_at": sampled, "result": "negative"}
    rows = [{**row, "colour": "green"}, {**row, "person_id": world.person.person_id}]
    # WHEN imported THEN each row is rejected, naming the field, and nothing is accepted
    answer = world.ok("POST", "/v1/lab-results", as_=(world.official, ["official"]), json={"results": rows})
    assert answer["accepted"] == 0
    assert [(r["index"], r["error"], r["field"]) for r in answer["rejected"]] == [
        (0, "unknown_field", "colour"),
        (1, "unknown_field", "person_id"),
    ]


def test_an_appeal_answer_cannot_set_a_status_of_its_choosing(world: World) -> None:
    appeal_id = world.file_appeal(world.appellant)
    official = (world.official, ["official"])
    path = f"/v1/appeals/{appeal_id}/answer"
    answer = world.call("POST", path, as_=official, json={"outcome": "applied", "answer": "好"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_outcome")
    # AND the appeal is still open for a real answer
    answered = world.ok("POST", path, as_=official, json={"outcome": "dismissed", "answer": "隔离期未满"})
    assert answered["status"] == "dismissed"
