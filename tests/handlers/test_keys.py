"""Public routes on moto: health, JWKS, OpenAPI."""

from __future__ import annotations

import jwt
from healthcode.codes import keystore

from tests.handlers.harness import InProcessStack


def test_health_names_the_province(aws_stack: InProcessStack) -> None:
    answer = aws_stack.call("GET", "/v1/health")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "province": "520000"}


def test_jwks_verifies_a_code_the_stack_signed(aws_stack: InProcessStack) -> None:
    # GIVEN a code signed with the stack's current key
    from datetime import timedelta

    token, _ = keystore.sign("code", subject="p-1", claims={"lvl": 0}, lifetime=timedelta(minutes=5))
    # WHEN a verifier fetches the JWKS THEN it can check the code with the key named by kid
    document = aws_stack.call("GET", "/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in document["keys"] if k["kid"] == kid)
    assert "d" not in jwk  # never a private part
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    assert claims["sub"] == "p-1"


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
