"""Races over HTTP on a local stack running 4 environments per function (``LOCAL_CONCURRENCY``):
concurrent requests at every per-account limit, and concurrent writes with one Idempotency-Key.

Each test fires N requests at once from threads (a connection each) at a limit of ``LIMIT`` per
window, N well over it: exactly ``LIMIT`` pass, every other one answers ``429 rate_limited``
with a ``Retry-After`` that reaches the end of the account's window, and the account's counter
item in LimitsTable holds exactly ``LIMIT``. A count-then-write limit fails these: concurrent
requests read the same count and all pass. The policy's limits are lowered for the tests through
the local stack's ``POST /_local/policy``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from healthcode import clock
from healthcode.rules import regions
from healthcode.storage import limits

from tests.security.http.world import (
    Person,
    SecurityStack,
    World,
    account,
    application,
    child_id_number,
    declaration,
    security_stack,
    unique_id_number,
    venue_form,
)

CONCURRENCY = 4
LIMIT = 3
N = 12
#: Limits the tests do not aim at, kept out of the way.
HIGH = 1000


@pytest.fixture(scope="module")
def racing() -> Iterator[SecurityStack]:
    with security_stack("520000", extra=("--concurrency", str(CONCURRENCY))) as started:
        # windows are fixed (hours on the hour, days from Beijing midnight): start the module five
        # minutes into a fresh hour so no test straddles a window's end
        now = datetime.now(UTC)
        start = now.replace(minute=5, second=0, microsecond=0) + timedelta(hours=1)
        if start.astimezone(clock.CHINA).hour == 23:
            start += timedelta(hours=1)
        started.stack.clock(now=start.isoformat())
        yield started


@pytest.fixture
def world(racing: SecurityStack) -> Iterator[World]:
    made = World(racing.stack)
    yield made
    set_policy(made, {})


def set_policy(world: World, changes: dict[str, Any]) -> dict[str, Any]:
    answer = world.stack.http.post(f"{world.stack.url}/_local/policy", json={"changes": changes}, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["policy"])


def limits_policy(**aimed: int) -> dict[str, int]:
    """Every per-account limit out of the way, but those ``aimed`` at."""
    everything = {
        "applications_per_day_limit": HIGH,
        "appeals_per_day_limit": HIGH,
        "link_codes_per_hour_limit": HIGH,
        "manual_registrations_per_hour_limit": HIGH,
        "official_writes_per_hour_limit": HIGH,
        "override_requests_per_hour_limit": HIGH,
    }
    return {**everything, **aimed}


def at_once(
    world: World, calls: Sequence[tuple[str, str, tuple[str, Sequence[str]], Any, dict[str, str]]]
) -> list[requests.Response]:
    """Send every call at the same moment, each on its own connection."""
    tokens = [world.token(*who) for _, _, who, _, _ in calls]  # issued before the race
    gate = threading.Barrier(len(calls))

    def send(index: int) -> requests.Response:
        method, path, _, body, headers = calls[index]
        with requests.Session() as session:
            gate.wait(timeout=30)
            return session.request(
                method,
                f"{world.stack.url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {tokens[index]}", **headers},
                timeout=120,
            )

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, range(len(calls))))


def counter(world: World, scope: str, actor: str, window_seconds: int) -> int:
    """The account's counter item in LimitsTable, read from the stack's moto."""
    window = limits.window_of(world.now(), window_seconds)
    item = world.stack.aws("dynamodb").get_item(
        TableName=world.stack.info["tables"]["LimitsTable"],
        Key={"id": {"S": limits.counter_id(scope, actor, window)}},
        ConsistentRead=True,
    )
    return int(item.get("Item", {}).get("used", {}).get("N", "0"))


def assert_limited(
    world: World,
    answers: Sequence[requests.Response],
    *,
    window_seconds: int,
    passed: Callable[[requests.Response], bool],
) -> None:
    """``LIMIT`` answers passed; every other one is 429 rate_limited, Retry-After to the window's end."""
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == len(answers) - LIMIT, [(a.status_code, a.text[:120]) for a in answers]
    assert all(passed(a) for a in answers if a.status_code != 429), [
        (a.status_code, a.text[:200]) for a in answers if a.status_code != 429
    ]
    window = limits.window_of(world.now(), window_seconds)
    for answer in refused:
        assert answer.json()["error"]["code"] == "rate_limited"
        retry_after = int(answer.headers["Retry-After"])
        assert 1 <= retry_after <= window_seconds
        assert abs(world.now().timestamp() + retry_after - window.end) <= 120  # the window's end


