"""The codes' compact JWS (healthcode.codes.jws), without AWS: what it signs PyJWT verifies and
what PyJWT signs it verifies (the codes already printed and scanned keep working), it writes the
same header and claims PyJWT wrote, and it refuses every token a strict ES256 reader must refuse:
other algorithms, critical headers, re-spelled base64url, duplicate members, wrong signature
lengths, other keys and curves, any single character changed."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from healthcode.codes import jws
from healthcode.codes.jws import JWSError
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.security.http import forgery

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = KEY.public_key()
OTHER = ec.generate_private_key(ec.SECP256R1())
CLAIMS = {"sub": "AAECAwQFBgcICQoLDA0ODw", "lvl": 1, "exp": 1_700_000_000}
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def raw_json(text: str) -> str:
    """A segment holding exactly ``text`` (duplicate members and all)."""
    return b64(text.encode("utf-8"))


def signed(header_segment: str, payload_segment: str, key: ec.EllipticCurvePrivateKey = KEY) -> str:
    """A token over any two segments, genuinely signed: only the rule under test can refuse it."""
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64(forgery.es256(key)(signing_input.encode('ascii')))}"


def refused(token: Any, key: Any = PUBLIC) -> str:
    with pytest.raises(JWSError) as caught:
        jws.verify(token, key)
    return str(caught.value)


# -- PyJWT interoperability ----------------------------------------------------------------------


def test_what_it_signs_pyjwt_verifies_with_the_same_header() -> None:
    # GIVEN a compact personal code's claims signed here
    token = jws.sign(CLAIMS, KEY, kid="520000c1f2e3")
    # THEN PyJWT verifies it and reads the same claims and the header {alg, kid}
    assert jwt.decode(token, PUBLIC, algorithms=["ES256"], options={"verify_exp": False}) == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "520000c1f2e3"}


def test_what_pyjwt_signs_it_verifies() -> None:
    for typ in (None, "hc-paper+jwt"):
        token = jwt.encode(CLAIMS, KEY, algorithm="ES256", headers={"kid": "k1", "typ": typ})
        assert jws.verify(token, PUBLIC) == CLAIMS


def test_header_and_claims_are_spelled_as_pyjwt_spelled_them() -> None:
    """Same bytes before the signature: a code's length (and its QR version) does not change."""
    claims = {"iss": "urn:healthcode:520000", "sub": "v-1", "typ": "venue", "n": "贵阳北站", "exp": 1}
    ours = jws.sign(claims, KEY, kid="v1a2b3c4d", typ="hc-venue+jwt")
    theirs = jwt.encode(
        claims,
        KEY,
        algorithm="ES256",
        headers={"kid": "v1a2b3c4d", "typ": "hc-venue+jwt"},
        json_encoder=_Utf8,
    )
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    assert len(ours) == len(theirs)


class _Utf8(json.JSONEncoder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "ensure_ascii": False})


# -- algorithm and header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg", ["none", "None", "NONE", "HS256", "es256", "ES256 ", "ES384", "EdDSA", "", None, 1]
)
def test_only_es256_is_accepted(alg: Any) -> None:
    # GIVEN a genuine ES256 signature under a header that names another algorithm
    header = {"alg": alg, "kid": "k1"} if alg is not None else {"kid": "k1"}
    token = signed(raw_json(json.dumps(header)), raw_json(json.dumps(CLAIMS)))
    # THEN it is refused (the signature alone never chooses the verifier)
    assert "algorithm" in refused(token)


def test_alg_none_with_an_empty_signature_is_refused() -> None:
    token = f"{raw_json(json.dumps({'alg': 'none'}))}.{raw_json(json.dumps(CLAIMS))}."
    refused(token)


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    pem = forgery.public_pem(PUBLIC)
    token = forgery.compact({"alg": "HS256", "kid": "k1"}, CLAIMS, forgery.hs(pem, "HS256"))
    refused(token)


@pytest.mark.parametrize("crit", [["b64"], ["exp"], [], "b64"])
def test_critical_headers_are_refused(crit: Any) -> None:
    header = {"alg": "ES256", "kid": "k1", "crit": crit, "b64": True, "exp": 1}
    token = signed(raw_json(json.dumps(header)), raw_json(json.dumps(CLAIMS)))
    assert "critical" in refused(token)
    with pytest.raises(JWSError):
        jws.header(token)


@pytest.mark.parametrize("kid", [1, None, ["k1"], {"k": 1}, True])
def test_a_kid_that_is_not_a_string_is_refused(kid: Any) -> None:
    token = signed(raw_json(json.dumps({"alg": "ES256", "kid": kid})), raw_json(json.dumps(CLAIMS)))
    with pytest.raises(JWSError, match="kid"):
        jws.header(token)


# -- structure, base64url, JSON ------------------------------------------------------------------

