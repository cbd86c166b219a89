"""The citizen side of /v1/codes on moto: applications with each identity document (valid and
invalid), keyed hashes per (type, number) with resident IDs as before, Chinese messages by
default and English on request, the code's display and coloured QR images read back by
zxing-cpp, and the appeals a citizen reads back."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from healthcode import clock
from healthcode.codes import keystore, qr
from healthcode.edge.messages import CATALOGUE
from healthcode.protection import pii
from healthcode.rules import idcard
from healthcode.settings import policy
from healthcode.storage import persons
from PIL import Image

from tests.codes_forms import adult_id, declaration, form, png_text, svg_text
from tests.handlers.checkpoint_support import make_venue, module_stack, per_test_stack
from tests.handlers.harness import Answer, InProcessStack

__all__ = ["module_stack", "per_test_stack"]

OFFICIAL = ("official-g", ["official"])
SVG = "{http://www.w3.org/2000/svg}"


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def apply(stack: InProcessStack, body: dict[str, Any], who: tuple[str, list[str]], **kw: Any) -> Answer:
    return stack.call("POST", "/v1/codes", as_=who, json_body=body, **kw)


def fresh_digits(length: int) -> str:
    return str(uuid.uuid4().int)[:length]


def fpr_2023() -> str:
    body = f"911840{19850312}{fresh_digits(3)}"
    return body + idcard.check_character(body)


def documents() -> list[tuple[str, dict[str, Any], str]]:
    """(case, the document fields of a form, the id_masked expected) with fresh numbers."""
    passport = f"E{fresh_digits(8)}"
    hk = f"H{fresh_digits(8)}"
    tw = fresh_digits(8)
    fpr = fpr_2023()
    hk_resident = "810000" + f"19900101{fresh_digits(3)}"
    tw_resident = "830000" + f"19900101{fresh_digits(3)}"
    return [
        (
            "passport",
            {"id_type": "passport", "id_number": passport, "nationality": "CHN"},
            "E******" + passport[-2:],
        ),
        ("hk_macao_permit", {"id_type": "hk_macao_permit", "id_number": hk}, "H******" + hk[-2:]),
        ("taiwan_permit", {"id_type": "taiwan_permit", "id_number": tw}, tw[0] + "*****" + tw[-2:]),
        (
            "foreign_permanent_resident",
            {"id_type": "foreign_permanent_resident", "id_number": fpr},
            "911" + "*" * 12 + fpr[-3:],
        ),
        (
            "hk residence permit",
            {"id_number": hk_resident + idcard.check_character(hk_resident)},
            "8100" + "*" * 10 + (hk_resident + idcard.check_character(hk_resident))[-4:],
        ),
        (
            "taiwan residence permit",
            {"id_type": "resident_id", "id_number": tw_resident + idcard.check_character(tw_resident)},
            "8300" + "*" * 10 + (tw_resident + idcard.check_character(tw_resident))[-4:],
        ),
    ]


@pytest.mark.parametrize("case", [case for case, _, _ in documents()])
def test_applications_with_each_document_type(moto_stack: InProcessStack, case: str) -> None:
    # GIVEN a valid number of a document type
    _, fields, masked = next(entry for entry in documents() if entry[0] == case)
    who = citizen()
    # WHEN its holder applies THEN 201, masked as the type says, typed as given
    first = apply(moto_stack, form(**fields), who)
    assert first.status == 201, first.body
    body = first.json()
    assert (body["id_masked"], body["id_type"]) == (masked, fields.get("id_type", "resident_id"))
    stored = persons.get(body["person_id"])
    assert stored is not None and stored.id_hash == pii.id_hash(
        str(fields["id_number"]), fields.get("id_type", "resident_id")
    )
    # WHEN they apply again with the number in full-width characters THEN the same person (200)
    full_width = "".join(
        chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in fields["id_number"]
    )
    again = apply(moto_stack, form(**{**fields, "id_number": full_width}), who)
    assert (again.status, again.json()["person_id"]) == (200, body["person_id"])


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"id_type": "passport", "id_number": "E12345678"}, "nationality", "missing_field"),
        (
            {"id_type": "passport", "id_number": "E12345678", "nationality": "ZZZ"},
            "nationality",
            "invalid_nationality",
        ),
        (
            {"id_type": "passport", "id_number": "A12345678", "nationality": "CHN"},
            "id_number",
            "invalid_id_number",
        ),
        ({"id_type": "hk_macao_permit", "id_number": "C12345678"}, "id_number", "invalid_id_number"),
        ({"id_type": "taiwan_permit", "id_number": "1234567"}, "id_number", "invalid_id_number"),
        (
            {"id_type": "foreign_permanent_resident", "id_number": "XXX110085031211"},
            "id_number",
            "invalid_id_number",
        ),
        ({"id_type": "resident_id", "id_number": "840000199001010010"}, "id_number", "invalid_id_number"),
        (
            {"id_type": "hk_macao_permit", "id_number": "H12345678", "nationality": "CHN"},
            "nationality",
            "nationality_not_allowed",
        ),
        ({"id_type": "identity_card", "id_number": "H12345678"}, "id_type", "invalid_id_type"),
    ],
)
def test_invalid_documents_are_refused_and_nothing_is_written(
    moto_stack: InProcessStack, fields: dict[str, Any], field: str, code: str
) -> None:
    # GIVEN an invalid document WHEN applied with THEN 422 naming field and code, no code made
    who = citizen()
    answer = apply(moto_stack, form(**fields), who)
    assert (answer.status, answer.json()["error"]["field"], answer.error_code) == (422, field, code)
    assert list(persons.of_owner(who[0])) == []


def test_resident_id_hashes_are_unchanged_and_types_never_meet(moto_stack: InProcessStack) -> None:
    # GIVEN a person registered the way every person was before other documents existed
    number = adult_id()
    assert pii.id_hash(number) == pii.keyed_hash("id_number", number)
    pid = persons.new_person_id()
    old = persons.create(
        persons.build(
            owner_sub=persons.unclaimed_owner(pid),
            dependant=False,
            name="张三",
            id_number=number,
            phone=None,
            address=None,
            region_code="520103",
            birth_year=1985,
            now=clock.now(),
            person_id=pid,
        )
    )
    # WHEN they apply with id_type resident_id (or none) THEN they are found: a claim, not a new code
    found = apply(moto_stack, form(number, id_type="resident_id"), citizen())
    assert (found.status, found.json()["person_id"]) == (200, old.person_id)
    # GIVEN the same digits as a Taiwan permit and as a passport THEN different hashes, different persons
    digits = fresh_digits(8)
    assert (
        len({pii.id_hash(digits, "taiwan_permit"), pii.id_hash(digits, "passport"), pii.id_hash(digits)}) == 3
    )
    tw = apply(moto_stack, form(id_type="taiwan_permit", id_number=digits), citizen())
    pp = apply(moto_stack, form(id_type="passport", id_number=digits, nationality="USA"), citizen())
    assert (tw.status, pp.status) == (201, 201) and tw.json()["person_id"] != pp.json()["person_id"]
    assert persons.holder_of(digits, "passport") is not None and persons.holder_of(digits) is None


# -- messages in the caller's language ---------------------------------------------------------------


def test_errors_are_chinese_by_default_and_english_on_request(moto_stack: InProcessStack) -> None:
    # GIVEN an application with a wrong check character
    number = adult_id()
    bad = form(number[:-1] + ("0" if number[-1] != "0" else "1"))
    # WHEN sent without Accept-Language, then in English, then preferring Chinese
    chinese = apply(moto_stack, bad, citizen())
    english = apply(moto_stack, bad, citizen(), headers={"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.5"})
    preferred = apply(moto_stack, bad, citizen(), headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    # THEN code and field never change; the message is the catalogue's Chinese, or the English detail
    for answer in (chinese, english, preferred):
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
            422,
            "invalid_id_number",
            "id_number",
        )
    assert chinese.json()["error"]["message"] == CATALOGUE["invalid_id_number"].zh
    assert preferred.json()["error"]["message"] == CATALOGUE["invalid_id_number"].zh
    assert "checksum" in english.json()["error"]["message"]
    assert chinese.headers["content-language"] == "zh-CN" and english.headers["content-language"] == "en"
    # AND a missing field is named in Chinese
    missing = apply(moto_stack, {k: v for k, v in form().items() if k != "address"}, citizen())
    assert missing.json()["error"]["message"] == "请填写地址。"


def test_the_code_shows_its_colour_reasons_and_display_in_the_callers_language(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a yellow code (declared symptoms)
    who = citizen()
    person_id = apply(moto_stack, form(adult_id(), declaration=declaration(symptoms=["cough"])), who).json()[
        "person_id"
    ]
    # WHEN read in Chinese (default) and in English
    chinese = moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    english = moto_stack.call(
        "GET", f"/v1/codes/{person_id}", as_=who, headers={"Accept-Language": "en"}
    ).json()
    # THEN the reason names the fact and when it turns green; display has the colour and brand
    assert chinese["reason"].startswith("申报有症状，") and chinese["reason"].endswith("转为绿码")
    assert english["reason"].startswith("declared symptoms; turns green at ")
    assert (
        chinese["reasons"][0]["text"] == "申报有症状" and english["reasons"][0]["text"] == "declared symptoms"
    )
    assert chinese["display"] == {
        "colour_hex": qr.colour_hex("yellow"),
        "brand": policy().brand,
        "message": chinese["display"]["message"],
    }
    assert "黄码" in chinese["display"]["message"] and english["display"]["message"].startswith("Yellow")


def _module_colour(png: bytes) -> str:
    """The most frequent non-white colour of an image, ``#RRGGBB``."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = [(count, rgb) for count, rgb in image.getcolors(1 << 20) or [] if rgb != (255, 255, 255)]
    r, g, b = max(counts)[1]
    return f"#{r:02X}{g:02X}{b:02X}"