def test_the_local_stack_runs_several_environments_per_function(world: World) -> None:
    """GIVEN LOCAL_CONCURRENCY 4 WHEN 12 requests reach one function at once THEN the stack reports
    4 environments for it and more than one busy at once (Lambda's model, not one at a time)."""
    info = world.stack.http.get(f"{world.stack.url}/_local/info", timeout=10).json()
    assert info["concurrency"]["per_function"] == CONCURRENCY
    owner = (account("citizen"), ["citizen"])
    answers = at_once(world, [("GET", "/v1/codes", owner, None, {})] * N)
    assert {a.status_code for a in answers} == {200}
    stats = world.stack.http.get(f"{world.stack.url}/_local/info", timeout=10).json()["concurrency"]
    codes = stats["functions"]["CodesFunction"]
    assert 2 <= codes["peak"] <= CONCURRENCY and codes["environments"] <= CONCURRENCY
    assert codes["busy"] == 0


def test_concurrent_appeals_pass_the_daily_limit_exactly(world: World) -> None:
    set_policy(world, limits_policy(appeals_per_day_limit=LIMIT))
    person = world.apply(account("citizen"), declaration=declaration(contact_with_case=True))
    who = (person.owner, ["citizen"])
    calls = [
        ("POST", f"/v1/codes/{person.person_id}/appeals", who, {"reason": f"第{i}次申诉"}, {})
        for i in range(N)
    ]
    answers = at_once(world, calls)
    assert_limited(world, answers, window_seconds=limits.DAY, passed=lambda a: a.status_code == 201)
    assert len({a.json()["appeal_id"] for a in answers if a.status_code == 201}) == LIMIT
    assert counter(world, "appeals", person.owner, limits.DAY) == LIMIT


def test_concurrent_appeals_with_one_idempotency_key_file_one_appeal(world: World) -> None:
    """GIVEN a limit of 3 appeals a day WHEN 12 copies of one appeal (one Idempotency-Key) arrive
    at once THEN every one answers 201 with the same appeal, and one appeal is counted."""
    set_policy(world, limits_policy(appeals_per_day_limit=LIMIT))
    person = world.apply(account("citizen"), declaration=declaration(contact_with_case=True))
    who = (person.owner, ["citizen"])
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    calls = [("POST", f"/v1/codes/{person.person_id}/appeals", who, {"reason": "同一次申诉"}, key)] * N
    answers = at_once(world, calls)
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    assert len({a.json()["appeal_id"] for a in answers}) == 1
    assert counter(world, "appeals", person.owner, limits.DAY) == 1


def test_concurrent_applications_pass_the_daily_limit_exactly(world: World) -> None:
    set_policy(world, limits_policy(applications_per_day_limit=LIMIT))
    owner = account("citizen")
    who = (owner, ["citizen"])
    calls = [
        ("POST", "/v1/codes", who, application(child_id_number(), name="王小宝", dependant=True), {})
        for _ in range(N)
    ]
    answers = at_once(world, calls)
    assert_limited(world, answers, window_seconds=limits.DAY, passed=lambda a: a.status_code == 201)
    assert counter(world, "applications", owner, limits.DAY) == LIMIT
    held = world.ok("GET", "/v1/codes", as_=who)["codes"]
    assert len(held) == LIMIT  # nothing written for a refused application


def test_concurrent_link_codes_pass_the_hourly_limit_exactly(world: World) -> None:
    set_policy(world, limits_policy(link_codes_per_hour_limit=LIMIT))
    person = world.apply(account("citizen"))
    who = (person.owner, ["citizen"])
    answers = at_once(world, [("POST", f"/v1/codes/{person.person_id}/links", who, None, {})] * N)
    # a link code past the limit is refused; one within it is issued, or loses the race for the
    # person's version to another one within it (409 concurrent_update), never a 500
    assert_limited(
        world,
        answers,
        window_seconds=limits.HOUR,
        passed=lambda a: a.status_code in (200, 201) or (a.status_code == 409 and "concurrent" in a.text),
    )
    assert counter(world, "link_codes", person.owner, limits.HOUR) == LIMIT


