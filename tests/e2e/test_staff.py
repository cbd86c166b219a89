"""Checkpoint staff end to end on the shared Guizhou stack (issue 13, items 1-3): a manager and an
official assign, list (paged) and remove staff; bad input and strangers are refused with nothing
written; a roadside checkpoint registered by an official; verifications and manual registrations
only where assigned (a complex covers its doors); identity_mismatch; a manual registration's
printable paper code read back from its PNG."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import date, timedelta
from typing import Any

import requests
import zxingcpp
from healthcode.rules.idcard import check_character
from PIL import Image

from tests.e2e.stack import Stack

LOCATION = {"lat": 26.57, "lng": 106.71}
_serial = iter(range(1, 10**6))


def account(role: str) -> tuple[str, list[str]]:
    return (f"{role}-{uuid.uuid4().hex[:10]}", [role])


def id_number() -> str:
    """A valid ID number not used before by this module (one birth day each, random serial)."""
    serial = next(_serial)
    born = date(1955, 3, 1) + timedelta(days=serial * 7)
    first17 = f"520102{born:%Y%m%d}{uuid.uuid4().int % 1000:03d}"
    return first17 + check_character(first17)


def venue_form(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "花果园购物中心",
        "type": "mall",
        "subject_name": "贵阳花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "520102",
        "location": LOCATION,
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": f"139{uuid.uuid4().int % 10**8:08d}",
    }
    return {**body, **changes}


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def error(answer: requests.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def staff_path(venue_id: str, sub: str = "") -> str:
    return f"/v1/venues/{venue_id}/staff" + (f"/{sub}" if sub else "")


def staff_items(stack: Stack, venue_id: str) -> list[str]:
    answer = stack.aws("dynamodb").query(
        TableName=stack.info["tables"]["StaffTable"],
        KeyConditionExpression="venue_id = :v",
        ExpressionAttributeValues={":v": {"S": venue_id}},
        ConsistentRead=True,
    )
    return sorted(item["sub"]["S"] for item in answer["Items"])


def citizen_code(stack: Stack, name: str = "王小明") -> tuple[str, str, str]:
    """A fresh citizen's person id, ID number and code."""
    who, number = account("citizen"), id_number()
    body = {
        "name": name,
        "id_number": number,
        "phone": "13800000000",
        "address": "贵州省贵阳市南明区",
        "region_code": "520102",
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    person_id = ok(stack.call("POST", "/v1/codes", as_=who, json=body), 201)["person_id"]
    token = ok(stack.call("GET", f"/v1/codes/{person_id}", as_=who))["token"]
    return person_id, number, token


def test_a_manager_and_an_official_manage_staff_over_http(stack: Stack) -> None:
    manager, official = account("venue_manager"), account("official")
    venue_id = ok(stack.call("POST", "/v1/venues", as_=manager, json=venue_form()), 201)["venue_id"]
    subs = sorted(account("scanner")[0] for _ in range(3))
    for index, sub in enumerate(subs):
        who = manager if index % 2 == 0 else official
        shown = ok(stack.call("PUT", staff_path(venue_id, sub), as_=who))
        assert (shown["venue_id"], shown["sub"]) == (venue_id, sub) and shown["assigned_at"]
    # listed page by page
    first = ok(stack.call("GET", staff_path(venue_id) + "?limit=2", as_=manager))
    assert [s["sub"] for s in first["staff"]] == subs[:2] and first["next_cursor"]
    rest = ok(
        stack.call("GET", staff_path(venue_id) + f"?limit=2&cursor={first['next_cursor']}", as_=official)
    )
    assert [s["sub"] for s in rest["staff"]] == subs[2:]
    # removed
    assert stack.call("DELETE", staff_path(venue_id, subs[0]), as_=manager).status_code == 204
    assert stack.call("DELETE", staff_path(venue_id, subs[0]), as_=manager).status_code == 204
    assert staff_items(stack, venue_id) == subs[1:]


def test_bad_input_and_strangers_write_nothing(stack: Stack) -> None:
    manager = account("venue_manager")
    venue_id = ok(stack.call("POST", "/v1/venues", as_=manager, json=venue_form()), 201)["venue_id"]
    stranger = account("venue_manager")
    ok(stack.call("POST", "/v1/venues", as_=stranger, json=venue_form(name="另一家超市")), 201)
    sub = account("scanner")[0]
    cases = [
        (stack.call("PUT", staff_path(venue_id, "unclaimed%23p-1"), as_=manager), (422, "invalid_sub")),
        (stack.call("PUT", staff_path(venue_id, "a%09b"), as_=manager), (422, "invalid_sub")),
        (stack.call("PUT", staff_path(venue_id, "x" * 129), as_=manager), (422, "invalid_sub")),
        (stack.call("PUT", staff_path(venue_id, sub), as_=stranger), (403, "not_venue_manager")),
        (stack.call("PUT", staff_path(venue_id, sub), as_=account("scanner")), (403, "forbidden_role")),
        (stack.call("PUT", staff_path(f"v-{uuid.uuid4().hex}", sub), as_=manager), (404, "venue_not_found")),
        (stack.call("DELETE", staff_path(venue_id, sub), as_=stranger), (403, "not_venue_manager")),
        (stack.call("GET", staff_path(venue_id), as_=stranger), (403, "not_venue_manager")),
        (stack.call("GET", staff_path(venue_id) + "?limit=0", as_=manager), (422, "invalid_limit")),
        (stack.call("GET", staff_path(venue_id) + "?cursor=Zm9v", as_=manager), (422, "invalid_cursor")),
    ]
    for answer, expected in cases:
        assert error(answer) == expected, answer.text
    unauthenticated = stack.call("PUT", staff_path(venue_id, sub))
    assert unauthenticated.status_code == 401
    assert staff_items(stack, venue_id) == []


def test_an_official_sets_up_a_roadside_checkpoint_and_its_staff_scan_there(stack: Stack) -> None:
    official, manager = account("official"), account("venue_manager")
    form = venue_form(
        name="G75 兰海高速贵阳南卡口",
        type="checkpoint",
        subject_name="贵阳市南明区疫情防控指挥部",
        credential_number="91330100799655058B",
    )
    assert error(stack.call("POST", "/v1/venues", as_=manager, json=form)) == (
        403,
        "checkpoint_needs_official",
    )
    checkpoint = ok(stack.call("POST", "/v1/venues", as_=official, json=form), 201)["venue_id"]
    scanner = account("scanner")
    _, _, token = citizen_code(stack)
    body = {"code": token, "checkpoint_id": checkpoint, "temperature": 36.5}
    assert error(stack.call("POST", "/v1/verifications", as_=scanner, json=body)) == (403, "not_assigned")
    ok(stack.call("PUT", staff_path(checkpoint, scanner[0]), as_=official))
    assert ok(stack.call("POST", "/v1/verifications", as_=scanner, json=body))["verdict"] == "pass"


def test_a_complex_assignment_covers_its_doors_and_a_door_covers_only_itself(stack: Stack) -> None:
    manager = account("venue_manager")
    root = ok(stack.call("POST", "/v1/venues", as_=manager, json=venue_form()), 201)["venue_id"]
    door = ok(
        stack.call("POST", "/v1/venues", as_=manager, json=venue_form(name="东门", parent_venue_id=root)), 201
    )["venue_id"]
    at_root, at_door = account("scanner"), account("scanner")
    ok(stack.call("PUT", staff_path(root, at_root[0]), as_=manager))
    ok(stack.call("PUT", staff_path(door, at_door[0]), as_=manager))
    _, _, token = citizen_code(stack)

    def scan(who: tuple[str, list[str]], where: str) -> requests.Response:
        return stack.call("POST", "/v1/verifications", as_=who, json={"code": token, "checkpoint_id": where})

    assert scan(at_root, door).status_code == 200
    assert scan(at_root, root).status_code == 200
    assert scan(at_door, door).status_code == 200
    assert error(scan(at_door, root)) == (403, "not_assigned")


def test_a_manual_registration_checks_the_name_and_prints_a_paper_code(stack: Stack) -> None:
    manager, scanner = account("venue_manager"), account("scanner")
    venue_id = ok(stack.call("POST", "/v1/venues", as_=manager, json=venue_form(type="farmers_market")), 201)[
        "venue_id"
    ]
    ok(stack.call("PUT", staff_path(venue_id, scanner[0]), as_=manager))
    person_id, number, _ = citizen_code(stack, name="王小明")
    # another name for a known ID number: 409, nothing written
    wrong = {"name": "李四", "id_number": number, "temperature": 38.2, "checkpoint_id": venue_id}
    refused = stack.call("POST", "/v1/manual-registrations", as_=scanner, json=wrong)
    assert error(refused) == (409, "identity_mismatch") and person_id not in refused.text
    # a newcomer without a phone, with a printable paper code
    newcomer = {
        "name": "陈老伯",
        "id_number": id_number(),
        "temperature": 36.6,
        "checkpoint_id": venue_id,
        "issue_paper_code": True,
    }
    registered = ok(stack.call("POST", "/v1/manual-registrations", as_=scanner, json=newcomer), 201)
    assert "person_id" not in registered
    paper = registered["paper_code"]
    image = Image.open(io.BytesIO(base64.b64decode(paper["png_base64"])))
    found = zxingcpp.read_barcodes(
        image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert [symbol.text for symbol in found] == [paper["token"]]
    # the paper code verifies at the checkpoint
    scanned = ok(
        stack.call(
            "POST", "/v1/verifications", as_=scanner, json={"code": paper["token"], "checkpoint_id": venue_id}
        )
    )
    assert scanned["person"]["name_masked"] == "陈**"
    # bad input writes nothing
    for change, code in (({"phone": "123"}, "invalid_phone"), ({"issue_paper_code": "yes"}, "invalid_type")):
        answer = stack.call("POST", "/v1/manual-registrations", as_=scanner, json={**newcomer, **change})
        assert error(answer) == (422, code), answer.text