@pytest.mark.parametrize(("symptoms", "colour"), [([], "green"), (["cough"], "yellow")])
def test_qr_images_are_drawn_in_the_colour_of_the_code_and_decode(
    moto_stack: InProcessStack, symptoms: list[str], colour: str
) -> None:
    # GIVEN a code of a colour
    who = citizen()
    person_id = apply(moto_stack, form(adult_id(), declaration=declaration(symptoms=symptoms)), who).json()[
        "person_id"
    ]
    # WHEN its QR images are fetched
    png = moto_stack.call("GET", f"/v1/codes/{person_id}/qr.png", as_=who)
    svg = moto_stack.call("GET", f"/v1/codes/{person_id}/qr.svg", as_=who)
    # THEN the modules are in the colour (with a scanner's contrast) and both decode to the code
    assert _module_colour(png.body) == qr.module_hex(colour)
    assert qr.contrast_with_white(qr.module_hex(colour)) >= qr.MIN_CONTRAST
    root = ET.fromstring(svg.body)
    assert {path.get("fill") for path in root.iter(f"{SVG}path")} == {qr.module_hex(colour)}
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert texts[0] == policy().brand and texts[1] == "张*"
    assert texts[2] is not None and texts[2].startswith(
        clock.now().astimezone(clock.CHINA).strftime("%Y-%m-%d")
    )
    for text in (png_text(png.body), svg_text(svg.body)):
        code = keystore.verify(text, kinds=("code",))
        assert (code.subject, code.claims["lvl"]) == (person_id, {"green": 0, "yellow": 1}[colour])
        # AND the symbol is at level M, version 10 at most (old phones, worn screens)
        symbol = qr.personal_symbol(text)
        assert (symbol.error_correction, symbol.version <= qr.PERSONAL_MAX_VERSION) == ("M", True)


