"""Compact personal codes: the exact header and claims, the QR symbol they fit, the kind bound by
the key's use, every forged-code class, the upgrade of a stack keyed before them, and the key
activation delay against every cache of the key set."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode.codes import keystore, qr, trust
from healthcode.codes.tokens import (
    MAX_KID_CHARS,
    TYP_HEADER,
    KeySet,
    Retention,
    bootstrap_keyset,
    is_personal_code,
    key_verifies,
    local_resolver,
    missing_uses,
    new_key,
    person_claim,
    person_id_from_claim,
    sign_code,
    sign_personal_code,
    sign_venue_code,
    verify_code,
    verify_personal_code,
    verify_venue_code,
)
from healthcode.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
PROVINCE = "520000"
ISSUER = "urn:healthcode:520000"
RETENTION = Retention(code=timedelta(days=365), venue=timedelta(days=3650))
PERSON = "p-" + "0123456789abcdef" * 2
KEYS = bootstrap_keyset(NOW - timedelta(days=1), province=PROVINCE)
persons = st.uuids().map(lambda u: f"p-{u.hex}")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def resolver(keys: KeySet = KEYS):  # type: ignore[no-untyped-def]
    """This province's published keys, as ``keystore`` resolves a compact code's key."""
    published = {key.kid: key for key in keys.published(NOW, RETENTION)}

    def resolve(province: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = published.get(kid) if province == PROVINCE else None
        if key is None or not key_verifies(key.use, key.kid, "code", compact=True):
            return None
        return key.private_key().public_key()

    return resolve


def sign(level: int = 0, *, person_id: str = PERSON, lifetime: timedelta = timedelta(minutes=5)) -> str:
    token, _ = sign_personal_code(KEYS, person_id=person_id, level=level, lifetime=lifetime, now=NOW)
    return token


def refused(token: str, now: datetime = NOW) -> str:
    with pytest.raises(InvalidInput) as caught:
        verify_personal_code(token, resolve=resolver(), now=now)
    assert caught.value.field == "code"
    return caught.value.code


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


# -- shape -----------------------------------------------------------------------------------------


def test_a_compact_code_holds_exactly_its_header_and_claims() -> None:
    header, claims = parts(sign(level=2))
    key = KEYS.signing_key("code", NOW)
    assert header == {"alg": "ES256", "kid": key.kid}
    assert len(key.kid) <= MAX_KID_CHARS and key.kid.startswith(PROVINCE + "c")
    assert set(claims) == {"sub", "lvl", "exp"} and claims["lvl"] == 2
    assert len(claims["sub"]) <= 22 and person_id_from_claim(claims["sub"]) == PERSON
    assert claims["exp"] == int((NOW + timedelta(minutes=5)).timestamp())


@given(persons, st.sampled_from([0, 1, 2]), st.integers(min_value=30, max_value=3600))
def test_every_personal_code_fits_qr_version_10_at_level_m(person_id: str, level: int, seconds: int) -> None:
    # GIVEN any person, level and policy lifetime WHEN the code is signed
    token, _ = sign_personal_code(
        KEYS, person_id=person_id, level=level, lifetime=timedelta(seconds=seconds), now=NOW
    )
    # THEN its symbol is at level M and version 10 or less
    symbol = qr.personal_symbol(token)
    assert symbol.error_correction == "M" and symbol.version <= qr.PERSONAL_MAX_VERSION
    assert len(token) <= qr.BYTE_CAPACITY["M"][qr.PERSONAL_MAX_VERSION - 1]


def test_a_fresh_code_verifies_as_the_provinces_code() -> None:
    code = verify_personal_code(sign(level=1), resolve=resolver(), now=NOW + timedelta(minutes=1))
    assert (code.kind, code.issuer, code.subject, code.claims["lvl"]) == ("code", ISSUER, PERSON, 1)
    assert code.issued_at is None and code.expires_at == NOW + timedelta(minutes=5)


def test_expiry_is_on_the_clock() -> None:
    token = sign()
    verify_personal_code(token, resolve=resolver(), now=NOW + timedelta(minutes=5, seconds=-1))
    assert refused(token, now=NOW + timedelta(minutes=5)) == "code_expired"


@given(persons)
def test_a_person_id_round_trips_through_its_22_character_claim(person_id: str) -> None:
    claim = person_claim(person_id)
    assert len(claim) == 22 and person_id_from_claim(claim) == person_id


@pytest.mark.parametrize("person_id", ["p-1", "p-" + "A" * 32, "v-" + "0" * 32, "p-" + "0" * 31])
def test_only_person_ids_are_signed(person_id: str) -> None:
    with pytest.raises(ValueError):
        sign(person_id=person_id)


def test_a_level_outside_the_canonical_three_is_not_signed() -> None:
    for level in (-1, 3, True):
        with pytest.raises(ValueError):
            sign(level=level)


# -- the kind is bound by the key's use -----------------------------------------------------------


def _compact(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": None})


def test_a_paper_or_venue_key_never_verifies_a_personal_code() -> None:
    _, claims = parts(sign())
    for use in ("paper", "venue"):
        key = KEYS.signing_key(use, NOW)  # type: ignore[arg-type]
        assert refused(_compact(claims, key.private_key(), key.kid)) == "invalid_code", use
    assert not key_verifies("paper", KEYS.signing_key("paper", NOW).kid, "code", compact=True)
    assert not key_verifies("venue", KEYS.signing_key("venue", NOW).kid, "code", compact=True)


def test_a_personal_code_key_verifies_nothing_else() -> None:
    code_key = KEYS.signing_key("code", NOW)
    resolve = local_resolver(KEYS, issuer=ISSUER, now=NOW, retention=RETENTION)
    # a full-form paper or personal code signed by the personal-code key is refused
    for kind in ("paper", "code"):
        claims = {"iss": ISSUER, "sub": PERSON, "typ": kind, "iat": int(NOW.timestamp()), "jti": "j"}
        claims["exp"] = claims["iat"] + 60
        token = jwt.encode(
            claims,
            code_key.private_key(),
            algorithm="ES256",
            headers={"kid": code_key.kid, "typ": TYP_HEADER[kind]},  # type: ignore[index]
        )
        with pytest.raises(InvalidInput) as caught:
            verify_code(token, kinds=(kind,), resolve=resolve, issuers=[ISSUER], now=NOW)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_code", kind
    # a compact venue-shaped code signed by it is no venue code
    venue_shaped = _compact({"v": "A" * 22, "g": 0}, code_key.private_key(), code_key.kid)
    venues = {k.kid: k for k in KEYS.keys if k.use == "venue"}
    with pytest.raises(InvalidInput) as caught:
        verify_venue_code(
            venue_shaped,
            resolve=lambda kid: venues[kid].private_key().public_key() if kid in venues else None,
        )
    assert caught.value.code == "invalid_venue_code"
    # and the full form of a personal code is not signed by it at all
    with pytest.raises(ValueError):
        sign_code(KEYS, kind="code", issuer=ISSUER, subject=PERSON, claims={}, lifetime=timedelta(minutes=5))


def test_a_personal_code_is_neither_a_paper_code_nor_a_venue_code() -> None:
    token = sign()
    resolve = local_resolver(KEYS, issuer=ISSUER, now=NOW, retention=RETENTION)
    with pytest.raises(InvalidInput) as caught:
        verify_code(token, kinds=("paper",), resolve=resolve, issuers=[ISSUER], now=NOW)
    assert caught.value.code == "invalid_code"
    venues = {k.kid: k for k in KEYS.keys if k.use == "venue"}
    with pytest.raises(InvalidInput) as caught:
        verify_venue_code(
            token, resolve=lambda kid: venues[kid].private_key().public_key() if kid in venues else None
        )
    assert caught.value.code == "invalid_venue_code"


def test_a_paper_code_or_a_venue_code_is_not_a_personal_code() -> None:
    paper, _ = sign_code(
        KEYS, kind="paper", issuer=ISSUER, subject=PERSON, claims={}, lifetime=timedelta(days=365), now=NOW
    )
    assert jwt.get_unverified_header(paper)["kid"] == KEYS.signing_key("paper", NOW).kid
    venue = sign_venue_code(KEYS, venue_id="v-" + "1" * 32, generation=0, now=NOW)
    assert not is_personal_code(paper) and not is_personal_code(venue)
    assert refused(paper) == refused(venue) == "invalid_code"


# -- forgeries -------------------------------------------------------------------------------------


def _forgeries() -> dict[str, str]:
    good = sign(level=2)
    header, payload, signature = good.split(".")
    _, claims = parts(good)
    key = KEYS.signing_key("code", NOW)
    mine = key.private_key()
    other = ec.generate_private_key(ec.SECP256R1())
    public_pem = mine.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_head = b64({"alg": "HS256", "kid": key.kid})
    hs = b64(hmac.new(public_pem, f"{hs_head}.{payload}".encode(), hashlib.sha256).digest())
    exp = claims["exp"]
    return {
        "alg none": f"{b64({'alg': 'none', 'kid': key.kid})}.{payload}.",
        "HS256 keyed with the public key": f"{hs_head}.{payload}.{hs}",
        "another key under the stack's kid": _compact(claims, other, key.kid),
        "unknown kid of this province": _compact(claims, other, "520000c00000"),
        "kid naming another province": _compact(claims, other, "350000c12345"),
        "kid of no province": _compact(claims, mine, "c20261206-0123abcd"),
        "kid path trick": _compact(claims, mine, "../../dev/null"),
        "tampered subject": f"{header}.{b64({**claims, 'sub': person_claim('p-' + 'f' * 32)})}.{signature}",
        "tampered level": f"{header}.{b64({**claims, 'lvl': 0})}.{signature}",
        "tampered expiry": f"{header}.{b64({**claims, 'exp': exp + 60})}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "signature cut": f"{header}.{payload}.",
        "an extra claim": _compact({**claims, "iat": exp - 300}, mine, key.kid),
        "a missing claim": _compact({"sub": claims["sub"], "exp": exp}, mine, key.kid),
        "a typ header": jwt.encode(claims, mine, algorithm="ES256", headers={"kid": key.kid, "typ": "JWT"}),
        "an embedded jwk": jwt.encode(
            claims, other, algorithm="ES256", headers={"kid": key.kid, "typ": None, "jwk": {"kty": "EC"}}
        ),
        "level 3": _compact({**claims, "lvl": 3}, mine, key.kid),
        "level true": _compact({**claims, "lvl": True}, mine, key.kid),
        "level as text": _compact({**claims, "lvl": "2"}, mine, key.kid),
        "expiry as text": _compact({**claims, "exp": str(exp)}, mine, key.kid),
        "expiry as a fraction": _compact({**claims, "exp": exp + 0.5}, mine, key.kid),
        "expiry beyond any lifetime": _compact({**claims, "exp": exp + 86400}, mine, key.kid),
        "expiry outside the calendar": _compact({**claims, "exp": 10**20}, mine, key.kid),
        "raw person id as subject": _compact({**claims, "sub": PERSON}, mine, key.kid),
        "subject with padding": _compact({**claims, "sub": claims["sub"] + "=="}, mine, key.kid),
        "subject of 16 bytes spelt otherwise": _compact(
            {**claims, "sub": claims["sub"][:-1] + _B64[_B64.index(claims["sub"][-1]) + 1]}, mine, key.kid
        ),
        "garbage": "this is not a health code at all",
        "three dots of garbage": "aaaaaaaa.bbbbbbbb.cccccccc",
        "too long": f"{header}.{payload}{'A' * 400}.{signature}",
    }


@pytest.mark.parametrize("name", sorted(_forgeries()))
def test_every_forgery_is_refused_as_invalid_code(name: str) -> None:
    assert refused(_forgeries()[name]) == "invalid_code"


@given(st.text(max_size=400))
def test_arbitrary_text_never_verifies_and_never_crashes(text: str) -> None:
    with pytest.raises(InvalidInput):
        verify_personal_code(text, resolve=resolver(), now=NOW)


# -- a stack keyed before compact codes ------------------------------------------------------------


def _legacy_keyset() -> KeySet:
    code = new_key("code", now=NOW, province=PROVINCE, activates_at=NOW - timedelta(days=30))
    venue = new_key("venue", now=NOW, province=PROVINCE, activates_at=NOW - timedelta(days=30))
    return KeySet(keys=(replace(code, kid="c20261106-0123abcd"), venue))


def test_an_older_key_set_gains_a_province_code_key_and_a_paper_key_after_the_delay() -> None:
    legacy = _legacy_keyset()
    assert missing_uses(legacy) == ["code", "paper"] and missing_uses(KEYS) == []
    older_paper, _ = sign_code(
        legacy, kind="paper", issuer=ISSUER, subject=PERSON, claims={}, lifetime=timedelta(days=365), now=NOW
    )
    # WHEN the missing keys are added as rotations are
    delay = keystore.ACTIVATION_DELAY
    upgraded = legacy
    for use in missing_uses(legacy):
        upgraded = upgraded.rotate(use, now=NOW, activation_delay=delay, province=PROVINCE)
    assert missing_uses(upgraded) == []
    # THEN until they sign, personal codes are not compact and paper codes use the older key
    before = NOW + delay - timedelta(seconds=1)
    with pytest.raises(LookupError):
        sign_personal_code(upgraded, person_id=PERSON, level=0, lifetime=timedelta(minutes=5), now=before)
    assert upgraded.signing_key_for("paper", before).kid == "c20261106-0123abcd"
    # AND from then on personal codes are compact and paper codes have their own key
    after = NOW + delay
    token, _ = sign_personal_code(
        upgraded, person_id=PERSON, level=0, lifetime=timedelta(minutes=5), now=after
    )
    assert is_personal_code(token)
    assert upgraded.signing_key_for("paper", after).use == "paper"
    # AND a paper code of the older key verifies for its whole life
    resolve = local_resolver(upgraded, issuer=ISSUER, now=NOW + timedelta(days=300), retention=RETENTION)
    verified = verify_code(
        older_paper, kinds=("paper",), resolve=resolve, issuers=[ISSUER], now=NOW + timedelta(days=300)
    )
    assert verified.subject == PERSON


# -- activation delay ------------------------------------------------------------------------------


def test_the_activation_delay_outlasts_every_key_cache() -> None:
    delay = keystore.ACTIVATION_DELAY
    slowest = keystore.slowest_key_cache()
    # every cache of the key set, named: a verifier holding a copy from just before a rotation
    # has dropped it before the new key signs
    layers = {
        "the stack's containers": timedelta(seconds=keystore.CACHE_SECONDS),
        "another province's trust list (cache, then a failed refresh retried)": timedelta(
            seconds=trust.CACHE_SECONDS + trust.RETRY_SECONDS
        ),
        "an offline verifier's JWKS copy, fetched from a CDN copy as old as its max-age": timedelta(
            seconds=2 * keystore.JWKS_MAX_AGE_SECONDS
        ),
    }
    for name, lifetime in layers.items():
        assert lifetime <= slowest < delay, name


def test_the_jwks_route_tells_verifiers_the_max_age_the_delay_counts_on() -> None:
    from pathlib import Path

    source = (Path(__file__).parents[2] / "functions" / "keys" / "app.py").read_text(encoding="utf-8")
    assert "keystore.JWKS_MAX_AGE_SECONDS" in source and "max-age=300" not in source


def test_a_trust_list_cached_before_a_rotation_holds_the_new_key_when_it_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a neighbour's trust list that fetched Fujian's keys just before Fujian rotated, and
    # whose refresh fails once (an outage) when its cache ages out
    fujian = bootstrap_keyset(NOW, province="350000")
    elapsed = [0.0]
    monkeypatch.setattr(trust.time, "monotonic", lambda: elapsed[0])
    published = [fujian]
    failures = [0]

    def fetch(url: str) -> bytes:
        if elapsed[0] >= trust.CACHE_SECONDS and failures[0] == 0:
            failures[0] += 1
            raise OSError("outage")
        return json.dumps(published[0].jwks(NOW, RETENTION)).encode()

    trusted = trust.TrustList({"urn:healthcode:350000": "https://fj.example/jwks"}, fetch=fetch)
    old_kid = fujian.signing_key("code", NOW).kid
    assert trusted.key("urn:healthcode:350000", old_kid) is not None
    # WHEN Fujian rotates a second later, and a verifier that never asks for unknown kids (the
    # worst case) only reads what the trust list already holds
    elapsed[0] = 1.0
    published[0] = fujian.rotate(
        "code", now=NOW, activation_delay=keystore.ACTIVATION_DELAY, province="350000"
    )
    new_kid = published[0].signing_key("code", NOW + keystore.ACTIVATION_DELAY).kid
    held = trusted._held["urn:healthcode:350000"]
    for second in range(2, int(keystore.ACTIVATION_DELAY.total_seconds()) + 1):
        elapsed[0] = float(second)
        trusted.key("urn:healthcode:350000", old_kid)  # the codes it sees before the new key signs
    # THEN when the new key signs, the trust list already holds it
    assert failures[0] == 1 and new_kid in held.keys
