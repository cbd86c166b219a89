"""Cross-province trust list: configuration, which foreign keys are usable, caching, outages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from healthcode.codes import trust
from healthcode.codes.tokens import Retention, bootstrap_keyset, sign_code, verify_code
from healthcode.codes.trust import TrustList, TrustListError, keys_from_jwks, parse_trust_list
from healthcode.errors import InvalidInput

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)
RETENTION = Retention(code=timedelta(days=365), venue=timedelta(days=3650))
FUJIAN = "urn:healthcode:350000"


def test_parse_trust_list() -> None:
    text = (
        "350000=https://fj.example/.well-known/jwks.json, 410000=http://127.0.0.1:3001/.well-known/jwks.json"
    )
    assert parse_trust_list(text, own_province="520000") == {
        FUJIAN: "https://fj.example/.well-known/jwks.json",
        "urn:healthcode:410000": "http://127.0.0.1:3001/.well-known/jwks.json",
    }
    assert parse_trust_list("", own_province="520000") == {}


@pytest.mark.parametrize(
    "text",
    [
        "350000",
        "35000=https://x",
        "350000=ftp://x",
        "520000=https://self",
        "350000=https://a,350000=https://b",
    ],
)
def test_malformed_trust_lists_fail_fast(text: str) -> None:
    with pytest.raises(TrustListError):
        parse_trust_list(text, own_province="520000")


def test_only_public_es256_code_keys_are_taken() -> None:
    keys = bootstrap_keyset(NOW)
    document = keys.jwks(NOW, RETENTION)
    usable = keys_from_jwks(document)
    code_kid = keys.signing_key("code", NOW).kid
    assert set(usable) == {code_kid}  # the venue key is not used for personal codes
    private = dict(document["keys"][0], d="secret")
    rsa = {"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"}
    assert keys_from_jwks({"keys": [private, rsa, "junk", {"kty": "EC", "crv": "P-384", "kid": "k"}]}) == {}
    assert keys_from_jwks({"keys": "nope"}) == {}


class FakeNeighbour:
    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.calls = 0
        self.down = False

    def __call__(self, url: str) -> bytes:
        self.calls += 1
        if self.down:
            raise OSError("connection refused")
        return json.dumps(self.document).encode()


def test_a_foreign_code_verifies_through_the_trust_list_and_keys_are_cached() -> None:
    fujian = bootstrap_keyset(NOW)
    neighbour = FakeNeighbour(fujian.jwks(NOW, RETENTION))
    trusted = TrustList({FUJIAN: "https://fj.example/jwks"}, fetch=neighbour)
    token, _ = sign_code(
        fujian,
        kind="code",
        issuer=FUJIAN,
        subject="p-fj",
        claims={"lvl": 1, "col": "orange"},
        lifetime=timedelta(minutes=5),
        now=NOW,
    )
    for _ in range(3):
        code = verify_code(token, kinds=("code",), resolve=trusted.key, issuers=trusted.issuers, now=NOW)
        assert code.issuer == FUJIAN and code.claims["col"] == "orange"
    assert neighbour.calls == 1


def test_an_outage_keeps_the_keys_already_held_and_unknown_issuers_stay_refused() -> None:
    fujian = bootstrap_keyset(NOW)
    neighbour = FakeNeighbour(fujian.jwks(NOW, RETENTION))
    trusted = TrustList({FUJIAN: "https://fj.example/jwks"}, fetch=neighbour)
    kid = fujian.signing_key("code", NOW).kid
    assert trusted.key(FUJIAN, kid) is not None
    neighbour.down = True
    trust_cache = trusted._held[FUJIAN]
    trust_cache.fetched_at -= trust.CACHE_SECONDS  # the cache has aged out
    trust_cache.retry_at = float("-inf")
    assert trusted.key(FUJIAN, kid) is not None  # still held through the outage
    assert trusted.key("urn:healthcode:410000", kid) is None


def test_a_code_from_an_untrusted_province_is_refused() -> None:
    henan = bootstrap_keyset(NOW)
    trusted = TrustList(
        {FUJIAN: "https://fj.example/jwks"}, fetch=FakeNeighbour(bootstrap_keyset(NOW).jwks(NOW, RETENTION))
    )
    token, _ = sign_code(
        henan,
        kind="code",
        issuer="urn:healthcode:410000",
        subject="p",
        claims={},
        lifetime=timedelta(minutes=5),
        now=NOW,
    )
    with pytest.raises(InvalidInput) as caught:
        verify_code(token, kinds=("code",), resolve=trusted.key, issuers=trusted.issuers, now=NOW)
    assert caught.value.code == "invalid_code"
