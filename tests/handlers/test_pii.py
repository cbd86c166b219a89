"""Envelope encryption and keyed hashes of personal data: healthcode.protection.pii on moto KMS and
Secrets Manager."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from healthcode import aws, clock
from healthcode.protection import pii
from healthcode.protection.pii import PiiError, decrypt, encrypt, keyed_hash, keyed_hashes_for_lookup
from healthcode.settings import SettingsError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(100, 132))
START = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_character(first17: str) -> str:
    """An 18-character ID number: ``first17`` and its GB 11643 MOD 11-2 check character."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


ID_NUMBERS = [with_check_character("11010519491231002"), with_check_character("35010219900307123")]
assert ID_NUMBERS[0] == "11010519491231002X"  # the worked example of GB 11643

id_numbers = st.text(alphabet="0123456789", min_size=17, max_size=17).map(with_check_character)
chinese_names = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=4
)


def secret_string(keys: dict[str, bytes], current: str) -> str:
    encoded = {version: base64.b64encode(key).decode() for version, key in keys.items()}
    return json.dumps({"hmac_keys": encoded, "current": current})


@dataclass
class Stack:
    """The moto resources the module reads, and the AWS calls it made (as sent)."""

    kms: Any
    secrets: Any
    key_id: str
    secret_arn: str = ""
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def count(self, operation: str) -> int:
        return len(self.calls.get(operation, []))

    def record(self, client: Any, service: str, operation: str) -> None:
        def hook(params: dict[str, Any], **_: Any) -> None:
            body = params.get("body") or b"{}"  # the request as sent: JSON for both services
            self.calls.setdefault(operation, []).append(json.loads(body))

        client.meta.events.register(f"before-call.{service}.{operation}", hook)


