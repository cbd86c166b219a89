"""The claim checks the codes made through PyJWT, now explicit (healthcode.codes.jws reads the
token, healthcode.codes.tokens decides): each rule is shown on a code whose signature is
genuine (the stack's own key signed it), so only that rule can refuse it; what PyJWT ignored
(``nbf``, ``aud``) is still ignored; and every kind of code the stack signs verifies with PyJWT
from the key's JWK, as any offline verifier reads it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from healthcode.codes import jws
from healthcode.codes.tokens import (
    TYP_HEADER,
    is_compact_venue_code,
    is_personal_code,
    sign_code,
    sign_personal_code,
    sign_venue_code,
    verify_personal_code,
    verify_venue_code,
)
from healthcode.errors import InvalidInput

from tests.security.http import forgery
from tests.unit.test_personal_codes import KEYS as COMPACT_KEYS
from tests.unit.test_personal_codes import NOW as COMPACT_NOW
from tests.unit.test_personal_codes import PERSON, RETENTION, resolver
from tests.unit.test_tokens import ISSUER, NOW, legacy_keyset, verify

LEGACY = legacy_keyset(NOW - timedelta(days=1))
CODE_KEY = LEGACY.signing_key("code", NOW)
VENUE_KEY = COMPACT_KEYS.signing_key("venue", COMPACT_NOW)
VENUE_ID = "v-" + "ab" * 16


def full_claims(**changes: Any) -> dict[str, Any]:
    """A full-form personal code's claims, issued at NOW for five minutes; None drops a claim."""
    issued = int(NOW.timestamp())
    claims = {
        "lvl": 0,
        "col": "green",
        "iss": ISSUER,
        "sub": "p-1",
        "typ": "code",
        "iat": issued,
        "exp": issued + 300,
        "jti": "abc",
        **changes,
    }
    return {name: value for name, value in claims.items() if value is not None}


def raw_signed(header: str, claims: str, key: Any) -> str:
    """A token holding exactly the JSON texts ``header`` and ``claims``, signed by ``key``."""
    signing_input = f"{forgery.b64url(header.encode())}.{forgery.b64url(claims.encode())}"
    return f"{signing_input}.{forgery.b64url(forgery.es256(key)(signing_input.encode('ascii')))}"


def full_header(**extra: Any) -> str:
    return json.dumps({"alg": "ES256", "kid": CODE_KEY.kid, "typ": TYP_HEADER["code"], **extra})


def refused_full(token: str, now: Any = NOW) -> str:
    with pytest.raises(InvalidInput) as caught:
        verify(LEGACY, token, now=now)
    return caught.value.code


# -- full-form codes: the claims PyJWT required and typed ----------------------------------------


def test_the_genuine_control_verifies() -> None:
    token = jws.sign(full_claims(), CODE_KEY.private_key(), kid=CODE_KEY.kid, typ=TYP_HEADER["code"])
    assert verify(LEGACY, token).subject == "p-1"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "sub", "typ", "jti"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_every_required_claim_must_be_there(claim: str, how: str) -> None:
    claims = full_claims(**{claim: None})
    if how == "null":
        claims[claim] = None
    token = raw_signed(full_header(), json.dumps(claims), CODE_KEY.private_key())
    assert refused_full(token) == "invalid_code"


@pytest.mark.parametrize(("claim", "value"), [("jti", 7), ("jti", ["a"]), ("sub", 1), ("sub", {"p": 1})])
def test_subject_and_code_id_are_text_before_expiry_is_read(claim: str, value: Any) -> None:
    # GIVEN a genuine code whose sub or jti is not text WHEN read after it expired
    token = raw_signed(full_header(), json.dumps(full_claims(**{claim: value})), CODE_KEY.private_key())
    # THEN it is refused as invalid, as PyJWT refused it, not reported expired
    assert refused_full(token, now=NOW + timedelta(hours=1)) == "invalid_code"


@pytest.mark.parametrize(
    "extra", [{"b64": True}, {"cty": "JWT"}, {"x": 1}, {"crit": ["b64"], "b64": True}, {"zip": "DEF"}]
)
def test_a_full_form_code_has_exactly_its_header(extra: dict[str, Any]) -> None:
    token = raw_signed(full_header(**extra), json.dumps(full_claims()), CODE_KEY.private_key())
    assert refused_full(token) == "invalid_code"


def test_duplicate_claims_are_refused_not_read_last_wins() -> None:
    # GIVEN a genuinely signed code naming two subjects (PyJWT read the last one)
    claims = json.dumps(full_claims())[:-1] + ',"sub":"p-2"}'
    token = raw_signed(full_header(), claims, CODE_KEY.private_key())
    assert (
        jwt.decode(
            token,
            CODE_KEY.private_key().public_key(),
            algorithms=["ES256"],
            options={"verify_exp": False, "verify_iat": False},
        )["sub"]
        == "p-2"
    )
    # THEN it is refused
    assert refused_full(token) == "invalid_code"