def _districts(count: int) -> list[str]:
    found = [code for code in (f"5201{n:02d}" for n in range(1, 100)) if regions.is_region(code)]
    found += [code for code in (f"5203{n:02d}" for n in range(1, 100)) if regions.is_region(code)]
    if len(found) < count:
        pytest.skip("not enough districts in the region table")
    return found[:count]


def test_concurrent_official_writes_pass_the_hourly_limit_exactly(world: World) -> None:
    """One official's writes share one hourly budget: 12 risk-area changes at once, 3 pass."""
    set_policy(world, limits_policy(official_writes_per_hour_limit=LIMIT))
    official = (account("official"), ["official"])
    calls = [("PUT", f"/v1/risk-areas/{code}", official, {"level": "medium"}, {}) for code in _districts(N)]
    answers = at_once(world, calls)
    assert_limited(world, answers, window_seconds=limits.HOUR, passed=lambda a: a.status_code in (200, 202))
    assert counter(world, "official_writes", official[0], limits.HOUR) == LIMIT
    # another official is not limited by the first one's use
    other = (account("official"), ["official"])
    assert world.call(
        "PUT", f"/v1/risk-areas/{_districts(N)[0]}", as_=other, json={"level": "high"}
    ).status_code in (
        200,
        202,
    )


def test_concurrent_override_requests_pass_the_hourly_limit_exactly(world: World) -> None:
    set_policy(world, limits_policy(override_requests_per_hour_limit=LIMIT))
    people: list[Person] = [
        world.apply(account("citizen"), declaration=declaration(contact_with_case=True)) for _ in range(N)
    ]
    official = (account("official"), ["official"])
    body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-2022-0001"}
    calls = [("PUT", f"/v1/persons/{p.person_id}/colour", official, body, {}) for p in people]
    answers = at_once(world, calls)
    assert_limited(world, answers, window_seconds=limits.HOUR, passed=lambda a: a.status_code in (200, 202))
    assert counter(world, "override_requests", official[0], limits.HOUR) == LIMIT


def test_concurrent_manual_registrations_pass_the_hourly_limit_exactly(world: World) -> None:
    set_policy(world, limits_policy(manual_registrations_per_hour_limit=LIMIT))
    manager = account("venue_manager")
    venue = world.register_venue(manager)
    scanner = account("scanner")
    world.assign(venue["venue_id"], scanner, by=manager)
    who = (scanner, ["scanner"])

    def form() -> dict[str, Any]:
        return {
            "name": "李四",
            "id_number": unique_id_number(),
            "temperature": 36.5,
            "checkpoint_id": venue["venue_id"],
        }

    answers = at_once(world, [("POST", "/v1/manual-registrations", who, form(), {}) for _ in range(N)])
    assert_limited(world, answers, window_seconds=limits.HOUR, passed=lambda a: a.status_code == 201)
    assert counter(world, "manual_registrations", scanner, limits.HOUR) == LIMIT