@pytest.fixture(scope="module")
def moto_stack() -> Iterator[Stack]:
    """A moto account with the stack's KMS key, for the whole module (clients are slow to make)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "cn-north-1",
            "AWS_REGION": "cn-north-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        with mock_aws():
            aws.reset()
            kms = aws.client("kms")
            secrets = aws.client("secretsmanager")
            key_id = kms.create_key(Description="healthcode personal data")["KeyMetadata"]["KeyId"]
            found = Stack(kms=kms, secrets=secrets, key_id=key_id)
            found.record(kms, "kms", "GenerateDataKey")
            found.record(kms, "kms", "Decrypt")
            found.record(secrets, "secretsmanager", "GetSecretValue")
            try:
                yield found
            finally:
                aws.reset()


@pytest.fixture
def stack(moto_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """GIVEN the key, a fresh hash-key secret (version 1 current), a cold container and the
    environment a function gets; the clock stopped."""
    moto_stack.secret_arn = moto_stack.secrets.create_secret(
        Name=f"healthcode/pii-hash-keys-{uuid.uuid4().hex}", SecretString=secret_string({"1": KEY_1}, "1")
    )["ARN"]
    monkeypatch.setenv("PII_KEY_ID", moto_stack.key_id)
    monkeypatch.setenv("PII_HASH_SECRET_ARN", moto_stack.secret_arn)
    moto_stack.calls.clear()
    pii.reset_caches()
    clock.freeze(START)
    try:
        yield moto_stack
    finally:
        pii.reset_caches()
        clock.reset()


def person(person_id: str, field_name: str = "id_number") -> dict[str, str]:
    return {"field": field_name, "person_id": person_id}


# --- encryption ---------------------------------------------------------------------------------------


@SETTINGS
@given(value=st.one_of(st.text(), chinese_names, id_numbers))
def test_round_trip(stack: Stack, value: str) -> None:
    """GIVEN any text (names, ID numbers, emoji, empty) WHEN encrypted and decrypted with the same
    context THEN the same text comes back, and the token does not contain it."""
    token = encrypt(value, context=person("p-1"))
    assert decrypt(token, context=person("p-1")) == value


@pytest.mark.parametrize("value", ["张三", "欧阳娜娜", *ID_NUMBERS, "13800138000", "福州市鼓楼区五四路 1 号"])
def test_round_trip_in_a_fresh_container(stack: Stack, value: str) -> None:
    """GIVEN a value encrypted in one container WHEN another container (no cached keys) decrypts it
    THEN KMS Decrypt opens the data key and the value comes back."""
    token = encrypt(value, context=person("p-2", "name"))
    assert value not in token
    pii.reset_caches()
    assert decrypt(token, context=person("p-2", "name")) == value
    assert stack.count("Decrypt") == 1


def test_token_shape(stack: Stack) -> None:
    """GIVEN a value WHEN encrypted THEN the token is v1 and four base64url parts, 12-byte nonce."""
    token = encrypt("11010519491231002X", context=person("p-3"))
    version, key, nonce, sealed = token.split(".")
    assert version == "v1"
    for part in (key, nonce, sealed):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", part)
    assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) == 12
    assert len(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))) == 18 + 16  # text + GCM tag


def test_each_encryption_differs(stack: Stack) -> None:
    """GIVEN the same value and context WHEN encrypted twice THEN the tokens differ (random nonce)
    even though they share the cached data key."""
    first = encrypt("张三", context=person("p-4", "name"))
    second = encrypt("张三", context=person("p-4", "name"))
    assert first != second
    assert first.split(".")[1] == second.split(".")[1]
    assert first.split(".")[2] != second.split(".")[2]


def test_context_order_does_not_matter(stack: Stack) -> None:
    """GIVEN a context WHEN decrypting with the same pairs in another order THEN it opens."""
    token = encrypt("13800138000", context={"field": "phone", "person_id": "p-5"})
    assert decrypt(token, context={"person_id": "p-5", "field": "phone"}) == "13800138000"


@pytest.mark.parametrize(
    "other",
    [
        {"field": "id_number", "person_id": "p-7"},  # another person
        {"field": "phone", "person_id": "p-6"},  # another field
        {"field": "id_number", "person_id": "p-6", "table": "persons"},  # an extra pair
        {"field": "id_number"},  # a pair missing
        {"field": "ID_NUMBER", "person_id": "p-6"},  # case matters
    ],
)
def test_wrong_context_fails(stack: Stack, other: dict[str, str]) -> None:
    """GIVEN a token sealed for one field of one person WHEN opened with any other context
    THEN PiiError, and the message holds neither the value nor the token."""
    token = encrypt("11010519491231002X", context=person("p-6"))
    with pytest.raises(PiiError) as raised:
        decrypt(token, context=other)
    assert "11010519491231002X" not in str(raised.value)
    assert token.split(".")[3] not in str(raised.value)


def test_moved_ciphertext_fails(stack: Stack) -> None:
    """GIVEN two people's tokens WHEN one's ciphertext is pasted into the other's record
    THEN it does not open as the other person."""
    mine = encrypt("11010519491231002X", context=person("p-8"))
    theirs = encrypt("350102199003071236", context=person("p-9"))
    assert decrypt(mine, context=person("p-8")) == "11010519491231002X"
    with pytest.raises(PiiError):
        decrypt(mine, context=person("p-9"))
    spliced = ".".join([*theirs.split(".")[:2], *mine.split(".")[2:]])
    with pytest.raises(PiiError):
        decrypt(spliced, context=person("p-9"))


def _flip(part: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    raw[index % len(raw)] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@SETTINGS
@given(part=st.sampled_from([1, 2, 3]), index=st.integers(min_value=0, max_value=500))
def test_tampered_token_fails(stack: Stack, part: int, index: int) -> None:
    """GIVEN a token WHEN any single bit of its data key, nonce or ciphertext is flipped
    THEN PiiError, whether or not the data key is cached."""
    token = encrypt("欧阳娜娜", context=person("p-10", "name"))
    parts = token.split(".")
    parts[part] = _flip(parts[part], index)
    tampered = ".".join(parts)
    with pytest.raises(PiiError):
        decrypt(tampered, context=person("p-10", "name"))
    pii.reset_caches()
    with pytest.raises(PiiError):
        decrypt(tampered, context=person("p-10", "name"))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-6],  # truncated ciphertext: tag cut
        lambda t: "v2" + t[2:],  # unknown format
        lambda t: ".".join(t.split(".")[:3]),  # a part missing
        lambda t: t + ".extra",  # a part too many
        lambda t: t.replace(".", ".!", 1),  # not base64url
        lambda t: "v1.AAAA.AAAA.AAAA",  # nonce too short
        lambda t: "",
    ],
)
def test_malformed_token_fails(stack: Stack, mangle: Any) -> None:
    """GIVEN a token cut, extended or rewritten WHEN decrypted THEN PiiError (never another error)."""
    token = encrypt("张三", context=person("p-11", "name"))
    with pytest.raises(PiiError):
        decrypt(mangle(token), context=person("p-11", "name"))


def test_context_is_required(stack: Stack) -> None:
    """GIVEN no context WHEN encrypting THEN refused: every value must be bound to its place."""
    with pytest.raises(ValueError, match="context"):
        encrypt("张三", context={})


def test_kms_sees_only_the_fixed_context(stack: Stack) -> None:
    """GIVEN values of many people WHEN encrypted THEN KMS is asked for an AES-256 data key with
    the fixed purpose context only: no person id reaches CloudTrail."""
    for n in range(3):
        encrypt("13800138000", context=person(f"p-{n}", "phone"))
    (call,) = stack.calls["GenerateDataKey"]
    assert call["KeySpec"] == "AES_256"
    assert call["KeyId"] == stack.key_id
    assert call["EncryptionContext"] == {"purpose": "healthcode-pii"}


# --- data-key caching ----------------------------------------------------------------------------------


def test_one_data_key_serves_many_values(stack: Stack) -> None:
    """GIVEN a warm container WHEN 100 values of 100 people are encrypted THEN KMS GenerateDataKey
    is called once, and decrypting them in the same container needs no KMS Decrypt."""
    tokens = [encrypt(f"1380013{n:04d}", context=person(f"p-{n}", "phone")) for n in range(100)]
    assert stack.count("GenerateDataKey") == 1
    assert [decrypt(t, context=person(f"p-{n}", "phone")) for n, t in enumerate(tokens)] == [
        f"1380013{n:04d}" for n in range(100)
    ]
    assert stack.count("Decrypt") == 0


def test_data_key_is_replaced_after_five_minutes(stack: Stack) -> None:
    """GIVEN a cached data key WHEN 4:59 have passed THEN it is reused; WHEN 5:00 have THEN a new
    one is generated."""
    encrypt("a", context=person("p-1"))
    clock.advance(299)
    encrypt("b", context=person("p-1"))
    assert stack.count("GenerateDataKey") == 1
    clock.advance(1)
    encrypt("c", context=person("p-1"))
    assert stack.count("GenerateDataKey") == 2


def test_data_key_is_replaced_after_its_message_limit(stack: Stack) -> None:
    """GIVEN a data key WHEN it has sealed DATA_KEY_MAX_MESSAGES values THEN the next one gets a new key."""
    tokens = [encrypt("x", context=person("p-1")) for _ in range(pii.DATA_KEY_MAX_MESSAGES)]
    assert stack.count("GenerateDataKey") == 1
    extra = encrypt("x", context=person("p-1"))
    assert stack.count("GenerateDataKey") == 2
    assert extra.split(".")[1] != tokens[-1].split(".")[1]


def test_decrypted_data_keys_are_cached(stack: Stack) -> None:
    """GIVEN 50 tokens under one data key, read in a fresh container WHEN all are decrypted twice
    THEN KMS Decrypt is called once."""
    tokens = [encrypt(f"name-{n}", context=person(f"p-{n}", "name")) for n in range(50)]
    pii.reset_caches()
    for _ in range(2):
        for n, token in enumerate(tokens):
            assert decrypt(token, context=person(f"p-{n}", "name")) == f"name-{n}"
    assert stack.count("Decrypt") == 1


def test_decrypted_data_keys_expire(stack: Stack) -> None:
    """GIVEN a decrypted data key in the cache WHEN five minutes pass THEN KMS is asked again
    (a disabled key stops working within minutes)."""
    token = encrypt("张三", context=person("p-1", "name"))
    pii.reset_caches()
    decrypt(token, context=person("p-1", "name"))
    clock.advance(300)
    decrypt(token, context=person("p-1", "name"))
    assert stack.count("Decrypt") == 2


def test_missing_key_setting_fails_fast(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN no PII_KEY_ID WHEN encrypting THEN a settings error names the variable."""
    monkeypatch.delenv("PII_KEY_ID")
    with pytest.raises(SettingsError, match="PII_KEY_ID"):
        encrypt("张三", context=person("p-1", "name"))


