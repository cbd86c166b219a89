"""Personal data at rest: envelope encryption and keyed hashes.

**Encryption.** ``encrypt`` seals a value with AES-256-GCM under a data key that KMS generates
(``GenerateDataKey``, ``AES_256``) from the stack's key ``PII_KEY_ID``. The result is a compact,
self-describing token::

    v1.<encrypted data key>.<nonce>.<ciphertext and tag>      (each part base64url, unpadded)

The caller's ``context`` (which field, whose record: ``{"field": "id_number", "person_id": ...}``)
is the AES-GCM associated data, so a token copied to another field or person fails to decrypt.
KMS itself sees only the fixed context ``{"purpose": "healthcode-pii"}``: CloudTrail records
encryption contexts in clear text, the key policy can require that exact pair, and one data key
can serve many records. Like the AWS Encryption SDK's caching materials manager, a data key is
reused for at most ``DATA_KEY_MAX_AGE`` or ``DATA_KEY_MAX_MESSAGES`` encryptions, and decrypted data
keys are kept in a small LRU keyed by their encrypted form.

**Keyed hashes.** ``keyed_hash`` is HMAC-SHA256 under the current key of the Secrets Manager secret
``PII_HASH_SECRET_ARN`` (``{"hmac_keys": {"<version>": "<base64, 32 bytes>"}, "current": "<version>"}``),
separated by kind (``id_number``, ``phone``), and names its key version: ``h1:<version>:<digest>``.
Lookups try every version (``keyed_hashes_for_lookup``) so keys rotate without rewriting rows.
An identity document's number is hashed per (type, number) by ``id_hash``: a resident ID number
under kind ``id_number`` as it always was (people registered before other documents existed are
still found), any other document under its own kind (``id_passport``, ``id_taiwan_permit`` …),
so equal numbers of different documents never meet.

Nothing here logs or raises with plaintext, keys or tokens in the message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from healthcode import aws, clock
from healthcode.settings import env

KEY_ID_ENV: Final = "PII_KEY_ID"
HASH_KEYS_ENV: Final = "PII_HASH_SECRET_ARN"

#: Bounds on reusing one generated data key (the Encryption SDK's caching CMM uses the same kind).
DATA_KEY_MAX_AGE: Final = timedelta(minutes=5)
DATA_KEY_MAX_MESSAGES: Final = 10_000
#: Decrypted data keys kept per container (least recently used dropped first), each for at most
#: ``DATA_KEY_MAX_AGE`` so that disabling the KMS key takes effect within minutes.
DECRYPTED_KEYS_MAX: Final = 512
#: The hash-key secret is read again after this long; a failed refresh keeps the keys it has and
#: tries again after ``HASH_KEYS_RETRY_AFTER``.
HASH_KEYS_MAX_AGE: Final = timedelta(minutes=10)
HASH_KEYS_RETRY_AFTER: Final = timedelta(seconds=30)

_SEALED_FORMAT: Final = "v1"
_HASH_FORMAT: Final = "h1"
_KMS_CONTEXT: Final[Mapping[str, str]] = {"purpose": "healthcode-pii"}
_DATA_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_HASH_KEY_MIN_BYTES: Final = 32
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VERSION = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

#: KMS Decrypt errors that mean this data key cannot be opened. An altered blob can name a key that
#: does not exist or one this function may not use, so the last two are included.
_UNOPENABLE: Final = frozenset(
    {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException", "AccessDeniedException"}
)

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class PiiError(Exception):
    """Protected personal data failed an integrity check: a tampered or truncated token, a token
    decrypted with another context, or an unusable hash-key secret. A server-side failure, never
    the caller's fault, so deliberately not a ``HealthCodeError``. Messages carry no data."""


# --- envelope encryption -------------------------------------------------------------------------


@dataclass(slots=True)
class _DataKey:
    key_id: str
    plaintext: bytes = field(repr=False)
    encrypted: bytes = field(repr=False)
    created: datetime
    uses: int = 0

    def serves(self, key_id: str, now: datetime) -> bool:
        age = now - self.created
        return (
            self.key_id == key_id
            and timedelta(0) <= age < DATA_KEY_MAX_AGE
            and self.uses < DATA_KEY_MAX_MESSAGES
        )


_encryption_key: _DataKey | None = None
#: encrypted data key -> (plaintext data key, when it entered the cache)
_decrypted_keys: OrderedDict[bytes, tuple[bytes, datetime]] = OrderedDict()


def encrypt(plaintext: str, *, context: Mapping[str, str]) -> str:
    """Seal ``plaintext`` for storage; only ``decrypt`` with an equal ``context`` opens it."""
    associated = _associated_data(context)
    data_key = _data_key_for_encryption()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(data_key.plaintext).encrypt(nonce, plaintext.encode("utf-8"), associated)
    return ".".join((_SEALED_FORMAT, _b64(data_key.encrypted), _b64(nonce), _b64(sealed)))