def test_a_refused_write_comes_back_in_the_next_window(world: World) -> None:
    """GIVEN an official at the hourly limit WHEN the window ends THEN the official may write again."""
    set_policy(world, limits_policy(official_writes_per_hour_limit=1))
    official = (account("official"), ["official"])
    first, second = _districts(2)
    assert world.call(
        "PUT", f"/v1/risk-areas/{first}", as_=official, json={"level": "medium"}
    ).status_code in (200, 202)
    refused = world.call("PUT", f"/v1/risk-areas/{second}", as_=official, json={"level": "medium"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    world.advance(int(refused.headers["Retry-After"]) + 1)
    assert world.call(
        "PUT", f"/v1/risk-areas/{second}", as_=official, json={"level": "medium"}
    ).status_code in (
        200,
        202,
    )


def test_the_policy_hook_refuses_an_invalid_policy(world: World) -> None:
    answer = world.stack.http.post(
        f"{world.stack.url}/_local/policy", json={"changes": {"appeals_per_day_limit": 0}}, timeout=10
    )
    assert answer.status_code == 400 and "appeals_per_day_limit" in answer.text
    assert set_policy(world, {})["appeals_per_day_limit"] == 5


def scans_of(world: World, person_id: str) -> int:
    found = world.stack.aws("dynamodb").query(
        TableName=world.stack.info["tables"]["ScansTable"],
        IndexName="by_person",
        KeyConditionExpression="person_id = :p",
        ExpressionAttributeValues={":p": {"S": person_id}},
        Select="COUNT",
    )
    return int(found["Count"])


def test_concurrent_checkins_with_one_idempotency_key_store_one_scan(world: World) -> None:
    """GIVEN one check-in sent 12 times at once with one Idempotency-Key (a client retrying on a
    slow network) THEN every copy answers 201 with the same answer, and one scan is stored."""
    person = world.apply(account("citizen"))
    venue = world.register_venue(account("venue_manager"))
    body = {
        "venue_code": venue["code"],
        "person_id": person.person_id,
        "location": {"lat": 26.57, "lng": 106.71},
    }
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    answers = at_once(world, [("POST", "/v1/checkins", (person.owner, ["citizen"]), body, key)] * N)
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    assert len({a.text for a in answers}) == 1
    assert scans_of(world, person.person_id) == 1


def test_concurrent_manual_registrations_with_one_idempotency_key_register_once(world: World) -> None:
    """GIVEN one manual registration sent 12 times at once with one Idempotency-Key THEN every copy
    answers 201 with the same answer: one person, one scan."""
    set_policy(world, limits_policy())
    manager = account("venue_manager")
    venue = world.register_venue(manager)
    scanner = account("scanner")
    world.assign(venue["venue_id"], scanner, by=manager)
    id_number = unique_id_number()
    body = {"name": "赵六", "id_number": id_number, "temperature": 36.5, "checkpoint_id": venue["venue_id"]}
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    answers = at_once(world, [("POST", "/v1/manual-registrations", (scanner, ["scanner"]), body, key)] * N)
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    assert len({a.text for a in answers}) == 1
    # one scan by this scanner (the test reads moto directly; the product never Scans)
    stored = world.stack.aws("dynamodb").scan(
        TableName=world.stack.info["tables"]["ScansTable"],
        FilterExpression="actor = :a",
        ExpressionAttributeValues={":a": {"S": scanner}},
    )
    assert len(stored["Items"]) == 1


def test_concurrent_manual_registrations_with_one_key_print_one_paper_code_that_works(world: World) -> None:
    """GIVEN one manual registration with ``issue_paper_code`` sent 12 times at once with one
    Idempotency-Key THEN every copy answers the same paper code, and that code is the person's
    current one: it passes the checkpoint (a second code issued by a concurrent copy would revoke
    the printed one, and the card in the person's hand would be refused)."""
    set_policy(world, limits_policy())
    manager = account("venue_manager")
    venue = world.register_venue(manager)
    scanner = account("scanner")
    world.assign(venue["venue_id"], scanner, by=manager)
    body = {
        "name": "钱七",
        "id_number": unique_id_number(),
        "temperature": 36.5,
        "checkpoint_id": venue["venue_id"],
        "issue_paper_code": True,
    }
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    answers = at_once(world, [("POST", "/v1/manual-registrations", (scanner, ["scanner"]), body, key)] * N)
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    tokens = {a.json()["paper_code"]["token"] for a in answers}
    assert len(tokens) == 1
    checked = world.stack.http.post(
        f"{world.stack.url}/v1/verifications",
        json={"code": tokens.pop(), "checkpoint_id": venue["venue_id"]},
        headers={"Authorization": f"Bearer {world.token(scanner, ['scanner'])}"},
        timeout=30,
    )
    assert checked.status_code == 200, checked.text


def test_concurrent_case_status_changes_apply_once(world: World) -> None:
    """GIVEN a suspected case WHEN 12 upgrades to confirmed arrive at once from 4 officials THEN
    exactly one applies (200), every other one is a clear 409 (never a 500), and the case's
    history holds the upgrade once."""
    set_policy(world, limits_policy())
    person = world.apply(account("citizen"))
    diagnosed = (world.now() - timedelta(hours=1)).isoformat()
    body = {"person_id": person.person_id, "status": "suspected", "diagnosed_at": diagnosed}
    case_id = world.ok("POST", "/v1/cases", as_=(account("official"), ["official"]), json=body)["case_id"]
    officials = [(account("official"), ["official"]) for _ in range(CONCURRENCY)]
    calls = [
        ("PATCH", f"/v1/cases/{case_id}", officials[i % CONCURRENCY], {"status": "confirmed"}, {})
        for i in range(N)
    ]
    answers = at_once(world, calls)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * (N - 1), [a.text[:200] for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
        "status_unchanged",
        "concurrent_change",
    }
    shown = world.ok("GET", f"/v1/cases/{case_id}", as_=officials[0])
    assert [step["status"] for step in shown["history"]] == ["suspected", "confirmed"]


def test_concurrent_approvals_of_a_recovery_carry_it_out_once(world: World) -> None:
    """GIVEN a recovered case waiting for a second official WHEN 4 other officials approve at once
    THEN one answers 200 with the act applied, the others 409 already_decided; the case is
    recovered once."""
    set_policy(world, limits_policy())
    requester = (account("official"), ["official"])
    case_id = world.report_case(world.apply(account("citizen")), requester[0])
    asked = world.ok("PATCH", f"/v1/cases/{case_id}", as_=requester, json={"status": "recovered"})
    approvers = [(account("official"), ["official"]) for _ in range(CONCURRENCY)]
    calls = [("POST", f"/v1/overrides/{asked['request_id']}/approve", who, None, {}) for who in approvers]
    answers = at_once(world, calls)
    assert sorted(a.status_code for a in answers) == [200] + [409] * (CONCURRENCY - 1), [
        a.text[:200] for a in answers
    ]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"already_decided"}
    (won,) = [a.json() for a in answers if a.status_code == 200]
    assert won["result"]["applied"] is True
    shown = world.ok("GET", f"/v1/cases/{case_id}", as_=requester)
    assert [step["status"] for step in shown["history"]] == ["confirmed", "recovered"]


def test_stores_racing_for_one_join_code_admit_exactly_one(world: World) -> None:
    """GIVEN a mall and one join code its manager issued WHEN 4 stores' own managers register under
    the mall with that code at once THEN exactly one store is registered (201, in the mall's
    complex); every other answer is 409 join_code_used and registers nothing."""
    set_policy(world, limits_policy())
    mall_manager = account("venue_manager")
    mall = world.register_venue(mall_manager)["venue_id"]
    issued = world.ok("POST", f"/v1/venues/{mall}/join-codes", as_=(mall_manager, ["venue_manager"]))
    stores = [(account("venue_manager"), ["venue_manager"]) for _ in range(CONCURRENCY)]
    calls = [
        (
            "POST",
            "/v1/venues",
            who,
            venue_form(
                name=f"{i}号铺", type="restaurant", parent_venue_id=mall, join_code=issued["join_code"]
            ),
            {},
        )
        for i, who in enumerate(stores)
    ]
    answers = at_once(world, calls)
    assert sorted(a.status_code for a in answers) == [201] + [409] * (CONCURRENCY - 1), [
        a.text[:200] for a in answers
    ]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"join_code_used"}
    (won,) = [a.json() for a in answers if a.status_code == 201]
    assert won["root_venue_id"] == mall
    # AND the losers hold no venue at all
    for who, answer in zip(stores, answers, strict=True):
        held = world.ok("GET", "/v1/venues", as_=who)["venues"]
        assert len(held) == (1 if answer.status_code == 201 else 0)


