"""Attacks on compact personal codes and the keys behind them (issue 18, a reviewer's pass).

Each test names an attack and fails if it works; each has its positive control. The stack's own
routing (``keystore.verify``: compact or full form, own province or the trust list) is exercised
with its key set, settings and trust list replaced, so what is shown is what a checkpoint does.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode import clock
from healthcode.codes import jws, keystore, trust
from healthcode.codes.tokens import (
    MAX_PERSONAL_CODE_LIFETIME,
    TYP_HEADER,
    KeySet,
    Retention,
    VerifiedCode,
    bootstrap_keyset,
    local_resolver,
    new_key,
    person_claim,
    sign_code,
    sign_personal_code,
    verify_code,
)
from healthcode.errors import InvalidInput

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
PROVINCE = "520000"
ISSUER = "urn:healthcode:520000"
FUJIAN = "urn:healthcode:350000"
RETENTION = Retention(code=timedelta(days=365), venue=timedelta(days=3650))
PERSON = "p-" + "0123456789abcdef" * 2
FIVE_MINUTES = timedelta(minutes=5)
P256_FIELD = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
KEYS = bootstrap_keyset(NOW - timedelta(days=1), province=PROVINCE)
FUJIAN_KEYS = bootstrap_keyset(NOW - timedelta(days=1), province="350000")


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str, **header: Any) -> str:
    """A token signed with ``key`` under ``kid`` whatever its shape (as an attacker holding it)."""
    return jws.sign(claims, key, kid=kid, typ=header.get("typ"))


def claims_for(person_id: str = PERSON, *, level: int = 0, expires: datetime | None = None) -> dict[str, Any]:
    return {
        "sub": person_claim(person_id),
        "lvl": level,
        "exp": int((expires or NOW + FIVE_MINUTES).timestamp()),
    }


# -- the stack as a checkpoint sees it ---------------------------------------------------------------


class Neighbour:
    """A trust-list fetch that counts what it is asked."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return json.dumps(self.document).encode()


