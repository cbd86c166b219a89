"""Personal health codes end to end over HTTP on the local stack: apply, refresh, codes checked
with the published JWKS, QR images read back by zxing-cpp, validation, ownership, dependants and
guardian links, paper codes, appeals, and the colour consumer on the FactsTable stream. The
shared Guizhou stack serves the tests that leave its clock alone; a Fujian stack of this module's
own serves the palette and expiry tests, which move the clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from healthcode.codes.tokens import person_id_from_claim

from tests.codes_forms import adult_id, child_id, declaration, elderly_id, form, png_text, svg_text
from tests.e2e.stack import Stack, running_stack


def citizen() -> tuple[str, list[str]]:
    return (f"e2e-citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def apply(stack: Stack, body: dict[str, Any], as_: tuple[str, list[str]]) -> Any:
    return stack.call("POST", "/v1/codes", as_=as_, json=body)


def applied(stack: Stack, body: dict[str, Any], as_: tuple[str, list[str]]) -> dict[str, Any]:
    answer = apply(stack, body, as_)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def published_claims(stack: Stack, token: str, *, typ: str = "code") -> dict[str, Any]:
    """Check ``token`` as any verifier would: with the key its ``kid`` names in the stack's JWKS,
    of the use the code's kind needs. A personal code is compact (header ``{alg, kid}``, the kid
    naming the province; claims ``{sub, lvl, exp}``): its ``sub`` is answered as the person id."""
    header = jwt.get_unverified_header(token)
    keys = stack.call("GET", "/.well-known/jwks.json").json()["keys"]
    jwk = next(key for key in keys if key["kid"] == header["kid"])
    assert jwk["hc_use"] == typ
    claims: dict[str, Any] = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["ES256"], options={"verify_exp": False, "verify_iat": False}
    )
    if typ == "code":
        assert header == {"alg": "ES256", "kid": header["kid"]} and len(header["kid"]) <= 12
        assert set(claims) == {"sub", "lvl", "exp"} and len(claims["sub"]) <= 22
        return {**claims, "sub": person_id_from_claim(claims["sub"])}
    assert header["alg"] == "ES256" and header["typ"] == f"hc-{typ}+jwt"
    assert claims["typ"] == typ
    return claims


def stack_now(stack: Stack) -> datetime:
    """The stack's clock (read, not moved)."""
    answer = stack.http.get(f"{stack.url}/_local/clock", timeout=10)
    answer.raise_for_status()
    return datetime.fromisoformat(answer.json()["now"]).astimezone(UTC)