def test_concurrent_reissues_leave_exactly_one_current_code(world: World) -> None:
    """GIVEN a venue WHEN its manager's app sends 4 reissues at once THEN each answer is a new code
    of a generation of its own (201), or 409 venue_changed when it lost every attempt; afterwards
    exactly one code checks in, the newest; every other answered code and the first are revoked."""
    set_policy(world, limits_policy())
    manager = account("venue_manager")
    venue = world.register_venue(manager)
    path = f"/v1/venues/{venue['venue_id']}/code"
    answers = at_once(
        world, [("POST", path, (manager, ["venue_manager"]), {"reason": "damaged"}, {})] * CONCURRENCY
    )
    assert {a.status_code for a in answers} <= {201, 409}, [a.text[:200] for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {"venue_changed"}
    issued = [a.json() for a in answers if a.status_code == 201]
    assert issued and len({i["generation"] for i in issued}) == len(issued)
    person = world.apply(account("citizen"))

    def scan(code: str) -> requests.Response:
        body = {"venue_code": code, "person_id": person.person_id, "location": {"lat": 26.57, "lng": 106.71}}
        return world.call("POST", "/v1/checkins", as_=(person.owner, ["citizen"]), json=body)

    newest = max(issued, key=lambda i: int(i["generation"]))
    assert [i["generation"] for i in issued if scan(i["code"]).status_code == 201] == [newest["generation"]]
    revoked = scan(venue["code"])
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (422, "venue_code_revoked")
