"""Compact venue codes and the check-in's venue rules, without AWS: a code names only the venue and
its generation and fits a poster's QR (version 10, level M) with the longest code base; a scanned
URL gives back its code; the venue item decides (unknown, closed, revoked); a mobile venue's
position is kept rounded."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from healthcode import settings as settings_module
from healthcode.codes import qr
from healthcode.codes.tokens import (
    KeySet,
    VenueCodeRef,
    bootstrap_keyset,
    is_compact_venue_code,
    sign_code,
    sign_venue_code,
    verify_venue_code,
)
from healthcode.errors import InvalidInput
from healthcode.rules.geo import Location
from healthcode.rules.policy import load_policy
from healthcode.rules.venues import (
    ScannedVenue,
    check_scanned_venue,
    code_url,
    is_mobile,
    rounded_location,
    scanned_code,
)
from healthcode.settings import MAX_CODE_BASE_URL_CHARS, SettingsError
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)
KEYS = bootstrap_keyset(NOW, province="520000")
venue_ids = st.uuids().map(lambda u: f"v-{u.hex}")
generations = st.integers(min_value=0, max_value=9_999)


def resolver(keys: KeySet = KEYS):  # type: ignore[no-untyped-def]
    published = {key.kid: key for key in keys.keys if key.use == "venue"}

    def resolve(kid: str):  # type: ignore[no-untyped-def]
        key = published.get(kid)
        return key.private_key().public_key() if key else None

    return resolve


def refused(token: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        verify_venue_code(token, resolve=resolver())
    assert caught.value.field == "venue_code"
    return caught.value.code


def b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


# --- the code -----------------------------------------------------------------------------------


@given(venue_id=venue_ids, generation=generations)
def test_a_code_names_only_the_venue_and_its_generation_and_fits_a_poster(
    venue_id: str, generation: int
) -> None:
    token = sign_venue_code(KEYS, venue_id=venue_id, generation=generation, now=NOW)
    assert verify_venue_code(token, resolve=resolver()) == VenueCodeRef(
        venue_id=venue_id, generation=generation, kid=KEYS.signing_key("venue", NOW).kid
    )
    assert set(jwt.get_unverified_header(token)) == {"alg", "kid"}
    assert set(jwt.decode(token, options={"verify_signature": False})) == {"v", "g"}
    assert is_compact_venue_code(token)
    # the longest URL a stack makes holds in a version-10 symbol at level M
    url = code_url(token, base_url="x" * MAX_CODE_BASE_URL_CHARS)
    assert len(url.encode()) <= qr.BYTE_CAPACITY["M"][9] == 213
    assert qr.encode_at_level(url, "M").version <= 10


def test_forged_and_altered_codes_are_refused() -> None:
    venue_id = f"v-{uuid.uuid4().hex}"
    token = sign_venue_code(KEYS, venue_id=venue_id, generation=3, now=NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    kid = KEYS.signing_key("venue", NOW).kid
    other = bootstrap_keyset(NOW, province="520000")
    code_key = KEYS.signing_key("code", NOW)
    venue_key = KEYS.signing_key("venue", NOW).private_key()

    def signed(claims: dict[str, object], key: object = venue_key, **header: object) -> str:
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": None, **header})  # type: ignore[arg-type]

    some = {"v": "A" * 22, "g": 3}
    forged = {
        "a later generation": f"{header}.{b64({**claims, 'g': 4})}.{signature}",
        "another venue's key": sign_venue_code(other, venue_id=venue_id, generation=3, now=NOW),
        "a personal-code key": signed(some, code_key.private_key(), kid=code_key.kid),
        "an extra header": signed(some, typ="JWT"),
        "an extra claim": signed({**some, "lat": 26.5}),
        "alg none": f"{b64({'alg': 'none', 'kid': kid})}.{payload}.",
        "HS256": jwt.encode(some, "s" * 32, algorithm="HS256", headers={"kid": kid, "typ": None}),
        "signature stripped": f"{header}.{payload}.",
        "too long": token + "A" * 400,
        "not a code": "场所码",
    }
    for name, bad in forged.items():
        assert refused(bad) == "invalid_venue_code", name


@pytest.mark.parametrize(
    "claims",
    [
        {"v": "A" * 21, "g": 1},  # not 16 bytes
        {"v": "A" * 21 + "B", "g": 1},  # a non-canonical spelling of an id
        {"v": "A" * 22, "g": -1},
        {"v": "A" * 22, "g": True},
        {"v": "A" * 22, "g": 1.0},
        {"v": "A" * 22, "g": "1"},
        {"v": 7, "g": 1},
    ],
    ids=repr,
)
def test_claims_of_the_wrong_shape_are_refused_even_when_signed(claims: dict[str, object]) -> None:
    key = KEYS.signing_key("venue", NOW)
    token = jwt.encode(claims, key.private_key(), algorithm="ES256", headers={"kid": key.kid, "typ": None})
    assert refused(token) == "invalid_venue_code"


def test_an_older_venue_code_is_not_compact() -> None:
    older, _ = sign_code(
        KEYS,
        kind="venue",
        issuer="urn:healthcode:520000",
        subject="v-" + "0" * 32,
        claims={},
        lifetime=NOW - NOW,
    )
    assert not is_compact_venue_code(older) and not is_compact_venue_code("x")


def test_a_negative_generation_is_not_signed() -> None:
    with pytest.raises(ValueError):
        sign_venue_code(KEYS, venue_id=f"v-{uuid.uuid4().hex}", generation=-1, now=NOW)


# --- what a phone scanned -----------------------------------------------------------------------


def test_the_posters_url_and_the_bare_code_give_the_code() -> None:
    assert scanned_code("https://hc.local/v/a.b.c", base_url="hc.local") == "a.b.c"
    assert scanned_code("HTTPS://HC.LOCAL/v/a.b.c", base_url="hc.local") == "a.b.c"
    assert scanned_code("  a.b.c ", base_url="hc.local") == "a.b.c"


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/v/a.b.c",
        "http://hc.local/v/a.b.c",
        "https://hc.local/x/a.b.c",
        "https://hc.local.evil.example/v/a.b.c",
        "https://hc.local/v/",
        "https://hc.local/v/a.b.c/extra",
        "https://hc.local/v/a.b.c?x=1",
    ],
)
def test_a_url_other_than_this_stacks_poster_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        scanned_code(value, base_url="hc.local")
    assert (caught.value.code, caught.value.field) == ("invalid_venue_code", "venue_code")


# --- the venue decides --------------------------------------------------------------------------


def venue(generation: int, *, closed: bool = False) -> ScannedVenue:
    return ScannedVenue(
        venue_id=f"v-{uuid.uuid4().hex}",
        name="花果园购物中心",
        address="贵阳市南明区",
        venue_type="mall",
        region_code="520102",
        root_venue_id="v-" + "0" * 32,
        location=Location(26.5, 106.7),
        shards=8,
        generation=generation,
        closed=closed,
    )


@given(current=generations, scanned=generations, closed=st.booleans())
def test_only_an_open_venues_current_generation_checks_in(current: int, scanned: int, closed: bool) -> None:
    place = venue(current, closed=closed)
    if scanned > current:
        expected: str | None = "invalid_venue_code"  # a generation never issued
    elif closed:
        expected = "venue_closed"
    elif scanned < current:
        expected = "venue_code_revoked"
    else:
        expected = None
    if expected is None:
        assert check_scanned_venue(place, code_generation=scanned) is place
    else:
        with pytest.raises(InvalidInput) as caught:
            check_scanned_venue(place, code_generation=scanned)
        assert (caught.value.code, caught.value.field) == (expected, "venue_code")


def test_an_unknown_venue_is_an_invalid_code() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_scanned_venue(None, code_generation=0)
    assert caught.value.code == "invalid_venue_code"


@given(
    lat=st.floats(min_value=-90, max_value=90, allow_nan=False),
    lng=st.floats(min_value=-180, max_value=180, allow_nan=False),
)
def test_a_mobile_venues_position_is_kept_to_about_100_m(lat: float, lng: float) -> None:
    kept = rounded_location(Location(lat, lng))
    assert abs(kept.lat - lat) <= 0.0005 + 1e-12 and abs(kept.lng - lng) <= 0.0005 + 1e-12
    assert kept.lat == round(kept.lat, 3) and kept.lng == round(kept.lng, 3)


def test_vehicles_are_mobile_by_default_and_malls_are_not() -> None:
    policy = load_policy("520000")
    assert is_mobile(policy, "vehicle") and not is_mobile(policy, "mall")


# --- the code base ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["HC.LOCAL", "https://hc.local", "hc.local/v", "a" * 19, "-hc.local", "hc local"]
)
def test_a_code_base_posters_cannot_use_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CODE_BASE_URL", value)
    settings_module.reset()
    try:
        with pytest.raises(SettingsError, match="CODE_BASE_URL"):
            settings_module.settings()
    finally:
        monkeypatch.delenv("CODE_BASE_URL")
        settings_module.reset()


def test_the_code_base_defaults_to_the_local_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODE_BASE_URL", raising=False)
    settings_module.reset()
    assert settings_module.settings().code_base_url == "hc.local"
    monkeypatch.setenv("CODE_BASE_URL", "jkm.fj.gov.cn:8443")
    settings_module.reset()
    try:
        assert settings_module.settings().code_base_url == "jkm.fj.gov.cn:8443"
    finally:
        monkeypatch.delenv("CODE_BASE_URL")
        settings_module.reset()
