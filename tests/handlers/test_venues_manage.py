"""GET /v1/venues, PATCH /v1/venues/{id} and POST /v1/venues/{id}/join-codes on moto: a manager's
own venues and an official's area page by page with cursors that cannot be bent, changes checked
as at registration and audited without their values, and one-time join codes for stores."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.protection import pii
from healthcode.rules.venues import join_code_digest
from healthcode.storage import audit
from healthcode.storage import venues as venue_storage
from healthcode.storage.models import Venue, VenueJoinCode

from tests.handlers import venue_support
from tests.handlers.harness import Answer, InProcessStack
from tests.handlers.venue_support import OFFICIAL, REAL_USCC, manager, new_id_number, phone, register

venue_stack = venue_support.venue_stack
stack = venue_support.stack


def official(region: str | None = None) -> dict[str, Any]:
    """Keyword arguments of a call as an official of ``region`` (None: the whole province)."""
    return {"as_": (f"official-{uuid.uuid4().hex[:6]}", ["official"]), "region": region}


def listed(stack: InProcessStack, query: str = "", **caller: Any) -> Answer:
    return stack.call("GET", "/v1/venues", query=query, **caller)


def every_page(stack: InProcessStack, query: str, **caller: Any) -> list[list[str]]:
    """The venue ids of every page, following ``next_cursor`` to the end."""
    pages, cursor = [], None
    while True:
        answer = listed(stack, query + (f"&cursor={cursor}" if cursor else ""), **caller)
        assert answer.status == 200, answer.body
        pages.append([v["venue_id"] for v in answer.json()["venues"]])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages


def flat(pages: list[list[str]]) -> list[str]:
    return [venue_id for page in pages for venue_id in page]


def patch(stack: InProcessStack, venue_id: str, who: tuple[str, list[str]], body: Any) -> Answer:
    return stack.call("PATCH", f"/v1/venues/{venue_id}", as_=who, json_body=body)


def stored(venue_id: str) -> dict[str, Any]:
    return dict(Venue.get(venue_id, consistent_read=True).serialize())


# --- lists -------------------------------------------------------------------------------------


def test_a_manager_lists_only_their_own_venues_page_by_page(stack: InProcessStack) -> None:
    # GIVEN a manager with five venues and another manager with one
    who = manager()
    mine = [register(stack, who, name=f"门店{n}").json()["venue_id"] for n in range(5)]
    theirs = register(stack, manager()).json()["venue_id"]
    # WHEN they list two at a time
    pages = every_page(stack, "limit=2", as_=who)
    # THEN every own venue comes once, in id order, and nobody else's; the last cursor is null
    assert [len(page) for page in pages] == [2, 2, 1]
    assert flat(pages) == sorted(mine) and theirs not in flat(pages)
    first = listed(stack, as_=who).json()["venues"][0]
    assert set(first) >= {"venue_id", "name", "type", "address", "region_code", "parent_venue_id", "status"}
    assert first["status"] == "active"


def test_a_manager_filters_by_status_and_type(stack: InProcessStack) -> None:
    who = manager()
    mall = register(stack, who).json()["venue_id"]
    shop = register(stack, who, type="restaurant").json()["venue_id"]
    assert venue_storage.close(shop, now=clock.now())
    closed = listed(stack, "status=closed", as_=who).json()["venues"]
    assert [(v["venue_id"], v["status"]) for v in closed] == [(shop, "closed")]
    assert [v["venue_id"] for v in listed(stack, "status=active", as_=who).json()["venues"]] == [mall]
    assert [v["venue_id"] for v in listed(stack, "type=restaurant", as_=who).json()["venues"]] == [shop]


def test_an_official_lists_their_area_and_nothing_outside_it(stack: InProcessStack) -> None:
    # GIVEN venues in two counties of Guiyang (南明区 520102, 云岩区 520103)
    who = manager()
    hospital = register(stack, who, type="hospital").json()["venue_id"]
    schools = {register(stack, who, type="school").json()["venue_id"] for _ in range(2)}
    nanming = {hospital, *schools}
    yunyan = register(stack, who, region_code="520103", type="school").json()["venue_id"]
    # WHEN a 南明区 official lists without a region THEN their whole area, only it
    county = official("520102")
    found = set(flat(every_page(stack, "limit=1", **county)))
    assert nanming <= found and yunyan not in found
    assert all(v.startswith("v-") for v in found)
    # AND a type inside it
    found_schools = flat(every_page(stack, "region_code=520102&type=school&limit=1", **county))
    assert schools <= set(found_schools) and hospital not in found_schools and yunyan not in found_schools
    assert all(v["type"] == "school" for v in listed(stack, "type=school", **county).json()["venues"])
    # WHEN they ask for the neighbouring county or the prefecture THEN 403 outside_area
    for region in ("520103", "520100"):
        answer = listed(stack, f"region_code={region}", **county)
        assert (answer.status, answer.error_code) == (403, "outside_area")
    # AND a Guiyang (prefecture) official sees both counties, a province official too
    for caller in (official("520100"), official()):
        area = set(flat(every_page(stack, "type=school&limit=500", **caller)))
        assert yunyan in area and nanming & area
    # AND an admin may list too
    assert listed(stack, "region_code=520103", as_=("admin-1", ["admin"])).status == 200


def test_a_filtered_list_reads_a_bounded_amount_per_request_and_goes_on_by_cursor(
    stack: InProcessStack,
) -> None:
    # GIVEN more malls in 南明区 than one request reads at a page size of one, and a village in 云岩区
    who = manager()
    for n in range(venue_storage.MAX_LIST_PAGES + 1):
        register(stack, who, name=f"商场{n}")
    village = register(stack, who, type="village", region_code="520103").json()["venue_id"]
    # WHEN a Guiyang official lists villages one at a time (the type filters the whole prefecture)
    caller = official("520100")
    first = listed(stack, "type=village&limit=1", **caller).json()
    # THEN the first answer stops after its bounded read: no venue yet, a cursor to go on from
    assert first["venues"] == [] and first["next_cursor"]
    # AND following the cursors finds the village, and only villages
    found = flat(every_page(stack, "type=village&limit=1", **caller))
    assert village in found
    assert all(Venue.get(venue_id).type == "village" for venue_id in found)


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("limit=0", "limit", "invalid_limit"),
        ("limit=501", "limit", "invalid_limit"),
        ("limit=ten", "limit", "invalid_limit"),
        ("status=open", "status", "invalid_status"),
        ("type=spaceport", "type", "invalid_venue_type"),
        ("region_code=52010", "region_code", "invalid_region_code"),
        ("region_code=999999", "region_code", "invalid_region_code"),
        ("region_code=350102", "region_code", "region_outside_province"),
        ("cursor=not-a-cursor", "cursor", "invalid_cursor"),
    ],
)
def test_bad_list_queries_are_refused(stack: InProcessStack, query: str, field: str, code: str) -> None:
    for caller in ({"as_": manager()}, official()):
        answer = listed(stack, query, **caller)
        assert (answer.status, answer.json()["error"]["field"], answer.error_code) == (422, field, code)


def _tampered(cursor: str) -> list[str]:
    """Ways to bend a cursor: another venue id inside it (MAC kept), a byte flipped, cut short."""
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload = json.loads(document["p"])
    payload["v"] = "v-" + "f" * 32
    bent = {"p": json.dumps(payload, sort_keys=True, separators=(",", ":")), "m": document["m"]}
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    return [base64.urlsafe_b64encode(json.dumps(bent).encode()).decode().rstrip("="), flipped, cursor[:-4]]


def test_a_cursor_works_only_for_the_list_that_gave_it(stack: InProcessStack) -> None:
    # GIVEN a manager's first page and a county official's first page
    who = manager()
    for n in range(3):
        register(stack, who, name=f"分店{n}")
    mine = listed(stack, "limit=1", as_=who).json()["next_cursor"]
    county = official("520102")
    theirs = listed(stack, "limit=1", **county).json()["next_cursor"]
    assert mine and theirs
    # WHEN either is altered, or used for another list (another manager, filter, area or role)
    uses = [({"as_": who}, "limit=1", bad) for bad in _tampered(mine)]
    uses += [({"as_": manager()}, "limit=1", mine), ({"as_": who}, "limit=1&status=active", mine)]
    uses += [(county, "limit=1", bad) for bad in _tampered(theirs)]
    uses += [(official("520100"), "limit=1", theirs), (county, "limit=1&type=mall", theirs)]
    uses += [({"as_": who}, "limit=1", theirs), (county, "limit=1", mine)]
    # THEN each is 422 invalid_cursor; unaltered, each gives the next page
    for caller, query, cursor in uses:
        answer = listed(stack, f"{query}&cursor={cursor}", **caller)
        assert (answer.status, answer.error_code) == (422, "invalid_cursor"), (query, cursor)
    assert listed(stack, f"limit=1&cursor={mine}", as_=who).status == 200
    assert listed(stack, f"limit=1&cursor={theirs}", **county).status == 200


def test_other_roles_cannot_list_venues(stack: InProcessStack) -> None:
    for role in ("citizen", "scanner", "lab"):
        answer = listed(stack, as_=(f"{role}-1", [role]))
        assert (answer.status, answer.error_code) == (403, "forbidden_role")


# --- changes -------------------------------------------------------------------------------------


def test_a_manager_completes_a_venue_and_every_change_is_audited_without_values(
    stack: InProcessStack,
) -> None:
    # GIVEN a shop registered under its owner's ID card
    who = manager()
    id_number = new_id_number()
    created = register(
        stack,
        who,
        type="pharmacy",
        credential_type="id_number",
        credential_number=id_number,
        subject_name="李四",
    ).json()
    venue_id = created["venue_id"]
    # WHEN its manager completes its credit code (Henan 补全), zone, store number and phone
    new_phone = phone()
    answer = patch(
        stack,
        venue_id,
        who,
        {
            "credential_type": "uscc",
            "credential_number": REAL_USCC[1],
            "subject_name": "贵阳某某大药房有限公司",
            "zone": "一楼东侧",
            "store_number": "GY-0031",
            "manager_phone": new_phone,
        },
    )
    # THEN 200 with the venue as changed; the poster did not change, so neither did the code
    assert answer.status == 200, answer.body
    shown = answer.json()
    assert (shown["credential_type"], shown["credential_masked"]) == ("uscc", REAL_USCC[1])
    assert (shown["subject_name"], shown["zone"], shown["store_number"]) == (
        "贵阳某某大药房有限公司",
        "一楼东侧",
        "GY-0031",
    )
    assert shown["manager_phone_masked"] == new_phone[:3] + "****" + new_phone[-4:]
    assert shown["code"] == created["code"] and shown["code_reissued"] is False
    # AND the item holds the organisation in clear now, the person's name and hash gone
    item = Venue.get(venue_id, consistent_read=True)
    assert item.subject_name_enc is None and item.subject_name_hash is None and item.credential_hash is None
    assert (
        pii.decrypt(
            item.manager_phone_enc,
            context={"table": "venues", "venue_id": venue_id, "field": "manager_phone"},
        )
        == new_phone
    )
    # AND the venue's trail names the fields changed, never their values
    entries = [e for e in audit.entries(audit.venue_subject(venue_id)) if e.kind == "venue_changed"]
    assert len(entries) == 1 and entries[0].actor == who[0]
    assert entries[0].details["fields"] == [
        "manager_phone",
        "subject_name",
        "credential_type",
        "credential_number",
        "zone",
        "store_number",
    ]
    trail = json.dumps([e.details for e in entries], ensure_ascii=False)
    for value in (new_phone, REAL_USCC[1], "GY-0031", "一楼东侧", id_number):
        assert value not in trail


def test_a_change_to_the_poster_issues_a_new_code(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who).json()
    answer = patch(stack, created["venue_id"], who, {"name": "东街口百货大楼（西门）"})
    assert answer.status == 200, answer.body
    assert answer.json()["code_reissued"] is True and answer.json()["code"] != created["code"]
    assert answer.json()["name"] == "东街口百货大楼（西门）"
    kinds = [e.kind for e in audit.entries(audit.venue_subject(created["venue_id"]))]
    assert "venue_changed" in kinds and "venue_code_reissued" in kinds


def test_a_person_subject_stays_encrypted_when_renamed(stack: InProcessStack) -> None:
    who = manager()
    venue_id = register(
        stack, who, type="pharmacy", credential_type="id_number", credential_number=new_id_number()
    ).json()["venue_id"]
    answer = patch(stack, venue_id, who, {"subject_name": "王小二"})
    assert answer.status == 200 and answer.json()["subject_name"] != "王小二"
    item = Venue.get(venue_id, consistent_read=True)
    assert item.subject_name_hash == pii.keyed_hash("subject_name", "王小二") and "王小二" not in str(
        stored(venue_id)
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "empty_change"),
        ({"name": None}, 422, "empty_change"),
        ({"type": "hospital"}, 422, "unknown_field"),
        ({"name": "新", "region_code": "520103"}, 422, "unknown_field"),
        ({"manager_phone": "12345"}, 422, "invalid_phone"),
        ({"credential_number": "91440300708461136A"}, 422, "invalid_credential"),
        ({"credential_type": "id_number"}, 422, "missing_field"),
        ({"location": {"lat": 0, "lng": 0}}, 422, "invalid_location"),
        ({"name": "新名字", "address": "短"}, 422, "invalid_address"),
        ([1, 2], 400, "invalid_json"),
    ],
)
def test_a_bad_change_writes_nothing(stack: InProcessStack, body: Any, status: int, code: str) -> None:
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    before = stored(venue_id)
    trail = list(audit.entries(audit.venue_subject(venue_id)))
    answer = patch(stack, venue_id, who, body)
    assert (answer.status, answer.error_code) == (status, code)
    assert stored(venue_id) == before and list(audit.entries(audit.venue_subject(venue_id))) == trail


def test_only_the_venues_manager_changes_it(stack: InProcessStack) -> None:
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    before = stored(venue_id)
    for caller, status, code in (
        (manager(), 403, "not_venue_manager"),
        (OFFICIAL, 403, "forbidden_role"),
        (("citizen-1", ["citizen"]), 403, "forbidden_role"),
    ):
        answer = patch(stack, venue_id, caller, {"zone": "东区"})
        assert (answer.status, answer.error_code) == (status, code)
    answer = patch(stack, f"v-{uuid.uuid4().hex}", who, {"zone": "东区"})
    assert (answer.status, answer.error_code) == (404, "venue_not_found")
    assert stored(venue_id) == before


def test_a_closed_venue_is_not_changed(stack: InProcessStack) -> None:
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    assert venue_storage.close(venue_id, now=clock.now())
    answer = patch(stack, venue_id, who, {"zone": "东区"})
    assert (answer.status, answer.error_code) == (409, "venue_closed")
    joined = stack.call("POST", f"/v1/venues/{venue_id}/join-codes", as_=who)
    assert (joined.status, joined.error_code) == (409, "venue_closed")


def test_jiangxi_a_new_phone_moves_its_one_venue_guard(stack: InProcessStack, province: Any) -> None:
    # GIVEN Jiangxi (one venue code per phone) and two venues, each with its phone
    province("360000")
    first, second = manager(), manager()
    for who in (first, second):
        venue_support.make_person(who[0])  # Jiangxi: the applicant holds a green code
    old_phone, taken = phone(), phone()
    venue_id = register(stack, first, manager_phone=old_phone).json()["venue_id"]
    assert register(stack, second, manager_phone=taken).status == 201
    # WHEN the first venue takes the second's phone THEN 409, nothing changes
    answer = patch(stack, venue_id, first, {"manager_phone": taken})
    assert (answer.status, answer.error_code) == (409, "phone_has_venue")
    # WHEN it takes a fresh phone THEN its old phone is free for another venue
    assert patch(stack, venue_id, first, {"manager_phone": phone()}).status == 200
    third = manager()
    venue_support.make_person(third[0])
    assert register(stack, third, manager_phone=old_phone).status == 201


# --- join codes --------------------------------------------------------------------------------


def test_a_store_registers_under_a_mall_with_the_malls_join_code_once(stack: InProcessStack) -> None:
    # GIVEN a mall and a join code its manager issued
    mall_manager, store_manager = manager(), manager()
    mall = register(stack, mall_manager).json()["venue_id"]
    issued = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=mall_manager)
    assert issued.status == 201, issued.body
    code = issued.json()["join_code"]
    # THEN only the code's digest is stored, expiring after the policy's 7 days
    item = VenueJoinCode.get(venue_storage.JOIN_PREFIX + join_code_digest(code.replace("-", "")))
    assert item.joins_venue_id == mall and code.replace("-", "") not in str(item.serialize())
    assert item.expires_at - item.issued_at == timedelta(days=7)
    # WHEN the store's own manager registers under the mall with it
    store = register(
        stack, store_manager, name="奶茶店", type="restaurant", parent_venue_id=mall, join_code=code
    )
    # THEN the store joins the mall's complex and is managed by its own account
    assert store.status == 201, store.body
    assert store.json()["root_venue_id"] == mall
    assert Venue.get(store.json()["venue_id"]).manager_sub == store_manager[0]
    kinds = [e.kind for e in audit.entries(audit.venue_subject(mall))]
    assert "join_code_issued" in kinds and "store_joined" in kinds
    # AND the code admits nobody else
    again = register(stack, manager(), name="咖啡店", type="restaurant", parent_venue_id=mall, join_code=code)
    assert (again.status, again.error_code) == (409, "join_code_used")
    # AND without a code another account still cannot join the mall
    refused = register(stack, manager(), type="restaurant", parent_venue_id=mall)
    assert (refused.status, refused.error_code) == (403, "not_parent_manager")


def test_a_join_code_expires_and_names_its_own_venue(stack: InProcessStack) -> None:
    mall_manager = manager()
    mall = register(stack, mall_manager).json()["venue_id"]
    other = register(stack, mall_manager).json()["venue_id"]
    code = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=mall_manager).json()["join_code"]
    # a code for the mall does not admit a store under another venue
    wrong = register(stack, manager(), type="restaurant", parent_venue_id=other, join_code=code)
    assert (wrong.status, wrong.error_code) == (422, "invalid_join_code")
    made_up = register(
        stack, manager(), type="restaurant", parent_venue_id=mall, join_code="ABCD-EFGH-JKLM-NPQR"
    )
    assert (made_up.status, made_up.error_code) == (422, "invalid_join_code")
    # eight days later it has expired
    clock.set_now(clock.now() + timedelta(days=8))
    late = register(stack, manager(), type="restaurant", parent_venue_id=mall, join_code=code)
    assert (late.status, late.error_code) == (422, "join_code_expired")
    assert venue_storage.join_code(join_code_digest(code.replace("-", ""))).used_by_venue_id is None


def test_only_the_venues_manager_issues_join_codes(stack: InProcessStack) -> None:
    who = manager()
    mall = register(stack, who).json()["venue_id"]
    for caller, status, code in (
        (manager(), 403, "not_venue_manager"),
        (OFFICIAL, 403, "forbidden_role"),
        (("citizen-1", ["citizen"]), 403, "forbidden_role"),
    ):
        answer = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=caller)
        assert (answer.status, answer.error_code) == (status, code)
    unknown = stack.call("POST", f"/v1/venues/v-{uuid.uuid4().hex}/join-codes", as_=who)
    assert (unknown.status, unknown.error_code) == (404, "venue_not_found")
    assert not [e for e in audit.entries(audit.venue_subject(mall)) if e.kind == "join_code_issued"]


def test_a_retried_registration_with_a_used_join_code_answers_as_the_first(stack: InProcessStack) -> None:
    mall_manager, store_manager = manager(), manager()
    mall = register(stack, mall_manager).json()["venue_id"]
    code = stack.call("POST", f"/v1/venues/{mall}/join-codes", as_=mall_manager).json()["join_code"]
    changes = {"name": "面馆", "type": "restaurant", "parent_venue_id": mall, "join_code": code}
    changes["manager_phone"] = phone()  # the same body twice
    key = uuid.uuid4().hex
    first = register(stack, store_manager, key=key, **changes)
    again = register(stack, store_manager, key=key, **changes)
    assert first.status == again.status == 201 and first.json()["venue_id"] == again.json()["venue_id"]