# -- appeals read back ---------------------------------------------------------------------------


def test_appeals_are_readable_by_their_citizen_and_nobody_else(moto_stack: InProcessStack) -> None:
    # GIVEN a yellow code with two appeals, one answered by an official
    who = citizen()
    person_id = apply(moto_stack, form(adult_id(), declaration=declaration(symptoms=["cough"])), who).json()[
        "person_id"
    ]
    first = moto_stack.call(
        "POST", f"/v1/codes/{person_id}/appeals", as_=who, json_body={"reason": "只是过敏"}
    )
    clock.advance(60)
    second = moto_stack.call(
        "POST", f"/v1/codes/{person_id}/appeals", as_=who, json_body={"reason": "已经好了"}
    )
    assert (first.status, second.status) == (201, 201)
    answered = moto_stack.call(
        "POST",
        f"/v1/appeals/{first.json()['appeal_id']}/answer",
        as_=OFFICIAL,
        json_body={"outcome": "dismissed", "answer": "申报的症状仍在有效期内"},
    )
    assert answered.status == 200, answered.body
    # WHEN the citizen reads their appeals
    listed = moto_stack.call("GET", f"/v1/codes/{person_id}/appeals", as_=who)
    # THEN both, oldest first, with status, the answer and when
    assert listed.status == 200 and listed.headers["cache-control"] == "no-store"
    rows = listed.json()["appeals"]
    assert [row["appeal_id"] for row in rows] == [first.json()["appeal_id"], second.json()["appeal_id"]]
    assert (rows[0]["reason"], rows[0]["status"], rows[0]["answer"]) == (
        "只是过敏",
        "dismissed",
        "申报的症状仍在有效期内",
    )
    assert rows[0]["answered_at"] is not None and rows[0]["created_at"] == first.json()["created_at"]
    assert (rows[1]["status"], rows[1]["answer"], rows[1]["answered_at"]) == ("open", None, None)
    # AND another account, or an unknown id, is told nothing
    stranger = moto_stack.call("GET", f"/v1/codes/{person_id}/appeals", as_=citizen())
    unknown = moto_stack.call("GET", "/v1/codes/p-00000000000000000000000000000000/appeals", as_=who)
    assert (stranger.status, stranger.error_code) == (404, "code_not_found")
    assert (unknown.status, unknown.error_code) == (404, "code_not_found")
    # AND a code without appeals lists none
    calm = apply(moto_stack, form(adult_id()), (owner := citizen())).json()["person_id"]
    assert moto_stack.call("GET", f"/v1/codes/{calm}/appeals", as_=owner).json() == {"appeals": []}


