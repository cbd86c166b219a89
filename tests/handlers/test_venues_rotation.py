"""Venue codes survive signing-key rotation, and one venue per phone survives a PII hash-key rotation
(each test on its own moto stack: they rotate the stack's keys)."""

from __future__ import annotations

import json

import jwt
from healthcode import clock
from healthcode.codes import keystore
from healthcode.protection import pii

from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import make_person, manager, register


def test_rotating_venue_keys_keeps_printed_codes_valid(aws_stack: InProcessStack) -> None:
    stack = aws_stack
    # GIVEN a venue whose code was printed
    who = manager()
    created = register(stack, who).json()
    old_kid = jwt.get_unverified_header(created["code"])["kid"]
    # WHEN ops rotate the venue key twice and a year passes
    keystore.rotate("venue")
    clock.advance(3600)
    keystore.rotate("venue")
    clock.advance(365 * 86400)
    keystore.invalidate()
    # THEN the printed code still verifies, and the old key is still published
    assert keystore.verify_venue(created["code"]).venue_id == created["venue_id"]
    kids = {k["kid"] for k in stack.call("GET", "/.well-known/jwks.json").json()["keys"]}
    assert old_kid in kids
    # AND a new venue is signed with the newest venue key
    newer = register(stack, who).json()
    assert jwt.get_unverified_header(newer["code"])["kid"] != old_kid


def test_one_venue_per_phone_holds_across_a_hash_key_rotation(aws_stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a Jiangxi venue registered while hash key 1 was current
    province("360000")
    who = manager()
    make_person(who[0])
    assert register(aws_stack, who, manager_phone="13766667777").status == 201
    # WHEN ops rotate the PII hash key (version 2 becomes current; version 1 kept for lookups)
    secret = aws_stack.template.ref("PiiHashSecret")
    client = aws_stack.clients["secretsmanager"]
    document = json.loads(client.get_secret_value(SecretId=secret)["SecretString"])
    document.update({"current": "2", "hmac_key_2": "k" * 64})
    client.put_secret_value(SecretId=secret, SecretString=json.dumps(document))
    pii.reset_caches()
    # THEN the same phone still cannot hold a second venue: the old guard is found under version 1
    again = register(aws_stack, who, manager_phone="13766667777", name="二号门")
    assert (again.status, again.error_code) == (409, "phone_has_venue")
    assert register(aws_stack, who, manager_phone="13766668888", name="二号门").status == 201