# --- keyed hashes ---------------------------------------------------------------------------------------


def expected_hash(kind: str, value: str, version: str, key: bytes) -> str:
    """The documented construction: HMAC-SHA256(key, kind NUL value), base64url without padding."""
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
    return f"h1:{version}:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@SETTINGS
@given(value=st.one_of(id_numbers, st.text()))
def test_keyed_hash_is_stable_and_matches_the_construction(stack: Stack, value: str) -> None:
    """GIVEN a value WHEN hashed twice, and again in a fresh container THEN the same hash, equal
    to the documented HMAC construction under the current key."""
    first = keyed_hash("id_number", value)
    assert keyed_hash("id_number", value) == first
    pii.reset_caches()
    assert keyed_hash("id_number", value) == first
    assert first == expected_hash("id_number", value, "1", KEY_1)
    assert re.fullmatch(r"h1:1:[A-Za-z0-9_-]{43}", first)


def test_keyed_hash_differs_per_kind_and_value(stack: Stack) -> None:
    """GIVEN the same digits as an ID number and as a phone THEN the hashes differ; so do two values."""
    assert keyed_hash("id_number", "13800138000") != keyed_hash("phone", "13800138000")
    assert keyed_hash("phone", "13800138000") != keyed_hash("phone", "13800138001")
    assert keyed_hash("id_number", ID_NUMBERS[0]) != keyed_hash("id_number", ID_NUMBERS[1])


