"""Public routes on moto: health, JWKS, OpenAPI."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import jwt
import pytest
from healthcode import clock
from healthcode.codes import keystore
from healthcode.codes.tokens import KeySet, new_key, person_id_from_claim
from healthcode.errors import InvalidInput

from tests.handlers.harness import InProcessStack


def test_health_names_the_province(aws_stack: InProcessStack) -> None:
    answer = aws_stack.call("GET", "/v1/health")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "province": "520000"}


def test_jwks_verifies_a_code_the_stack_signed(aws_stack: InProcessStack) -> None:
    # GIVEN a personal code signed with the stack's current key
    person_id = "p-" + "7" * 32
    token, _ = keystore.sign_personal(person_id, level=0, colour="green", lifetime=timedelta(minutes=5))
    # WHEN a verifier fetches the JWKS THEN it can check the code with the key named by kid
    answer = aws_stack.call("GET", "/.well-known/jwks.json")
    assert answer.headers["cache-control"] == f"public, max-age={keystore.JWKS_MAX_AGE_SECONDS}"
    document = answer.json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in document["keys"] if k["kid"] == kid)
    assert "d" not in jwk and jwk["hc_use"] == "code"  # never a private part
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    assert person_id_from_claim(claims["sub"]) == person_id
    # AND the JWKS names each key's use: code, paper, venue
    assert {k["hc_use"] for k in document["keys"]} == {"code", "paper", "venue"}


def test_a_stack_keyed_before_compact_codes_is_upgraded_once(aws_stack: InProcessStack) -> None:
    # GIVEN the secret holds a code key from before province-named keys, and a venue key
    now = clock.now().replace(microsecond=0)
    clock.freeze(now)
    code = new_key("code", now=now, province="520000", activates_at=clock.EARLIEST)
    venue = new_key("venue", now=now, province="520000", activates_at=clock.EARLIEST)
    legacy = KeySet(keys=(replace(code, kid=f"c{now:%Y%m%d}-0123abcd"), venue))
    keystore._store(legacy)
    # WHEN the key bootstrap runs (a stack update) THEN it adds a province code key and a paper key
    upgraded = keystore.ensure_bootstrapped()
    added = [k for k in upgraded.keys if k.kid not in {code.kid, venue.kid} and k.kid != legacy.keys[0].kid]
    assert sorted(k.use for k in added) == ["code", "paper"]
    assert all(k.activates_at == now + keystore.ACTIVATION_DELAY for k in added)
    assert keystore.ensure_bootstrapped().to_json() == upgraded.to_json()  # idempotent
    # AND until they sign, personal codes keep the full form older verifiers read
    older, _ = keystore.sign_personal(
        "p-" + "7" * 32, level=1, colour="yellow", lifetime=timedelta(minutes=5)
    )
    assert jwt.get_unverified_header(older)["typ"] == "hc-code+jwt"
    assert keystore.verify(older, kinds=("code",)).claims["col"] == "yellow"
    # AND afterwards they are compact, and the older paper codes still verify
    paper, _ = keystore.sign("paper", subject="p-" + "7" * 32, claims={}, lifetime=timedelta(days=365))
    clock.freeze(now + keystore.ACTIVATION_DELAY)
    compact, _ = keystore.sign_personal(
        "p-" + "7" * 32, level=1, colour="yellow", lifetime=timedelta(minutes=5)
    )
    assert "typ" not in jwt.get_unverified_header(compact)
    assert keystore.verify(compact, kinds=("code",)).subject == "p-" + "7" * 32
    assert keystore.verify(paper, kinds=("paper",)).subject == "p-" + "7" * 32


def test_the_kind_is_bound_by_the_key_on_the_stack(aws_stack: InProcessStack) -> None:
    # a paper code is never a personal code, a personal code never a paper code
    person_id = "p-" + "8" * 32
    personal, _ = keystore.sign_personal(person_id, level=0, colour="green", lifetime=timedelta(minutes=5))
    paper, _ = keystore.sign("paper", subject=person_id, claims={}, lifetime=timedelta(days=365))
    for token, kinds in ((personal, ("paper",)), (paper, ("code",)), (personal, ("venue",))):
        with pytest.raises(InvalidInput):
            keystore.verify(token, kinds=kinds)  # type: ignore[arg-type]
    assert keystore.verify(personal, kinds=("code", "paper")).kind == "code"
    assert keystore.verify(paper, kinds=("code", "paper")).kind == "paper"


def test_rotation_keeps_the_old_key_published(aws_stack: InProcessStack) -> None:
    before = {k["kid"] for k in aws_stack.call("GET", "/.well-known/jwks.json").json()["keys"]}
    keystore.rotate("code")
    after = {k["kid"] for k in aws_stack.call("GET", "/.well-known/jwks.json").json()["keys"]}
    assert before < after and len(after) == len(before) + 1


def test_openapi_is_served(aws_stack: InProcessStack) -> None:
    answer = aws_stack.call("GET", "/v1/openapi.json")
    assert answer.status == 200
    assert answer.json()["paths"]["/v1/health"]["get"]["security"] == []


def test_personal_data_keys_from_the_template_work(aws_stack: InProcessStack) -> None:
    """The template's KMS key and generated HMAC secret are what pii uses, unchanged."""
    from healthcode.protection import pii

    digest = pii.keyed_hash("id_number", "520102199003071234")
    assert digest.startswith("h1:1:") and digest == pii.keyed_hash("id_number", "520102199003071234")
    token = pii.encrypt("张三", context={"person_id": "p-1", "field": "name"})
    assert pii.decrypt(token, context={"person_id": "p-1", "field": "name"}) == "张三"
