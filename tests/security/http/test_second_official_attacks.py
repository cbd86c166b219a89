"""Issue 13, items 5-8, attacked over HTTP on a local stack of its own (its clock is moved here).

* One official red-coding many persons through case reports or positive lab rows: past the
  per-official limit every further act answers ``202 pending_approval`` and nobody else turns
  red until a *different* official approves; a province-level risk area set by one official
  waits too (items 7).
* An override approved, then news learned later (a suspected case confirmed, a positive lab
  result for the same case, an exposure found by tracing): the person turns red despite the
  override (item 5).
* Eight officials approving one override, one held act, and answering one appeal at the same
  instant (the stack runs ``LOCAL_CONCURRENCY`` environments per function): one ``200``, every
  other ``409 already_decided``, never a 500 (item 8).

The limits are atomic counters in the LimitsTable (helper ``storage.limits``); to reach a limit of
50 without 50 reports, a test stores the official's counter for the current hour as a busy hour
would have left it (``used = limit - 1``), exactly as the stack keeps it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules.policy import load_policy
from healthcode.storage import limits

from tests.security.http.world import (
    VENUE_LOCATION,
    Person,
    SecurityStack,
    World,
    account,
    declaration,
    security_stack,
)

#: Mid-hour in Guiyang, so a test's hour window does not end under it.
T0 = datetime.fromisoformat("2022-05-10T10:05:00+08:00")
POLICY = load_policy("520000")
RACERS = 8


@pytest.fixture(scope="module")
def own() -> Iterator[SecurityStack]:
    with security_stack("520000") as started:
        started.stack.clock(now=T0.isoformat())
        yield started


@pytest.fixture
def world(own: SecurityStack) -> World:
    return World(own.stack)


def official() -> tuple[str, list[str]]:
    return (account("official"), ["official"])


def colour_of(world: World, person: Person) -> str:
    answer = world.ok("GET", f"/v1/codes/{person.person_id}", as_=(person.owner, ["citizen"]))
    return str(answer["colour"])


def busy_hour(world: World, scope: str, actor: str, used: int) -> None:
    """The actor's counter for the stack's current hour, as ``used`` uses would have left it."""
    window = limits.window_of(world.now(), limits.HOUR)
    world.stack.aws("dynamodb").put_item(
        TableName=world.stack.info["tables"]["LimitsTable"],
        Item={
            "id": {"S": limits.counter_id(scope, actor, window)},
            "used": {"N": str(used)},
            "expiration": {"N": str(window.end + 86400)},
        },
    )


def report(world: World, person: Person, who: tuple[str, list[str]], *, status: str = "confirmed") -> Any:
    diagnosed = (world.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    body = {"person_id": person.person_id, "status": status, "diagnosed_at": diagnosed.isoformat()}
    return world.call("POST", "/v1/cases", as_=who, json=body)


def approve(world: World, request_id: str, who: tuple[str, list[str]]) -> Any:
    return world.call("POST", f"/v1/overrides/{request_id}/approve", as_=who)


def green_override(world: World, person: Person) -> None:
    """Two officials review the person to green."""
    body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0510-09"}
    asked = world.ok("PUT", f"/v1/persons/{person.person_id}/colour", as_=official(), json=body)
    assert approve(world, asked["override_id"], official()).status_code == 200
    assert colour_of(world, person) == "green"


# -- item 7: one official cannot red-code many ------------------------------------------------------


def test_one_official_red_coding_many_through_cases_is_held_after_the_limit(world: World) -> None:
    """GIVEN an official who has coloured limit-1 persons this hour WHEN they report cases for
    four more people THEN the first is red at once and the other three answer 202
    pending_approval and stay green; the official cannot approve their own; when a second
    official approves one, exactly that person turns red."""
    who = official()
    busy_hour(world, "coloured_persons", who[0], POLICY.official_coloured_persons_per_hour_limit - 1)
    people = [world.apply(account("citizen")) for _ in range(4)]
    answers = [report(world, person, who) for person in people]
    assert [a.status_code for a in answers] == [202] * 4
    assert "case_id" in answers[0].json() and answers[0].json()["colour"] == "red"
    held = [a.json() for a in answers[1:]]
    assert [h["status"] for h in held] == ["pending_approval"] * 3 and all("case_id" not in h for h in held)
    world.stack.drain()
    assert [colour_of(world, p) for p in people] == ["red", "green", "green", "green"]
    own = approve(world, held[0]["request_id"], who)
    assert (own.status_code, own.json()["error"]["code"]) == (403, "cannot_approve_own")
    assert approve(world, held[0]["request_id"], official()).status_code == 200
    world.stack.drain()
    assert [colour_of(world, p) for p in people] == ["red", "red", "green", "green"]
    print(f"\nATTACK cases past the limit: {len(held)} of 4 held; only the approved one turned red")


def test_one_lab_account_red_coding_many_through_lab_rows_is_held(world: World) -> None:
    """GIVEN a laboratory account at limit-1 persons this hour WHEN it imports positive rows for
    three people THEN 202 pending_approval, nobody is red, until a second official approves."""
    lab = (account("lab"), ["lab"])
    busy_hour(world, "coloured_persons", lab[0], POLICY.lab_coloured_persons_per_hour_limit - 1)
    people = [world.apply(account("citizen")) for _ in range(3)]
    sampled = (world.now() - timedelta(hours=3)).replace(microsecond=0).isoformat()
    rows = [{"id_number": p.id_number, "sampled_at": sampled, "result": "positive"} for p in people]
    answer = world.call("POST", "/v1/lab-results", as_=lab, json={"results": rows})
    assert answer.status_code == 202 and answer.json()["status"] == "pending_approval", answer.text
    world.stack.drain()
    assert [colour_of(world, p) for p in people] == ["green"] * 3
    approved = approve(world, answer.json()["request_id"], official())
    assert approved.status_code == 200 and len(approved.json()["result"]["cases"]) == 3, approved.text
    assert [colour_of(world, p) for p in people] == ["red"] * 3  # at once, no stream needed


def test_a_province_level_risk_area_by_one_official_waits(world: World) -> None:
    """GIVEN a traveller back from Zunyi WHEN one official sets all of Guizhou high THEN 202
    pending_approval, the level is unchanged and the traveller green; lowering a county waits
    too; a second official's approval sets the province and the sweep turns the traveller red."""
    who = official()
    traveller = world.apply(
        account("citizen"),
        declaration=declaration(
            travel=[{"region_code": "520302", "left_at": (world.now() - timedelta(days=1)).isoformat()}]
        ),
    )
    held = world.call("PUT", "/v1/risk-areas/520000", as_=who, json={"level": "high"})
    assert held.status_code == 202 and held.json()["status"] == "pending_approval", held.text
    world.stack.drain()
    assert world.ok("GET", "/v1/risk-areas/520000", as_=who)["level"] == "low"
    assert colour_of(world, traveller) == "green"
    assert world.call("PUT", "/v1/risk-areas/520326", as_=who, json={"level": "medium"}).status_code == 200
    lowering = world.call("PUT", "/v1/risk-areas/520326", as_=who, json={"level": "low"})
    assert lowering.status_code == 202
    assert approve(world, held.json()["request_id"], official()).status_code == 200
    world.stack.drain()
    assert colour_of(world, traveller) == "red"


