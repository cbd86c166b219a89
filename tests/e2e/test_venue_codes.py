"""A venue code's life end to end over HTTP, on a stack of its own (its clock moves): a reissued
code is refused at once and still after the clock moves on, closing a complex refuses its stores'
codes and keeps their records, posters decode to a URL in a QR symbol of version 10 at most (at a
quarter of their size too), a vehicle checks in far from where it was registered, and a code
printed before compact codes works until its venue's code is reissued."""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import zxingcpp
from healthcode.codes.tokens import KeySet, sign_code
from healthcode.rules import idcard
from healthcode.rules.geo import Location
from healthcode.rules.venues import VenueCode
from PIL import Image

from tests.e2e.stack import Stack, running_stack

LAT, LNG = 26.5783, 106.7135
NEAR = {"lat": LAT + 0.001, "lng": LNG}
#: ~6 km north of the registered point, with more digits than a presence may keep.
FAR = {"lat": 26.6323456, "lng": 106.7135789}
_phones = iter(range(20_000_000, 99_999_999, 7919))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack("520000") as started:
        yield started


def manager() -> tuple[str, list[str]]:
    return (f"e2e-manager-{uuid.uuid4().hex[:8]}", ["venue_manager"])


def register(stack: Stack, who: tuple[str, list[str]], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "花果园购物中心",
        "type": "mall",
        "subject_name": "花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "520102",
        "location": {"lat": LAT, "lng": LNG},
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": f"137{next(_phones):08d}",
        **changes,
    }
    answer = stack.call("POST", "/v1/venues", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


_serials = itertools.count(1)


def adult_id() -> str:
    """A valid adult ID number nobody on this module's stack holds yet."""
    serial = next(_serials)
    first17 = f"520102{date(1970, 1, 1) + timedelta(days=serial):%Y%m%d}{serial % 1000:03d}"
    return first17 + idcard.check_character(first17)


def citizen(stack: Stack) -> tuple[tuple[str, list[str]], str]:
    who = (f"e2e-citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    body = {
        "name": "张三",
        "id_number": adult_id(),
        "phone": f"135{next(_phones):08d}",
        "address": "贵州省贵阳市南明区中华南路2号",
        "region_code": "520102",
        "declaration": {"symptoms": [], "travel": [], "contact_with_case": False},
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return who, str(answer.json()["person_id"])


def check_in(stack: Stack, code: str, location: dict[str, float] = NEAR) -> Any:
    who, person_id = citizen(stack)
    body = {"venue_code": code, "person_id": person_id, "location": location}
    return stack.call("POST", "/v1/checkins", as_=who, json=body)


def error_of(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def scans_at(stack: Stack, venue_id: str) -> list[dict[str, Any]]:
    dynamodb = stack.aws("dynamodb")
    items: list[dict[str, Any]] = []
    for shard in range(64):
        items += dynamodb.query(
            TableName=stack.info["tables"]["ScansTable"],
            KeyConditionExpression="venue_shard = :p",
            ExpressionAttributeValues={":p": {"S": f"{venue_id}#{shard}"}},
        )["Items"]
    return items


def venue_item(stack: Stack, venue_id: str) -> dict[str, Any]:
    answer = stack.aws("dynamodb").get_item(
        TableName=stack.info["tables"]["VenuesTable"], Key={"venue_id": {"S": venue_id}}
    )
    return dict(answer["Item"])


def test_a_reissued_code_is_refused_at_once_and_after_the_clock_moves_on(stack: Stack) -> None:
    # GIVEN a venue whose code has been scanned (anything a container keeps is warm)
    who = manager()
    venue = register(stack, who)
    assert check_in(stack, venue["code"]).status_code == 201
    # WHEN its manager reissues the code
    answer = stack.call("POST", f"/v1/venues/{venue['venue_id']}/code", as_=who, json={"reason": "forwarded"})
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new["generation"] == 2 and new["code_url"] == f"https://hc.local/v/{new['code']}"
    # THEN the previous code is refused at once, and still 30 s and 61 s later on the stack clock,
    # writing nothing; the new code (bare or as the poster's URL) checks in
    before = len(scans_at(stack, venue["venue_id"]))
    for advance in (0, 30, 31):
        stack.clock(advance_seconds=advance)
        assert error_of(check_in(stack, venue["code"])) == (422, "venue_code_revoked")
    assert len(scans_at(stack, venue["venue_id"])) == before
    assert check_in(stack, new["code"]).status_code == 201
    assert check_in(stack, new["code_url"]).status_code == 201


def test_reissue_and_close_refuse_bad_input_strangers_and_unknown_venues(stack: Stack) -> None:
    who = manager()
    venue = register(stack, who)
    code_path, path = f"/v1/venues/{venue['venue_id']}/code", f"/v1/venues/{venue['venue_id']}"
    unknown = f"/v1/venues/v-{uuid.uuid4().hex}"
    refusals = [
        (stack.call("POST", code_path, as_=who, json={"reason": "boredom"}), (422, "invalid_reason_code")),
        (stack.call("POST", code_path, as_=who, json={"reason": "lost", "x": 1}), (422, "unknown_field")),
        (stack.call("POST", code_path, as_=who, data=b"[1]"), (400, "invalid_json")),
        (stack.call("POST", code_path, as_=manager()), (403, "not_venue_manager")),
        (stack.call("POST", code_path, as_=("e2e-official", ["official"])), (403, "not_venue_manager")),
        (stack.call("POST", code_path, as_=("e2e-citizen", ["citizen"])), (403, "forbidden_role")),
        (stack.call("POST", unknown + "/code", as_=who), (404, "venue_not_found")),
        (stack.call("POST", "/v1/venues/v-nope/code", as_=who), (404, "venue_not_found")),
        (stack.call("DELETE", path, as_=manager()), (403, "not_venue_manager")),
        (stack.call("DELETE", path, as_=("e2e-scanner", ["scanner"])), (403, "forbidden_role")),
        (stack.call("DELETE", unknown, as_=who), (404, "venue_not_found")),
    ]
    for answer, expected in refusals:
        assert error_of(answer) == expected, answer.text
    # nothing was written: the first code is current and the venue open
    item = venue_item(stack, venue["venue_id"])
    assert item["code_generation"] == {"N": "1"} and "closed_at" not in item
    assert check_in(stack, venue["code"]).status_code == 201


def test_closing_a_complex_refuses_its_stores_and_doors_and_keeps_their_records(stack: Stack) -> None:
    # GIVEN a mall with a store and a door, and a visitor at the store
    who = manager()
    mall = register(stack, who)
    store = register(stack, who, name="一楼奶茶店", type="restaurant", parent_venue_id=mall["venue_id"])
    door = register(stack, who, name="北门", parent_venue_id=mall["venue_id"])
    assert check_in(stack, store["code"]).status_code == 201
    # WHEN the mall's manager closes the mall
    closed = stack.call("DELETE", f"/v1/venues/{mall['venue_id']}", as_=who)
    assert closed.status_code == 204 and closed.content == b""
    # THEN every code of the complex is refused as closed; the store's presence stays
    for venue in (mall, store, door):
        assert error_of(check_in(stack, venue["code"])) == (422, "venue_closed")
        assert stack.call("GET", f"/v1/venues/{venue['venue_id']}", as_=who).json()["status"] == "closed"
    assert len(scans_at(stack, store["venue_id"])) == 1
    # AND a closed venue's code is not reissued, and no store registers under it
    reissued = stack.call("POST", f"/v1/venues/{store['venue_id']}/code", as_=who)
    assert error_of(reissued) == (409, "venue_closed")
    late = stack.call(
        "POST",
        "/v1/venues",
        as_=who,
        json={
            "name": "新店",
            "type": "restaurant",
            "subject_name": "花果园商业管理有限公司",
            "credential_type": "uscc",
            "credential_number": "91440300708461136T",
            "region_code": "520102",
            "location": {"lat": LAT, "lng": LNG},
            "address": "贵州省贵阳市南明区花果园大街1号",
            "manager_phone": f"137{next(_phones):08d}",
            "parent_venue_id": mall["venue_id"],
        },
    )
    assert error_of(late) == (409, "parent_closed")


def test_a_vehicle_checks_in_far_from_where_it_was_registered(stack: Stack) -> None:
    # GIVEN a bus registered under its plate, and a fixed venue at the same point
    who = manager()
    bus = register(
        stack,
        who,
        type="vehicle",
        name="贵阳公交 1 路 贵A·12345",
        subject_name="贵阳公交集团",
        credential_type="licence_plate",
        credential_number="贵A12345",
    )
    mall = register(stack, who)
    # WHEN a passenger scans the bus's code 6 km away THEN accepted; the mall refuses
    answer = check_in(stack, bus["code"], FAR)
    assert answer.status_code == 201, answer.text
    assert answer.json()["venue"]["name"] == "贵阳公交 1 路 贵A·12345"
    assert error_of(check_in(stack, mall["code"], FAR)) == (422, "location_mismatch")
    # AND the presence keeps the device's position rounded to about 100 m, never the fix itself
    (scan,) = scans_at(stack, bus["venue_id"])
    assert scan["device_location"] == {"M": {"lat": {"N": "26.632"}, "lng": {"N": "106.714"}}}
    assert "6323456" not in str(scan) and "7135789" not in str(scan)


def test_the_poster_decodes_to_a_url_of_qr_version_10_at_most(stack: Stack) -> None:
    # GIVEN a venue with the longest name and address (nothing of them is in the code)
    who = manager()
    venue = register(stack, who, name="场" * 50, address="贵州省贵阳市南明区" + "路" * 111)
    png = stack.call("GET", f"/v1/venues/{venue['venue_id']}/poster.png", as_=who)
    assert png.status_code == 200, png.text
    page = Image.open(io.BytesIO(png.content)).convert("L")
    quarter = page.resize((page.width // 4, page.height // 4), Image.Resampling.LANCZOS)
    # WHEN it is decoded at full size and at 25 % THEN each gives the code's URL, version ≤ 10, M
    for image in (page, quarter):
        (found,) = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
        assert found.text == f"https://hc.local/v/{venue['code']}"
        assert int(found.extra["Version"]) <= 10 and found.ec_level == "M"
    # AND the decoded URL is what a phone sends to check in
    assert check_in(stack, found.text).status_code == 201
    # AND the poster shows the province's brand
    svg = stack.call("GET", f"/v1/venues/{venue['venue_id']}/poster.svg", as_=who)
    assert "贵州健康码" in svg.text


def signing_keys(stack: Stack) -> KeySet:
    secrets = stack.aws("secretsmanager")
    arn = next(s["ARN"] for s in secrets.list_secrets()["SecretList"] if "SigningKeys" in s["Name"])
    return KeySet.from_json(secrets.get_secret_value(SecretId=arn)["SecretString"])


def test_a_code_printed_before_compact_codes_works_until_its_venue_is_reissued(stack: Stack) -> None:
    # GIVEN a venue as registered before compact codes: no generation, a long code on its poster
    who = manager()
    venue = register(stack, who)
    claims = VenueCode(
        venue_id=venue["venue_id"],
        name="花果园购物中心",
        venue_type="mall",
        province="520000",
        region_code="520102",
        root_venue_id=venue["venue_id"],
        location=Location(LAT, LNG),
        shards=8,
        address="贵州省贵阳市南明区花果园大街1号",
    ).claims()
    printed, _ = sign_code(
        signing_keys(stack),
        kind="venue",
        issuer="urn:healthcode:520000",
        subject=venue["venue_id"],
        claims=claims,
        lifetime=timedelta(days=3650),
    )
    stack.aws("dynamodb").update_item(
        TableName=stack.info["tables"]["VenuesTable"],
        Key={"venue_id": {"S": venue["venue_id"]}},
        UpdateExpression="SET code = :code REMOVE code_generation",
        ExpressionAttributeValues={":code": {"S": printed}},
    )
    # WHEN it is scanned (bare or as a URL) THEN accepted
    assert check_in(stack, printed).status_code == 201
    assert check_in(stack, f"https://hc.local/v/{printed}").status_code == 201
    # WHEN its manager reissues the code THEN the printed code is refused, the new one accepted
    new = stack.call("POST", f"/v1/venues/{venue['venue_id']}/code", as_=who).json()
    assert new["generation"] == 1
    assert error_of(check_in(stack, printed)) == (422, "venue_code_revoked")
    assert check_in(stack, new["code"]).status_code == 201


def test_a_closed_checkpoint_verifies_and_registers_nobody(stack: Stack) -> None:
    # GIVEN a venue with an assigned scanner, who verifies a citizen's code there
    who = manager()
    venue = register(stack, who, name="南明区人民医院", type="hospital")
    scanner = (f"e2e-scanner-{uuid.uuid4().hex[:8]}", ["scanner"])
    assigned = stack.call("PUT", f"/v1/venues/{venue['venue_id']}/staff/{scanner[0]}", as_=who)
    assert assigned.status_code == 200, assigned.text
    holder, person_id = citizen(stack)
    token = stack.call("GET", f"/v1/codes/{person_id}", as_=holder).json()["token"]
    body = {"code": token, "checkpoint_id": venue["venue_id"]}
    assert stack.call("POST", "/v1/verifications", as_=scanner, json=body).status_code == 200
    # WHEN its manager closes it
    assert stack.call("DELETE", f"/v1/venues/{venue['venue_id']}", as_=who).status_code == 204
    before = len(scans_at(stack, venue["venue_id"]))
    # THEN staff can neither verify a code nor register a person there, and nothing is written
    assert error_of(stack.call("POST", "/v1/verifications", as_=scanner, json=body)) == (422, "venue_closed")
    manual = {
        "name": "李四",
        "id_number": adult_id(),
        "temperature": 36.5,
        "checkpoint_id": venue["venue_id"],
    }
    answer = stack.call("POST", "/v1/manual-registrations", as_=scanner, json=manual)
    assert error_of(answer) == (422, "venue_closed")
    assert len(scans_at(stack, venue["venue_id"])) == before == 1