GOOD = jws.sign(CLAIMS, KEY, kid="k1")


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        GOOD.rsplit(".", 1)[0],  # two segments
        GOOD + ".",  # four segments
        GOOD + "." + GOOD.split(".")[2],
        GOOD.replace(".", "..", 1),
        " " + GOOD,
        GOOD + "\n",
        GOOD.split(".")[0] + "=." + GOOD.split(".", 1)[1],  # padding
        GOOD.rsplit(".", 1)[0] + "." + GOOD.rsplit(".", 1)[1] + "==",
        GOOD.replace("-", "+").replace("_", "/") if ("-" in GOOD or "_" in GOOD) else GOOD + "+",
        "é" + GOOD,
        "x" * (jws.MAX_TOKEN_CHARS + 1),
    ],
)
def test_malformed_structure_is_refused(token: str) -> None:
    refused(token)


@pytest.mark.parametrize("not_a_token", [None, 1, b"a.b.c", ["a", "b", "c"]])
def test_only_text_is_read(not_a_token: Any) -> None:
    refused(not_a_token)


def test_spare_bits_are_refused() -> None:
    """Base64url of 32 bytes ends in a character holding 2 spare bits: a re-spelling with them
    set decodes to the same bytes, and is refused (one spelling per token)."""
    header, payload, signature = GOOD.split(".")
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = signature[:-1] + alphabet[alphabet.index(last) | 1]
    assert respelled != signature
    assert unb64(respelled) == unb64(signature)
    assert "base64url" in refused(f"{header}.{payload}.{respelled}")


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ('{"alg":"ES256","alg":"ES256","kid":"k1"}', '{"sub":"a"}'),
        ('{"alg":"HS256","kid":"k1","alg":"ES256"}', '{"sub":"a"}'),
        ('{"alg":"ES256","kid":"k1"}', '{"sub":"a","sub":"b"}'),
        ('{"alg":"ES256","kid":"k1"}', '{"exp":1,"n":{"a":1,"a":2}}'),
    ],
)
def test_duplicate_members_are_refused(header: str, claims: str) -> None:
    refused(signed(raw_json(header), raw_json(claims)))


@pytest.mark.parametrize(
    "claims",
    [
        "[]",
        '"sub"',
        "1",
        "null",
        '{"exp":NaN}',
        '{"exp":Infinity}',
        '{"exp":-Infinity}',
        '{"sub":"a"',
        '{"sub":"a"} x',
        "",
        "[" * 100_000,
    ],
)
def test_claims_that_are_not_a_json_object_are_refused(claims: str) -> None:
    refused(signed(raw_json('{"alg":"ES256","kid":"k1"}'), raw_json(claims)))


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe" + '{"sub":"a"}'.encode("utf-16-le"),  # UTF-16, which json.loads(bytes) reads
        '{"sub":"a"}'.encode("utf-32"),
        b"\xef\xbb\xbf" + b'{"sub":"a"}',  # a byte-order mark
        b'{"sub":"\xc3"}',  # not UTF-8
    ],
)
def test_claims_must_be_utf8_json(payload: bytes) -> None:
    refused(signed(raw_json('{"alg":"ES256","kid":"k1"}'), b64(payload)))


def test_a_header_that_is_not_an_object_is_refused() -> None:
    for header in ('["ES256"]', '"ES256"', "null", "{"):
        with pytest.raises(JWSError):
            jws.header(signed(raw_json(header), raw_json('{"sub":"a"}')))


# -- signature and key ---------------------------------------------------------------------------


def _with_signature(token: str, signature: bytes) -> str:
    return f"{token.rsplit('.', 1)[0]}.{b64(signature)}"


def test_signature_lengths_other_than_64_bytes_are_refused() -> None:
    raw = unb64(GOOD.rsplit(".", 1)[1])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    der = encode_dss_signature(r, s)  # the same signature in DER: valid, but not JOSE's form
    for signature in (b"", raw[:63], raw + b"\x00", b"\x00" + raw, der, raw * 2):
        assert "64 bytes" in refused(_with_signature(GOOD, signature))


def test_signatures_that_do_not_verify_are_refused() -> None:
    raw = unb64(GOOD.rsplit(".", 1)[1])
    for signature in (bytes(64), raw[32:] + raw[:32], b"\xff" * 64, (P256_ORDER).to_bytes(32, "big") * 2):
        assert "verify" in refused(_with_signature(GOOD, signature))
    assert "verify" in refused(jws.sign(CLAIMS, OTHER, kid="k1"))


def test_a_key_of_another_curve_or_kind_is_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert "P-256" in refused(GOOD, p384.public_key())
    refused(GOOD, KEY)  # a private key is not a verifying key here
    refused(GOOD, forgery.public_pem(PUBLIC))
    with pytest.raises(ValueError, match="P-256"):
        jws.sign(CLAIMS, p384, kid="k1")  # type: ignore[arg-type]


def test_the_signature_is_checked_before_the_claims_are_read() -> None:
    header = raw_json(json.dumps({"alg": "ES256", "kid": "k1"}))
    token = f"{header}.{raw_json('[not json')}.{b64(bytes(64))}"
    assert "verify" in refused(token)


