"""The authority's day, end to end on a local stack of its own (its clock is moved): a red code
at a checkpoint reaches the area's officials and AlertsTopic within one drain, an official of
another prefecture does not see it; at 16:00 China time the schedule writes every unit's counts
so far, zero-scan units included, one CSV per prefecture, to the export bucket."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.stack import Stack, running_stack
from tests.security.http.world import unique_id_number, venue_form

DAY = "2026-03-02"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack("520000") as started:
        started.clock(now=f"{DAY}T09:00:00+08:00")
        yield started


def sub(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:10]}"


def ok(stack: Stack, method: str, path: str, who: tuple[str, list[str]], body: Any = None) -> Any:
    answer = stack.call(method, path, as_=who, json=body)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


def call_as(stack: Stack, path: str, region: str | None, **params: str) -> Any:
    token = stack.token(sub("official"), ["official"], region)
    answer = stack.http.get(
        f"{stack.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def red_person(stack: Stack) -> dict[str, Any]:
    citizen = (sub("citizen"), ["citizen"])
    body = {
        "name": "李四",
        "id_number": unique_id_number(),
        "phone": "13800000000",
        "address": "贵州省贵阳市云岩区中华北路1号",
        "region_code": "520103",
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    person = ok(stack, "POST", "/v1/codes", citizen, body)
    diagnosed = f"{DAY}T08:00:00+08:00"
    case = {"person_id": person["person_id"], "status": "confirmed", "diagnosed_at": diagnosed}
    ok(stack, "POST", "/v1/cases", (sub("official"), ["official"]), case)
    stack.drain()
    token = ok(stack, "GET", f"/v1/codes/{person['person_id']}", citizen)["token"]
    return {"person_id": person["person_id"], "id_number": body["id_number"], "token": token}


def checkpoint(stack: Stack, region_code: str) -> tuple[dict[str, Any], tuple[str, list[str]]]:
    registrar = (sub("official"), ["official"])
    venue = ok(
        stack,
        "POST",
        "/v1/venues",
        registrar,
        venue_form(type="checkpoint", name="G60 卡口", region_code=region_code),
    )
    scanner = (sub("scanner"), ["scanner"])
    ok(stack, "PUT", f"/v1/venues/{venue['venue_id']}/staff/{scanner[0]}", registrar)
    return venue, scanner


def test_a_red_code_at_a_checkpoint_reaches_the_area_within_one_drain(stack: Stack) -> None:
    person = red_person(stack)
    venue, scanner = checkpoint(stack, "520102")
    verdict = ok(
        stack,
        "POST",
        "/v1/verifications",
        scanner,
        {"code": person["token"], "checkpoint_id": venue["venue_id"], "temperature": 36.8},
    )
    assert verdict["verdict"] == "isolate"
    # ONE drain
    stack.drain()
    alerts = call_as(stack, "/v1/alerts", "520100", date=DAY)["alerts"]
    (alert,) = [a for a in alerts if a["alert_id"] == verdict["scan_id"]]
    assert alert["region_code"] == "520102" and alert["status"] == "open" and alert["colour"] == "red"
    assert alert["person"]["name_masked"] == "李*" and person["id_number"] not in json.dumps(alert)
    published = stack.http.get(
        f"{stack.url}/_local/published", params={"topic": "AlertsTopic"}, timeout=10
    ).json()
    sent = [json.loads(m["message"]) for m in published["messages"]]
    assert [m["alert_id"] for m in sent].count(verdict["scan_id"]) == 1
    other = call_as(stack, "/v1/alerts", "520300", date=DAY)["alerts"]
    assert verdict["scan_id"] not in {a["alert_id"] for a in other}


def test_the_1600_schedule_writes_every_unit_per_prefecture(stack: Stack) -> None:
    # GIVEN, in the morning, a unit in 贵阳 with a check-in and a unit in 安顺 with none
    manager = (sub("venue_manager"), ["venue_manager"])
    busy = ok(stack, "POST", "/v1/venues", manager, venue_form(region_code="520102", name="贵阳某商场"))
    silent = ok(stack, "POST", "/v1/venues", manager, venue_form(region_code="520402", name="安顺某商场"))
    citizen = (sub("citizen"), ["citizen"])
    body = {
        "name": "赵六",
        "id_number": unique_id_number(),
        "phone": "13800000001",
        "address": "贵州省贵阳市南明区1号",
        "region_code": "520102",
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    person = ok(stack, "POST", "/v1/codes", citizen, body)
    checkin = {
        "venue_code": busy["code"],
        "person_id": person["person_id"],
        "location": venue_form()["location"],
    }
    ok(stack, "POST", "/v1/checkins", citizen, checkin)
    stack.drain()
    # WHEN the stack clock passes 16:00 China time and the stream is drained
    stack.clock(now=f"{DAY}T15:59:30+08:00")
    stack.drain()
    stack.clock(now=f"{DAY}T16:00:30+08:00")
    stack.drain()
    # THEN the export bucket holds the day's CSV of each prefecture, zero-scan units included
    s3 = stack.aws("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "exportbucket" in b["Name"])
    rows: dict[str, dict[str, list[str]]] = {}
    for prefecture in ("520100", "520400"):
        key = f"reports/daily-scans/dt={DAY}/region={prefecture}.csv"
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        rows[prefecture] = {r[2]: r for r in csv.reader(io.StringIO(text[1:], newline=""))}
    assert rows["520100"][busy["venue_id"]][4] == "1"
    assert rows["520400"][silent["venue_id"]][4] == "0"
