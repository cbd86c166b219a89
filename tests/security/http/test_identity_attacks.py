"""Attacks on whose code is whose, over HTTP on local stacks running 4 environments per function
(issue 13, items 3, 4, 8, 10, 11): printing a stranger's paper code, claiming someone registered
at a checkpoint under another name, racing for one person or past an account's limits, spoofing
a role or an internal subject, and reading the identities behind a forwarded poster in Fujian.

Each attack is sent as a front end (or an attacker with a valid token) would send it; the races
fire their requests at once from threads (a connection each), so a count-then-write limit or an
unconditioned claim would let more than one through.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
import zxingcpp
from PIL import Image

from tests.security.http.world import (
    SecurityStack,
    World,
    account,
    application,
    child_id_number,
    declaration,
    security_stack,
    unique_id_number,
)

CONCURRENCY = 4
#: The dependants limit the race aims at (the policy's ``max_dependants``, lowered for the test).
MAX_DEPENDANTS = 3
#: Per-account limits of other items kept out of the way.
HIGH = 1000
FUZHOU = {"lat": 26.0845, "lng": 119.2965}


@pytest.fixture(scope="module")
def guizhou() -> Iterator[SecurityStack]:
    with security_stack("520000", extra=("--concurrency", str(CONCURRENCY))) as started:
        changes = {
            "max_dependants": MAX_DEPENDANTS,
            "applications_per_day_limit": HIGH,
            "manual_registrations_per_hour_limit": HIGH,
            "link_codes_per_hour_limit": HIGH,
            "official_writes_per_hour_limit": HIGH,
        }
        answer = started.stack.http.post(
            f"{started.stack.url}/_local/policy", json={"changes": changes}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        yield started


@pytest.fixture
def world(guizhou: SecurityStack) -> World:
    return World(guizhou.stack)


def at_once(
    world: World, calls: Sequence[tuple[str, str, tuple[str, Sequence[str]], Any]]
) -> list[requests.Response]:
    """Send every call at the same moment, each on its own connection."""
    tokens = [world.token(*who) for _, _, who, _ in calls]
    gate = threading.Barrier(len(calls))

    def send(index: int) -> requests.Response:
        method, path, _, body = calls[index]
        with requests.Session() as session:
            gate.wait(timeout=30)
            return session.request(
                method,
                f"{world.stack.url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {tokens[index]}"},
                timeout=120,
            )

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, range(len(calls))))


def audit_of(world: World, person_id: str) -> list[dict[str, Any]]:
    """The person's audit trail, read from the stack's moto: [{kind, actor, details}]."""
    items = world.stack.aws("dynamodb").query(
        TableName=world.stack.info["tables"]["AuditTable"],
        KeyConditionExpression="subject = :s",
        ExpressionAttributeValues={":s": {"S": f"person#{person_id}"}},
        ConsistentRead=True,
    )["Items"]
    return [
        {
            "kind": i["kind"]["S"],
            "actor": i["actor"]["S"],
            "details": json.loads(i.get("details", {}).get("S", "{}")),
        }
        for i in items
    ]


def registered_at_checkpoint(world: World, name: str = "李秀英") -> str:
    """Someone without a phone registered by assigned staff at a checkpoint: their ID number."""
    scanner = account("scanner")
    world.assign(world.venue["venue_id"], scanner, by=world.manager)
    number = unique_id_number()
    body = {"name": name, "id_number": number, "temperature": 36.5, "checkpoint_id": world.venue["venue_id"]}
    world.ok("POST", "/v1/manual-registrations", as_=(scanner, ["scanner"]), json=body)
    return number


def holders(world: World, accounts: Sequence[str]) -> dict[str, list[str]]:
    return {
        sub: [c["person_id"] for c in world.ok("GET", "/v1/codes", as_=(sub, ["citizen"]))["codes"]]
        for sub in accounts
    }


# -- paper codes (item 3) ------------------------------------------------------------------------


def test_a_scanner_can_neither_issue_nor_print_a_strangers_paper_code(world: World) -> None:
    # GIVEN a citizen's code, and a scanner assigned to a checkpoint (as staff are)
    person = world.apply(account("citizen"))
    scanner = world.scanner
    for method, suffix in (("POST", "/paper"), ("GET", "/paper.png")):
        # WHEN the scanner asks for the citizen's paper code THEN the role is refused
        refused = world.call(method, f"/v1/codes/{person.person_id}{suffix}", as_=(scanner, ["scanner"]))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden_role")
        # AND with a citizen role added it is a stranger: 404, as for a code that does not exist
        both = world.call(
            method, f"/v1/codes/{person.person_id}{suffix}", as_=(scanner, ["citizen", "scanner"])
        )
        assert (both.status_code, both.json()["error"]["code"]) == (404, "code_not_found")
    # AND nothing was issued
    none = world.call("GET", f"/v1/codes/{person.person_id}/paper.png", as_=(person.owner, ["citizen"]))
    assert (none.status_code, none.json()["error"]["code"]) == (404, "no_paper_code")


def test_an_official_prints_a_paper_code_only_with_a_reason_and_it_is_audited(world: World) -> None:
    person = world.apply(account("citizen"))
    official = (account("official"), ["official"])
    path = f"/v1/codes/{person.person_id}/paper"
    # WHEN an official issues it without a reason THEN 422 missing_field, nothing issued
    bare = world.call("POST", path, as_=official)
    assert (bare.status_code, bare.json()["error"]["code"], bare.json()["error"]["field"]) == (
        422,
        "missing_field",
        "reason",
    )
    assert [e for e in audit_of(world, person.person_id) if e["kind"] == "paper_code_issued"] == []
    # WHEN with a reason THEN 201 with the labelled printable card, and the reason audited
    issued = world.call("POST", path, as_=official, json={"reason": "社区走访：老人无智能手机"})
    assert issued.status_code == 201, issued.text
    card = Image.open(io.BytesIO(base64.b64decode(issued.json()["png_base64"])))
    assert [r.text for r in zxingcpp.read_barcodes(card.convert("L"))] == [issued.json()["token"]]
    (entry,) = [e for e in audit_of(world, person.person_id) if e["kind"] == "paper_code_issued"]
    assert entry["actor"] == official[0] and entry["details"]["reason"] == "社区走访：老人无智能手机"
    # AND printing it again needs a reason too, and is audited
    assert world.call("GET", f"{path}.png", as_=official).status_code == 422
    assert world.call("GET", f"{path}.png?reason=reprint", as_=official).status_code == 200
    assert [e["actor"] for e in audit_of(world, person.person_id) if e["kind"] == "paper_code_printed"] == [
        official[0]
    ]


# -- claiming an unclaimed person (item 4) ----------------------------------------------------------


def test_a_claimant_with_another_name_gets_nothing(world: World) -> None:
    # GIVEN someone registered at a checkpoint, claimed by nobody
    number = registered_at_checkpoint(world)
    claimant = account("citizen")
    # WHEN an account applies with their ID number under another name
    answer = world.call(
        "POST", "/v1/codes", as_=(claimant, ["citizen"]), json=application(number, name="王小明")
    )
    # THEN 409 identity_mismatch, and the account holds nothing
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "identity_mismatch"), answer.text
    assert holders(world, [claimant]) == {claimant: []}
    # WHEN they apply with the registered name THEN the code is theirs, the name as registered
    taken = world.call(
        "POST", "/v1/codes", as_=(claimant, ["citizen"]), json=application(number, name="李秀英")
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["name_masked"] == "李**"
    trail = audit_of(world, taken.json()["person_id"])
    changed = [e["details"] for e in trail if e["kind"] == "contact_changed"]
    assert {"field": "address", "channel": "claim"} in changed
    assert not any("中华北路" in str(e["details"]) or "13800000000" in str(e["details"]) for e in trail)


def test_two_accounts_claiming_one_person_at_once_one_wins(world: World) -> None:
    number = registered_at_checkpoint(world, name="王小明")
    claimants = [account("citizen") for _ in range(CONCURRENCY)]
    answers = at_once(
        world,
        [("POST", "/v1/codes", (c, ["citizen"]), application(number, name="王小明")) for c in claimants],
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * (CONCURRENCY - 1), [
        (a.status_code, a.text[:160]) for a in answers
    ]
    held = holders(world, claimants)
    assert sum(len(codes) for codes in held.values()) == 1, held


def test_a_claimant_who_loses_the_race_leaves_nothing_on_the_person(world: World) -> None:
    """GIVEN someone registered at a checkpoint and four accounts claiming them at once, each
    declaring a different trip WHEN one wins THEN the person carries the winner's declaration
    only: a losing claimant (409) must not have written facts that bend someone else's colour."""
    number = registered_at_checkpoint(world, name="王小明")
    claimants = [account("citizen") for _ in range(CONCURRENCY)]
    regions = ["110101", "310101", "440103", "420102"][:CONCURRENCY]
    left_at = (world.now() - timedelta(days=1)).isoformat()
    bodies = [
        application(
            number, name="王小明", declaration=declaration(travel=[{"region_code": r, "left_at": left_at}])
        )
        for r in regions
    ]
    calls = [("POST", "/v1/codes", (c, ["citizen"]), b) for c, b in zip(claimants, bodies, strict=True)]
    answers = at_once(world, calls)
    assert sorted(a.status_code for a in answers) == [200] + [409] * (CONCURRENCY - 1), [
        (a.status_code, a.text[:160]) for a in answers
    ]
    winner = next(i for i, a in enumerate(answers) if a.status_code == 200)
    person_id = answers[winner].json()["person_id"]
    stored = world.stack.aws("dynamodb").query(
        TableName=world.stack.info["tables"]["FactsTable"],
        KeyConditionExpression="person_id = :p",
        ExpressionAttributeValues={":p": {"S": person_id}},
        ConsistentRead=True,
    )["Items"]
    trips = {
        item["fact_id"]["S"].split("#")[1] for item in stored if item["fact_id"]["S"].startswith("trip#")
    }
    assert trips == {regions[winner]}, (trips, regions[winner])


