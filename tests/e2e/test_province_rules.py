"""Province rules over HTTP on local stacks: Shanxi (a quarantine placed and lifted by two
officials, a case's building turned yellow) and Fujian (an arrival without a recent negative test
is orange until a lab posts one, and the code shows the tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode.rules.idcard import check_character

from tests.e2e.stack import Stack, running_stack

OFFICIAL = ("official-a", ["official"])
SECOND_OFFICIAL = ("official-b", ["official"])
MANAGER = ("sx-manager", ["venue_manager"])


@pytest.fixture(scope="module")
def shanxi() -> Iterator[Stack]:
    with running_stack("140000") as started:
        yield started


@pytest.fixture(scope="module")
def fujian() -> Iterator[Stack]:
    with running_stack("350000") as started:
        yield started


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def id_number(first13: str) -> str:
    first17 = f"{first13}{uuid.uuid4().int % 10000:04d}"
    return first17 + check_character(first17)


def apply(stack: Stack, region: str, number: str, **changes: Any) -> tuple[str, tuple[str, list[str]], Any]:
    who = citizen()
    body = {
        "name": "王晓明",
        "id_number": number,
        "phone": "13800000000",
        "address": "测试地址1号",
        "region_code": region,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        **changes,
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["person_id"]), who, answer.json()


def now_of(stack: Stack) -> datetime:
    """The stack's clock (GET /_local/clock)."""
    answer = stack.http.get(f"{stack.url}/_local/clock", timeout=10)
    answer.raise_for_status()
    return datetime.fromisoformat(str(answer.json()["now"]))


def colour_of(stack: Stack, person_id: str, who: tuple[str, list[str]]) -> tuple[str, list[str]]:
    answer = stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return str(body["colour"]), [str(r["code"]) for r in body["reasons"]]


def test_shanxi_quarantine_and_building_rules(shanxi: Stack) -> None:
    # GIVEN a residential compound in Taiyuan and three residents, two of them in building 3
    compound = {
        "name": "龙城花园",
        "type": "residential",
        "subject_name": "龙城花园物业",
        "credential_type": "uscc",
        "credential_number": "91350100M000100Y43",
        "region_code": "140105",
        "location": {"lat": 37.80, "lng": 112.57},
        "address": "太原市小店区龙城大街1号",
        "manager_phone": "13900000000",
    }
    registered = shanxi.call("POST", "/v1/venues", as_=MANAGER, json=compound)
    assert registered.status_code == 201, registered.text
    venue_id = registered.json()["venue_id"]
    home = {"region_code": "140105", "venue_id": venue_id, "building": "3号楼"}
    case_id, _, _ = apply(shanxi, "140105", id_number("1401051985061"), residence=home)
    neighbour, neighbour_who, _ = apply(shanxi, "140105", id_number("1401051986061"), residence=home)
    quarantined, quarantined_who, _ = apply(shanxi, "140105", id_number("1401051987061"))
    # WHEN an official places a home quarantine THEN red at once
    start = now_of(shanxi)
    order = {"kind": "home", "from": (start - timedelta(hours=1)).isoformat()}
    placed = shanxi.call("PUT", f"/v1/persons/{quarantined}/quarantine", as_=OFFICIAL, json=order)
    assert placed.status_code == 200, placed.text
    assert colour_of(shanxi, quarantined, quarantined_who) == ("red", ["quarantine"])
    # WHEN the same official lifts it early THEN held; a second official's approval makes it green
    early = {**order, "until": now_of(shanxi).isoformat()}  # ends now
    held = shanxi.call("PUT", f"/v1/persons/{quarantined}/quarantine", as_=OFFICIAL, json=early)
    assert held.status_code == 202 and held.json()["status"] == "pending_approval", held.text
    assert colour_of(shanxi, quarantined, quarantined_who)[0] == "red"
    approve = f"/v1/overrides/{held.json()['request_id']}/approve"
    assert shanxi.call("POST", approve, as_=SECOND_OFFICIAL).status_code == 200
    assert colour_of(shanxi, quarantined, quarantined_who) == ("green", [])
    # WHEN a resident of building 3 is reported a case THEN the other resident turns yellow
    report = {"person_id": case_id, "status": "confirmed", "diagnosed_at": start.isoformat()}
    assert shanxi.call("POST", "/v1/cases", as_=OFFICIAL, json=report).status_code == 202
    shanxi.drain()
    assert colour_of(shanxi, neighbour, neighbour_who) == ("yellow", ["same_building"])


def test_fujian_arrival_needs_a_recent_negative_test(fujian: Stack) -> None:
    # GIVEN a medium-risk county and someone who left it a day ago without a test
    assert (
        fujian.call("PUT", "/v1/risk-areas/420106", as_=OFFICIAL, json={"level": "medium"}).status_code == 200
    )
    now = now_of(fujian)
    left = now - timedelta(days=1)
    number = id_number("3501021985061")
    trip = {"region_code": "420106", "left_at": left.isoformat()}
    declaration = {"symptoms": [], "temperature": 36.5, "travel": [trip], "contact_with_case": False}
    person_id, who, answer = apply(fujian, "350102", number, declaration=declaration)
    assert answer["colour"] == "orange"
    assert [r["code"] for r in answer["reasons"]] == ["medium_risk_travel", "no_recent_test"]
    # WHEN a laboratory posts a negative nucleic-acid test sampled 3 days before leaving
    row = {"id_number": number, "sampled_at": (left - timedelta(days=3)).isoformat(), "result": "negative"}
    posted = fujian.call("POST", "/v1/lab-results", as_=("lab-1", ["lab"]), json={"results": [row]})
    assert posted.status_code == 200 and posted.json()["accepted"] == 1, posted.text
    fujian.drain()
    # THEN that reason is gone and the code shows the test
    shown = fujian.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    assert [r["code"] for r in shown["reasons"]] == ["medium_risk_travel"]
    assert [(t["test"], t["result"]) for t in shown["tests"]] == [("nucleic_acid", "negative")]
