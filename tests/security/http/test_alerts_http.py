"""Alerts to the authority over HTTP, on a local stack of its own with 4 environments per
function: a red code at a checkpoint reaches the officials of the venue's area and AlertsTopic
within one drain, masked; officials of another prefecture neither see nor acknowledge it
(``403 outside_area``); concurrent acknowledgements: one 200, the rest 409. And the daily report
keeps to the caller's area."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.security.http.world import Person, World, account, security_stack, venue_form

CONCURRENCY = 4


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with security_stack("520000", extra=("--concurrency", str(CONCURRENCY))) as started:
        yield World(started.stack)


def call(
    world: World, method: str, path: str, sub: str, region: str | None, **kwargs: Any
) -> requests.Response:
    token = world.stack.token(sub, ["official"], region)
    return world.stack.http.request(
        method, f"{world.stack.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs
    )


def published(world: World) -> list[dict[str, Any]]:
    answer = world.stack.http.get(
        f"{world.stack.url}/_local/published", params={"topic": "AlertsTopic"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return [json.loads(m["message"]) for m in answer.json()["messages"]]


def red_person(world: World) -> Person:
    person = world.apply(account("citizen"))
    world.report_case(person)
    world.stack.drain()
    return person


def scanned_at_checkpoint(world: World, person: Person, *, region_code: str = "520102") -> str:
    # a roadside checkpoint (卡口) is registered by an official, who assigns its staff
    official, scanner = account("official"), account("scanner")
    form = venue_form(type="checkpoint", name="G75 卡口", region_code=region_code)
    checkpoint = world.ok("POST", "/v1/venues", as_=(official, ["official"]), json=form)
    world.assign(checkpoint["venue_id"], scanner, by=official, roles=("official",))
    answer = world.ok(
        "POST",
        "/v1/verifications",
        as_=(scanner, ["scanner"]),
        json={"code": world.code_of(person), "checkpoint_id": checkpoint["venue_id"], "temperature": 36.6},
    )
    assert answer["verdict"] == "isolate", answer
    return str(answer["scan_id"])


def listed(world: World, sub: str, region: str | None, query: dict[str, str] | None = None) -> set[str]:
    answer = call(world, "GET", "/v1/alerts", sub, region, params={"limit": "500", **(query or {})})
    assert answer.status_code == 200, answer.text
    return {a["alert_id"] for a in answer.json()["alerts"]}


def test_a_red_code_at_a_checkpoint_reaches_the_areas_officials_only(world: World) -> None:
    # GIVEN a red person verified at a checkpoint in 南明区 (520102, 贵阳)
    person = red_person(world)
    before = len(published(world))
    alert_id = scanned_at_checkpoint(world, person)
    # WHEN the stream is drained once
    world.stack.drain()
    # THEN officials of the county, the prefecture and the province see the alert
    for region in ("520102", "520100", None):
        assert alert_id in listed(world, account("official"), region), region
    # AND the isolate verdict is on AlertsTopic, with the identity masked only
    sent = [m for m in published(world)[before:] if m["alert_id"] == alert_id]
    assert len(sent) == 1
    text = json.dumps(sent[0], ensure_ascii=False)
    assert person.person_id not in text and person.id_number not in text and "王小明" not in text
    assert sent[0]["person"]["name_masked"] == "王**" and sent[0]["verdict"] == "isolate"
    # AND an official of 遵义 (520300) sees nothing of it and may not look or act there
    zunyi = account("official")
    assert alert_id not in listed(world, zunyi, "520300")
    refused = call(world, "GET", "/v1/alerts", zunyi, "520300", params={"region_code": "520102"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "outside_area")
    acted = call(world, "POST", f"/v1/alerts/{alert_id}/acknowledge", zunyi, "520300", json={"note": "越权"})
    assert (acted.status_code, acted.json()["error"]["code"]) == (403, "outside_area")
    # AND a county official of 云岩区 (520103) neither
    assert alert_id not in listed(world, account("official"), "520103")


def test_concurrent_acknowledgements_one_wins(world: World) -> None:
    # GIVEN an open alert
    alert_id = scanned_at_checkpoint(world, red_person(world))
    world.stack.drain()
    officials = [account("official") for _ in range(8)]
    tokens = {sub: world.stack.token(sub, ["official"], "520100") for sub in officials}

    def acknowledge(sub: str) -> requests.Response:
        with requests.Session() as session:
            return session.post(
                f"{world.stack.url}/v1/alerts/{alert_id}/acknowledge",
                json={"note": f"{sub} 已处置"},
                headers={"Authorization": f"Bearer {tokens[sub]}"},
                timeout=60,
            )

    # WHEN eight officials acknowledge it at once
    with ThreadPoolExecutor(max_workers=len(officials)) as pool:
        answers: Sequence[requests.Response] = list(pool.map(acknowledge, officials))
    # THEN exactly one 200, the others 409, and the alert names the winner
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * (len(officials) - 1), [a.text for a in answers]
    (won,) = [a for a in answers if a.status_code == 200]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "alert_already_acknowledged"
    }
    acknowledged = listed(world, account("official"), "520102", {"status": "acknowledged"})
    assert alert_id in acknowledged
    assert won.json()["acknowledged_by"] in officials


def test_bad_alert_requests_write_nothing(world: World) -> None:
    alert_id = scanned_at_checkpoint(world, red_person(world))
    world.stack.drain()
    sub = account("official")
    for body, status, code in (
        ({}, 422, "missing_field"),
        ({"note": ""}, 422, "invalid_note"),
        ({"note": "x" * 501}, 422, "invalid_note"),
        ({"note": "ok", "status": "open"}, 422, "unknown_field"),
        ({"note": 5}, 422, "invalid_note"),
    ):
        answer = call(world, "POST", f"/v1/alerts/{alert_id}/acknowledge", sub, None, json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    assert alert_id in listed(world, sub, None, {"status": "open"})
    unknown = call(world, "POST", "/v1/alerts/s-nothing/acknowledge", sub, None, json={"note": "x"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "alert_not_found")


def test_the_daily_report_keeps_to_the_callers_area(world: World) -> None:
    # GIVEN a unit in 遵义 with no scans
    venue = world.register_venue(account("venue_manager"), region_code="520302", name="遵义某单位")
    zunyi, guiyang = account("official"), account("official")
    # WHEN an official of 遵义 asks for the day's report (default: their area) THEN the unit is there
    found: set[str] = set()
    cursor = None
    while True:
        params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        answer = call(world, "GET", "/v1/reports/daily-scans", zunyi, "520300", params=params)
        assert answer.status_code == 200, answer.text
        assert all(u["region_code"].startswith("5203") for u in answer.json()["units"])
        found |= {u["venue_id"] for u in answer.json()["units"]}
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert venue["venue_id"] in found
    # AND an official of 贵阳 may not read 遵义's report
    refused = call(
        world, "GET", "/v1/reports/daily-scans", guiyang, "520100", params={"region_code": "520302"}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "outside_area")