# -- one own code, bounded dependants (item 8) ----------------------------------------------------


def test_concurrent_applications_of_one_account_make_exactly_one_own_code(world: World) -> None:
    who = account("citizen")
    answers = at_once(world, [("POST", "/v1/codes", (who, ["citizen"]), application()) for _ in range(6)])
    codes = sorted((a.status_code, a.json().get("error", {}).get("code")) for a in answers)
    assert codes == [(201, None)] + [(409, "own_code_exists")] * 5, codes
    assert len(holders(world, [who])[who]) == 1


def test_concurrent_dependants_stop_at_the_limit(world: World) -> None:
    who = account("citizen")
    bodies = [
        application(child_id_number(), name="王小宝", dependant=True, declaration=declaration())
        for _ in range(8)
    ]
    answers = at_once(world, [("POST", "/v1/codes", (who, ["citizen"]), body) for body in bodies])
    codes = sorted((a.status_code, a.json().get("error", {}).get("code")) for a in answers)
    assert codes == [(201, None)] * MAX_DEPENDANTS + [(409, "too_many_dependants")] * (8 - MAX_DEPENDANTS), (
        codes
    )
    assert len(holders(world, [who])[who]) == MAX_DEPENDANTS


# -- strict caller identity (item 10) --------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [" official", "official ", "Official", "OFFICIAL", '"official"', "official\t"]
)
def test_a_role_spelt_almost_right_is_no_role(world: World, role: str) -> None:
    sub = account("citizen")
    person = world.apply(account("citizen"))
    for method, path, body in (
        ("GET", "/v1/appeals", None),
        ("POST", f"/v1/codes/{person.person_id}/paper", {"reason": "spoofed"}),
        ("POST", "/v1/cases", {"person_id": person.person_id, "status": "confirmed", "diagnosed_at": None}),
    ):
        answer = world.call(method, path, as_=(sub, [role]), json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden_role"), (role, path)


def test_the_flattened_form_of_a_role_with_a_space_counts_no_role(world: World) -> None:
    # ["citizen", " official"] reaches the handler as "[citizen  official]": neither counts
    answer = world.call("GET", "/v1/appeals", as_=(account("citizen"), ["citizen", " official"]))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden_role")


def test_an_internal_subject_is_refused_at_the_edge(world: World) -> None:
    # GIVEN someone registered at a checkpoint: the system names their owner "unclaimed#<person id>"
    number = registered_at_checkpoint(world, name="赵大妈")
    owner = f"unclaimed#{uuid.uuid4().hex}"
    for sub in (owner, "unclaimed#x", "owner#alice#self", "a" * 129, "al\u200bice"):
        # WHEN a token carries such a subject THEN 401 before any handler reads or writes
        for method, path, body in (("GET", "/v1/codes", None), ("POST", "/v1/codes", application(number))):
            answer = world.call(method, path, as_=(sub, ["citizen"]), json=body)
            assert (answer.status_code, answer.json()["error"]["code"]) == (401, "unauthorized"), (sub, path)


# -- identity reveal in Fujian (item 11) -----------------------------------------------------------


@pytest.fixture(scope="module")
def fujian() -> Iterator[World]:
    with security_stack("350000") as started:
        yield World(started.stack)


def fujian_visitor(world: World) -> tuple[str, str]:
    """An orange visitor in Fuzhou (fever): (account, person id)."""
    who = account("citizen")
    body = application(
        unique_id_number("350102"),
        name="陈美玲",
        region_code="350102",
        address="福建省福州市鼓楼区八一七北路88号",
        declaration=declaration(symptoms=["fever"], temperature=38.2),
    )
    answer = world.ok("POST", "/v1/codes", as_=(who, ["citizen"]), json=body)
    assert answer["colour"] == "orange", answer
    return who, str(answer["person_id"])


def test_a_fujian_manager_sees_nobody_behind_a_forwarded_poster_but_sees_whom_staff_checked(
    fujian: World,
) -> None:
    manager = account("venue_manager")
    venue = fujian.ok(
        "POST",
        "/v1/venues",
        as_=(manager, ["venue_manager"]),
        json={
            "name": "东街口百货",
            "type": "mall",
            "subject_name": "福州东百集团股份有限公司",
            "credential_type": "uscc",
            "credential_number": "91440300708461136T",
            "region_code": "350102",
            "location": FUZHOU,
            "address": "福建省福州市鼓楼区八一七北路88号",
            "manager_phone": "13905910001",
        },
    )
    # GIVEN an orange citizen who checks in with the poster (a forwarded photo works as well)
    poster_visitor, poster_person = fujian_visitor(fujian)
    checkin = {"venue_code": venue["code"], "person_id": poster_person, "location": FUZHOU}
    fujian.ok("POST", "/v1/checkins", as_=(poster_visitor, ["citizen"]), json=checkin)
    # AND an orange citizen whose code the venue's own staff verify at the door
    scanner = account("scanner")
    fujian.assign(venue["venue_id"], scanner, by=manager)
    door_visitor, door_person = fujian_visitor(fujian)
    token = fujian.ok("GET", f"/v1/codes/{door_person}", as_=(door_visitor, ["citizen"]))["token"]
    body = {"code": token, "checkpoint_id": venue["venue_id"], "temperature": 36.8}
    fujian.ok("POST", "/v1/verifications", as_=(scanner, ["scanner"]), json=body)
    fujian.stack.drain()
    # WHEN the manager reads the day's alerts
    alerts = fujian.ok("GET", f"/v1/venues/{venue['venue_id']}/alerts", as_=(manager, ["venue_manager"]))[
        "alerts"
    ]
    # THEN the check-in is masked and its visitor's identity never read
    (poster_alert,) = [a for a in alerts if a["kind"] == "checkin"]
    assert poster_alert["identity_visible"] is False and set(poster_alert["person"]) == {
        "name_masked",
        "id_masked",
    }
    assert [e for e in audit_of(fujian, poster_person) if e["kind"] == "identity_read"] == []
    # AND the verified visitor is shown, the read audited once under them naming the manager
    (door_alert,) = [a for a in alerts if a["kind"] == "verification"]
    assert door_alert["identity_visible"] is True and door_alert["person"]["person_id"] == door_person
    assert door_alert["person"]["name"] == "陈美玲"
    reads = [e for e in audit_of(fujian, door_person) if e["kind"] == "identity_read"]
    assert [e["actor"] for e in reads] == [manager]


@pytest.mark.parametrize("region", ["350000", "350100", "110101"])
def test_an_area_of_another_province_is_no_area(world: World, region: str) -> None:
    """GIVEN an official's token whose area lies in another province WHEN it lists venues or
    searches THEN 401: a province code there (350000) would otherwise read as "the whole
    province" here and list every venue of Guizhou."""
    token = world.token(account("official"), ["official"], region)
    for method, path, body in (
        ("GET", "/v1/venues", None),
        ("POST", "/v1/persons/search", {"id_number": "x"}),
    ):
        answer = world.stack.http.request(
            method,
            f"{world.stack.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 401, answer.text
