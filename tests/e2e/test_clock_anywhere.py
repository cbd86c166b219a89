"""The local stack with its clock set anywhere: years before the stack started (a past scenario
replayed) or a year ahead, every signing route still answers, and what it signs verifies with the
published JWKS, stamped with the stack clock's time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from healthcode.codes.tokens import person_id_from_claim

from tests.codes_forms import adult_id, form
from tests.e2e.stack import Stack, running_stack

COUNTY, LAT, LNG, ADDRESS = ("520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Its own Guizhou stack: these tests move the clock years back and a year ahead."""
    with running_stack("520000") as started:
        yield started


def verified(stack: Stack, token: str, typ: str) -> dict[str, Any]:
    """``token`` checked as any verifier would: with the key its ``kid`` names in the JWKS, of the
    use its kind needs (a compact personal code's ``sub`` is answered as the person id)."""
    header = jwt.get_unverified_header(token)
    keys = stack.call("GET", "/.well-known/jwks.json").json()["keys"]
    jwk = next(key for key in keys if key["kid"] == header["kid"])
    assert jwk["hc_use"] == typ
    claims: dict[str, Any] = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["ES256"], options={"verify_exp": False, "verify_iat": False}
    )
    if typ == "code":
        assert header == {"alg": "ES256", "kid": header["kid"]} and set(claims) == {"sub", "lvl", "exp"}
        return {**claims, "sub": person_id_from_claim(claims["sub"])}
    assert header["alg"] == "ES256" and header["typ"] == f"hc-{typ}+jwt"
    assert claims["typ"] == typ
    return claims


def a_year_ahead() -> str:
    return (datetime.now(UTC) + timedelta(days=366)).isoformat()


@pytest.mark.parametrize(
    "instant",
    [lambda: "2020-01-01T09:00:00+08:00", a_year_ahead],
    ids=["years-before-the-stack-started", "a-year-ahead"],
)
def test_every_signing_route_works_wherever_the_clock_is_set(stack: Stack, instant: Any) -> None:
    # GIVEN the stack clock set far from the instant its signing keys were created
    shown = stack.clock(now=instant())
    now = datetime.fromisoformat(shown).astimezone(UTC)
    try:
        # WHEN a citizen applies for a code and refreshes it
        citizen = (f"e2e-citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
        applied = stack.call("POST", "/v1/codes", as_=citizen, json=form(adult_id()))
        assert applied.status_code == 201, applied.text
        person_id = applied.json()["person_id"]
        refreshed = stack.call("GET", f"/v1/codes/{person_id}", as_=citizen)
        assert refreshed.status_code == 200, refreshed.text
        # THEN both codes verify with the published keys and were issued on the stack clock
        for token in (applied.json()["token"], refreshed.json()["token"]):
            claims = verified(stack, token, "code")
            assert claims["sub"] == person_id and abs(claims["exp"] - 300 - now.timestamp()) < 120

        # WHEN a manager registers a venue and the citizen checks in there
        manager = (f"e2e-venue_manager-{uuid.uuid4().hex[:8]}", ["venue_manager"])
        venue = stack.call(
            "POST",
            "/v1/venues",
            as_=manager,
            json={
                "name": f"超市 {uuid.uuid4().hex[:4]}",
                "type": "supermarket",
                "subject_name": "永辉超市股份有限公司",
                "credential_type": "uscc",
                "credential_number": "91330100799655058B",
                "region_code": COUNTY,
                "location": {"lat": LAT, "lng": LNG},
                "address": ADDRESS,
                "manager_phone": "13900000000",
            },
        )
        assert venue.status_code == 201, venue.text
        code = venue.json()["code"]
        # a compact venue code has no time claims: it verifies with the published venue key
        kid = jwt.get_unverified_header(code)["kid"]
        jwk = next(k for k in stack.call("GET", "/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
        assert set(jwt.decode(code, jwt.PyJWK(jwk).key, algorithms=["ES256"])) == {"v", "g"}
        checked_in = stack.call(
            "POST",
            "/v1/checkins",
            as_=citizen,
            json={
                "venue_code": code,
                "person_id": person_id,
                "companions": [],
                "location": {"lat": LAT + 0.002, "lng": LNG},
            },
        )
        # THEN the check-in is accepted with the citizen's colour
        assert checked_in.status_code == 201, checked_in.text
        (entry,) = checked_in.json()["checkins"]
        assert (entry["person_id"], entry["colour"], entry["verdict"]) == (person_id, "green", "pass")
    finally:
        stack.clock(now=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