def write_fact(stack: Stack, person_id: str, kind: str, *, days: int | None = None) -> None:
    """A fact as the cases function writes it, straight into the stack's FactsTable."""
    # imported here: the models read table names from the environment when first imported
    from healthcode.rules import colour
    from healthcode.rules.policy import FactKind
    from healthcode.storage import facts

    now = stack_now(stack)
    fact = colour.Fact(
        fact_id=f"{kind}#{uuid.uuid4().hex[:8]}",
        kind=FactKind(kind),
        starts_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    item = facts.item_for(person_id, fact, recorded_at=now).serialize()
    stack.aws("dynamodb").put_item(TableName=stack.info["tables"]["FactsTable"], Item=item)


# -- the shared Guizhou stack ------------------------------------------------------------------


def test_apply_and_refresh_give_codes_any_verifier_can_check(stack: Stack) -> None:
    # GIVEN a citizen WHEN they apply and refresh their code
    who = citizen()
    first = apply(stack, form(adult_id()), who)
    assert first.status_code == 201, first.text
    person_id = first.json()["person_id"]
    refreshed = stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    assert refreshed.status_code == 200 and refreshed.headers["Cache-Control"] == "no-store"
    body = refreshed.json()
    # THEN the code verifies with the published JWKS: pseudonymous subject, level, a 5-minute
    # life, the province named by the key id, and nothing personal
    claims = published_claims(stack, body["token"])
    assert (claims["sub"], claims["lvl"]) == (person_id, 0)
    assert jwt.get_unverified_header(body["token"])["kid"].startswith("520000c")
    assert claims["exp"] - stack_now(stack).timestamp() <= 300
    assert (body["name_masked"], body["colour"], body["risk_level"]) == ("张*", "green", 0)


def test_qr_images_decode_back_to_the_code(stack: Stack) -> None:
    # GIVEN a code with declared symptoms (yellow)
    who = citizen()
    person_id = applied(stack, form(adult_id(), declaration=declaration(symptoms=["cough"])), who)[
        "person_id"
    ]
    # WHEN its PNG and SVG are fetched THEN zxing-cpp reads from each a valid yellow code of the person
    png = stack.call("GET", f"/v1/codes/{person_id}/qr.png", as_=who)
    svg = stack.call("GET", f"/v1/codes/{person_id}/qr.svg", as_=who)
    assert png.headers["Content-Type"] == "image/png" and svg.headers["Content-Type"] == "image/svg+xml"
    for token in (png_text(png.content), svg_text(svg.content)):
        claims = published_claims(stack, token)
        assert (claims["sub"], claims["lvl"]) == (person_id, 1)


def test_bad_input_wrong_callers_and_other_accounts(stack: Stack) -> None:
    who = citizen()
    # 422 with the field for bad input
    for body, field, code in (
        (form("520102199003071230"), "id_number", "invalid_id_number"),
        (form(phone="12345"), "phone", "invalid_phone"),
        (
            form(declaration=declaration(temperature=33.0)),
            "declaration.temperature",
            "invalid_temperature",
        ),
        (form(declaration=declaration(symptoms=["itch"])), "declaration.symptoms", "unknown_symptom"),
    ):
        answer = apply(stack, body, who)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field
        assert answer.json()["error"]["code"] == code
    # 401 without a caller token (the authorizer), 403 without the citizen role
    assert stack.call("POST", "/v1/codes", json=form(adult_id())).status_code == 401
    assert apply(stack, form(adult_id()), ("e2e-scanner", ["scanner"])).status_code == 403
    # another account: 409 for the same ID number, 404 for every read of the code
    number = adult_id()
    person_id = applied(stack, form(number), who)["person_id"]
    stranger = citizen()
    assert apply(stack, form(number), stranger).json()["error"]["code"] == "managed_by_another_account"
    for suffix in ("", "/qr.png", "/qr.svg", "/history", "/paper.png"):
        assert stack.call("GET", f"/v1/codes/{person_id}{suffix}", as_=stranger).status_code == 404
    assert stack.call("GET", "/v1/codes", as_=stranger).json() == {"codes": []}


def test_a_dependant_changes_guardian_with_a_link_code(stack: Stack) -> None:
    # GIVEN a child applied for by one parent
    mother, father = citizen(), citizen()
    number = child_id()
    person_id = applied(stack, form(number, name="王小宝", dependant=True), mother)["person_id"]
    assert stack.call("GET", "/v1/codes", as_=mother).json()["codes"][0]["dependant"] is True
    # WHEN the other parent applies without a link THEN refused;
    # with the link the mother opened THEN the code is taken over
    assert apply(stack, form(number, dependant=True), father).status_code == 409
    link = stack.call("POST", f"/v1/codes/{person_id}/links", as_=mother).json()["link_code"]
    taken = apply(stack, form(number, name="王小宝", dependant=True, link_code=link), father)
    assert taken.status_code == 200 and taken.json()["person_id"] == person_id
    assert [c["person_id"] for c in stack.call("GET", "/v1/codes", as_=father).json()["codes"]] == [person_id]
    assert stack.call("GET", f"/v1/codes/{person_id}", as_=mother).status_code == 404


def test_a_paper_code_for_a_grandparent_prints_and_reissues(stack: Stack) -> None:
    # GIVEN a grandparent without a smartphone, registered by their grandchild
    guardian = citizen()
    person_id = applied(stack, form(elderly_id(), dependant=True), guardian)["person_id"]
    # WHEN a paper code is issued and printed
    issued = stack.call("POST", f"/v1/codes/{person_id}/paper", as_=guardian)
    assert issued.status_code == 201
    token = issued.json()["token"]
    printed = stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=guardian)
    # THEN the print reads back to the paper code, a year long, bound to the person, without colour
    assert png_text(printed.content) == token
    claims = published_claims(stack, token, typ="paper")
    assert claims["sub"] == person_id and "col" not in claims
    assert claims["exp"] - claims["iat"] == 365 * 86400
    # AND an official, giving the reason (audited), can issue a new one, which replaces it on the print
    renewed = stack.call(
        "POST", f"/v1/codes/{person_id}/paper", as_=("e2e-worker", ["official"]), json={"reason": "上门服务"}
    ).json()["token"]
    assert renewed != token
    assert png_text(stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=guardian).content) == renewed


