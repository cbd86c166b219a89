"""The citizen side end to end over HTTP on the shared Guizhou stack: an assisted application for
someone without a phone that prints a labelled paper code, verified at the checkpoint and later
claimed; applications with other identity documents; Chinese messages by default and English
on request; coloured QR images that decode; appeals read back by their citizen only."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import requests
from PIL import Image

from tests.codes_forms import adult_id, declaration, elderly_id, form, png_text, svg_text
from tests.e2e.stack import Stack


def account(role: str) -> tuple[str, list[str]]:
    return (f"e2e-{role}-{uuid.uuid4().hex[:10]}", [role])


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def error(answer: requests.Response) -> tuple[int, str, str | None]:
    body = answer.json()["error"]
    return answer.status_code, body["code"], body["field"]


def staffed_venue(stack: Stack) -> tuple[str, tuple[str, list[str]]]:
    """A mall registered by its manager, with a scanner assigned to it."""
    manager, scanner = account("venue_manager"), account("scanner")
    body = {
        "name": "花果园购物中心",
        "type": "mall",
        "subject_name": "贵阳花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "520102",
        "location": {"lat": 26.57, "lng": 106.71},
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": f"139{uuid.uuid4().int % 10**8:08d}",
    }
    venue_id = ok(stack.call("POST", "/v1/venues", as_=manager, json=body), 201)["venue_id"]
    ok(stack.call("PUT", f"/v1/venues/{venue_id}/staff/{scanner[0]}", as_=manager))
    return venue_id, scanner


def test_an_assisted_application_prints_a_paper_code_that_is_claimed_later(stack: Stack) -> None:
    # GIVEN a scanner at a mall and an elderly visitor with no phone
    venue_id, scanner = staffed_venue(stack)
    number = elderly_id()
    body = {k: v for k, v in form(number, name="王奶奶").items() if k != "phone"}
    assisted = {**body, "assisted": True, "checkpoint_id": venue_id}
    # WHEN a scanner of another venue tries THEN 403 not_assigned
    assert error(stack.call("POST", "/v1/codes", as_=account("scanner"), json=assisted))[:2] == (
        403,
        "not_assigned",
    )
    # WHEN the assigned scanner applies for them
    answer = ok(stack.call("POST", "/v1/codes", as_=scanner, json=assisted), 201)
    # THEN the answer carries a printable paper code whose card decodes to its token
    paper = answer["paper_code"]
    card = base64.b64decode(paper["png_base64"])
    assert Image.open(io.BytesIO(card)).format == "PNG"
    assert png_text(card) == paper["token"]
    assert answer["name_masked"] == "王**" and answer["id_masked"].endswith(number[-4:])
    # AND the paper code verifies at the checkpoint
    verdict = ok(
        stack.call(
            "POST", "/v1/verifications", as_=scanner, json={"code": paper["token"], "checkpoint_id": venue_id}
        )
    )
    assert verdict["verdict"] == "pass"
    # WHEN her son claims the code under another name THEN 409; under hers THEN he manages it
    son = account("citizen")
    wrong = stack.call("POST", "/v1/codes", as_=son, json=form(number, name="王小明", dependant=True))
    assert error(wrong)[:2] == (409, "identity_mismatch")
    claimed = ok(
        stack.call(
            "POST",
            "/v1/codes",
            as_=son,
            json=form(number, name="王奶奶", dependant=True, dependant_reason="elderly"),
        )
    )
    assert claimed["person_id"] == answer["person_id"]
    listed = ok(stack.call("GET", "/v1/codes", as_=son))["codes"]
    assert [code["person_id"] for code in listed] == [answer["person_id"]]


def test_other_documents_and_messages_in_chinese_or_english(stack: Stack) -> None:
    # GIVEN a foreign visitor's passport WHEN they apply THEN 201, the number masked as a passport's
    passport = f"5{uuid.uuid4().int % 10**8:08d}"
    body = form(id_type="passport", id_number=passport, nationality="USA", name="John Smith")
    answer = ok(stack.call("POST", "/v1/codes", as_=account("citizen"), json=body), 201)
    assert answer["id_type"] == "passport" and answer["id_masked"] == "5******" + passport[-2:]
    # GIVEN a passport without its nationality WHEN sent without a language, then in English
    bad = {**body, "nationality": None}
    chinese = stack.call("POST", "/v1/codes", as_=account("citizen"), json=bad)
    english = stack.call(
        "POST", "/v1/codes", as_=account("citizen"), json=bad, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    # THEN the same code and field, the message in Chinese by default and in English on request
    assert error(chinese) == error(english) == (422, "missing_field", "nationality")
    assert chinese.json()["error"]["message"] == "请填写国籍。"
    assert english.json()["error"]["message"] == "nationality is required with a passport"
    assert chinese.headers["Content-Language"] == "zh-CN"


def test_a_coloured_code_and_its_appeals_over_http(stack: Stack) -> None:
    # GIVEN a yellow code (declared symptoms)
    who = account("citizen")
    person_id = ok(
        stack.call(
            "POST", "/v1/codes", as_=who, json=form(adult_id(), declaration=declaration(symptoms=["cough"]))
        ),
        201,
    )["person_id"]
    # WHEN it is read THEN its display and reason are Chinese, and both images decode in colour
    code = ok(stack.call("GET", f"/v1/codes/{person_id}", as_=who))
    assert code["display"]["brand"] == "贵州健康码" and code["reason"].endswith("转为绿码")
    png = stack.call("GET", f"/v1/codes/{person_id}/qr.png", as_=who)
    svg = stack.call("GET", f"/v1/codes/{person_id}/qr.svg", as_=who)
    assert png_text(png.content).count(".") == 2 and svg_text(svg.content).count(".") == 2
    pixels = Image.open(io.BytesIO(png.content)).convert("RGB").getcolors(1 << 20) or []
    inks = {colour for _, colour in pixels if colour != (255, 255, 255)}
    assert any(r > b + 40 for r, _, b in inks), "the modules are drawn in yellow, not black"
    # WHEN the citizen appeals and reads the appeals back THEN the appeal is there, open
    filed = ok(
        stack.call("POST", f"/v1/codes/{person_id}/appeals", as_=who, json={"reason": "只是过敏"}), 201
    )
    appeals = ok(stack.call("GET", f"/v1/codes/{person_id}/appeals", as_=who))["appeals"]
    assert [(a["appeal_id"], a["status"], a["answer"]) for a in appeals] == [
        (filed["appeal_id"], "open", None)
    ]
    # AND another citizen is told nothing
    assert error(stack.call("GET", f"/v1/codes/{person_id}/appeals", as_=account("citizen")))[:2] == (
        404,
        "code_not_found",
    )
