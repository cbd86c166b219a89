"""A case's lifecycle and tracing from close contacts end to end over HTTP, on a Henan stack of
its own (policy ``trace_generations`` 2): an upgrade applies at once despite an approved
override, a recovered case turns green only once a second official approves it, an excluded case
releases its person and its contacts, and a close contact's later check-in finds a contact of
the second generation."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import idcard

from tests.e2e.stack import Stack, running_stack

Who = tuple[str, list[str]]
OFFICIAL: Who = ("e2e-henan-official-a", ["official"])
SECOND_OFFICIAL: Who = ("e2e-henan-official-b", ["official"])
COUNTY, LAT, LNG, ADDRESS = "410102", 34.7466, 113.6254, "河南省郑州市中原区建设西路1号"
_sequence = itertools.count(101)


@pytest.fixture(scope="module")
def henan() -> Iterator[Stack]:
    with running_stack("410000") as started:
        yield started


def account(role: str) -> Who:
    return (f"e2e-{role}-{uuid.uuid4().hex[:8]}", [role])


def apply(stack: Stack) -> tuple[Who, str]:
    who = account("citizen")
    first17 = f"{COUNTY}19850301{next(_sequence):03d}"
    body = {
        "name": "李建国",
        "id_number": first17 + idcard.check_character(first17),
        "phone": "13800000000",
        "address": ADDRESS,
        "region_code": COUNTY,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return who, str(answer.json()["person_id"])


def colour(stack: Stack, who: Who, person_id: str) -> str:
    answer = stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["colour"])


def register(stack: Stack, venue_type: str) -> dict[str, Any]:
    body = {
        "name": f"{venue_type} {uuid.uuid4().hex[:4]}",
        "type": venue_type,
        "subject_name": "郑州某某商贸有限公司",
        "credential_type": "uscc",
        "credential_number": "91330100799655058B",
        "region_code": COUNTY,
        "location": {"lat": LAT, "lng": LNG},
        "address": ADDRESS,
        "manager_phone": "13900000000",
    }
    answer = stack.call("POST", "/v1/venues", as_=account("venue_manager"), json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def check_in(stack: Stack, who: Who, person_id: str, venue: dict[str, Any]) -> None:
    body = {"venue_code": venue["code"], "person_id": person_id, "location": {"lat": LAT + 0.001, "lng": LNG}}
    answer = stack.call("POST", "/v1/checkins", as_=who, json=body)
    assert answer.status_code == 201, answer.text


def now(stack: Stack) -> datetime:
    return clock.parse_instant(stack.clock(advance_seconds=0))


def report(stack: Stack, person_id: str, status: str) -> str:
    body = {"person_id": person_id, "status": status, "diagnosed_at": now(stack).isoformat()}
    answer = stack.call("POST", "/v1/cases", as_=OFFICIAL, json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["case_id"])


def patch(stack: Stack, case_id: str, status: str, who: Who = OFFICIAL) -> Any:
    return stack.call("PATCH", f"/v1/cases/{case_id}", as_=who, json={"status": status})


def approve(stack: Stack, request_id: str, who: Who = SECOND_OFFICIAL) -> Any:
    return stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=who)


def test_a_recovered_case_is_green_after_the_second_official_and_not_before(henan: Stack) -> None:
    # GIVEN a confirmed case, red
    who, person_id = apply(henan)
    case_id = report(henan, person_id, "confirmed")
    assert colour(henan, who, person_id) == "red"
    # WHEN an official asks for recovered THEN it waits, and the code stays red
    asked = patch(henan, case_id, "recovered")
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending_approval"
    assert colour(henan, who, person_id) == "red"
    own = approve(henan, asked.json()["request_id"], OFFICIAL)
    assert (own.status_code, own.json()["error"]["code"]) == (403, "cannot_approve_own")
    assert colour(henan, who, person_id) == "red"
    # WHEN a second official approves THEN the code is green and the case shows its history
    approved = approve(henan, asked.json()["request_id"])
    assert approved.status_code == 200, approved.text
    assert colour(henan, who, person_id) == "green"
    shown = henan.call("GET", f"/v1/cases/{case_id}", as_=OFFICIAL).json()
    assert [(s["status"], s["by"]) for s in shown["history"]] == [
        ("confirmed", OFFICIAL[0]),
        ("recovered", SECOND_OFFICIAL[0]),
    ]


def test_an_upgrade_applies_at_once_despite_an_override(henan: Stack) -> None:
    # GIVEN a suspected case reviewed to green by two officials
    who, person_id = apply(henan)
    case_id = report(henan, person_id, "suspected")
    body = {"colour": "green", "reason_code": "reviewed", "evidence_ref": "ZZ-CDC-2022-0518-03"}
    asked = henan.call("PUT", f"/v1/persons/{person_id}/colour", as_=OFFICIAL, json=body)
    assert approve(henan, asked.json()["override_id"]).status_code == 200
    assert colour(henan, who, person_id) == "green"
    henan.clock(advance_seconds=60)
    # WHEN the case is confirmed THEN 200 at once and the code is red
    upgraded = patch(henan, case_id, "confirmed", SECOND_OFFICIAL)
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["status"] == "confirmed"
    assert colour(henan, who, person_id) == "red"


def test_an_excluded_case_releases_its_contacts_and_the_second_generation_is_traced(henan: Stack) -> None:
    # GIVEN the case person and a close contact at a restaurant, then the close contact at a
    # supermarket with someone else (all at the stack's present instant)
    restaurant, supermarket = register(henan, "restaurant"), register(henan, "supermarket")
    case_who, case_person = apply(henan)
    close_who, close = apply(henan)
    later_who, later = apply(henan)
    check_in(henan, case_who, case_person, restaurant)
    check_in(henan, close_who, close, restaurant)
    check_in(henan, close_who, close, supermarket)
    check_in(henan, later_who, later, supermarket)
    henan.clock(advance_seconds=30)
    # WHEN the case is reported and tracing runs
    case_id = report(henan, case_person, "suspected")
    henan.drain()
    # THEN the close contact is red, the supermarket visitor a secondary contact of generation 2
    contacts = henan.call("GET", f"/v1/cases/{case_id}/contacts", as_=OFFICIAL).json()
    rows = {row["person_id"]: (row["kind"], row["generation"], row["via"]) for row in contacts["contacts"]}
    assert rows == {close: ("close", 1, None), later: ("secondary", 2, close)}
    assert contacts["tracing"] == "done"
    assert (colour(henan, close_who, close), colour(henan, later_who, later)) == ("red", "yellow")
    # WHEN the case is excluded and a second official approves
    asked = patch(henan, case_id, "excluded")
    assert asked.status_code == 202, asked.text
    henan.clock(advance_seconds=60)
    assert approve(henan, asked.json()["request_id"]).status_code == 200
    henan.drain()
    # THEN the case person and both contacts are green again
    assert colour(henan, case_who, case_person) == "green"
    assert (colour(henan, close_who, close), colour(henan, later_who, later)) == ("green", "green")