def test_a_resident_hash_kind_is_what_it_always_was() -> None:
    # GIVEN the hash kinds THEN the resident ID keeps "id_number", other documents their own
    assert pii.id_hash_kind() == "id_number"
    assert pii.id_hash_kind("passport") == "id_passport"


def test_other_documents_are_taken_wherever_an_id_number_is(moto_stack: InProcessStack) -> None:
    # GIVEN a passport holder with a code, and a scanner at a staffed mall
    passport = f"5{fresh_digits(8)}"
    holder = apply(
        moto_stack,
        form(id_type="passport", id_number=passport, nationality="USA", name="John Smith"),
        citizen(),
    )
    assert holder.status == 201
    person_id = holder.json()["person_id"]
    venue = make_venue("mall", staffed_by=("scanner-docs",))
    # WHEN the scanner registers a Taiwan-permit holder without a phone THEN 201, masked as a permit
    permit = fresh_digits(8)
    registered = moto_stack.call(
        "POST",
        "/v1/manual-registrations",
        as_=("scanner-docs", ["scanner"]),
        json_body={
            "name": "林小姐",
            "id_number": permit,
            "id_type": "taiwan_permit",
            "temperature": 36.5,
            "checkpoint_id": venue.venue_id,
        },
    )
    assert registered.status == 201, registered.body
    assert registered.json()["person"]["id_masked"] == permit[0] + "*****" + permit[-2:]
    assert persons.holder_of(permit, "taiwan_permit") is not None
    # WHEN a lab posts rows by passport THEN the right type finds the person, another type nobody
    sampled = clock.show(clock.now())
    rows = [
        {
            "id_number": passport,
            "id_type": "passport",
            "nationality": "USA",
            "sampled_at": sampled,
            "result": "negative",
        },
        {"id_number": passport, "id_type": "taiwan_permit", "sampled_at": sampled, "result": "negative"},
        {"id_number": passport, "id_type": "passport", "sampled_at": sampled, "result": "negative"},
    ]
    labs = moto_stack.call("POST", "/v1/lab-results", as_=OFFICIAL, json_body={"results": rows})
    assert labs.status == 200, labs.body
    assert labs.json()["accepted"] == 1
    assert labs.json()["rejected"] == [
        {"index": 1, "error": "invalid_id_number", "field": "id_number"},
        {"index": 2, "error": "missing_field", "field": "nationality"},
    ]
    # WHEN an official reports a case by passport THEN it is the passport holder's
    case = moto_stack.call(
        "POST",
        "/v1/cases",
        as_=OFFICIAL,
        json_body={
            "id_number": passport,
            "id_type": "passport",
            "nationality": "USA",
            "status": "confirmed",
            "diagnosed_at": clock.show(clock.now()),
        },
    )
    assert case.status == 202, case.body
    assert case.json()["person_id"] == person_id


def test_the_history_reads_in_english_on_request(moto_stack: InProcessStack) -> None:
    # GIVEN a code that went yellow on a declaration of symptoms
    who = citizen()
    number = adult_id()
    person_id = apply(moto_stack, form(number), who).json()["person_id"]
    apply(moto_stack, form(number, declaration=declaration(symptoms=["cough"])), who)
    # WHEN the history is read in Chinese and in English
    path = f"/v1/codes/{person_id}/history"
    chinese = moto_stack.call("GET", path, as_=who).json()["changes"]
    english = moto_stack.call("GET", path, as_=who, headers={"Accept-Language": "en"}).json()["changes"]
    # THEN the same changes, the reasons named in each language
    assert [c["to"] for c in chinese] == [c["to"] for c in english] == ["green", "yellow"]
    assert (chinese[0]["reason"], english[0]["reason"]) == ("无风险因素", "no risk factors")
    assert chinese[1]["reason"].startswith("申报有症状") and english[1]["reason"] == "declared symptoms"