def test_a_case_fact_recolours_through_the_stream_and_shows_in_history(stack: Stack) -> None:
    # GIVEN a green person
    who = citizen()
    person_id = applied(stack, form(adult_id()), who)["person_id"]
    # WHEN a case is recorded as a fact and the stream is drained
    write_fact(stack, person_id, "case")
    stack.drain()
    # THEN the code is red with the case as its reason, and the history shows the change
    body = stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    assert (body["colour"], body["risk_level"]) == ("red", 2)
    assert [r["code"] for r in body["reasons"]] == ["case"]
    changes = stack.call("GET", f"/v1/codes/{person_id}/history", as_=who).json()["changes"]
    assert [(c["from"], c["to"], c["cause"]) for c in changes] == [
        (None, "green", "application"),
        ("green", "red", "case"),
    ]
    # AND the person may appeal it
    appeal = stack.call("POST", f"/v1/codes/{person_id}/appeals", as_=who, json={"reason": "已康复出院"})
    assert appeal.status_code == 201 and appeal.json()["appeal_id"].startswith("ap-")


# -- a Fujian stack of this module's own: the palette and the moving clock ----------------------


@pytest.fixture(scope="module")
def fujian() -> Iterator[Stack]:
    with running_stack("350000") as started:
        yield started


def test_fujian_shows_levels_one_and_two_as_orange(fujian: Stack) -> None:
    # GIVEN Fujian, with Shanghai (310000) a high-risk area
    from healthcode.storage.models import RiskArea

    area = RiskArea(
        "310000", level="high", updated_at=stack_now(fujian), updated_by="e2e-official", version=1
    )
    fujian.aws("dynamodb").put_item(TableName=fujian.info["tables"]["RiskAreasTable"], Item=area.serialize())
    left = (stack_now(fujian) - timedelta(days=2)).isoformat()
    # WHEN a citizen with a fever and one back from Shanghai apply
    fever = applied(fujian, form(adult_id(), declaration=declaration(temperature=38.1)), citizen())
    travel = applied(
        fujian,
        form(adult_id(), declaration=declaration(travel=[{"region_code": "310115", "left_at": left}])),
        citizen(),
    )
    healthy = applied(fujian, form(adult_id()), citizen())
    # THEN both are orange (levels 1 and 2 kept apart in risk_level and in the code), the third green
    assert (fever["colour"], fever["risk_level"]) == ("orange", 1)
    assert (travel["colour"], travel["risk_level"]) == ("orange", 2)
    assert (healthy["colour"], healthy["risk_level"]) == ("green", 0)
    assert published_claims(fujian, travel["token"])["lvl"] == 2


def test_codes_go_stale_and_declared_fever_expires_on_the_stack_clock(fujian: Stack) -> None:
    # GIVEN a citizen who declared a fever (orange for the policy's 14 days)
    who = citizen()
    body = applied(fujian, form(adult_id(), declaration=declaration(temperature=37.5)), who)
    person_id, claims = body["person_id"], published_claims(fujian, body["token"])
    # WHEN five minutes pass on the stack clock THEN the code has expired and a refresh gives a new one
    fujian.clock(advance_seconds=300)
    assert stack_now(fujian).timestamp() >= claims["exp"]
    fresh = published_claims(fujian, fujian.call("GET", f"/v1/codes/{person_id}", as_=who).json()["token"])
    assert fresh["exp"] > stack_now(fujian).timestamp() > claims["exp"] - 1
    # WHEN fourteen days pass THEN the fever no longer counts: the refreshed code is green
    fujian.clock(advance_seconds=14 * 86400)
    fujian.drain()
    later = fujian.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    assert (later["colour"], later["risk_level"], later["reason"]) == ("green", 0, None)
    assert published_claims(fujian, later["token"])["lvl"] == 0
