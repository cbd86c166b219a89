"""National mutual recognition: a Guizhou checkpoint verifies a Fujian citizen's dynamic code
because Fujian's JWKS is on Guizhou's trust list — two local stacks, two provinces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from healthcode.rules.idcard import check_character

from tests.e2e.stack import Stack, running_stack

SCANNER = ("gz-scanner", ["scanner"])
MANAGER = ("gz-manager", ["venue_manager"])


@pytest.fixture(scope="module")
def provinces() -> Iterator[tuple[Stack, Stack, Stack]]:
    with running_stack("350000") as fujian, running_stack("410000") as henan:
        trust = f"TrustList=350000={fujian.url}/.well-known/jwks.json"
        with running_stack("520000", extra=["--parameter", trust]) as guizhou:
            yield fujian, henan, guizhou


def _citizen_code(stack: Stack, region: str, first15: str) -> tuple[str, str]:
    first17 = f"{first15}{uuid.uuid4().int % 100:02d}"
    body = {
        "name": "林小华",
        "id_number": first17 + check_character(first17),
        "phone": "13800000000",
        "address": "测试地址",
        "region_code": region,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    who = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    applied = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert applied.status_code in (200, 201), applied.text
    person_id = applied.json()["person_id"]
    refreshed = stack.call("GET", f"/v1/codes/{person_id}", as_=who)
    assert refreshed.status_code == 200, refreshed.text
    return person_id, str(refreshed.json()["token"])


def _checkpoint(stack: Stack) -> str:
    body: dict[str, Any] = {
        "name": "贵阳北站 1 号口",
        "type": "transit_hub",
        "subject_name": "贵阳北站",
        "credential_type": "uscc",
        "credential_number": "91350100M000100Y43",
        "region_code": "520102",
        "location": {"lat": 26.62, "lng": 106.68},
        "address": "贵阳市南明区",
        "manager_phone": "13900000000",
    }
    answer = stack.call("POST", "/v1/venues", as_=MANAGER, json=body)
    assert answer.status_code == 201, answer.text
    venue_id = str(answer.json()["venue_id"])
    assigned = stack.call("PUT", f"/v1/venues/{venue_id}/staff/{SCANNER[0]}", as_=MANAGER)
    assert assigned.status_code == 200, assigned.text
    return venue_id


def _verify(stack: Stack, code: str, checkpoint: str) -> Any:
    return stack.call(
        "POST", "/v1/verifications", as_=SCANNER, json={"code": code, "checkpoint_id": checkpoint}
    )


def test_a_trusted_provinces_code_is_verified(provinces: tuple[Stack, Stack, Stack]) -> None:
    fujian, _, guizhou = provinces
    # GIVEN a Fujian citizen's fresh code and a Guizhou checkpoint
    _, token = _citizen_code(fujian, "350102", "350102198802141")
    checkpoint = _checkpoint(guizhou)
    # WHEN Guizhou staff scan it
    answer = _verify(guizhou, token, checkpoint)
    # THEN it is verified against Fujian's keys, judged by Guizhou's rules and stored
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["issuer_province"] == "350000" and result["issuer_colour"] == "green"
    assert (result["verdict"], result["colour"], result["risk_level"]) == ("pass", "green", 0)


def test_an_untrusted_provinces_code_is_refused(provinces: tuple[Stack, Stack, Stack]) -> None:
    _, henan, guizhou = provinces
    _, token = _citizen_code(henan, "410102", "410102198802141")
    answer = _verify(guizhou, token, _checkpoint(guizhou))
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_code"


def test_a_trusted_provinces_code_is_still_checked_for_expiry(provinces: tuple[Stack, Stack, Stack]) -> None:
    fujian, _, guizhou = provinces
    _, token = _citizen_code(fujian, "350102", "350102198802141")
    checkpoint = _checkpoint(guizhou)
    guizhou.clock(advance_seconds=600)
    try:
        answer = _verify(guizhou, token, checkpoint)
    finally:
        guizhou.clock(advance_seconds=-600)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "code_expired"


def test_the_trust_list_does_not_let_a_forged_issuer_through(provinces: tuple[Stack, Stack, Stack]) -> None:
    fujian, _, guizhou = provinces
    _, token = _citizen_code(fujian, "350102", "350102198802141")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload[:-2]}AA.{signature}"
    answer = _verify(guizhou, forged, _checkpoint(guizhou))
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_code"