def decrypt(token: str, *, context: Mapping[str, str]) -> str:
    """Open a token made by ``encrypt``; ``PiiError`` if it was altered or ``context`` differs."""
    associated = _associated_data(context)
    encrypted_key, nonce, sealed = _parse_token(token)
    data_key = _data_key_for_decryption(encrypted_key)
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, sealed, associated)
    except InvalidTag:
        raise PiiError("protected value failed authentication (tampered, or the wrong context)") from None
    return plaintext.decode("utf-8")


def _associated_data(context: Mapping[str, str]) -> bytes:
    """The context as canonical JSON (sorted keys), prefixed by the token format."""
    if not context:
        raise ValueError("an encryption context is required, e.g. {'field': 'id_number', 'person_id': ...}")
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("encryption context keys and values must be strings")
    canonical = json.dumps(dict(sorted(context.items())), ensure_ascii=False, separators=(",", ":"))
    return f"{_SEALED_FORMAT}\n{canonical}".encode()


def _data_key_for_encryption() -> _DataKey:
    global _encryption_key
    key_id = env(KEY_ID_ENV)
    with _lock:
        now = clock.now()
        current = _encryption_key
        if current is None or not current.serves(key_id, now):
            answer = aws.client("kms").generate_data_key(
                KeyId=key_id, KeySpec="AES_256", EncryptionContext=dict(_KMS_CONTEXT)
            )
            plaintext: bytes = answer["Plaintext"]
            encrypted: bytes = answer["CiphertextBlob"]
            if len(plaintext) != _DATA_KEY_BYTES:
                raise PiiError("KMS returned a data key of the wrong length")
            current = _DataKey(key_id=key_id, plaintext=plaintext, encrypted=encrypted, created=now)
            _encryption_key = current
            _remember_decrypted(encrypted, plaintext, now)
        current.uses += 1
        return current