@pytest.mark.parametrize("kind", ["", "ID", "id number", "phone\x00", "x" * 40])
def test_keyed_hash_kind_is_a_short_name(stack: Stack, kind: str) -> None:
    """GIVEN a kind that is not a short snake_case name THEN refused (no ambiguous domains)."""
    with pytest.raises(ValueError, match="kind"):
        keyed_hash(kind, "13800138000")


def test_rotation_new_hashes_use_current_and_lookups_try_all(stack: Stack) -> None:
    """GIVEN a hash stored under key 1 WHEN the secret gains key 2 as current THEN new hashes use
    version 2, and the lookup list holds both (current first) so the old row is still found."""
    stored = keyed_hash("id_number", ID_NUMBERS[0])
    stack.secrets.put_secret_value(
        SecretId=stack.secret_arn, SecretString=secret_string({"1": KEY_1, "2": KEY_2}, "2")
    )
    pii.reset_caches()
    fresh = keyed_hash("id_number", ID_NUMBERS[0])
    assert fresh == expected_hash("id_number", ID_NUMBERS[0], "2", KEY_2)
    lookups = keyed_hashes_for_lookup("id_number", ID_NUMBERS[0])
    assert lookups == [fresh, stored]


def test_hash_keys_are_read_once_and_refreshed_after_ten_minutes(stack: Stack) -> None:
    """GIVEN the hash keys cached WHEN the secret rotates THEN the container keeps the keys it has
    until ten minutes have passed, then reads the secret again and hashes with the new key."""
    for _ in range(20):
        keyed_hash("phone", "13800138000")
    assert stack.count("GetSecretValue") == 1
    stack.secrets.put_secret_value(
        SecretId=stack.secret_arn, SecretString=secret_string({"1": KEY_1, "2": KEY_2}, "2")
    )
    clock.advance(599)
    assert keyed_hash("phone", "13800138000").startswith("h1:1:")
    clock.advance(1)
    assert keyed_hash("phone", "13800138000").startswith("h1:2:")
    assert stack.count("GetSecretValue") == 2