def test_nbf_and_aud_stay_unread() -> None:
    # GIVEN a genuine code with a not-before an hour away and an audience (PyJWT was told to
    # check neither) THEN it verifies now, as before
    claims = full_claims(nbf=int(NOW.timestamp()) + 3600, aud="someone-else")
    token = jws.sign(claims, CODE_KEY.private_key(), kid=CODE_KEY.kid, typ=TYP_HEADER["code"])
    assert verify(LEGACY, token).claims["aud"] == "someone-else"


def test_padded_segments_are_refused() -> None:
    token = jws.sign(full_claims(), CODE_KEY.private_key(), kid=CODE_KEY.kid, typ=TYP_HEADER["code"])
    header, payload, signature = token.split(".")
    padded = [
        f"{header}.{payload}.{signature}==",
        f"{header}{'=' * (-len(header) % 4)}.{payload}.{signature}",
    ]
    for text in padded:
        if text != token:
            assert refused_full(text) == "invalid_code"


# -- compact codes ------------------------------------------------------------------------------


def compact_personal(claims: str, header: str | None = None) -> str:
    key = COMPACT_KEYS.signing_key("code", COMPACT_NOW)
    return raw_signed(header or json.dumps({"alg": "ES256", "kid": key.kid}), claims, key.private_key())


def test_a_personal_code_naming_two_levels_is_refused() -> None:
    genuine, _ = sign_personal_code(
        COMPACT_KEYS, person_id=PERSON, level=0, lifetime=timedelta(minutes=5), now=COMPACT_NOW
    )
    claims = jws.parse(genuine).unverified_claims()
    # GIVEN the genuine claims, then a second "lvl": green to one reader, red to another
    text = json.dumps(claims, separators=(",", ":"))[:-1] + ',"lvl":2}'
    token = compact_personal(text)
    with pytest.raises(InvalidInput) as caught:
        verify_personal_code(token, resolve=resolver(), now=COMPACT_NOW)
    assert caught.value.code == "invalid_code"
    # AND the control, the same claims once each, verifies
    control = compact_personal(json.dumps(claims, separators=(",", ":")))
    assert verify_personal_code(control, resolve=resolver(), now=COMPACT_NOW).claims["lvl"] == 0


def test_a_personal_code_with_a_critical_header_is_not_taken_for_one() -> None:
    key = COMPACT_KEYS.signing_key("code", COMPACT_NOW)
    token = compact_personal('{"sub":"x"}', json.dumps({"alg": "ES256", "kid": key.kid, "crit": ["exp"]}))
    assert not is_personal_code(token)


def test_a_venue_code_naming_two_generations_is_refused() -> None:
    genuine = sign_venue_code(COMPACT_KEYS, venue_id=VENUE_ID, generation=3, now=COMPACT_NOW)
    claims = jws.parse(genuine).unverified_claims()
    text = json.dumps(claims, separators=(",", ":"))[:-1] + ',"g":9}'
    token = raw_signed(json.dumps({"alg": "ES256", "kid": VENUE_KEY.kid}), text, VENUE_KEY.private_key())
    assert is_compact_venue_code(token)

    def resolve(kid: str) -> Any:
        return VENUE_KEY.private_key().public_key() if kid == VENUE_KEY.kid else None

    with pytest.raises(InvalidInput) as caught:
        verify_venue_code(token, resolve=resolve)
    assert caught.value.code == "invalid_venue_code"
    assert verify_venue_code(genuine, resolve=resolve).generation == 3


# -- PyJWT reads every code the stack signs, from JWKS -------------------------------------------


def _jwk_key(keys: Any, kid: str) -> Any:
    document = keys.jwks(COMPACT_NOW, RETENTION)
    return jwt.PyJWK(next(k for k in document["keys"] if k["kid"] == kid)).key


def test_pyjwt_verifies_every_kind_of_code_from_jwks() -> None:
    personal, _ = sign_personal_code(
        COMPACT_KEYS, person_id=PERSON, level=1, lifetime=timedelta(minutes=5), now=COMPACT_NOW
    )
    paper, _ = sign_code(
        COMPACT_KEYS,
        kind="paper",
        issuer=ISSUER,
        subject=PERSON,
        claims={"lvl": 0},
        lifetime=timedelta(days=90),
        now=COMPACT_NOW,
    )
    venue = sign_venue_code(COMPACT_KEYS, venue_id=VENUE_ID, generation=1, now=COMPACT_NOW)
    for token, headers in (
        (personal, {"alg", "kid"}),
        (paper, {"alg", "kid", "typ"}),
        (venue, {"alg", "kid"}),
    ):
        header = jwt.get_unverified_header(token)
        assert set(header) == headers
        claims = jwt.decode(
            token, _jwk_key(COMPACT_KEYS, header["kid"]), algorithms=["ES256"], options={"verify_exp": False}
        )
        assert claims == jws.parse(token).unverified_claims()
