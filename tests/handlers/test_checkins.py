"""POST /v1/checkins on moto: one presence per person with their colour, companions in the
caller's care, ownership, forged codes, forwarded posters, Idempotency-Key, and the number of
DynamoDB calls a check-in makes (botocore event hooks)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

from healthcode import clock
from healthcode.codes import keystore
from healthcode.rules.geo import Location
from healthcode.rules.policy import RiskLevel
from healthcode.rules.venues import VenueCode
from healthcode.storage import idempotency

from tests.handlers import venue_support
from tests.handlers.harness import Answer, InProcessStack
from tests.handlers.venue_support import citizen, dynamodb_calls, make_person, manager, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack

#: ~150 m north of the test venue in Guiyang (26.5783, 106.7135); ~5 km north.
NEAR = {"lat": 26.5796, "lng": 106.7135}
FAR = {"lat": 26.6233, "lng": 106.7135}


def venue_code(stack: InProcessStack, **changes: Any) -> dict[str, Any]:
    answer = register(stack, manager(), **changes)
    assert answer.status == 201, answer.body
    created: dict[str, Any] = answer.json()
    return created


def check_in(
    stack: InProcessStack,
    who: tuple[str, list[str]],
    code: str,
    person_id: str,
    *,
    companions: list[str] | None = None,
    location: dict[str, float] = NEAR,
    key: str | None = None,
) -> Answer:
    body: dict[str, Any] = {"venue_code": code, "person_id": person_id, "location": location}
    if companions is not None:
        body["companions"] = companions
    headers = {idempotency.HEADER: key} if key else None
    return stack.call("POST", "/v1/checkins", as_=who, json_body=body, headers=headers)


def scans_of(stack: InProcessStack, venue_id: str) -> list[dict[str, Any]]:
    """The presences stored at a venue (every shard)."""
    table = stack.template.physical_name("ScansTable")
    items: list[dict[str, Any]] = []
    for shard in range(64):
        items += stack.clients["dynamodb"].query(
            TableName=table,
            KeyConditionExpression="venue_shard = :p",
            ExpressionAttributeValues={":p": {"S": f"{venue_id}#{shard}"}},
        )["Items"]
    return items


def test_a_checkin_stores_a_presence_with_the_colour_of_that_moment(stack: InProcessStack) -> None:
    # GIVEN a citizen with a green code and a registered mall
    who = citizen()
    me = make_person(who[0])
    venue = venue_code(stack)
    # WHEN they scan the poster at the mall
    answer = check_in(stack, who, venue["code"], me.person_id)
    # THEN 201 with the venue and their colour and verdict, for staff to see
    assert answer.status == 201, answer.body
    body = answer.json()
    assert body["venue"]["venue_id"] == venue["venue_id"]
    assert body["venue"]["name"] == "东街口百货大楼（东门）"
    assert body["venue"]["address"].startswith("贵州省贵阳市")
    assert body["scanned_at"].endswith("+08:00")
    assert body["checkins"] == [
        {
            "person_id": me.person_id,
            "name_masked": "张*",
            "colour": "green",
            "risk_level": 0,
            "verdict": "pass",
        }
    ]
    # AND one presence is stored under the venue's shard with the person's colour, under 1 KB
    (item,) = scans_of(stack, venue["venue_id"])
    assert item["venue_shard"]["S"].startswith(venue["venue_id"] + "#")
    assert item["person_id"]["S"] == me.person_id and item["kind"]["S"] == "checkin"
    assert item["colour"]["S"] == "green" and item["abnormal"]["BOOL"] is False
    assert item["root_venue_id"]["S"] == venue["venue_id"] and item["venue_type"]["S"] == "mall"
    assert len(json.dumps(item, ensure_ascii=False).encode()) < 1024


def test_companions_without_phones_each_get_a_presence_and_their_own_verdict(
    stack: InProcessStack,
) -> None:
    # GIVEN a parent with a child and a grandmother in their care, the grandmother yellow
    who = citizen()
    parent = make_person(who[0])
    child = make_person(who[0], dependant=True, name="张小明")
    grandmother = make_person(who[0], dependant=True, level=RiskLevel.YELLOW, name="李秀英")
    venue = venue_code(stack, type="restaurant")
    # WHEN the parent scans once for all three
    answer = check_in(
        stack, who, venue["code"], parent.person_id, companions=[child.person_id, grandmother.person_id]
    )
    # THEN each is a record with their own colour and verdict ("no one scan, many enter")
    assert answer.status == 201, answer.body
    shown = {c["person_id"]: (c["colour"], c["verdict"]) for c in answer.json()["checkins"]}
    assert shown == {
        parent.person_id: ("green", "pass"),
        child.person_id: ("green", "pass"),
        grandmother.person_id: ("yellow", "dissuade"),
    }
    stored = {
        i["person_id"]["S"]: (i["colour"]["S"], i["abnormal"]["BOOL"])
        for i in scans_of(stack, venue["venue_id"])
    }
    assert stored == {
        parent.person_id: ("green", False),
        child.person_id: ("green", False),
        grandmother.person_id: ("yellow", True),
    }


def test_only_people_in_the_callers_care_can_be_checked_in(stack: InProcessStack) -> None:
    who, stranger = citizen(), citizen()
    me = make_person(who[0])
    someone_else = make_person(stranger[0])
    venue = venue_code(stack)
    # a companion managed by another account: 403 naming the companion
    answer = check_in(stack, who, venue["code"], me.person_id, companions=[someone_else.person_id])
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        403,
        "not_your_person",
        "companions[0]",
    )
    # someone else's code as the main person
    answer = check_in(stack, who, venue["code"], someone_else.person_id)
    assert (answer.status, answer.json()["error"]["field"]) == (403, "person_id")
    # an unknown companion: 404 naming it
    answer = check_in(stack, who, venue["code"], me.person_id, companions=[f"p-{uuid.uuid4().hex}"])
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        404,
        "person_not_found",
        "companions[0]",
    )
    # a venue manager or scanner role cannot check in at all
    assert check_in(stack, manager(), venue["code"], me.person_id).status == 403
    assert scans_of(stack, venue["venue_id"]) == []


def test_a_forwarded_poster_far_from_the_venue_is_refused(stack: InProcessStack) -> None:
    who = citizen()
    me = make_person(who[0])
    venue = venue_code(stack)
    answer = check_in(stack, who, venue["code"], me.person_id, location=FAR)
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        422,
        "location_mismatch",
        "location",
    )
    bad = check_in(stack, who, venue["code"], me.person_id, location={"lat": "26.5", "lng": 106.7})
    assert (bad.status, bad.error_code) == (422, "invalid_location")
    assert scans_of(stack, venue["venue_id"]) == []


def printed_claims(venue: dict[str, Any]) -> dict[str, Any]:
    """The claims of a venue code as printed before compact codes (name, place and coordinates)."""
    return VenueCode(
        venue_id=venue["venue_id"],
        name="花果园购物中心",
        venue_type="mall",
        province="520000",
        region_code="520102",
        root_venue_id=venue["venue_id"],
        location=Location(26.5783, 106.7135),
        shards=4,
        address="贵州省贵阳市南明区花果园大街1号",
    ).claims()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def test_forged_tampered_wrong_kind_and_expired_venue_codes_are_refused(stack: InProcessStack) -> None:
    who = citizen()
    me = make_person(who[0])
    venue = venue_code(stack)
    header, payload, signature = venue["code"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    later = _b64({**claims, "g": claims["g"] + 1})  # a generation the venue never issued
    extra = _b64({**claims, "lat": 30.0})  # a claim a compact code never has
    personal, _ = keystore.sign_personal(me.person_id, level=0, colour="green", lifetime=timedelta(minutes=5))
    forged = (f"{header}.{later}.{signature}", f"{header}.{extra}.{signature}", "not-a-code", personal)
    for code in (*forged, venue["code"][:-4] + "AAAA", "https://elsewhere.example/v/" + venue["code"]):
        answer = check_in(stack, who, code, me.person_id)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
            422,
            "invalid_venue_code",
            "venue_code",
        ), code
    # a code printed before compact codes still has its expiry
    printed, expires = keystore.sign(
        "venue", subject=venue["venue_id"], claims=printed_claims(venue), lifetime=timedelta(days=1)
    )
    clock.set_now(expires + timedelta(seconds=1))
    expired = check_in(stack, who, printed, me.person_id)
    assert (expired.status, expired.error_code) == (422, "code_expired")
    assert scans_of(stack, venue["venue_id"]) == []


def test_fujian_shows_orange_and_registers(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("350000")
    who = citizen()
    me = make_person(who[0], level=RiskLevel.RED)
    venue = venue_code(stack)
    answer = check_in(stack, who, venue["code"], me.person_id, location={"lat": 26.0855, "lng": 119.2965})
    assert answer.status == 201, answer.body
    assert answer.json()["checkins"][0] | {"person_id": None} == {
        "person_id": None,
        "name_masked": "张*",
        "colour": "orange",
        "risk_level": 2,
        "verdict": "register",
    }


def test_a_retried_checkin_with_the_same_key_is_stored_once(stack: InProcessStack) -> None:
    who = citizen()
    me = make_person(who[0])
    child = make_person(who[0], dependant=True)
    venue = venue_code(stack)
    key = str(uuid.uuid4())
    first = check_in(stack, who, venue["code"], me.person_id, companions=[child.person_id], key=key)
    clock.advance(30)
    again = check_in(stack, who, venue["code"], me.person_id, companions=[child.person_id], key=key)
    assert first.status == again.status == 201
    assert first.json() == again.json()
    assert len(scans_of(stack, venue["venue_id"])) == 2
    # a new key is a new check-in
    assert check_in(stack, who, venue["code"], me.person_id, key=str(uuid.uuid4())).status == 201
    assert len(scans_of(stack, venue["venue_id"])) == 3


# --- the hot path's DynamoDB calls ----------------------------------------------------------------


def test_a_checkin_makes_two_dynamodb_calls(stack: InProcessStack) -> None:
    # GIVEN a citizen with two dependants, a venue code, and warm caches (keys, hash keys)
    who = citizen()
    me = make_person(who[0])
    kids = [make_person(who[0], dependant=True).person_id for _ in range(2)]
    venue = venue_code(stack)
    assert check_in(stack, who, venue["code"], me.person_id).status == 201
    with dynamodb_calls() as log:
        # WHEN one person checks in THEN BatchGetItem (the person and the venue) + PutItem
        assert check_in(stack, who, venue["code"], me.person_id).status == 201
        alone = list(log.calls)
        log.calls.clear()
        # WHEN two companions come along THEN BatchGetItem + BatchWriteItem
        assert check_in(stack, who, venue["code"], me.person_id, companions=kids).status == 201
        together = list(log.calls)
        log.calls.clear()
        # WHEN an Idempotency-Key is sent THEN still two: the record rides along both calls
        key = str(uuid.uuid4())
        assert check_in(stack, who, venue["code"], me.person_id, key=key).status == 201
        keyed = list(log.calls)
        log.calls.clear()
        # AND its retry is one read
        assert check_in(stack, who, venue["code"], me.person_id, key=key).status == 201
        retried = list(log.calls)
        log.calls.clear()
        # AND a forged code costs nothing; a forwarded poster one read (the venue's position)
        assert check_in(stack, who, "x.y.z" * 8, me.person_id).status == 422
        refused = list(log.calls)
        log.calls.clear()
        assert check_in(stack, who, venue["code"], me.person_id, location=FAR).status == 422
        forwarded = list(log.calls)
    assert alone == ["BatchGetItem", "PutItem"]
    assert together == ["BatchGetItem", "BatchWriteItem"]
    assert keyed == ["BatchGetItem", "TransactWriteItems"]
    assert retried == ["BatchGetItem"]
    assert refused == []
    assert forwarded == ["BatchGetItem"]
