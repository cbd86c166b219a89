"""Venue managers and officials over HTTP on the local stack: a manager who lost a venue id finds
it in their list, officials list their area, registrations are corrected and completed, a store's
own manager joins a mall with a one-time join code, a taxi registers under its plate, and the
export carries what the provincial platform matches against its registers."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import requests
from healthcode.rules import idcard

from tests.e2e.stack import Stack
from tests.e2e.test_export import exported_lines
from tests.e2e.test_venues import manager, register

Who = tuple[str, list[str]]


def as_official(stack: Stack, region: str | None) -> dict[str, str]:
    """Headers of an official whose area is ``region`` (None: the whole province)."""
    sub = f"e2e-official-{uuid.uuid4().hex[:6]}"
    return {"Authorization": f"Bearer {stack.token(sub, ['official'], region)}"}


def venues_of(
    stack: Stack, query: str, *, who: Who | None = None, headers: dict[str, str] | None = None
) -> Any:
    return stack.call("GET", f"/v1/venues?{query}", as_=who, headers=headers)


def shown(stack: Stack, venue_id: str, who: Who) -> dict[str, Any]:
    answer = stack.call("GET", f"/v1/venues/{venue_id}", as_=who)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bent(cursor: str) -> str:
    """The cursor with another venue id inside it (its MAC kept)."""
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload = json.loads(document["p"])
    payload["v"] = "v-" + "0" * 32
    document["p"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_a_manager_who_lost_a_venue_id_finds_it_page_by_page(stack: Stack) -> None:
    # GIVEN a manager with three venues
    who = manager()
    ids = sorted(register(stack, who, name=f"花果园{n}号门").json()["venue_id"] for n in range(3))
    # WHEN they list them two at a time
    first = venues_of(stack, "limit=2", who=who)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    second = venues_of(stack, f"limit=2&cursor={cursor}", who=who)
    # THEN every venue comes once, with its status, and the last page ends the list
    found = [v["venue_id"] for v in first.json()["venues"] + second.json()["venues"]]
    assert found == ids and second.json()["next_cursor"] is None
    assert {v["status"] for v in first.json()["venues"]} == {"active"}
    # AND a cursor bent, cut or from another manager is refused
    for query, caller in (
        (f"limit=2&cursor={bent(cursor)}", who),
        (f"limit=2&cursor={cursor[:-3]}", who),
        (f"limit=2&cursor={cursor}", manager()),
    ):
        answer = venues_of(stack, query, who=caller)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_cursor")
    for query, code in (("limit=0", "invalid_limit"), ("status=gone", "invalid_status")):
        answer = venues_of(stack, query, who=who)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, code)


def test_an_official_lists_venues_of_their_area_only(stack: Stack) -> None:
    # GIVEN a hospital in 南明区 (520102) and one in 云岩区 (520103)
    who = manager()
    nanming = register(stack, who, type="hospital").json()["venue_id"]
    yunyan = register(stack, who, type="hospital", region_code="520103").json()["venue_id"]
    county = as_official(stack, "520102")
    # WHEN the 南明区 official lists hospitals of their area THEN theirs, not the neighbour's
    listed: list[str] = []
    cursor = None
    while True:
        answer = venues_of(
            stack, "type=hospital&limit=500" + (f"&cursor={cursor}" if cursor else ""), headers=county
        )
        assert answer.status_code == 200, answer.text
        listed += [v["venue_id"] for v in answer.json()["venues"]]
        assert {v["region_code"] for v in answer.json()["venues"]} <= {"520102"}
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert nanming in listed and yunyan not in listed
    # AND the neighbouring county is outside their area; a province official reaches it
    outside = venues_of(stack, "region_code=520103", headers=county)
    assert (outside.status_code, outside.json()["error"]["code"]) == (403, "outside_area")
    wide = venues_of(stack, "region_code=520103&type=hospital&limit=500", headers=as_official(stack, None))
    assert yunyan in {v["venue_id"] for v in wide.json()["venues"]}


def test_a_registration_is_corrected_and_completed_by_its_manager_only(stack: Stack) -> None:
    who = manager()
    created = register(stack, who).json()
    venue_id = created["venue_id"]
    before = shown(stack, venue_id, who)
    # WHEN bad changes are sent THEN each is refused and nothing changes
    for body, status, code in (
        ({}, 422, "empty_change"),
        ({"region_code": "520103"}, 422, "unknown_field"),
        ({"manager_phone": "110"}, 422, "invalid_phone"),
        ({"credential_number": "91440300708461136A"}, 422, "invalid_credential"),
        ({"store_number": "x" * 40}, 422, "invalid_store_number"),
    ):
        answer = stack.call("PATCH", f"/v1/venues/{venue_id}", as_=who, json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    for caller, status, code in (
        (manager(), 403, "not_venue_manager"),
        (("e2e-o", ["official"]), 403, "forbidden_role"),
    ):
        answer = stack.call("PATCH", f"/v1/venues/{venue_id}", as_=caller, json={"zone": "B1"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    unknown = stack.call("PATCH", f"/v1/venues/v-{uuid.uuid4().hex}", as_=who, json={"zone": "B1"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "venue_not_found")
    assert shown(stack, venue_id, who) == before
    # WHEN the manager completes the zone and store number THEN the code stays
    completed = stack.call(
        "PATCH", f"/v1/venues/{venue_id}", as_=who, json={"zone": "北广场", "store_number": "HGY-001"}
    )
    assert completed.status_code == 200, completed.text
    assert (completed.json()["zone"], completed.json()["store_number"]) == ("北广场", "HGY-001")
    assert completed.json()["code"] == created["code"] and completed.json()["code_reissued"] is False
    # WHEN the name on the poster changes THEN a new code is issued
    renamed = stack.call("PATCH", f"/v1/venues/{venue_id}", as_=who, json={"name": "花果园购物中心（南门）"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["code_reissued"] is True and renamed.json()["code"] != created["code"]
    assert shown(stack, venue_id, who)["code"] == renamed.json()["code"]


def test_a_store_registers_under_a_mall_with_a_join_code_once(stack: Stack) -> None:
    # GIVEN a mall and a join code its manager issued
    mall_manager, store_manager = manager(), manager()
    mall = register(stack, mall_manager).json()["venue_id"]
    issued = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=mall_manager)
    assert issued.status_code == 201, issued.text
    code = issued.json()["join_code"]
    assert issued.json()["expires_at"].endswith("+08:00")
    stranger = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=store_manager)
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "not_venue_manager")
    unknown = stack.call("POST", f"/v1/venues/v-{uuid.uuid4().hex}/join-codes", as_=mall_manager)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "venue_not_found")
    # AND a mistyped or invented code registers nothing
    for bad, status, error in (
        ("ABCD-1234", 422, "invalid_join_code"),
        ("ABCD-EFGH-JKLM-NPQR", 422, "invalid_join_code"),
    ):
        refused = register(stack, store_manager, type="restaurant", parent_venue_id=mall, join_code=bad)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, error)
    assert venues_of(stack, "", who=store_manager).json()["venues"] == []
    # WHEN the store's own manager registers under the mall with it (typed in lower case)
    store = register(
        stack, store_manager, name="奶茶店", type="restaurant", parent_venue_id=mall, join_code=code.lower()
    )
    # THEN the store is in the mall's complex, in its own manager's list and not in the mall's
    assert store.status_code == 201, store.text
    assert store.json()["root_venue_id"] == mall
    mine = [v["venue_id"] for v in venues_of(stack, "", who=store_manager).json()["venues"]]
    assert mine == [store.json()["venue_id"]]
    assert store.json()["venue_id"] not in {
        v["venue_id"] for v in venues_of(stack, "", who=mall_manager).json()["venues"]
    }
    # AND the code admits no second store; no code, no store
    again = register(stack, manager(), type="restaurant", parent_venue_id=mall, join_code=code)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "join_code_used")
    without = register(stack, manager(), type="restaurant", parent_venue_id=mall)
    assert (without.status_code, without.json()["error"]["code"]) == (403, "not_parent_manager")


def test_a_taxi_registers_under_its_plate_and_exports_with_the_registers_fields(stack: Stack) -> None:
    # GIVEN a taxi under a new-energy plate typed full-width, a depot as its location
    who = manager()
    taxi = register(
        stack,
        who,
        name="贵A出租车",
        type="vehicle",
        credential_type="licence_plate",
        credential_number="贵Ａ·Ｄ１２３４５",
    )
    assert taxi.status_code == 201, taxi.text
    assert shown(stack, taxi.json()["venue_id"], who)["credential_masked"] == "贵AD12345"
    # AND a pharmacy under its owner's ID card, and a mall with its zone and store number
    first17 = f"52010219800101{uuid.uuid4().int % 1000:03d}"
    id_number = first17 + idcard.check_character(first17)
    pharmacy = register(stack, who, type="pharmacy", credential_type="id_number", credential_number=id_number)
    mall = register(stack, who, zone="东区", store_number="HGY-9")
    assert pharmacy.status_code == mall.status_code == 201
    # WHEN the streams are drained THEN the export carries the mall's credit code in clear, and the
    # pharmacy's ID number and the taxi's plate only as keyed hashes
    stack.drain()
    lines = {line["venue_id"]: line for line in exported_lines(stack, "venues")}
    mall_line = lines[mall.json()["venue_id"]]
    assert (mall_line["credential_number"], mall_line["zone"], mall_line["store_number"]) == (
        "91440300708461136T",
        "东区",
        "HGY-9",
    )
    for venue in (pharmacy, taxi):
        line = lines[venue.json()["venue_id"]]
        assert line["credential_number"] is None and str(line["credential_hash"]).startswith("h1:")
    text = json.dumps(list(lines.values()), ensure_ascii=False)
    assert id_number not in text and "贵AD12345" not in text


def test_no_token_no_list(stack: Stack) -> None:
    answer = requests.get(f"{stack.url}/v1/venues", timeout=10)
    assert answer.status_code == 401