def test_failed_refresh_keeps_the_keys_held(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN hash keys cached WHEN the secret cannot be read at refresh time THEN hashing goes on with
    the keys held (a warning without key material), and the secret is tried again 30 s later."""
    before = keyed_hash("phone", "13800138000")
    stack.secrets.delete_secret(SecretId=stack.secret_arn, ForceDeleteWithoutRecovery=True)
    clock.advance(601)
    with caplog.at_level(logging.WARNING, logger="healthcode.protection.pii"):
        assert keyed_hash("phone", "13800138000") == before
        assert keyed_hash("phone", "13800138000") == before
    assert stack.count("GetSecretValue") == 2  # one failed attempt, not one per call
    assert "refresh failed" in caplog.text
    assert base64.b64encode(KEY_1).decode() not in caplog.text
    clock.advance(30)
    keyed_hash("phone", "13800138000")
    assert stack.count("GetSecretValue") == 3


def test_unreadable_secret_without_keys_held_fails(stack: Stack) -> None:
    """GIVEN a cold container WHEN the secret cannot be read THEN the error surfaces: there is
    nothing to hash with."""
    stack.secrets.delete_secret(SecretId=stack.secret_arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(stack.secrets.exceptions.ResourceNotFoundException):
        keyed_hash("phone", "13800138000")


@pytest.mark.parametrize(
    "secret",
    [
        "not json",
        json.dumps(["1"]),
        json.dumps({"hmac_keys": {}, "current": "1"}),
        json.dumps({"hmac_keys": {"1": base64.b64encode(KEY_1).decode()}, "current": "2"}),
        json.dumps({"hmac_keys": {"1": base64.b64encode(b"short").decode()}, "current": "1"}),
        json.dumps({"hmac_keys": {"1": "not base64!"}, "current": "1"}),
        json.dumps({"hmac_keys": {"a:b": base64.b64encode(KEY_1).decode()}, "current": "a:b"}),
        json.dumps({"hmac_keys": {"1": 12345}, "current": "1"}),
    ],
)
def test_malformed_secret_fails(stack: Stack, secret: str) -> None:
    """GIVEN a hash-key secret that is not the documented shape THEN PiiError, holding no key bytes."""
    stack.secrets.put_secret_value(SecretId=stack.secret_arn, SecretString=secret)
    with pytest.raises(PiiError) as raised:
        keyed_hash("phone", "13800138000")
    assert base64.b64encode(KEY_1).decode() not in str(raised.value)


def test_the_secret_cloudformation_generates_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the flat form template.yaml's GenerateSecretString writes WHEN hashing THEN it works,
    is stable, and a too-short generated key is refused."""
    from healthcode.protection.pii import _parse_generated_secret

    current, keys = _parse_generated_secret({"current": "1", "hmac_key_1": "a" * 64}, "1")
    assert current == "1" and keys == {"1": b"a" * 64}
    with pytest.raises(pii.PiiError):
        _parse_generated_secret({"current": "1", "hmac_key_1": "short"}, "1")
    with pytest.raises(pii.PiiError):
        _parse_generated_secret({"current": "2", "hmac_key_1": "a" * 64}, "2")