class Stack:
    """``keystore`` with this module's key set, province and trust list; the clock at ``NOW``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, keys: KeySet = KEYS) -> None:
        self.keys = keys
        self.neighbour = Neighbour(FUJIAN_KEYS.jwks(NOW, RETENTION))
        self.trusted = trust.TrustList({FUJIAN: "https://fj.example/jwks"}, fetch=self.neighbour)
        self.seconds = [0.0]
        monkeypatch.setattr(keystore, "keyset", lambda: self.keys)
        monkeypatch.setattr(keystore, "retention", lambda: RETENTION)
        monkeypatch.setattr(
            keystore, "settings", lambda: SimpleNamespace(province=PROVINCE, code_issuer=ISSUER)
        )
        monkeypatch.setattr(trust, "configured", lambda own: self.trusted)
        monkeypatch.setattr(trust.time, "monotonic", lambda: self.seconds[0])

    def verify(self, token: str, kinds: tuple[str, ...] = ("code", "paper")) -> VerifiedCode:
        return keystore.verify(token, kinds=kinds, foreign=True)  # type: ignore[arg-type]

    def refused(self, token: str, kinds: tuple[str, ...] = ("code", "paper")) -> str:
        with pytest.raises(InvalidInput) as caught:
            self.verify(token, kinds)
        return caught.value.code


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    clock.freeze(NOW)
    try:
        yield Stack(monkeypatch)
    finally:
        clock.reset()


def test_control_own_and_foreign_compact_codes_verify(stack: Stack) -> None:
    own, _ = sign_personal_code(KEYS, person_id=PERSON, level=1, lifetime=FIVE_MINUTES, now=NOW)
    foreign, _ = sign_personal_code(FUJIAN_KEYS, person_id=PERSON, level=2, lifetime=FIVE_MINUTES, now=NOW)
    assert (stack.verify(own).issuer, stack.verify(own).subject) == (ISSUER, PERSON)
    assert (stack.verify(foreign).issuer, stack.verify(foreign).claims["lvl"]) == (FUJIAN, 2)


# -- rotation must end a leaked key's power ----------------------------------------------------------


def test_a_rotated_code_key_stops_verifying_personal_codes_within_the_hour(stack: Stack) -> None:
    """A code key is rotated because it leaked: whoever holds it must not mint green codes for a
    year (the paper-code retention) after the rotation, only for as long as a code it signed
    honestly may live."""
    leaked = KEYS.signing_key("code", NOW)
    stack.keys = KEYS.rotate("code", now=NOW, activation_delay=keystore.ACTIVATION_DELAY, province=PROVINCE)
    retired = NOW + keystore.ACTIVATION_DELAY
    # control: a code signed just before the key retired verifies for its whole life
    honest = compact(claims_for(expires=retired + FIVE_MINUTES), leaked.private_key(), leaked.kid)
    clock.freeze(retired + timedelta(minutes=4))
    assert stack.verify(honest).subject == PERSON
    # attack: a day later the leaked key mints a fresh five-minute green code
    later = retired + timedelta(days=1)
    clock.freeze(later)
    minted = compact(claims_for(expires=later + FIVE_MINUTES), leaked.private_key(), leaked.kid)
    assert stack.refused(minted) == "invalid_code"
    assert leaked.kid not in {k["kid"] for k in stack.keys.jwks(later, RETENTION)["keys"]}
    # and the paper key, which signs year-long codes, keeps its year
    assert retired + MAX_PERSONAL_CODE_LIFETIME < later
    assert RETENTION.of_key(KEYS.signing_key("paper", NOW)) == RETENTION.code


def _legacy_then_upgraded() -> tuple[KeySet, KeySet]:
    code = new_key("code", now=NOW, province=PROVINCE, activates_at=NOW - timedelta(days=30))
    venue = new_key("venue", now=NOW, province=PROVINCE, activates_at=NOW - timedelta(days=30))
    legacy = KeySet(keys=(replace(code, kid="c20261106-0123abcd"), venue))
    upgraded = legacy
    for use in ("code", "paper"):
        upgraded = upgraded.rotate(
            use, now=NOW, activation_delay=keystore.ACTIVATION_DELAY, province=PROVINCE
        )  # type: ignore[arg-type]
    return legacy, upgraded


def test_an_older_code_key_keeps_its_paper_codes_but_not_its_personal_codes_past_the_hour() -> None:
    legacy, upgraded = _legacy_then_upgraded()
    key = legacy.keys[0]
    paper, _ = sign_code(
        legacy, kind="paper", issuer=ISSUER, subject=PERSON, claims={}, lifetime=timedelta(days=365), now=NOW
    )
    later = NOW + timedelta(days=30)
    # an attacker holding the older key signs a full-form personal code a month after it retired
    minted, _ = sign_code(
        KeySet(keys=(replace(key, retired_at=None),)),
        kind="code",
        issuer=ISSUER,
        subject=PERSON,
        claims={"lvl": 0, "col": "green"},
        lifetime=FIVE_MINUTES,
        now=later,
    )
    resolve = local_resolver(upgraded, issuer=ISSUER, now=later, retention=RETENTION)
    assert (
        verify_code(paper, kinds=("paper",), resolve=resolve, issuers=[ISSUER], now=later).subject == PERSON
    )
    with pytest.raises(InvalidInput) as caught:
        verify_code(minted, kinds=("code", "paper"), resolve=resolve, issuers=[ISSUER], now=later)
    assert caught.value.code == "invalid_code"
    # control: within the hour after it retired, the full-form codes it signed still verify
    soon = NOW + keystore.ACTIVATION_DELAY + timedelta(minutes=30)
    honest, _ = sign_code(
        legacy,
        kind="code",
        issuer=ISSUER,
        subject=PERSON,
        claims={"lvl": 0},
        lifetime=timedelta(hours=1),
        now=NOW + keystore.ACTIVATION_DELAY - timedelta(seconds=1),
    )
    resolve = local_resolver(upgraded, issuer=ISSUER, now=soon, retention=RETENTION)
    assert verify_code(honest, kinds=("code",), resolve=resolve, issuers=[ISSUER], now=soon).subject == PERSON


def test_a_full_form_personal_code_living_longer_than_any_policy_allows_is_refused(stack: Stack) -> None:
    legacy, _ = _legacy_then_upgraded()
    stack.keys = legacy
    year, _ = sign_code(
        legacy,
        kind="code",
        issuer=ISSUER,
        subject=PERSON,
        claims={"lvl": 0},
        lifetime=timedelta(days=365),
        now=NOW,
    )
    hour, _ = sign_code(
        legacy,
        kind="code",
        issuer=ISSUER,
        subject=PERSON,
        claims={"lvl": 0},
        lifetime=timedelta(hours=1),
        now=NOW,
    )
    assert stack.refused(year) == "invalid_code"
    assert stack.verify(hour).subject == PERSON


# -- key-use confusion ---------------------------------------------------------------------------------


def test_a_key_of_another_use_never_verifies_a_personal_code_whatever_its_kid_says(stack: Stack) -> None:
    paper = KEYS.signing_key("paper", NOW)
    venue = KEYS.signing_key("venue", NOW)
    code = KEYS.signing_key("code", NOW)
    # a paper key stored under a 'c' kid of this province (a mistaken import): still a paper key
    misnamed = replace(paper, kid=f"{PROVINCE}cbad01")
    stack.keys = KeySet(keys=(*KEYS.keys, misnamed))
    claims = claims_for()
    attempts = {
        "paper key, its own kid": compact(claims, paper.private_key(), paper.kid),
        "paper key under a c kid": compact(claims, misnamed.private_key(), misnamed.kid),
        "venue key, its own kid": compact(claims, venue.private_key(), venue.kid),
        "venue key under the code kid": compact(claims, venue.private_key(), code.kid),
        "full form, code typ, paper key": compact(
            {**claims, "iss": ISSUER, "typ": "code", "iat": int(NOW.timestamp()), "jti": "x", "sub": PERSON},
            paper.private_key(),
            paper.kid,
            typ=TYP_HEADER["code"],
        ),
        "caller token shape, code key": compact(
            {"sub": PERSON, "iss": ISSUER, "aud": "x", "exp": claims["exp"], "iat": int(NOW.timestamp())},
            code.private_key(),
            code.kid,
            typ="JWT",
        ),
    }
    for name, token in attempts.items():
        assert stack.refused(token) == "invalid_code", name
    # and the reverse: a compact personal code is no paper code
    genuine, _ = sign_personal_code(KEYS, person_id=PERSON, level=0, lifetime=FIVE_MINUTES, now=NOW)
    assert stack.refused(genuine, ("paper",)) == "invalid_code"
    paper_form = compact(
        {
            "iss": ISSUER,
            "sub": PERSON,
            "typ": "paper",
            "iat": int(NOW.timestamp()),
            "exp": claims["exp"],
            "jti": "j",
        },
        code.private_key(),
        code.kid,
        typ=TYP_HEADER["paper"],
    )
    assert stack.refused(paper_form) == "invalid_code"


def test_a_foreign_key_published_as_paper_under_a_code_kid_is_not_taken() -> None:
    key = FUJIAN_KEYS.signing_key("code", NOW)
    jwk = {**key.public_jwk(), "hc_use": "paper"}
    assert trust.keys_from_jwks({"keys": [jwk]}, province="350000") == {}
    assert set(trust.keys_from_jwks({"keys": [key.public_jwk()]}, province="350000")) == {key.kid}


def test_a_foreign_full_form_code_under_a_province_kid_or_of_paper_kind_is_refused(stack: Stack) -> None:
    key = FUJIAN_KEYS.signing_key("code", NOW)
    full = {
        "iss": FUJIAN,
        "sub": PERSON,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + FIVE_MINUTES).timestamp()),
        "jti": "j",
        "lvl": 0,
    }
    as_code = compact({**full, "typ": "code"}, key.private_key(), key.kid, typ=TYP_HEADER["code"])
    paper = FUJIAN_KEYS.signing_key("paper", NOW)
    as_paper = compact({**full, "typ": "paper"}, paper.private_key(), paper.kid, typ=TYP_HEADER["paper"])
    assert stack.refused(as_code) == stack.refused(as_paper) == "invalid_code"


# -- kid games -----------------------------------------------------------------------------------------


def test_a_kid_naming_this_province_never_makes_the_verifier_fetch(stack: Stack) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    for kid in (f"{PROVINCE}c00000", f"{PROVINCE}cfffff", f"{PROVINCE}p00000"):
        assert stack.refused(compact(claims_for(), other, kid)) == "invalid_code"
    assert stack.neighbour.urls == []


def test_a_kid_naming_a_province_off_the_trust_list_is_refused_without_a_fetch(stack: Stack) -> None:
    henan = bootstrap_keyset(NOW, province="410000")
    token, _ = sign_personal_code(henan, person_id=PERSON, level=0, lifetime=FIVE_MINUTES, now=NOW)
    assert stack.refused(token) == "invalid_code"
    assert stack.neighbour.urls == []


@pytest.mark.parametrize(
    "kid",
    [
        "350000c12345/../../admin",
        "350000c12345?x=1",
        "350000c12345\n",
        "350000C12345",
        "350000c123456",
        "３５００００c12345",
        "350000c1234g",
        "x" * 5000,
    ],
)
def test_odd_kids_are_refused_and_never_reach_a_trust_list_fetch(stack: Stack, kid: str) -> None:
    key = FUJIAN_KEYS.signing_key("code", NOW)
    token = compact(claims_for(), key.private_key(), kid)
    assert stack.refused(token) == "invalid_code"
    assert stack.neighbour.urls == []


def test_many_unknown_kids_of_a_trusted_province_cost_one_fetch_per_retry_interval(stack: Stack) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    for n in range(200):
        assert stack.refused(compact(claims_for(), other, f"350000c{n:05x}")) == "invalid_code"
    assert len(stack.neighbour.urls) == 1
    stack.seconds[0] = trust.RETRY_SECONDS
    for n in range(200, 400):
        stack.refused(compact(claims_for(), other, f"350000c{n:05x}"))
    assert len(stack.neighbour.urls) == 2
    assert stack.neighbour.urls == ["https://fj.example/jwks"] * 2  # the configured URL, nothing of the kid


# -- claims on a genuine signature -------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int((NOW + MAX_PERSONAL_CODE_LIFETIME).timestamp()) + 1},
        {"exp": None},
        {"exp": 1.0e12},
        {"exp": True},
        {"lvl": -1},
        {"lvl": 1.0},
        {"lvl": None},
        {"sub": person_claim(PERSON)[:21]},
        {"sub": person_claim(PERSON) + "A"},
        {"sub": person_claim(PERSON).replace(person_claim(PERSON)[0], "+", 1)},
        {"jti": "x"},
        {"iss": FUJIAN},
    ],
    ids=repr,
)
def test_claims_out_of_shape_under_a_genuine_signature_are_refused(
    stack: Stack, change: dict[str, Any]
) -> None:
    key = KEYS.signing_key("code", NOW)
    claims = {**claims_for(), **change}
    assert stack.refused(compact(claims, key.private_key(), key.kid)) == "invalid_code"


def test_the_latest_expiry_any_policy_allows_still_verifies(stack: Stack) -> None:
    key = KEYS.signing_key("code", NOW)
    token = compact(claims_for(expires=NOW + MAX_PERSONAL_CODE_LIFETIME), key.private_key(), key.kid)
    assert stack.verify(token).subject == PERSON


# -- parsing -----------------------------------------------------------------------------------------


def test_huge_deep_and_odd_inputs_are_refused_as_invalid_code(stack: Stack) -> None:
    good, _ = sign_personal_code(KEYS, person_id=PERSON, level=0, lifetime=FIVE_MINUTES, now=NOW)
    header, payload, signature = good.split(".")
    deep = b64(("[" * 3000 + "]" * 3000).encode())
    nested_header = b64(("{" + '"a":{' * 2000 + "}" * 2001).encode())
    attempts = [
        "A" * (10 * 1024 * 1024),
        f"{header}.{'A' * (10 * 1024 * 1024)}.{signature}",
        f"{nested_header}.{payload}.{signature}",
        f"{header}.{deep}.{signature}",
        f" {good}",
        f"{header}. {payload}.{signature}",
        f"{header}.{payload}.{signature}=",
        f"{header}.{payload}.{signature[:-1]}é",
        f"{header}.{payload}.{signature}.",
        f"{header}.{payload}.{signature[:-2]}",
        f"{header}.{payload}.{signature}AAAA",
    ]
    for token in attempts:
        assert stack.refused(token) == "invalid_code", token[:60]


@pytest.mark.parametrize(
    ("x", "y"),
    [(0, 0), (P256_FIELD, 0), (1, 1), (P256_FIELD - 1, P256_FIELD - 1)],
)
def test_a_foreign_jwks_point_off_the_curve_or_at_infinity_is_never_a_key(x: int, y: int) -> None:
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(x.to_bytes(32, "big")),
        "y": b64(y.to_bytes(32, "big")),
        "kid": "350000c00001",
    }
    with pytest.raises(jws.JWSError):
        jws.public_key_from_jwk(jwk)
    assert trust.keys_from_jwks({"keys": [jwk]}, province="350000") == {}


# -- the trust list's own transport -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://fj.example/.well-known/jwks.json",
        "http://10.0.0.8/jwks",
        "http://127.0.0.1.fj.example/jwks",
        "http://localhost.fj.example/jwks",
        "http://[::ffff:10.0.0.8]/jwks",
    ],
)
def test_a_neighbours_keys_over_plain_http_are_refused_at_start(url: str) -> None:
    """Keys fetched over plain HTTP are whatever anyone on the path sends: with them, any code of
    that province in any colour. A deployment naming such a URL fails at start."""
    with pytest.raises(trust.TrustListError):
        trust.parse_trust_list(f"350000={url}", own_province=PROVINCE)


@pytest.mark.parametrize(
    "url",
    [
        "https://fj.example/jwks",
        "http://127.0.0.1:3001/jwks",
        "http://localhost:3001/jwks",
        "http://[::1]:3001/jwks",
    ],
)
def test_https_or_a_local_stack_on_this_machine_is_taken(url: str) -> None:
    assert trust.parse_trust_list(f"350000={url}", own_province=PROVINCE) == {FUJIAN: url}


def test_a_redirect_from_the_configured_url_to_plain_http_is_not_followed() -> None:
    """The neighbour (or a CDN before it) answering the configured URL with a redirect to plain
    http would hand the keys to anyone on that path: the fetch fails instead, and the keys
    already held are kept (``TrustList``)."""
    import http.server
    import socket
    import threading

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: it picks the outward address
        outward = probe.getsockname()[0]
    if ipaddress.ip_address(outward).is_loopback:
        pytest.skip("this machine has no address but loopback")
    asked: list[str] = []
    where: list[str] = []

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.path == "/jwks":
                self.send_response(302)
                self.send_header("Location", f"{where[0]}/jwks-here")  # this server, over plain http
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/jwks-here")  # the same loopback host: followed
            else:
                body = json.dumps(FUJIAN_KEYS.jwks(NOW, RETENTION)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Redirecting)  # loopback and outward
    where.append(f"http://{outward}:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(OSError):
            trust._http_fetch(f"{base}/jwks")
        assert json.loads(trust._http_fetch(f"{base}/moved"))["keys"]  # control
        assert asked == ["/jwks", "/moved", "/jwks-here"]
    finally:
        server.shutdown()
        server.server_close()
