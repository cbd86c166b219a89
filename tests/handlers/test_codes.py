"""/v1/codes on moto: apply and review, every validation error, colour rules per palette, the
signed code (contents, expiry on the moved clock), QR images read back by zxing-cpp, history,
appeals, ownership (another account gets 404) and the DynamoDB calls of a refresh."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from healthcode import clock
from healthcode.codes import keystore
from healthcode.rules import colour
from healthcode.rules.policy import FactKind
from healthcode.services import recolour
from healthcode.storage import appeals, facts, persons
from healthcode.storage.models import Fact, Person, RiskArea

from tests.codes_forms import adult_id, declaration, form, png_text, svg_text
from tests.handlers.checkpoint_support import dynamodb_calls, module_stack, per_test_stack
from tests.handlers.harness import Answer, InProcessStack

# One moto stack per module (``moto_stack``): every test writes under fresh accounts and ID numbers.
__all__ = ["module_stack", "per_test_stack"]


def start_clock() -> datetime:
    """Freeze the clock at a whole hour after the stack's signing keys were made; return it."""
    t0 = (clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    clock.freeze(t0)
    return t0


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def apply(stack: InProcessStack, body: dict[str, Any], as_: tuple[str, list[str]], **kwargs: Any) -> Answer:
    return stack.call("POST", "/v1/codes", as_=as_, json_body=body, **kwargs)


def applied(stack: InProcessStack, body: dict[str, Any], as_: tuple[str, list[str]]) -> dict[str, Any]:
    answer = apply(stack, body, as_)
    assert answer.status in (200, 201), answer.body
    return dict(answer.json())


def set_risk(region_code: str, level: str) -> None:
    """Set an area's risk as officials do (PUT /v1/risk-areas is another function's route)."""
    try:
        area = RiskArea.get(region_code)
    except RiskArea.DoesNotExist:
        area = RiskArea(region_code)
    area.level, area.updated_at, area.updated_by = level, clock.now(), "official-1"
    area.save()


def add_fact(person_id: str, kind: FactKind, *, days: int | None = None) -> None:
    now = clock.now()
    fact = colour.Fact(
        fact_id=f"{kind}#{uuid.uuid4().hex[:8]}",
        kind=kind,
        starts_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    facts.save([facts.item_for(person_id, fact, recorded_at=now)])


# -- apply -----------------------------------------------------------------------------------------


def test_apply_answers_a_signed_code_without_personal_data(moto_stack: InProcessStack) -> None:
    # GIVEN a citizen with a complete, healthy declaration
    start_clock()
    who, number = citizen(), adult_id()
    # WHEN they apply
    answer = apply(moto_stack, form(number), who)
    # THEN 201 with a green code, masked identity and a token the stack's keys verify
    assert answer.status == 201, answer.body
    body = answer.json()
    assert (body["colour"], body["risk_level"], body["reason"]) == ("green", 0, None)
    assert (body["name_masked"], body["id_masked"]) == ("张*", f"{number[:4]}{'*' * 10}{number[-4:]}")
    assert body["person_id"].startswith("p-")
    code = keystore.verify(body["token"], kinds=("code",))
    assert code.subject == body["person_id"]
    assert code.issuer == "urn:healthcode:520000"
    assert code.claims["lvl"] == 0
    # AND it is compact: header {alg, kid}, the kid naming the province, claims {sub, lvl, exp}
    header = jwt.get_unverified_header(body["token"])
    assert header == {"alg": "ES256", "kid": code.kid} and code.kid.startswith("520000c")
    assert len(code.kid) <= 12
    # AND the token lives the policy's 5 minutes and carries nothing personal
    assert code.expires_at == clock.now().replace(microsecond=0) + timedelta(seconds=300)
    assert clock.parse_instant(body["expires_at"]) == code.expires_at
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert set(claims) == {"sub", "lvl", "exp"} and len(claims["sub"]) == 22
    payload = json.dumps(claims, ensure_ascii=False)
    for personal in ("张", number, number[6:14], "13800000000"):
        assert personal not in payload


def test_personal_data_is_encrypted_hashed_and_masked_at_rest(moto_stack: InProcessStack) -> None:
    # GIVEN an application
    who, number = citizen(), adult_id()
    person_id = applied(moto_stack, form(number), who)["person_id"]
    # WHEN the stored item is read as DynamoDB holds it
    table = moto_stack.template.physical_name("PersonsTable")
    raw = moto_stack.clients["dynamodb"].get_item(TableName=table, Key={"person_id": {"S": person_id}})[
        "Item"
    ]
    text = json.dumps(raw, ensure_ascii=False)
    # THEN no name, ID number, phone or address is there in clear; masks and keyed hashes are
    for personal in ("张三", number, "13800000000", "中华北路"):
        assert personal not in text
    assert raw["name_masked"]["S"] == "张*" and raw["phone_masked"]["S"] == "138****0000"
    assert raw["id_hash"]["S"].startswith("h1:") and raw["phone_hash"]["S"].startswith("h1:")
    # AND it decrypts back for an audited read
    stored = persons.get(person_id)
    assert stored is not None
    identity = persons.identity(stored)
    assert (identity.name, identity.id_number, identity.phone) == ("张三", number, "13800000000")


def test_applying_logs_nothing_personal(moto_stack: InProcessStack, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN an application WHEN it is handled (and another refused for a bad phone)
    number = adult_id()
    caplog.set_level(logging.INFO)
    applied(moto_stack, form(number, name="欧阳娜娜"), citizen())
    apply(moto_stack, form(adult_id(), phone="12345"), citizen())
    # THEN no log record (message, arguments or extra keys, of any logger) holds personal data
    assert any(record.getMessage() == "code applied" for record in caplog.records)
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for personal in ("欧阳娜娜", number, "13800000000", "12345", "中华北路"):
        assert personal not in logged


def test_reapplying_from_the_same_account_renews_the_declaration(moto_stack: InProcessStack) -> None:
    # GIVEN a green code
    who, number = citizen(), adult_id()
    first = applied(moto_stack, form(number), who)
    # WHEN the same account applies again with symptoms and a new phone
    answer = apply(
        moto_stack, form(number, phone="13912345678", declaration=declaration(symptoms=["cough"])), who
    )
    # THEN 200, the same person, now yellow for the declared symptoms, the phone updated
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["person_id"] == first["person_id"]
    assert (body["colour"], body["risk_level"]) == ("yellow", 1)
    assert [r["code"] for r in body["reasons"]] == ["symptoms"]
    stored = persons.get(first["person_id"])
    assert stored is not None and stored.phone_masked == "139****5678" and stored.version == 2


def test_a_declaration_cannot_lower_a_colour(moto_stack: InProcessStack) -> None:
    # GIVEN a person who declared a fever (yellow) and who is then found a close contact (red)
    who, number = citizen(), adult_id()
    person_id = applied(moto_stack, form(number, declaration=declaration(temperature=38.2)), who)["person_id"]
    add_fact(person_id, FactKind.CLOSE_CONTACT, days=14)
    # WHEN they apply again declaring nothing wrong
    body = applied(moto_stack, form(number), who)
    # THEN they stay red for the contact, and the earlier fever still counts
    assert (body["colour"], body["risk_level"]) == ("red", 2)
    assert [r["code"] for r in body["reasons"]] == ["close_contact"]
    state = facts.state_of(person_id)
    assert {f.kind for f in state.facts} == {FactKind.FEVER, FactKind.CLOSE_CONTACT}


def test_an_idempotent_retry_answers_like_the_first_time(moto_stack: InProcessStack) -> None:
    # GIVEN an application sent with an Idempotency-Key
    who, number, key = citizen(), adult_id(), {"Idempotency-Key": "apply-7f3a"}
    first = apply(moto_stack, form(number), who, headers=key)
    # WHEN the client retries it THEN the same 201 and person, and one person holds the ID number
    again = apply(moto_stack, form(number), who, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert first.json()["person_id"] == again.json()["person_id"]
    assert [p.person_id for p in persons.of_owner(who[0])] == [first.json()["person_id"]]
    # AND the key cannot be reused for another ID number; a malformed key is refused
    reused = apply(moto_stack, form(adult_id()), who, headers=key)
    assert (reused.status, reused.error_code) == (409, "idempotency_key_reused")
    bad = apply(moto_stack, form(adult_id()), who, headers={"Idempotency-Key": "x" * 200})
    assert (bad.status, bad.error_code) == (400, "invalid_idempotency_key")


@pytest.mark.parametrize("same_account", [False, True], ids=["another account", "the same account"])
def test_requests_racing_for_one_id_number_make_one_person(
    moto_stack: InProcessStack, monkeypatch: Any, same_account: bool
) -> None:
    # GIVEN a person created just after another request looked the ID number up (simulated: that
    # lookup finds nobody), by another account or by the same one (a double tap)
    number, first_account = adult_id(), citizen()
    first = applied(moto_stack, form(number), first_account)
    real_holder_of = persons.holder_of
    lookups: list[str] = []

    def late_lookup(id_number: str, id_type: str = "resident_id") -> Person | None:
        lookups.append(id_number)
        return None if len(lookups) == 1 else real_holder_of(id_number, id_type)

    monkeypatch.setattr(persons, "holder_of", late_lookup)
    # WHEN the later request goes on to create the person
    answer = apply(moto_stack, form(number), first_account if same_account else citizen())
    # THEN it finds the person after all: a renewal for the same account, refused for another
    if same_account:
        assert answer.status == 200 and answer.json()["person_id"] == first["person_id"]
    else:
        assert (answer.status, answer.error_code) == (409, "managed_by_another_account")
    assert len(lookups) == 2
    stored = real_holder_of(number)
    assert stored is not None and stored.person_id == first["person_id"]


# -- validation errors over HTTP ---------------------------------------------------------------


def test_bad_input_is_422_with_the_field(moto_stack: InProcessStack) -> None:
    # GIVEN applications each with one bad value (every rule: tests/unit/test_application.py)
    cases = [
        (form(name=None), "name", "missing_field"),
        (form(name="Zhang3"), "name", "invalid_name"),
        (form("520102199003071230"), "id_number", "invalid_id_number"),
        (form(phone="0851-8765432"), "phone", "invalid_phone"),
        (form(address=""), "address", "missing_field"),
        (form(region_code="000000"), "region_code", "invalid_region_code"),
        (form(declaration=declaration(symptoms=["sneezing"])), "declaration.symptoms", "unknown_symptom"),
        (form(declaration=declaration(temperature=44)), "declaration.temperature", "invalid_temperature"),
        (form(declaration=declaration(temperature="37")), "declaration.temperature", "invalid_temperature"),
        (
            form(
                declaration=declaration(travel=[{"region_code": "420106", "left_at": "2099-01-01T00:00:00Z"}])
            ),
            "declaration.travel.0.left_at",
            "travel_in_future",
        ),
        (
            form(declaration=declaration(contact_with_case=None)),
            "declaration.contact_with_case",
            "missing_field",
        ),
        (form(dependant=True), "dependant_reason", "dependant_reason_required"),
        (form(link_code="nope"), "link_code", "invalid_link_code"),
        (form(extra=1), "extra", "unknown_field"),
    ]
    who = citizen()
    for body, field, code in cases:
        # WHEN posted THEN 422 naming the field, and nothing is stored for the account
        answer = apply(moto_stack, body, who)
        assert answer.status == 422, answer.body
        assert (answer.json()["error"]["field"], answer.error_code) == (field, code)
    assert list(persons.of_owner(who[0])) == []


def test_malformed_bodies_and_wrong_roles(moto_stack: InProcessStack) -> None:
    # GIVEN requests that are not JSON objects, or from a caller without the citizen role
    not_json = moto_stack.call("POST", "/v1/codes", as_=citizen(), raw_body=b"{name:")
    array = moto_stack.call("POST", "/v1/codes", as_=citizen(), json_body=[form()])
    scanner = apply(moto_stack, form(), ("scanner-1", ["scanner"]))
    # THEN 400 invalid_json and 403 forbidden_role
    assert (not_json.status, not_json.error_code) == (400, "invalid_json")
    assert (array.status, array.error_code) == (400, "invalid_json")
    assert (scanner.status, scanner.error_code) == (403, "forbidden_role")


# -- colour rules per palette ------------------------------------------------------------------


def trip(region_code: str, days_ago: int) -> dict[str, str]:
    """A trip written relative to the test's clock: left ``days_ago`` days before it ("-<n>d")."""
    return {"region_code": region_code, "left_at": f"-{days_ago}d"}


GUIZHOU_RULES = [
    ("nothing declared", declaration(), "green", 0, []),
    ("36.9 °C", declaration(temperature=36.9), "green", 0, []),
    ("fever of 37.3 °C", declaration(temperature=37.3), "yellow", 1, ["fever"]),
    ("symptoms", declaration(symptoms=["cough", "fatigue"]), "yellow", 1, ["symptoms"]),
    ("contact with a case", declaration(contact_with_case=True), "yellow", 1, ["declared_contact"]),
    ("medium-risk travel", declaration(travel=[trip("420106", 3)]), "yellow", 1, ["medium_risk_travel"]),
    ("high-risk travel", declaration(travel=[trip("310115", 3)]), "red", 2, ["high_risk_travel"]),
    ("low-risk district of a high-risk city", declaration(travel=[trip("310101", 3)]), "green", 0, []),
    ("high-risk travel 15 days ago", declaration(travel=[trip("310115", 15)]), "green", 0, []),
    ("fever and high-risk travel", declaration(temperature=38.0, travel=[trip("310115", 1)]), "red", 2,
     ["high_risk_travel"]),
]  # fmt: skip


def _resolve_trips(body: dict[str, Any]) -> dict[str, Any]:
    """Trips written as "-<n>d" leave n days before now."""
    for trip in body["declaration"]["travel"]:
        if trip["left_at"].startswith("-"):
            days = int(trip["left_at"][1:-1])
            trip["left_at"] = clock.show(clock.now() - timedelta(days=days))
    return body


@pytest.mark.parametrize("province_code", ["520000", "140000", "350000"])
def test_colour_rules_per_province_palette(
    moto_stack: InProcessStack, province: Any, province_code: str
) -> None:
    # GIVEN a province (Guizhou, Shanxi: green/yellow/red; Fujian: green/orange) and the risk areas
    # Wuhan Wuchang (420106) medium, Shanghai (310100) high with Huangpu (310101) low
    province(province_code)
    set_risk("420106", "medium")
    set_risk("310100", "high")
    set_risk("310101", "low")
    shown = {"350000": {"green": "green", "yellow": "orange", "red": "orange"}}.get(province_code, {})
    for case, declared, canonical, level, reasons in GUIZHOU_RULES:
        # WHEN a citizen declares ``declared``
        body = applied(
            moto_stack,
            _resolve_trips(form(adult_id(), declaration=json.loads(json.dumps(declared)))),
            citizen(),
        )
        # THEN the canonical level follows the rule, the colour name is the province's; the code
        # carries the level
        assert (body["risk_level"], body["colour"]) == (level, shown.get(canonical, canonical)), case
        if province_code == "350000" and reasons == ["medium_risk_travel"]:
            reasons = [*reasons, "no_recent_test"]  # Fujian: no negative test from before leaving
        assert [r["code"] for r in body["reasons"]] == reasons, case
        code = keystore.verify(body["token"], kinds=("code",))
        assert (code.claims["lvl"], code.issuer) == (level, f"urn:healthcode:{province_code}"), case


def test_case_and_contact_facts_colour_the_code(moto_stack: InProcessStack) -> None:
    # GIVEN three green persons
    who = citizen()
    ids = [applied(moto_stack, form(n), who if i == 0 else citizen())["person_id"] for i, n in
           enumerate([adult_id(), adult_id(), adult_id()])]  # fmt: skip
    # WHEN officials record a case, a close contact and a secondary contact, and the consumer runs
    for person_id, kind in zip(
        ids, (FactKind.CASE, FactKind.CLOSE_CONTACT, FactKind.SECONDARY_CONTACT), strict=True
    ):
        add_fact(person_id, kind, days=14)
        recolour.recompute(person_id, cause=str(kind))
    # THEN case and close contact are red, secondary contact yellow
    levels = []
    for person_id in ids:
        person = persons.get(person_id)
        assert person is not None
        levels.append((person.colour, person.level))
    assert levels == [("red", 2), ("red", 2), ("yellow", 1)]


# -- refresh, expiry, QR ---------------------------------------------------------------------------


def test_a_refreshed_code_expires_with_the_policy_lifetime(moto_stack: InProcessStack) -> None:
    # GIVEN a code refreshed at T0
    start_clock()
    who = citizen()
    person_id = applied(moto_stack, form(adult_id()), who)["person_id"]
    answer = moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
    token = answer.json()["token"]
    # AND the answer says how long it holds on the server's clock (a page schedules its refresh
    # from that, whatever the phone's clock says)
    assert answer.json()["valid_for_seconds"] == 300
    # WHEN the clock moves THEN it verifies until 299 s and is expired at 300 s (a screenshot goes stale)
    clock.advance(299)
    assert keystore.verify(token, kinds=("code",)).subject == person_id
    clock.advance(1)
    with pytest.raises(Exception) as caught:
        keystore.verify(token, kinds=("code",))
    assert getattr(caught.value, "code", None) == "code_expired"
    # AND a new refresh gives a fresh one
    fresh = moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()["token"]
    assert keystore.verify(fresh, kinds=("code",)).subject == person_id


def test_a_dynamic_code_is_not_a_paper_or_venue_code(moto_stack: InProcessStack) -> None:
    # GIVEN a dynamic code WHEN a checkpoint expects a paper or venue code THEN it is refused
    who = citizen()
    token = applied(moto_stack, form(adult_id()), who)["token"]
    for kinds, code in ((("paper",), "invalid_code"), (("venue",), "invalid_venue_code")):
        with pytest.raises(Exception) as caught:
            keystore.verify(token, kinds=kinds)  # type: ignore[arg-type]
        assert getattr(caught.value, "code", None) == code


def test_qr_images_decode_back_to_a_fresh_token(moto_stack: InProcessStack) -> None:
    # GIVEN a yellow code
    who = citizen()
    person_id = applied(moto_stack, form(adult_id(), declaration=declaration(symptoms=["fever"])), who)[
        "person_id"
    ]
    # WHEN its QR images are fetched
    png = moto_stack.call("GET", f"/v1/codes/{person_id}/qr.png", as_=who)
    svg = moto_stack.call("GET", f"/v1/codes/{person_id}/qr.svg", as_=who)
    # THEN each decodes (zxing-cpp) to a valid code of this person, at the current colour
    assert png.headers["content-type"] == "image/png" and png.headers["cache-control"] == "no-store"
    assert svg.headers["content-type"] == "image/svg+xml"
    for image, text in ((png, png_text(png.body)), (svg, svg_text(svg.body))):
        code = keystore.verify(text, kinds=("code",))
        assert (code.subject, code.claims["lvl"]) == (person_id, 1)
        assert image.headers["x-code-expires-at"] == clock.show(code.expires_at)


def test_a_refresh_is_one_dynamodb_call_while_the_stored_colour_holds(moto_stack: InProcessStack) -> None:
    # GIVEN a yellow person (symptoms for 14 days) refreshed at T0
    start_clock()
    who = citizen()
    person_id = applied(moto_stack, form(adult_id(), declaration=declaration(symptoms=["cough"])), who)[
        "person_id"
    ]
    # WHEN the code is refreshed while the stored colour holds THEN one GetItem, nothing else
    with dynamodb_calls() as log:
        assert moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()["colour"] == "yellow"
    assert log.calls == ["GetItem"]
    # WHEN the stored next change has passed (the consumer has not run)
    clock.advance(14 * 86400)
    with dynamodb_calls() as log:
        body = moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    # THEN the colour is decided from the facts (GetItem + one Query), nothing is written
    assert body["colour"] == "green"
    assert log.calls == ["GetItem", "Query"]
    stored = persons.get(person_id)
    assert stored is not None and stored.colour == "yellow"


# -- listing, ownership --------------------------------------------------------------------------


def test_another_account_gets_404_everywhere(moto_stack: InProcessStack) -> None:
    # GIVEN a code managed by one account
    owner, stranger = citizen(), citizen()
    person_id = applied(moto_stack, form(adult_id(), declaration=declaration(symptoms=["cough"])), owner)[
        "person_id"
    ]
    # WHEN another account reads or acts on it THEN 404 code_not_found, as for an unknown id
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/qr.png", None),
        ("GET", "/qr.svg", None),
        ("GET", "/history", None),
        ("POST", "/appeals", {"reason": "I was not there"}),
        ("POST", "/links", None),
        ("POST", "/paper", None),
        ("GET", "/paper.png", None),
    ):
        for person in (person_id, "p-" + "0" * 32):
            answer = moto_stack.call(method, f"/v1/codes/{person}{suffix}", as_=stranger, json_body=body)
            assert (answer.status, answer.error_code) == (404, "code_not_found"), (method, suffix)
    # AND the stranger's list is empty, the owner's holds the code
    assert moto_stack.call("GET", "/v1/codes", as_=stranger).json() == {"codes": []}
    codes = moto_stack.call("GET", "/v1/codes", as_=owner).json()["codes"]
    assert codes == [
        {
            "person_id": person_id,
            "colour": "yellow",
            "risk_level": 1,
            "name_masked": "张*",
            "dependant": False,
        }
    ]


def test_the_same_id_number_from_another_account_is_refused(moto_stack: InProcessStack) -> None:
    # GIVEN a code WHEN another account applies with the same ID number
    number = adult_id()
    first = applied(moto_stack, form(number), citizen())
    answer = apply(moto_stack, form(number, declaration=declaration(symptoms=["cough"])), citizen())
    # THEN 409 and nothing is written on the person
    assert (answer.status, answer.error_code) == (409, "managed_by_another_account")
    assert answer.json()["error"]["field"] == "id_number"
    assert [f.kind for f in facts.state_of(first["person_id"]).facts] == []


def test_claim_items_are_not_persons(moto_stack: InProcessStack) -> None:
    # GIVEN a code, whose ID number's claim item shares the persons table
    who = citizen()
    person_id = applied(moto_stack, form(adult_id()), who)["person_id"]
    stored = persons.get(person_id)
    assert stored is not None
    claim_key = f"{persons.CLAIM_PREFIX}{stored.id_hash}"
    assert persons.IdNumberClaim.get(claim_key).holder == person_id
    # WHEN someone asks for the claim's key as a person id THEN there is no such code
    assert persons.get(claim_key) is None
    assert moto_stack.call("GET", f"/v1/codes/{claim_key}", as_=who).status == 404


# -- history -------------------------------------------------------------------------------------


def test_history_lists_every_colour_change_with_its_reason(moto_stack: InProcessStack) -> None:
    # GIVEN a green code at T0 that turns yellow (symptoms), then red (a case)
    T0 = start_clock()
    who, number = citizen(), adult_id()
    person_id = applied(moto_stack, form(number), who)["person_id"]
    clock.advance(3600)
    applied(moto_stack, form(number, declaration=declaration(symptoms=["cough"])), who)
    clock.advance(3600)
    add_fact(person_id, FactKind.CASE)
    recolour.recompute(person_id, cause="case")
    # AND a refresh that changes nothing
    moto_stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    # WHEN the history is read
    answer = moto_stack.call("GET", f"/v1/codes/{person_id}/history", as_=who)
    # THEN three changes in order, each with the time, colours and why
    assert answer.status == 200
    changes = answer.json()["changes"]
    assert [(c["from"], c["to"], c["cause"]) for c in changes] == [
        (None, "green", "application"),
        ("green", "yellow", "declaration"),
        ("yellow", "red", "case"),
    ]
    assert [c["at"] for c in changes] == [clock.show(T0 + timedelta(hours=h)) for h in (0, 1, 2)]
    assert changes[1]["reason"].startswith("申报有症状，")  # and when it turns green
    assert "确诊" in changes[2]["reason"]


# -- appeals -------------------------------------------------------------------------------------


def test_an_appeal_is_queued_for_officials(moto_stack: InProcessStack) -> None:
    # GIVEN a yellow code
    who = citizen()
    person_id = applied(moto_stack, form(adult_id(), declaration=declaration(contact_with_case=True)), who)[
        "person_id"
    ]
    # WHEN its owner appeals
    answer = moto_stack.call(
        "POST", f"/v1/codes/{person_id}/appeals", as_=who, json_body={"reason": "  我没有接触过病例  "}
    )
    # THEN 201 with an appeal id, stored open in the officials' queue with what it contests
    assert answer.status == 201, answer.body
    appeal_id = answer.json()["appeal_id"]
    stored = appeals.get(appeal_id)
    assert stored is not None
    assert (stored.kind, stored.queue, stored.status, stored.person_id) == (
        "appeal",
        "appeal#open",
        "open",
        person_id,
    )
    assert (stored.requested_by, stored.level, stored.colour, stored.note) == (
        who[0],
        1,
        "yellow",
        "我没有接触过病例",
    )
    queued = moto_stack.clients["dynamodb"].query(
        TableName=moto_stack.template.physical_name("RequestsTable"),
        IndexName="by_queue",
        KeyConditionExpression="#q = :open",
        ExpressionAttributeNames={"#q": "queue"},
        ExpressionAttributeValues={":open": {"S": "appeal#open"}},
    )["Items"]
    assert appeal_id in [item["request_id"]["S"] for item in queued]


def test_appeal_rules(moto_stack: InProcessStack) -> None:
    # GIVEN a green and a yellow code of one account
    who = citizen()
    green = applied(moto_stack, form(adult_id()), who)["person_id"]
    sick = form(adult_id(), declaration=declaration(symptoms=["cough"]))
    yellow = applied(moto_stack, sick, citizen())["person_id"]
    owner_of_yellow = persons.get(yellow)
    assert owner_of_yellow is not None
    yellow_owner = (owner_of_yellow.owner_sub, ["citizen"])

    def appeal(person_id: str, body: Any, as_: Any, key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": key} if key else None
        return moto_stack.call(
            "POST", f"/v1/codes/{person_id}/appeals", as_=as_, json_body=body, headers=headers
        )

    # THEN a green code has nothing to appeal; a reason is required and bounded
    assert appeal(green, {"reason": "x"}, who).error_code == "nothing_to_appeal"
    assert (appeal(yellow, {}, yellow_owner).status, appeal(yellow, {}, yellow_owner).error_code) == (
        422,
        "missing_field",
    )
    assert appeal(yellow, {"reason": "x" * 501}, yellow_owner).error_code == "invalid_reason"
    assert appeal(yellow, {"reason": 5}, yellow_owner).error_code == "invalid_reason"
    assert appeal(yellow, {"reason": "x", "urgent": True}, yellow_owner).error_code == "unknown_field"
    # AND a retried appeal (same Idempotency-Key) is filed once
    first = appeal(yellow, {"reason": "retry me"}, yellow_owner, key="k-1")
    again = appeal(yellow, {"reason": "retry me"}, yellow_owner, key="k-1")
    assert (first.status, again.status) == (201, 201)
    assert first.json()["appeal_id"] == again.json()["appeal_id"]
    # AND an account may file at most 5 a day
    statuses = [appeal(yellow, {"reason": f"#{i}"}, yellow_owner).status for i in range(5)]
    assert statuses == [201, 201, 201, 201, 429]
    refused = appeal(yellow, {"reason": "again"}, yellow_owner)
    assert refused.error_code == "rate_limited" and int(refused.headers["retry-after"]) >= 1


# -- the colour stored for the expiry job ------------------------------------------------------


def test_the_stored_colour_names_its_next_change_for_the_expiry_job(moto_stack: InProcessStack) -> None:
    # GIVEN a fever declared at T0 (yellow for the policy's fever_fact_hours, as a checkpoint fever)
    T0 = start_clock()
    person_id = applied(moto_stack, form(adult_id(), declaration=declaration(temperature=38.5)), citizen())[
        "person_id"
    ]
    # THEN the person is filed under the hour of that change in index by_next_change
    change = T0 + timedelta(hours=24)
    stored = persons.get(person_id)
    assert stored is not None
    assert stored.change_bucket == change.strftime("%Y-%m-%dT%H")
    found = {p.person_id: p for p in Person.by_next_change.query(stored.change_bucket)}
    assert clock.parse_instant(found[person_id].next_change_at) == change
    # AND once recomputed at that instant it is green and leaves the index (sparse)
    assert recolour.recompute(person_id, now=change, cause="expiry").colour == "green"  # type: ignore[union-attr]
    assert person_id not in {p.person_id for p in Person.by_next_change.query(stored.change_bucket)}
    assert Fact.count(person_id) == 1  # the fever fact stays (for audit) until its TTL
