"""Check-ins end to end over HTTP: a parent scans a venue poster for themselves and a child in
their care, forwarded posters and forged codes are refused, and after a drain the venue's
manager sees the day's stats and alerts (masked in Guizhou, identities for orange visitors in
Fujian, on a stack of its own) while officials get the daily report as CSV."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from healthcode.rules import idcard

from tests.e2e.stack import Stack, running_stack

OFFICIAL = ("e2e-official", ["official"])
_sequence = iter(range(100, 1000))

PLACES = {
    "520000": ("520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号"),
    "350000": ("350102", 26.0845, 119.2965, "福建省福州市鼓楼区八一七北路88号"),
}


def account(role: str) -> tuple[str, list[str]]:
    return (f"e2e-{role}-{uuid.uuid4().hex[:8]}", [role])


def apply(
    stack: Stack, who: tuple[str, list[str]], *, born: str, symptoms: list[str], dependant: bool = False
) -> str:
    """Apply for a code (own or a dependant's) in the stack's province; the person id."""
    county = PLACES[stack.info["province"]][0]
    first17 = f"{county}{born}{next(_sequence):03d}"
    body = {
        "name": "陈小明" if dependant else "陈建国",
        "id_number": first17 + idcard.check_character(first17),
        "phone": "13800000000",
        "address": PLACES[stack.info["province"]][3],
        "region_code": county,
        "declaration": {"symptoms": symptoms, "temperature": 36.6, "travel": [], "contact_with_case": False},
        "dependant": dependant,
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["person_id"])


def register(stack: Stack, who: tuple[str, list[str]], name: str) -> dict[str, Any]:
    county, lat, lng, address = PLACES[stack.info["province"]]
    body = {
        "name": name,
        "type": "supermarket",
        "subject_name": "永辉超市股份有限公司",
        "credential_type": "uscc",
        "credential_number": "91330100799655058B",
        "region_code": county,
        "location": {"lat": lat, "lng": lng},
        "address": address,
        "manager_phone": "13900000000",
    }
    answer = stack.call("POST", "/v1/venues", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def check_in(
    stack: Stack,
    who: tuple[str, list[str]],
    code: str,
    person_id: str,
    companions: list[str],
    moved: float = 0.0,
) -> Any:
    _, lat, lng, _ = PLACES[stack.info["province"]]
    body = {
        "venue_code": code,
        "person_id": person_id,
        "companions": companions,
        "location": {"lat": lat + 0.002 + moved, "lng": lng},
    }
    return stack.call("POST", "/v1/checkins", as_=who, json=body)


def test_a_family_checks_in_and_the_manager_and_officials_see_the_day(stack: Stack) -> None:
    # GIVEN a parent with a green code and a child in their care with a yellow one (a cough)
    parent = account("citizen")
    me = apply(stack, parent, born="19800101", symptoms=[])
    child = apply(stack, parent, born="20160901", symptoms=["cough"], dependant=True)
    manager = account("venue_manager")
    venue = register(stack, manager, f"=SUM(1+1) 超市 {uuid.uuid4().hex[:4]}")
    # WHEN the parent scans the poster for both
    answer = check_in(stack, parent, venue["code"], me, [child])
    # THEN each is checked in with their own colour and verdict
    assert answer.status_code == 201, answer.text
    shown = {c["person_id"]: (c["colour"], c["verdict"]) for c in answer.json()["checkins"]}
    assert shown == {me: ("green", "pass"), child: ("yellow", "dissuade")}
    assert answer.json()["venue"]["venue_id"] == venue["venue_id"]

    # a forwarded photo scanned 5 km away, a forged code, another family's child: refused
    far = check_in(stack, parent, venue["code"], me, [], moved=0.045)
    assert (far.status_code, far.json()["error"]["code"]) == (422, "location_mismatch")
    forged = check_in(stack, parent, venue["code"][:-6] + "AAAAAA", me, [])
    assert (forged.status_code, forged.json()["error"]["code"]) == (422, "invalid_venue_code")
    other = account("citizen")
    other_child = apply(stack, other, born="20170302", symptoms=[], dependant=True)
    stranger = check_in(stack, parent, venue["code"], me, [other_child])
    assert (stranger.status_code, stranger.json()["error"]["field"]) == (403, "companions[0]")

    # AND after the stream is drained the manager sees the day from the counters
    stack.drain()
    stats = stack.call("GET", f"/v1/venues/{venue['venue_id']}/stats", as_=manager).json()
    assert (stats["scans"], stats["abnormal"], stats["by_colour"]) == (2, 1, {"green": 1, "yellow": 1})
    (alert,) = stack.call("GET", f"/v1/venues/{venue['venue_id']}/alerts", as_=manager).json()["alerts"]
    assert alert["colour"] == "yellow" and alert["person"] == {
        "name_masked": "陈**",
        "id_masked": alert["person"]["id_masked"],
    }
    assert (
        stack.call("GET", f"/v1/venues/{venue['venue_id']}/alerts", as_=account("venue_manager")).status_code
        == 403
    )

    # AND officials get the unit in the daily report, its formula-like name neutralised in CSV
    report = stack.call("GET", f"/v1/reports/daily-scans?date={stats['date']}&format=csv", as_=OFFICIAL)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"), newline="")))
    (row,) = [r for r in rows if r[2] == venue["venue_id"]]
    assert row[3].startswith("'=SUM(1+1)") and row[4:] == ["2", "1"]


@pytest.fixture(scope="module")
def fujian() -> Iterator[Stack]:
    with running_stack("350000") as started:
        yield started


def test_fujian_managers_see_orange_visitors_and_the_read_is_audited(fujian: Stack) -> None:
    visitor = account("citizen")
    orange = apply(fujian, visitor, born="19900101", symptoms=["fever"])
    manager = account("venue_manager")
    venue = register(fujian, manager, "福州东街口百货")
    answer = check_in(fujian, visitor, venue["code"], orange, [])
    assert answer.status_code == 201, answer.text
    assert (
        answer.json()["checkins"][0]["colour"] == "orange"
        and answer.json()["checkins"][0]["verdict"] == "register"
    )
    fujian.drain()
    # a check-in (perhaps from a forwarded poster) reveals nobody, and nothing is read
    path = f"/v1/venues/{venue['venue_id']}/alerts"
    (alert,) = fujian.call("GET", path, as_=manager).json()["alerts"]
    assert alert["identity_visible"] is False and "name" not in alert["person"]

    def identity_reads() -> list[tuple[str, str]]:
        audit = fujian.aws("dynamodb").query(
            TableName=fujian.info["tables"]["AuditTable"],
            KeyConditionExpression="subject = :s",
            ExpressionAttributeValues={":s": {"S": f"venue#{venue['venue_id']}"}},
        )["Items"]
        return [(a["kind"]["S"], a["actor"]["S"]) for a in audit if a["kind"]["S"] == "identity_read"]

    assert identity_reads() == []
    # the venue's own staff scanning the orange code at the door: the manager sees who it is
    scanner = account("scanner")
    staffed = fujian.call("PUT", f"/v1/venues/{venue['venue_id']}/staff/{scanner[0]}", as_=manager)
    assert staffed.status_code == 200, staffed.text
    token = fujian.call("GET", f"/v1/codes/{orange}", as_=visitor).json()["token"]
    body = {"code": token, "checkpoint_id": venue["venue_id"], "temperature": 36.6}
    assert fujian.call("POST", "/v1/verifications", as_=scanner, json=body).status_code == 200
    fujian.drain()
    shown = [a for a in fujian.call("GET", path, as_=manager).json()["alerts"] if a["identity_visible"]]
    assert [(a["kind"], a["person"]["name"], a["person"]["person_id"]) for a in shown] == [
        ("verification", "陈建国", orange)
    ]
    assert identity_reads() == [("identity_read", manager[0])]