def test_raw_signature_is_r_then_s() -> None:
    token = jws.sign(CLAIMS, KEY, kid="k1")
    signing_input, _, signature = token.rpartition(".")
    raw = unb64(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    PUBLIC.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der)[0] == int.from_bytes(raw[:32], "big")


# -- JWK ------------------------------------------------------------------------------------------


def test_public_key_from_jwk_reads_a_p256_key() -> None:
    jwk = forgery.public_jwk(PUBLIC)
    assert jws.public_key_from_jwk(jwk).public_numbers() == PUBLIC.public_numbers()


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "RSA"},
        {"crv": "P-384"},
        {"crv": "secp256k1"},
        {"x": None},
        {"x": 1},
        {"x": b64(b"\x01" * 31)},
        {"y": b64(b"\x00" + b"\x01" * 32)},
        {"y": b64(b"\x01" * 32)},  # not a point on the curve
    ],
)
def test_public_key_from_jwk_refuses_anything_else(change: dict[str, Any]) -> None:
    jwk = {**forgery.public_jwk(PUBLIC), **change}
    with pytest.raises(JWSError):
        jws.public_key_from_jwk({k: v for k, v in jwk.items() if v is not None})


def test_padded_jwk_coordinates_are_refused() -> None:
    jwk = forgery.public_jwk(PUBLIC)
    with pytest.raises(JWSError):
        jws.public_key_from_jwk({**jwk, "x": jwk["x"] + "="})


# -- properties -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
claim_sets = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
kids = st.text(alphabet="0123456789abcdefcpv", min_size=1, max_size=12)
typs = st.none() | st.sampled_from(["hc-code+jwt", "hc-paper+jwt", "hc-venue+jwt"])


#: PyJWT checking the signature only (the claims here are arbitrary JSON, not a code's).
PYJWT_SIGNATURE_ONLY: Any = {
    f"verify_{check}": False for check in ("exp", "iat", "nbf", "aud", "iss", "sub", "jti")
}


@given(claims=claim_sets, kid=kids, typ=typs)
def test_round_trip(claims: dict[str, Any], kid: str, typ: str | None) -> None:
    token = jws.sign(claims, KEY, kid=kid, typ=typ)
    assert jws.verify(token, PUBLIC) == claims
    expected = {"alg": "ES256", "kid": kid} if typ is None else {"alg": "ES256", "kid": kid, "typ": typ}
    assert jws.header(token) == expected
    # AND PyJWT reads the same (both ways)
    assert jwt.decode(token, PUBLIC, algorithms=["ES256"], options=PYJWT_SIGNATURE_ONLY) == claims
    assume(isinstance(claims.get("iss", ""), str))  # PyJWT signs only a text issuer
    theirs = jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": kid, "typ": typ})
    assert jws.verify(theirs, PUBLIC) == claims


@given(claims=claim_sets, data=st.data())
def test_any_single_character_changed_is_refused(claims: dict[str, Any], data: st.DataObject) -> None:
    token = jws.sign(claims, KEY, kid="520000c1f2e3")
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="at")
    edit = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="edit")
    character = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ")
    )
    if edit == "replace":
        tampered = token[:at] + character + token[at + 1 :]
    elif edit == "insert":
        tampered = token[:at] + character + token[at:]
    else:
        tampered = token[:at] + token[at + 1 :]
    assume(tampered != token)
    refused(tampered)


@given(claims=claim_sets, changed=st.text(max_size=12), value=json_values)
def test_claims_changed_under_a_kept_signature_are_refused(
    claims: dict[str, Any], changed: str, value: Any
) -> None:
    token = jws.sign(claims, KEY, kid="k1")
    header, _, signature = token.split(".")
    edited = {**claims, changed: value}
    assume(edited != claims)
    payload = b64(json.dumps(edited, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    refused(f"{header}.{payload}.{signature}")


@given(r=st.integers(min_value=0, max_value=2**256 - 1), s=st.integers(min_value=0, max_value=2**256 - 1))
def test_forged_signatures_are_refused(r: int, s: int) -> None:
    refused(_with_signature(GOOD, r.to_bytes(32, "big") + s.to_bytes(32, "big")))


@given(claims=claim_sets)
def test_a_high_s_twin_verifies_and_names_the_same_claims(claims: dict[str, Any]) -> None:
    """ECDSA's (r, n - s) verifies whenever (r, s) does (PyJWT and OpenSSL accept both, and
    codes PyJWT signed may have either): it re-spells a token's signature, never its claims, so
    nothing keyed on claims (a paper code's ``jti``) is fooled by it."""
    token = jws.sign(claims, KEY, kid="k1")
    raw = unb64(token.rsplit(".", 1)[1])
    twin = raw[:32] + (P256_ORDER - int.from_bytes(raw[32:], "big")).to_bytes(32, "big")
    assert jws.verify(_with_signature(token, twin), PUBLIC) == claims
