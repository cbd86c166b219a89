"""Attacks on checkpoint fever facts over HTTP on a local stack of its own (issue 13, item 2): one
scanner account must not be able to turn many people yellow by typing high temperatures.

* A scanner reports fevers for many people, concurrently: only the first ``limit`` of the hour
  become fever facts (those people turn yellow, Guizhou), the rest stay green; every scan is
  recorded, counted and listed as an alert; each fact names the scanner and the checkpoint.
* The scanner moves to a second checkpoint it is also assigned to: the allowance is per account,
  not per checkpoint, so no more facts this hour.
* Another scanner at the same checkpoint keeps its own allowance.
* Every scan record is handed to the counters function again (a redelivery, as after a retry or
  a replay from the failure queue): no count, fact or unit of the allowance is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from tests.security.http.world import World, account, security_stack

LIMIT = 3
FEVER = 38.7


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A Guizhou stack of its own (its policy is changed): 3 fever facts per scanner and hour,
    its clock at 09:00 (+08:00) tomorrow so the test stays inside one clock hour."""
    with security_stack("520000") as started:
        stack = started.stack
        answer = stack.http.post(
            f"{stack.url}/_local/policy",
            json={"changes": {"scanner_fever_facts_per_hour_limit": LIMIT}},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        now = datetime.fromisoformat(stack.http.get(f"{stack.url}/_local/clock", timeout=10).json()["now"])
        local = now + timedelta(hours=8)
        morning = datetime.combine(local.date() + timedelta(days=1), time(1), tzinfo=now.tzinfo)  # 09:00 CST
        stack.clock(now=morning.isoformat())
        yield World(stack)


def _colour(world: World, person: Any) -> str:
    return str(world.ok("GET", f"/v1/codes/{person.person_id}", as_=(person.owner, ["citizen"]))["colour"])


def _checkpoint(world: World, manager: str, *scanners: str) -> str:
    venue_id = str(world.register_venue(manager)["venue_id"])
    for scanner in scanners:
        world.assign(venue_id, scanner, by=manager)
    return venue_id


def _verify_all(world: World, scanner: str, venue_id: str, people: list[Any]) -> list[int]:
    codes = [world.code_of(person) for person in people]

    def verify(code: str) -> int:
        answer = world.call(
            "POST",
            "/v1/verifications",
            as_=(scanner, ["scanner"]),
            json={"code": code, "checkpoint_id": venue_id, "temperature": FEVER},
        )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(verify, codes))


def _fever_facts(world: World, person_id: str) -> list[dict[str, Any]]:
    items = world.stack.aws("dynamodb").query(
        TableName=world.stack.info["tables"]["FactsTable"],
        KeyConditionExpression="person_id = :p AND begins_with(fact_id, :f)",
        ExpressionAttributeValues={":p": {"S": person_id}, ":f": {"S": "fever#checkpoint#"}},
        ConsistentRead=True,
    )["Items"]
    return list(items)


def test_one_scanner_cannot_turn_more_people_yellow_than_its_hourly_allowance(world: World) -> None:
    manager, scanner, colleague = account("venue_manager"), account("scanner"), account("scanner")
    gate = _checkpoint(world, manager, scanner, colleague)
    other_gate = _checkpoint(world, manager, scanner)
    people = [world.apply(account("citizen")) for _ in range(LIMIT + 3)]
    # WHEN one scanner reports a fever for six people at once, over HTTP
    assert _verify_all(world, scanner, gate, people) == [200] * len(people)
    world.stack.drain()
    # THEN exactly LIMIT people turned yellow; the others stay green
    colours = [_colour(world, person) for person in people]
    assert sorted(colours) == ["green"] * 3 + ["yellow"] * LIMIT, colours
    # AND each fact names the scanner and the checkpoint
    yellow = [p for p, c in zip(people, colours, strict=True) if c == "yellow"]
    for person in yellow:
        (fact,) = _fever_facts(world, person.person_id)
        assert fact["detail"]["S"] == f"checkpoint {gate} scanner {scanner}"
        assert fact["source"]["S"].startswith("scan#")
    # AND every scan was recorded and counted, and listed as an abnormal scan
    day = (world.now() + timedelta(hours=8)).date().isoformat()
    stats = world.ok("GET", f"/v1/venues/{gate}/stats?date={day}", as_=(manager, ["venue_manager"]))
    assert (stats["scans"], stats["abnormal"]) == (len(people), len(people))
    alerts = world.ok("GET", f"/v1/venues/{gate}/alerts?date={day}", as_=(manager, ["venue_manager"]))
    assert len(alerts["alerts"]) == len(people)

    # WHEN the same scanner goes on at another checkpoint it is assigned to
    more = [world.apply(account("citizen")) for _ in range(2)]
    assert _verify_all(world, scanner, other_gate, more) == [200, 200]
    # AND a colleague reports one fever at the first checkpoint
    (helped,) = [world.apply(account("citizen"))]
    assert _verify_all(world, colleague, gate, [helped]) == [200]
    world.stack.drain()
    # THEN the allowance followed the account, not the checkpoint; the colleague has its own
    assert [_colour(world, person) for person in more] == ["green", "green"]
    assert _colour(world, helped) == "yellow"
    other = world.ok("GET", f"/v1/venues/{other_gate}/stats?date={day}", as_=(manager, ["venue_manager"]))
    assert other["scans"] == 2

    # WHEN every scan record is delivered to the counters function again
    assert _redeliver_scans(world) == {"batchItemFailures": []}
    world.stack.drain()
    # THEN nothing changes: colours, counts, and the allowance used
    assert [_colour(world, person) for person in [*people, *more]] == [*colours, "green", "green"]
    again = world.ok("GET", f"/v1/venues/{gate}/stats?date={day}", as_=(manager, ["venue_manager"]))
    assert (again["scans"], again["abnormal"]) == (len(people) + 1, len(people) + 1)
    assert _allowance_used(world, scanner) == LIMIT and _allowance_used(world, colleague) == 1


def _redeliver_scans(world: World) -> Any:
    """Every record of the ScansTable stream, handed to the counters function at once (the
    local stack's invoke route, as ``make replay-dlq`` does)."""
    stack = world.stack
    records = stack.stream_records("ScansTable")
    assert records
    answer = stack.http.post(
        f"{stack.url}/_local/invoke/CountersFunction", json={"Records": records}, timeout=120
    )
    answer.raise_for_status()
    return answer.json()["result"]


def _allowance_used(world: World, scanner: str) -> int:
    from healthcode.storage import limits

    window = limits.window_of(world.now(), limits.HOUR)
    item = world.stack.aws("dynamodb").get_item(
        TableName=world.stack.info["tables"]["LimitsTable"],
        Key={"id": {"S": limits.counter_id("fever_facts", scanner, window)}},
        ConsistentRead=True,
    )
    return int(item.get("Item", {}).get("used", {}).get("N", 0))