# -- item 5: news learned after an override counts ------------------------------------------------------


def test_news_learned_after_an_override_turns_the_person_red_again(world: World) -> None:
    """GIVEN persons reviewed to green by two officials WHEN later a suspected case is confirmed,
    a positive lab result for the same case arrives, or tracing finds an exposure that happened
    before the override THEN each person is red again."""
    who = official()
    upgraded, tested = world.apply(account("citizen")), world.apply(account("citizen"))
    diagnosed = (world.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    for person, status in ((upgraded, "suspected"), (tested, "confirmed")):
        body = {"person_id": person.person_id, "status": status, "diagnosed_at": diagnosed.isoformat()}
        assert world.call("POST", "/v1/cases", as_=who, json=body).status_code == 202
        green_override(world, person)
    world.advance(600)
    body = {"person_id": upgraded.person_id, "status": "confirmed", "diagnosed_at": diagnosed.isoformat()}
    assert world.ok("POST", "/v1/cases", as_=who, json=body)["colour"] == "red"
    row = {"id_number": tested.id_number, "sampled_at": diagnosed.isoformat(), "result": "positive"}
    assert world.ok("POST", "/v1/lab-results", as_=who, json={"results": [row]})["cases"]
    assert (colour_of(world, upgraded), colour_of(world, tested)) == ("red", "red")

    # tracing: the case and the contact meet at a restaurant; 20 minutes later the contact is
    # reviewed to green; the case is reported afterwards and tracing finds the meeting
    manager = account("venue_manager")
    venue = world.register_venue(manager, name="花果园餐厅", type="restaurant")
    case, contact = world.apply(account("citizen")), world.apply(account("citizen"))
    for person in (case, contact):
        body = {"venue_code": venue["code"], "person_id": person.person_id, "location": dict(VENUE_LOCATION)}
        world.ok("POST", "/v1/checkins", as_=(person.owner, ["citizen"]), json=body)
    world.stack.drain()
    world.advance(1200)  # (callers' tokens live an hour of the stack's clock)
    green_override(world, contact)
    world.advance(600)
    body = {"person_id": case.person_id, "status": "confirmed", "diagnosed_at": world.now().isoformat()}
    world.ok("POST", "/v1/cases", as_=who, json=body)
    world.stack.drain()
    assert colour_of(world, contact) == "red"
    print("\nATTACK news after an override: upgrade, positive lab, traced exposure all turned red")


# -- item 8: concurrent decisions ---------------------------------------------------------------------


def race(world: World, method: str, path: str, body: Any = None) -> Counter[tuple[int, str]]:
    """``RACERS`` different officials send the same decision at the same instant."""
    callers = [official() for _ in range(RACERS)]
    for who in callers:
        world.token(*who)  # tokens first: the race is the decisions only
    start = threading.Barrier(RACERS)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def decide(who: tuple[str, list[str]]) -> None:
        start.wait()
        answer = world.call(method, path, as_=who, json=body)
        code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
        with lock:
            answers.append((answer.status_code, code))

    threads = [threading.Thread(target=decide, args=(who,)) for who in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(answers)


def test_concurrent_decisions_answer_200_once_and_409_already_decided_otherwise(world: World) -> None:
    """GIVEN an override, an act held for a second official and an appeal WHEN 8 officials decide
    each at the same instant THEN one 200 and seven 409 already_decided each, never a 500; the
    held act is carried out once."""
    person = world.apply(account("citizen"), declaration=declaration(contact_with_case=True))
    body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0510-10"}
    override_id = world.ok("PUT", f"/v1/persons/{person.person_id}/colour", as_=official(), json=body)[
        "override_id"
    ]
    decided = race(world, "POST", f"/v1/overrides/{override_id}/approve")
    assert decided == Counter({(200, ""): 1, (409, "already_decided"): RACERS - 1}), decided

    held = world.call("PUT", "/v1/risk-areas/520100", as_=official(), json={"level": "medium"}).json()
    decided = race(world, "POST", f"/v1/overrides/{held['request_id']}/approve")
    assert decided == Counter({(200, ""): 1, (409, "already_decided"): RACERS - 1}), decided
    shown = world.ok("GET", f"/v1/overrides/{held['request_id']}", as_=official())
    assert shown["status"] == "applied" and shown["result"]["level"] == "medium"

    appellant = world.apply(account("citizen"), declaration=declaration(contact_with_case=True))
    appeal_id = world.file_appeal(appellant)
    decided = race(
        world, "POST", f"/v1/appeals/{appeal_id}/answer", {"outcome": "dismissed", "answer": "申报属实，维持"}
    )
    assert decided == Counter({(200, ""): 1, (409, "already_decided"): RACERS - 1}), decided
    print(f"\nATTACK {RACERS} concurrent decisions x3: one 200 each, the rest 409 already_decided, no 500")


def test_now_is_mid_hour(world: World) -> None:
    """The stack's clock sits where the tests above assume (a window never ends under a test)."""
    assert clock.parse_instant(world.stack.clock(advance_seconds=0)) >= T0
