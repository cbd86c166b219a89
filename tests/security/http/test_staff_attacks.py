"""Attacks on checkpoint staff over HTTP on a local stack (issue 13, items 1-3): staff act only
at checkpoints they are assigned to, only a venue's manager or an official assigns, and a manual
registration proves nothing it cannot check.

* A scanner assigned to checkpoint A scans (and registers) at checkpoint B: 403 not_assigned,
  no scan, no person, no idempotency record.
* A scanner removed from a checkpoint keeps scanning: refused at once (the assignment is read
  consistently in the verification's own BatchGetItem).
* An account assigned without the scanner role (a citizen token) scans: 403 forbidden_role.
* A scanner assigns itself; a manager assigns staff to another manager's checkpoint; a system id
  (``unclaimed#…``) is assigned: all refused, nothing written.
* A manual registration names a known person's ID number under another name (the way a
  stranger would take over someone's record or print their paper code): 409 identity_mismatch,
  no scan, no fact, no paper code, the person untouched.
* Races (concurrent HTTP requests): one account assigned eight times at once is one assignment
  with one audit entry and one answer; removed eight times at once, one removal entry; one new
  ID number registered at once under two names makes one person, and every answer for the other
  name is 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.security.http.world import SecurityStack, World, account, application, unique_id_number

CONCURRENCY = 8


@pytest.fixture(scope="module")
def world(guizhou_stack: SecurityStack) -> World:
    return World(guizhou_stack.stack)


def _items(world: World, table: str, key_name: str, key_value: str, index: str | None = None) -> list[Any]:
    query: dict[str, Any] = {
        "TableName": world.stack.info["tables"][table],
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":v": {"S": key_value}},
    }
    if index is None:
        query["ConsistentRead"] = True
    else:
        query["IndexName"] = index
    return list(world.stack.aws("dynamodb").query(**query)["Items"])


def scans_of(world: World, person_id: str) -> list[Any]:
    return _items(world, "ScansTable", "person_id", person_id, index="by_person")


def staff_of(world: World, venue_id: str) -> list[str]:
    return sorted(item["sub"]["S"] for item in _items(world, "StaffTable", "venue_id", venue_id))


def venue_trail(world: World, venue_id: str) -> list[tuple[str, str]]:
    items = _items(world, "AuditTable", "subject", f"venue#{venue_id}")
    return [(item["kind"]["S"], item["details"]["S"]) for item in items]


def checkpoint(world: World, manager: str | None = None) -> str:
    return str(world.register_venue(manager or account("venue_manager"))["venue_id"])


def scans_at(world: World, venue_id: str) -> list[Any]:
    """Every scan at the venue, whatever its write shards (at most 64)."""
    return [
        item
        for shard in range(64)
        for item in _items(world, "ScansTable", "venue_shard", f"{venue_id}#{shard}")
    ]


def verify(
    world: World, scanner: str, person: Any, venue_id: str, *, roles: tuple[str, ...] = ("scanner",)
) -> Any:
    body = {"code": world.code_of(person), "checkpoint_id": venue_id, "temperature": 38.6}
    return world.call("POST", "/v1/verifications", as_=(scanner, list(roles)), json=body)


def _error(answer: requests.Response) -> tuple[int, str | None]:
    body = answer.json() if answer.content else {}
    return answer.status_code, (body.get("error") or {}).get("code")


def test_a_scanner_of_checkpoint_a_cannot_scan_or_register_at_b(world: World) -> None:
    # GIVEN two checkpoints of two managers and a scanner assigned to A only
    manager_a, manager_b = account("venue_manager"), account("venue_manager")
    a, b = checkpoint(world, manager_a), checkpoint(world, manager_b)
    scanner = account("scanner")
    world.assign(a, scanner, by=manager_a)
    person = world.apply(account("citizen"))
    # WHEN it scans a code at B (with a fever: a fact would follow) and registers someone at B
    key = str(uuid.uuid4())
    body = {"code": world.code_of(person), "checkpoint_id": b, "temperature": 38.6}
    scanned = world.call(
        "POST", "/v1/verifications", as_=(scanner, ["scanner"]), json=body, headers={"Idempotency-Key": key}
    )
    walk_in = application()
    registration = {
        "name": walk_in["name"],
        "id_number": walk_in["id_number"],
        "temperature": 38.6,
        "checkpoint_id": b,
        "issue_paper_code": True,
    }
    registered = world.call("POST", "/v1/manual-registrations", as_=(scanner, ["scanner"]), json=registration)
    # THEN both 403 not_assigned, and nothing is written: no scan, no person, no retry record
    assert _error(scanned) == (403, "not_assigned"), scanned.text
    assert _error(registered) == (403, "not_assigned"), registered.text
    assert scans_of(world, person.person_id) == [] and scans_at(world, b) == []
    assert _items(world, "AuditTable", "actor", scanner, index="by_actor") == []  # nobody registered
    retried = world.call(
        "POST", "/v1/verifications", as_=(scanner, ["scanner"]), json=body, headers={"Idempotency-Key": key}
    )
    assert _error(retried) == (403, "not_assigned")
    # AND at A the same scanner is served
    assert verify(world, scanner, person, a).status_code == 200


def test_a_removed_scanner_is_refused_at_once(world: World) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    scanner = account("scanner")
    world.assign(venue_id, scanner, by=manager)
    person = world.apply(account("citizen"))
    assert verify(world, scanner, person, venue_id).status_code == 200
    removed = world.call("DELETE", f"/v1/venues/{venue_id}/staff/{scanner}", as_=(manager, ["venue_manager"]))
    assert removed.status_code == 204
    assert _error(verify(world, scanner, person, venue_id)) == (403, "not_assigned")
    assert len(scans_of(world, person.person_id)) == 1


def test_an_assigned_account_without_the_scanner_role_scans_nothing(world: World) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    citizen = account("citizen")
    world.assign(venue_id, citizen, by=manager)
    person = world.apply(account("citizen"))
    for roles in (("citizen",), ("venue_manager",), ("official",)):
        assert _error(verify(world, citizen, person, venue_id, roles=roles)) == (403, "forbidden_role")
    assert scans_of(world, person.person_id) == []


def test_nobody_but_the_manager_or_an_official_assigns(world: World) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    scanner = account("scanner")
    attempts: list[tuple[str, tuple[str, list[str]], tuple[int, str]]] = [
        ("itself", (scanner, ["scanner"]), (403, "forbidden_role")),
        ("another manager", (world.stranger_manager, ["venue_manager"]), (403, "not_venue_manager")),
        ("a citizen", (account("citizen"), ["citizen"]), (403, "forbidden_role")),
        ("an admin", (account("admin"), ["admin"]), (403, "forbidden_role")),
    ]
    for who, caller, expected in attempts:
        answer = world.call("PUT", f"/v1/venues/{venue_id}/staff/{scanner}", as_=caller)
        assert _error(answer) == expected, who
        listed = world.call("GET", f"/v1/venues/{venue_id}/staff", as_=caller)
        assert _error(listed) == expected, who
    assert staff_of(world, venue_id) == [] and venue_trail(world, venue_id) == []


@pytest.mark.parametrize("sub", ["unclaimed%23p-1", "scanner%0A", "%20scanner", "a" * 129])
def test_a_system_or_malformed_account_id_cannot_be_assigned(world: World, sub: str) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    answer = world.call("PUT", f"/v1/venues/{venue_id}/staff/{sub}", as_=(manager, ["venue_manager"]))
    assert _error(answer) == (422, "invalid_sub"), answer.text
    assert staff_of(world, venue_id) == []


def test_a_known_id_number_under_another_name_is_refused_and_writes_nothing(world: World) -> None:
    # GIVEN a citizen's code (named 王小明) with a paper code, and a scanner at a checkpoint
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    scanner = account("scanner")
    world.assign(venue_id, scanner, by=manager)
    victim = world.apply(account("citizen"))
    paper = world.ok("POST", f"/v1/codes/{victim.person_id}/paper", as_=(victim.owner, ["citizen"]))
    # WHEN the scanner registers the victim's ID number under another name, asking for a paper code
    body = {
        "name": "李四",
        "id_number": victim.id_number,
        "temperature": 38.9,
        "checkpoint_id": venue_id,
        "issue_paper_code": True,
    }
    answer = world.call("POST", "/v1/manual-registrations", as_=(scanner, ["scanner"]), json=body)
    # THEN 409 identity_mismatch, and nothing happened to the victim: no scan, no fever fact, the
    # paper code they hold still verifies, no person id leaked
    assert _error(answer) == (409, "identity_mismatch"), answer.text
    assert victim.person_id not in answer.text and "王" not in answer.text
    assert scans_of(world, victim.person_id) == []
    facts = _items(world, "FactsTable", "person_id", victim.person_id)
    assert not [f for f in facts if f["kind"]["S"] == "fever"]
    still = world.call(
        "POST",
        "/v1/verifications",
        as_=(scanner, ["scanner"]),
        json={"code": paper["token"], "checkpoint_id": venue_id},
    )
    assert still.status_code == 200, still.text
    # AND under their own name (full-width, extra spaces) staff may register them in person
    same = {**body, "name": " 王小明 ", "temperature": 36.5, "issue_paper_code": False}
    registered = world.call("POST", "/v1/manual-registrations", as_=(scanner, ["scanner"]), json=same)
    assert registered.status_code == 201, registered.text
    assert "person_id" not in registered.json()


def _concurrently(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_one_account_assigned_and_removed_at_once_is_one_step_each(world: World) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    scanner = account("scanner")
    as_manager = (manager, ["venue_manager"])
    path = f"/v1/venues/{venue_id}/staff/{scanner}"
    # WHEN eight requests assign the same account at once
    assigned = _concurrently([lambda: world.call("PUT", path, as_=as_manager) for _ in range(CONCURRENCY)])
    # THEN every answer is the one assignment, and the trail holds one entry
    assert {a.status_code for a in assigned} == {200}, [a.text for a in assigned]
    assert len({a.json()["assigned_at"] for a in assigned}) == 1
    assert staff_of(world, venue_id) == [scanner]
    assert [kind for kind, _ in venue_trail(world, venue_id)] == ["staff_assigned"]
    # WHEN eight remove it at once THEN all 204, one removal on the trail
    removed = _concurrently([lambda: world.call("DELETE", path, as_=as_manager) for _ in range(CONCURRENCY)])
    assert {r.status_code for r in removed} == {204}
    assert staff_of(world, venue_id) == []
    assert sorted(kind for kind, _ in venue_trail(world, venue_id)) == ["staff_assigned", "staff_removed"]


def test_one_new_id_number_registered_at_once_under_two_names_is_one_person(world: World) -> None:
    manager = account("venue_manager")
    venue_id = checkpoint(world, manager)
    scanners = [account("scanner") for _ in range(2)]
    for scanner in scanners:
        world.assign(venue_id, scanner, by=manager)
    number = unique_id_number()
    names = ["王小明", "李四"]

    def register(index: int) -> Callable[[], requests.Response]:
        body = {"name": names[index % 2], "id_number": number, "temperature": 36.5, "checkpoint_id": venue_id}
        return lambda: world.call(
            "POST", "/v1/manual-registrations", as_=(scanners[index % 2], ["scanner"]), json=body
        )

    answers = _concurrently([register(i) for i in range(CONCURRENCY)])
    by_name: dict[str, set[int]] = {name: set() for name in names}
    for index, answer in enumerate(answers):
        by_name[names[index % 2]].add(answer.status_code)
    # THEN one name won: all its registrations 201, all of the other's 409 identity_mismatch
    assert sorted(map(sorted, by_name.values())) == [[201], [409]], by_name
    refused = [a for a in answers if a.status_code == 409]
    assert {a.json()["error"]["code"] for a in refused} == {"identity_mismatch"}
