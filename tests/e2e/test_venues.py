"""Venue codes end to end over HTTP: registration with real check characters, complexes, posters
that decode to the venue code, coverage after a drain (on the shared Guizhou stack), and
Jiangxi's rules on a stack of its own: one venue code per phone, green applicants only."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import zxingcpp
from healthcode.rules import credentials, idcard
from PIL import Image

from tests.e2e.stack import Stack, running_stack

OFFICIAL = ("e2e-official", ["official"])
_numbers = iter(range(10_000_000, 99_999_999, 7919))


def manager() -> tuple[str, list[str]]:
    return (f"e2e-manager-{uuid.uuid4().hex[:8]}", ["venue_manager"])


def phone() -> str:
    return f"136{next(_numbers):08d}"


def venue(region: str = "520102", **changes: Any) -> dict[str, Any]:
    lat, lng = (28.6829, 115.8582) if region.startswith("36") else (26.5783, 106.7135)
    body: dict[str, Any] = {
        "name": "花果园购物中心（北门）",
        "type": "mall",
        "subject_name": "花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": region,
        "location": {"lat": lat, "lng": lng},
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": phone(),
    }
    body.update(changes)
    return body


def register(stack: Stack, who: tuple[str, list[str]], **changes: Any) -> Any:
    return stack.call("POST", "/v1/venues", as_=who, json=venue(**changes))


def test_register_read_and_print_a_venue_code(stack: Stack) -> None:
    # GIVEN a manager registering a mall with every required field
    who = manager()
    answer = register(stack, who)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    # WHEN they read it back THEN it is as registered, with its code
    shown = stack.call("GET", f"/v1/venues/{created['venue_id']}", as_=who)
    assert shown.status_code == 200
    assert shown.json()["code"] == created["code"] and shown.json()["region_code"] == "520102"
    # AND the printed poster (PNG) decodes to exactly that code's URL
    png = stack.call("GET", f"/v1/venues/{created['venue_id']}/poster.png", as_=who)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content)).convert("L")
    assert [r.text for r in zxingcpp.read_barcodes(image)] == ["https://hc.local/v/" + created["code"]]
    svg = stack.call("GET", f"/v1/venues/{created['venue_id']}/poster.svg", as_=who)
    assert svg.status_code == 200 and "花果园购物中心（北门）" in svg.text
    # AND the code verifies against the published JWKS (any verifier can check it)
    kid = jwt.get_unverified_header(created["code"])["kid"]
    keys = {k["kid"]: k for k in stack.call("GET", "/.well-known/jwks.json").json()["keys"]}
    claims = jwt.decode(created["code"], jwt.PyJWK(keys[kid]).key, algorithms=["ES256"])
    assert set(claims) == {"v", "g"} and claims["g"] == 1


def test_registration_checks_every_field(stack: Stack) -> None:
    who = manager()
    licence = "52010220000123" + credentials.business_licence_check_digit("52010220000123")
    id_first17 = "52010219850612123"
    good_id = id_first17 + idcard.check_character(id_first17)
    for changes in (
        {"type": "restaurant", "credential_type": "business_licence", "credential_number": licence},
        {"type": "pharmacy", "credential_type": "id_number", "credential_number": good_id},
        {"type": "vehicle", "credential_type": "licence_plate", "credential_number": "贵A12345"},
    ):
        assert register(stack, who, **changes).status_code == 201, changes
    wrong_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    for changes, field in (
        ({"credential_number": "91440300708461136A"}, "credential_number"),
        (
            {"type": "pharmacy", "credential_type": "id_number", "credential_number": wrong_id},
            "credential_number",
        ),
        ({"region_code": "350102"}, "region_code"),
        ({"location": {"lat": 26.5, "lng": 190}}, "location"),
        ({"manager_phone": "1234"}, "manager_phone"),
    ):
        answer = register(stack, who, **changes)
        assert (answer.status_code, answer.json()["error"]["field"]) == (422, field), changes


def test_doors_and_stores_join_their_complex(stack: Stack) -> None:
    who = manager()
    mall = register(stack, who).json()["venue_id"]
    store = register(stack, who, name="奶茶店", type="restaurant", parent_venue_id=mall).json()
    assert store["root_venue_id"] == mall
    unknown = register(stack, who, parent_venue_id=f"v-{uuid.uuid4().hex}")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "parent_not_found")
    stranger = register(stack, manager(), parent_venue_id=mall)
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "not_parent_manager")


def test_coverage_counts_new_venues_after_a_drain(stack: Stack) -> None:
    def hospitals(region: str) -> int:
        answer = stack.call("GET", f"/v1/reports/coverage?region_code={region}", as_=OFFICIAL)
        assert answer.status_code == 200, answer.text
        return int({row["type"]: row["venues"] for row in answer.json()["by_type"]}["hospital"])

    stack.drain()
    before = {region: hospitals(region) for region in ("520103", "520100", "520000")}
    assert register(stack, manager(), type="hospital", region_code="520103").status_code == 201
    stack.drain()
    assert {region: hospitals(region) - before[region] for region in before} == {
        "520103": 1,
        "520100": 1,
        "520000": 1,
    }


# --- Jiangxi: one venue code per phone, green applicants only ------------------------------------


@pytest.fixture(scope="module")
def jiangxi() -> Iterator[Stack]:
    with running_stack("360000") as started:
        yield started


def apply_for_own_code(stack: Stack, who: tuple[str, list[str]], symptoms: list[str]) -> None:
    first17 = f"36010219850612{next(_numbers) % 1000:03d}"
    body = {
        "name": "刘洋",
        "id_number": first17 + idcard.check_character(first17),
        "phone": phone(),
        "address": "江西省南昌市东湖区八一大道2号",
        "region_code": "360102",
        "declaration": {"symptoms": symptoms, "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    answer = stack.call("POST", "/v1/codes", as_=(who[0], ["citizen", "venue_manager"]), json=body)
    assert answer.status_code == 201, answer.text


def test_jiangxi_green_applicants_one_venue_per_phone(jiangxi: Stack) -> None:
    nanchang = {"region_code": "360102", "address": "江西省南昌市东湖区八一大道1号"}
    # an account without a code of its own, and one whose code is yellow, may not apply
    nobody = manager()
    refused = jiangxi.call("POST", "/v1/venues", as_=nobody, json=venue(**nanchang))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "applicant_code_required")
    coughing = manager()
    apply_for_own_code(jiangxi, coughing, ["cough"])
    refused = jiangxi.call("POST", "/v1/venues", as_=coughing, json=venue(**nanchang))
    assert refused.json()["error"]["code"] == "applicant_not_green"
    # a green holder may, once per phone number
    green = manager()
    apply_for_own_code(jiangxi, green, [])
    body = venue(**nanchang)
    assert jiangxi.call("POST", "/v1/venues", as_=green, json=body).status_code == 201
    again = jiangxi.call("POST", "/v1/venues", as_=green, json={**body, "name": "二号门"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "phone_has_venue")