def _data_key_for_decryption(encrypted: bytes) -> bytes:
    key_id = env(KEY_ID_ENV)
    with _lock:
        now = clock.now()
        cached = _decrypted_keys.get(encrypted)
        if cached is not None:
            plaintext, since = cached
            if timedelta(0) <= now - since < DATA_KEY_MAX_AGE:
                _decrypted_keys.move_to_end(encrypted)
                return plaintext
            del _decrypted_keys[encrypted]
        try:
            answer = aws.client("kms").decrypt(
                CiphertextBlob=encrypted, KeyId=key_id, EncryptionContext=dict(_KMS_CONTEXT)
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _UNOPENABLE:
                raise
            raise PiiError(f"the data key of a protected value could not be decrypted ({code})") from None
        opened: bytes = answer["Plaintext"]
        if len(opened) != _DATA_KEY_BYTES:
            raise PiiError("the data key of a protected value has the wrong length")
        _remember_decrypted(encrypted, opened, now)
        return opened


def _remember_decrypted(encrypted: bytes, plaintext: bytes, now: datetime) -> None:
    """Cache a data key (caller holds ``_lock``)."""
    _decrypted_keys[encrypted] = (plaintext, now)
    _decrypted_keys.move_to_end(encrypted)
    while len(_decrypted_keys) > DECRYPTED_KEYS_MAX:
        _decrypted_keys.popitem(last=False)


def _parse_token(token: str) -> tuple[bytes, bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _SEALED_FORMAT:
        raise PiiError("not a protected value of a known format")
    encrypted_key, nonce, sealed = (_unb64(part) for part in parts[1:])
    if not encrypted_key or len(nonce) != _NONCE_BYTES or len(sealed) < _TAG_BYTES:
        raise PiiError("protected value is truncated")
    return encrypted_key, nonce, sealed


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise PiiError("protected value is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PiiError("protected value is not base64url") from None


# --- keyed hashes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HashKeys:
    secret_id: str
    current: str
    keys: Mapping[str, bytes] = field(repr=False)
    fetched: datetime

    def fresh(self, secret_id: str, now: datetime) -> bool:
        return self.secret_id == secret_id and timedelta(0) <= now - self.fetched < HASH_KEYS_MAX_AGE


_hash_keys: _HashKeys | None = None


def keyed_hash(kind: str, value: str) -> str:
    """``h1:<version>:<digest>`` of ``value`` under the current key, for storing and indexing.

    ``kind`` separates domains (``"id_number"``, ``"phone"``): equal values of different kinds
    hash differently. Callers pass the canonical form (e.g. the validator's upper-case ``X``)."""
    keys = _current_hash_keys()
    return _digest(kind, value, keys.current, keys.keys[keys.current])


def keyed_hashes_for_lookup(kind: str, value: str) -> list[str]:
    """The hash of ``value`` under every key version, current first: query with each in turn."""
    keys = _current_hash_keys()
    versions = [keys.current, *sorted(version for version in keys.keys if version != keys.current)]
    return [_digest(kind, value, version, keys.keys[version]) for version in versions]


#: The document type whose hashes keep the original kind (``id_number``).
RESIDENT_ID: Final = "resident_id"


def id_hash_kind(id_type: str = RESIDENT_ID) -> str:
    """The hash kind of an identity document type (``resident_id`` → ``id_number``)."""
    return "id_number" if id_type == RESIDENT_ID else f"id_{id_type}"


def id_hash(id_number: str, id_type: str = RESIDENT_ID) -> str:
    """The keyed hash of a document's (normalised) number, for storing and indexing."""
    return keyed_hash(id_hash_kind(id_type), id_number)


def id_hashes_for_lookup(id_number: str, id_type: str = RESIDENT_ID) -> list[str]:
    """``id_hash`` under every key version, current first: query with each in turn."""
    return keyed_hashes_for_lookup(id_hash_kind(id_type), id_number)


def _digest(kind: str, value: str, version: str, key: bytes) -> str:
    if not _KIND.fullmatch(kind):
        raise ValueError("hash kind must be a short snake_case name such as 'id_number'")
    mac = hmac.new(key, kind.encode("ascii") + b"\x00" + value.encode("utf-8"), hashlib.sha256)
    return f"{_HASH_FORMAT}:{version}:{_b64(mac.digest())}"


def _current_hash_keys() -> _HashKeys:
    global _hash_keys
    secret_id = env(HASH_KEYS_ENV)
    with _lock:
        now = clock.now()
        held = _hash_keys
        if held is not None and held.fresh(secret_id, now):
            return held
        try:
            answer = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
            current, keys = _parse_hash_secret(answer["SecretString"])
        except (ClientError, BotoCoreError, PiiError) as error:
            if held is None or held.secret_id != secret_id:
                raise
            # Keep hashing with the keys already held; read the secret again a little later.
            _log.warning("hash-key secret refresh failed (%s); keeping the keys held", type(error).__name__)
            retry_from = now - HASH_KEYS_MAX_AGE + HASH_KEYS_RETRY_AFTER
            _hash_keys = _HashKeys(secret_id, held.current, held.keys, fetched=retry_from)
            return _hash_keys
        _hash_keys = _HashKeys(secret_id, current, keys, fetched=now)
        return _hash_keys


def _parse_hash_secret(secret_string: str) -> tuple[str, dict[str, bytes]]:
    try:
        document = json.loads(secret_string)
    except ValueError:
        raise PiiError("hash-key secret is not JSON") from None
    if not isinstance(document, dict):
        raise PiiError("hash-key secret must be a JSON object")
    current = document.get("current")
    if "hmac_keys" not in document:
        return _parse_generated_secret(document, current)
    raw_keys = document.get("hmac_keys")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise PiiError("hash-key secret needs a non-empty 'hmac_keys' object")
    if not isinstance(current, str) or current not in raw_keys:
        raise PiiError("hash-key secret's 'current' must name one of its 'hmac_keys'")
    keys: dict[str, bytes] = {}
    for version, encoded in raw_keys.items():
        if not _VERSION.fullmatch(version):
            raise PiiError("hash-key versions must be 1-32 characters of [A-Za-z0-9_-]")
        try:
            key = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < _HASH_KEY_MIN_BYTES:
            raise PiiError(f"hash key version {version!r} is not base64 of at least 32 bytes")
        keys[version] = key
    return current, keys


def _parse_generated_secret(document: dict[str, object], current: object) -> tuple[str, dict[str, bytes]]:
    """The form CloudFormation's GenerateSecretString writes (template.yaml PiiHashSecret):
    ``{"current": "1", "hmac_key_1": "<64 random alphanumerics>"}``. Each ``hmac_key_<version>``
    is used as key material as it stands (64 alphanumerics carry about 380 bits)."""
    keys: dict[str, bytes] = {}
    for name, value in document.items():
        if not name.startswith("hmac_key_"):
            continue
        version = name.removeprefix("hmac_key_")
        if not _VERSION.fullmatch(version):
            raise PiiError("hash-key versions must be 1-32 characters of [A-Za-z0-9_-]")
        if not isinstance(value, str) or len(value) < _HASH_KEY_MIN_BYTES:
            raise PiiError(f"hash key version {version!r} must be at least {_HASH_KEY_MIN_BYTES} characters")
        keys[version] = value.encode("ascii", errors="strict") if value.isascii() else b""
        if not keys[version]:
            raise PiiError(f"hash key version {version!r} must be ASCII")
    if not keys:
        raise PiiError("hash-key secret needs 'hmac_keys' or 'hmac_key_<version>' entries")
    if not isinstance(current, str) or current not in keys:
        raise PiiError("hash-key secret's 'current' must name one of its keys")
    return current, keys


def reset_caches() -> None:
    """Forget every cached data key and hash key (tests; after rotating keys by hand)."""
    global _encryption_key, _hash_keys
    with _lock:
        _encryption_key = None
        _hash_keys = None
        _decrypted_keys.clear()
