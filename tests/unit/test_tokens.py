"""Signed codes in the full form (paper codes, and personal codes signed before compact codes by
a code key whose id names no province): signing, verification order, every forged-code class,
rotation and JWKS. Compact personal codes: tests/unit/test_personal_codes.py."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode.codes.tokens import (
    TYP_HEADER,
    KeySet,
    Retention,
    bootstrap_keyset,
    local_resolver,
    new_key,
    sign_code,
    verify_code,
)
from healthcode.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)
ISSUER = "urn:healthcode:520000"
PROVINCE = "520000"
RETENTION = Retention(code=timedelta(days=365), venue=timedelta(days=3650))


def legacy_keyset(now: datetime) -> KeySet:
    """A key set from before province-named keys: a code key named ``cYYYYMMDD-…`` (it signed
    personal and paper codes in the full form) and a venue key."""
    code = new_key("code", now=now, province=PROVINCE, activates_at=now - timedelta(days=1))
    venue = new_key("venue", now=now, province=PROVINCE, activates_at=now - timedelta(days=1))
    return KeySet(keys=(replace(code, kid=f"c{now:%Y%m%d}-{secrets.token_hex(4)}"), venue))


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return legacy_keyset(NOW - timedelta(days=1))


def verify(keys: KeySet, token: str, kinds: tuple[str, ...] = ("code",), now: datetime = NOW):  # type: ignore[no-untyped-def]
    resolve = local_resolver(keys, issuer=ISSUER, now=now, retention=RETENTION)
    return verify_code(token, kinds=kinds, resolve=resolve, issuers=[ISSUER], now=now)  # type: ignore[arg-type]


def sign(
    keys: KeySet, kind: str = "code", lifetime: timedelta = timedelta(minutes=5), now: datetime = NOW
) -> str:
    token, _ = sign_code(
        keys,
        kind=kind,
        issuer=ISSUER,
        subject="p-1",
        claims={"lvl": 0, "col": "green"},  # type: ignore[arg-type]
        lifetime=lifetime,
        now=now,
    )
    return token


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_fresh_code_verifies_with_its_claims(keys: KeySet) -> None:
    # GIVEN a dynamic code signed now WHEN verified a minute later THEN its claims come back
    token = sign(keys)
    code = verify(keys, token, now=NOW + timedelta(minutes=1))
    assert code.subject == "p-1" and code.kind == "code" and code.claims["lvl"] == 0
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["typ"] == TYP_HEADER["code"] and header["kid"] == code.kid


def test_code_carries_no_personal_data(keys: KeySet) -> None:
    claims = jwt.decode(sign(keys), options={"verify_signature": False})
    assert set(claims) == {"iss", "sub", "typ", "iat", "exp", "jti", "lvl", "col"}


def test_expired_on_the_clock(keys: KeySet) -> None:
    token = sign(keys)
    with pytest.raises(InvalidInput) as caught:
        verify(keys, token, now=NOW + timedelta(minutes=5))
    assert caught.value.code == "code_expired"
    verify(keys, token, now=NOW + timedelta(minutes=5) - timedelta(seconds=1))


def test_issued_in_the_future_is_refused(keys: KeySet) -> None:
    token = sign(keys, now=NOW + timedelta(minutes=2))
    with pytest.raises(InvalidInput) as caught:
        verify(keys, token, now=NOW)
    assert caught.value.code == "invalid_code"


def _forgeries(keys: KeySet) -> dict[str, str]:
    good = sign(keys)
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    public_pem = (
        keys.signing_key("code", NOW)
        .private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    other = ec.generate_private_key(ec.SECP256R1())
    tampered = dict(claims, lvl=0, sub="p-2")
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': TYP_HEADER['code'], 'kid': kid})}.{payload}.",
        "HS256 with the public key": b64({"alg": "HS256", "typ": TYP_HEADER["code"], "kid": kid})
        + "."
        + payload
        + "."
        + base64.urlsafe_b64encode(
            __import__("hmac").new(public_pem, f"{header}.{payload}".encode(), "sha256").digest()
        )
        .rstrip(b"=")
        .decode(),
        "other key, right kid": jwt.encode(
            claims, other, algorithm="ES256", headers={"kid": kid, "typ": TYP_HEADER["code"]}
        ),
        "embedded jwk": jwt.encode(
            claims,
            other,
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"], "jwk": {"kty": "EC"}},
        ),
        "jku": jwt.encode(
            claims,
            other,
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"], "jku": "https://evil/jwks"},
        ),
        "x5u": jwt.encode(
            claims,
            other,
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"], "x5u": "https://evil/cert"},
        ),
        "kid path trick": jwt.encode(
            claims, other, algorithm="ES256", headers={"kid": "../../dev/null", "typ": TYP_HEADER["code"]}
        ),
        "tampered payload": f"{header}.{b64(tampered)}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "wrong issuer": jwt.encode(
            dict(claims, iss="urn:healthcode:350000"),
            keys.signing_key("code", NOW).private_key(),
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"]},
        ),
        "missing exp": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            keys.signing_key("code", NOW).private_key(),
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"]},
        ),
        "missing iat": jwt.encode(
            {k: v for k, v in claims.items() if k != "iat"},
            keys.signing_key("code", NOW).private_key(),
            algorithm="ES256",
            headers={"kid": kid, "typ": TYP_HEADER["code"]},
        ),
        "venue code offered as personal": sign(keys, kind="venue"),
        "garbage": "not-a-token",
        "three dots of nothing": "..",
    }


@pytest.mark.parametrize("name", sorted(_forgeries(legacy_keyset(NOW)).keys()))
def test_every_forgery_is_refused_as_invalid_code(keys: KeySet, name: str) -> None:
    token = _forgeries(keys)[name]
    with pytest.raises(InvalidInput) as caught:
        verify(keys, token)
    assert caught.value.code == "invalid_code"
    assert caught.value.field == "code"


def test_personal_code_offered_as_venue_code_is_invalid_venue_code(keys: KeySet) -> None:
    with pytest.raises(InvalidInput) as caught:
        verify(keys, sign(keys, kind="code"), kinds=("venue",))
    assert caught.value.code == "invalid_venue_code" and caught.value.field == "venue_code"


@given(st.text(max_size=300))
def test_arbitrary_text_never_verifies_and_never_crashes(text: str) -> None:
    keys = bootstrap_keyset(NOW, province=PROVINCE)
    with pytest.raises(InvalidInput):
        verify(keys, text)


def test_rotation_publishes_before_signing_and_keeps_old_keys_while_codes_live() -> None:
    # GIVEN a key set in use from before paper keys (its code key signs paper codes)
    keys = legacy_keyset(NOW)
    old = keys.signing_key("code", NOW)
    old_token = sign(keys, kind="paper", lifetime=timedelta(days=365))
    assert jwt.get_unverified_header(old_token)["kid"] == old.kid
    # WHEN the code key rotates with a 10-minute activation delay
    rotated = keys.rotate("code", now=NOW, activation_delay=timedelta(minutes=10), province=PROVINCE)
    fresh = next(k for k in rotated.keys if k.kid not in {k.kid for k in keys.keys})
    # THEN the new key is in JWKS at once but the old one keeps signing until activation
    assert fresh.kid in {k["kid"] for k in rotated.jwks(NOW, RETENTION)["keys"]}
    assert rotated.signing_key("code", NOW + timedelta(minutes=9)).kid == old.kid
    assert rotated.signing_key("code", NOW + timedelta(minutes=10)).kid == fresh.kid
    # AND the venue key is untouched
    assert rotated.signing_key("venue", NOW).kid == keys.signing_key("venue", NOW).kid
    # AND a paper code signed by the old key verifies for its whole life
    later = NOW + timedelta(days=300)
    verify(rotated, old_token, kinds=("paper",), now=later)
    # AND once every code it signed has expired, the old key leaves JWKS and can be pruned
    gone = NOW + timedelta(minutes=10) + RETENTION.code
    assert old.kid not in {k["kid"] for k in rotated.jwks(gone, RETENTION)["keys"]}
    assert old.kid not in {k.kid for k in rotated.prune(gone, RETENTION).keys}


def test_jwks_holds_public_keys_only() -> None:
    keys = legacy_keyset(NOW)
    document = keys.jwks(NOW, RETENTION)
    assert len(document["keys"]) == 2
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg", "hc_use"}
        assert jwk["alg"] == "ES256" and jwk["crv"] == "P-256"
    # a verifier can rebuild the key from the JWKS alone
    token = sign(keys)
    public = jwt.PyJWK(document["keys"][[k["hc_use"] for k in document["keys"]].index("code")]).key
    claims = jwt.decode(token, public, algorithms=["ES256"], options={"verify_exp": False})
    assert claims["sub"] == "p-1"


def test_key_set_round_trips_through_json() -> None:
    keys = bootstrap_keyset(NOW, province=PROVINCE).rotate(
        "venue", now=NOW, activation_delay=timedelta(minutes=10), province=PROVINCE
    )
    again = KeySet.from_json(keys.to_json())
    assert [k.kid for k in again.keys] == [k.kid for k in keys.keys]
    assert again.keys[0].retired_at == keys.keys[0].retired_at or again.keys[1].retired_at is not None


def test_new_key_kid_names_its_province_and_use() -> None:
    # a code or paper key's id names the province and the use, in at most 12 characters
    code_kid = new_key("code", now=NOW, province=PROVINCE).kid
    paper_kid = new_key("paper", now=NOW, province="350000").kid
    assert code_kid.startswith("520000c") and paper_kid.startswith("350000p")
    assert len(code_kid) == len(paper_kid) == 12
    venue_kid = new_key("venue", now=NOW, province=PROVINCE).kid  # short: it is in every compact venue code
    assert venue_kid.startswith("v") and len(venue_kid) == 9
    with pytest.raises(ValueError):
        new_key("code", now=NOW, province="5200")


def test_a_key_id_is_never_reused_within_a_key_set() -> None:
    keys = bootstrap_keyset(NOW, province=PROVINCE)
    for _ in range(40):
        keys = keys.rotate("code", now=NOW, activation_delay=timedelta(minutes=10), province=PROVINCE)
    assert len({k.kid for k in keys.keys}) == len(keys.keys)


def test_chinese_claims_are_carried_as_utf8_not_escapes(keys: KeySet) -> None:
    token, _ = sign_code(
        keys,
        kind="venue",
        issuer=ISSUER,
        subject="v-1",
        claims={"name": "贵阳火车站"},
        lifetime=timedelta(days=1),
        now=NOW,
    )
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
    assert "贵阳火车站".encode() in payload and b"\\u" not in payload
    assert verify(keys, token, kinds=("venue",)).claims["name"] == "贵阳火车站"
