"""Cross-province trust list: configuration, which foreign keys are usable, caching, outages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from healthcode.codes import trust
from healthcode.codes.tokens import (
    KeySet,
    Retention,
    bootstrap_keyset,
    new_key,
    sign_code,
    sign_personal_code,
    verify_code,
    verify_personal_code,
)
from healthcode.codes.trust import TrustList, TrustListError, keys_from_jwks, parse_trust_list
from healthcode.errors import InvalidInput

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)
RETENTION = Retention(code=timedelta(days=365), venue=timedelta(days=3650))
FUJIAN = "urn:healthcode:350000"
PERSON = "p-" + "5" * 32


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
    keys = bootstrap_keyset(NOW, province="350000")
    document = keys.jwks(NOW, RETENTION)
    usable = keys_from_jwks(document, province="350000")
    code_kid = keys.signing_key("code", NOW).kid
    assert set(usable) == {code_kid}  # neither the paper key nor the venue key verifies personal codes
    private = dict(document["keys"][0], d="secret")
    rsa = {"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"}
    assert keys_from_jwks({"keys": [private, rsa, "junk", {"kty": "EC", "crv": "P-384", "kid": "k"}]}) == {}
    assert keys_from_jwks({"keys": "nope"}) == {}


def test_a_key_named_for_another_province_is_never_taken() -> None:
    # GIVEN a JWKS of Fujian that also publishes a key under a Guizhou key id
    fujian = bootstrap_keyset(NOW, province="350000")
    impostor = new_key("code", now=NOW, province="520000")
    document = KeySet(keys=(*fujian.keys, impostor)).jwks(NOW, RETENTION)
    # WHEN its usable keys are taken for Fujian THEN the key named for Guizhou is not among them
    assert set(keys_from_jwks(document, province="350000")) == {fujian.signing_key("code", NOW).kid}


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


def by_province(trusted: TrustList):  # type: ignore[no-untyped-def]
    """The resolver a verifier builds: a province's keys from its trust list entry."""
    return lambda province, kid: trusted.key(trust.issuer_of(province), kid)


def test_a_foreign_code_verifies_through_the_trust_list_and_keys_are_cached() -> None:
    fujian = bootstrap_keyset(NOW, province="350000")
    neighbour = FakeNeighbour(fujian.jwks(NOW, RETENTION))
    trusted = TrustList({FUJIAN: "https://fj.example/jwks"}, fetch=neighbour)
    token, _ = sign_personal_code(fujian, person_id=PERSON, level=1, lifetime=timedelta(minutes=5), now=NOW)
    for _ in range(3):
        code = verify_personal_code(token, resolve=by_province(trusted), now=NOW)
        assert (code.issuer, code.subject, code.claims["lvl"]) == (FUJIAN, PERSON, 1)
    assert neighbour.calls == 1


def test_an_older_full_form_foreign_code_still_verifies() -> None:
    # GIVEN a province still signing with a code key from before province-named keys
    fujian = bootstrap_keyset(NOW, province="350000")
    legacy = KeySet(
        keys=tuple(k if k.use != "code" else replace(k, kid="c20220517-0badc0de") for k in fujian.keys)
    )
    trusted = TrustList({FUJIAN: "https://fj.example/jwks"}, fetch=FakeNeighbour(legacy.jwks(NOW, RETENTION)))
    token, _ = sign_code(
        legacy,
        kind="code",
        issuer=FUJIAN,
        subject="p-fj",
        claims={"lvl": 1, "col": "orange"},
        lifetime=timedelta(minutes=5),
        now=NOW,
    )
    code = verify_code(
        token,
        kinds=("code",),
        resolve=lambda iss, kid, kind: trusted.key(iss, kid),
        issuers=trusted.issuers,
        now=NOW,
    )
    assert code.issuer == FUJIAN and code.claims["col"] == "orange"


def test_an_outage_keeps_the_keys_already_held_and_unknown_issuers_stay_refused() -> None:
    fujian = bootstrap_keyset(NOW, province="350000")
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
    henan = bootstrap_keyset(NOW, province="410000")
    trusted = TrustList(
        {FUJIAN: "https://fj.example/jwks"},
        fetch=FakeNeighbour(bootstrap_keyset(NOW, province="350000").jwks(NOW, RETENTION)),
    )
    token, _ = sign_personal_code(henan, person_id=PERSON, level=0, lifetime=timedelta(minutes=5), now=NOW)
    with pytest.raises(InvalidInput) as caught:
        verify_personal_code(token, resolve=by_province(trusted), now=NOW)
    assert caught.value.code == "invalid_code"


def test_a_code_whose_kid_names_another_province_is_looked_up_there_only() -> None:
    # GIVEN Henan signing a code under a key id naming Fujian, and publishing that key itself
    henan = bootstrap_keyset(NOW, province="410000")
    fujian_kid = "350000c0ffee"
    stolen_name = replace(henan.signing_key("code", NOW), kid=fujian_kid)
    henan = KeySet(keys=(*[k for k in henan.keys if k.use != "code"], stolen_name))
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        source = henan if "henan" in url else bootstrap_keyset(NOW, province="350000")
        return json.dumps(source.jwks(NOW, RETENTION)).encode()

    trusted = TrustList(
        {FUJIAN: "https://fj.example/jwks", "urn:healthcode:410000": "https://henan.example/jwks"},
        fetch=fetch,
    )
    token, _ = sign_personal_code(henan, person_id=PERSON, level=0, lifetime=timedelta(minutes=5), now=NOW)
    assert jwt.get_unverified_header(token)["kid"] == fujian_kid
    # WHEN verified THEN only Fujian's JWKS is asked, which does not hold the key: refused
    with pytest.raises(InvalidInput) as caught:
        verify_personal_code(token, resolve=by_province(trusted), now=NOW)
    assert caught.value.code == "invalid_code" and fetched == ["https://fj.example/jwks"]
