"""Signed codes: the signing key set, JWKS, and code signing / verification.

Every code the stack issues is an ES256 JWT with a ``kid``. Three kinds, never interchangeable:

* ``code``  — the dynamic personal code (minutes), signed by a *code* key;
* ``paper`` — the printed personal code for people without smartphones (months), *code* key;
* ``venue`` — the venue code on a poster (years), signed by a *venue* key.

A venue code is *compact* (``sign_venue_code``): a JWT whose header holds only ``alg`` and
``kid`` and whose claims hold only the venue id (``v``: its 128 random bits, base64url) and the
code's generation (``g``). Everything else about the venue is read with the venue at check-in,
and a reissue moves the venue's generation on, so an older code is refused. It has no expiry:
it lives while its generation is current and its key is published. Its kind is bound by the key
(venue keys sign nothing else) and by its shape (no ``typ``: a personal code needs one). Venue
codes printed before compact codes (the ``venue`` kind below, with the venue's name, place and
coordinates in the claims) are still verified by ``verify_code``.

Kind is bound three ways: the ``typ`` header, the ``typ`` claim, and the key's ``use``; a venue
code offered as a personal code fails all three. Verification follows the EU DCC verifier order:
structure and header first (pinned algorithm, known ``kid``, no header-supplied keys), then the
signature, then content (issuer, expiry and issue time on the stack clock).

Rotation without downtime: a new key is published in JWKS ``activation_delay`` before it signs
(every container's key cache has refreshed by then); the key it replaces stops signing at that
moment and stays published for as long as anything it signed may still be live — the longest
personal code lifetime for code keys, the venue code lifetime for venue keys (posters are not
invalidated by rotation; they are re-issued at the manager's pace and old keys expire with them).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode import clock
from healthcode.errors import InvalidInput

ALGORITHM = "ES256"  # pinned: never taken from the token
KeyUse = Literal["code", "venue"]
CodeKind = Literal["code", "paper", "venue"]
KEY_USE: dict[CodeKind, KeyUse] = {"code": "code", "paper": "code", "venue": "venue"}
TYP_HEADER: dict[CodeKind, str] = {"code": "hc-code+jwt", "paper": "hc-paper+jwt", "venue": "hc-venue+jwt"}
#: Headers that would let a token choose its own key: refused outright.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
IAT_LEEWAY = timedelta(seconds=60)
#: Error code per kind when a code is forged/tampered/garbage.
INVALID_CODE: dict[CodeKind, str] = {
    "code": "invalid_code",
    "paper": "invalid_code",
    "venue": "invalid_venue_code",
}


class _Utf8Json(json.JSONEncoder):
    """JSON for token payloads: UTF-8 text as is (a Chinese venue name is 3 bytes a character,
    not a 6-byte ``\\uXXXX`` escape), so venue codes and their QR symbols stay small."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["ensure_ascii"] = False
        super().__init__(**kwargs)


def _b64url_uint(value: int, length: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=64)
def _private_key(kid: str, pem: str) -> ec.EllipticCurvePrivateKey:
    """Parse a key once per container: PEM parsing costs more than the signature check itself."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"key {kid} is not a P-256 key")
    return key


@dataclass(frozen=True)
class SigningKey:
    kid: str
    use: KeyUse
    private_pem: str = field(repr=False)
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return _private_key(self.kid, self.private_pem)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key().public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url_uint(numbers.x, 32),
            "y": _b64url_uint(numbers.y, 32),
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
            "hc_use": self.use,
        }

    def signs_at(self, now: datetime) -> bool:
        return self.activates_at <= now and (self.retired_at is None or now < self.retired_at)

    def to_json(self) -> dict[str, str | None]:
        return {
            "kid": self.kid,
            "use": self.use,
            "private_pem": self.private_pem,
            "created_at": self.created_at.isoformat(),
            "activates_at": self.activates_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SigningKey:
        use = raw["use"]
        if use not in ("code", "venue"):
            raise ValueError(f"key {raw.get('kid')}: unknown use {use!r}")
        retired = raw.get("retired_at")
        return cls(
            kid=str(raw["kid"]),
            use=use,
            private_pem=str(raw["private_pem"]),
            created_at=clock.parse_instant(raw["created_at"]),
            activates_at=clock.parse_instant(raw["activates_at"]),
            retired_at=clock.parse_instant(retired) if retired else None,
        )


def new_key(use: KeyUse, *, now: datetime, activates_at: datetime | None = None) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    # a venue key's id is short: it is in every compact venue code, and a poster's QR symbol
    # holds the code (``sign_venue_code``)
    kid = f"v{secrets.token_hex(4)}" if use == "venue" else f"{use[0]}{now:%Y%m%d}-{secrets.token_hex(4)}"
    return SigningKey(kid=kid, use=use, private_pem=pem, created_at=now, activates_at=activates_at or now)


@dataclass(frozen=True)
class Retention:
    """How long a retired key stays published, per use (the longest life of what it signed)."""

    code: timedelta
    venue: timedelta

    def of(self, use: KeyUse) -> timedelta:
        return self.code if use == "code" else self.venue


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...]

    def signing_key(self, use: KeyUse, now: datetime) -> SigningKey:
        candidates = [k for k in self.keys if k.use == use and k.signs_at(now)]
        if not candidates:
            raise LookupError(f"no active {use} signing key")
        return max(candidates, key=lambda k: (k.activates_at, k.kid))

    def published(self, now: datetime, retention: Retention) -> list[SigningKey]:
        """Every key that may have signed a live code, or is about to sign."""
        return [k for k in self.keys if k.retired_at is None or now < k.retired_at + retention.of(k.use)]

    def find(self, kid: str) -> SigningKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def jwks(self, now: datetime, retention: Retention) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public_jwk() for k in sorted(self.published(now, retention), key=lambda k: k.kid)]}

    def to_json(self) -> str:
        return json.dumps({"keys": [k.to_json() for k in self.keys]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> KeySet:
        raw = json.loads(text)
        return cls(keys=tuple(SigningKey.from_json(k) for k in raw.get("keys", [])))

    def rotate(self, use: KeyUse, *, now: datetime, activation_delay: timedelta) -> KeySet:
        """Add a new ``use`` key that signs from ``now + activation_delay``; the keys it
        replaces retire at that instant. Keys retired longer ago than any retention are kept
        out of JWKS by ``published`` and pruned by ``prune``."""
        starts = now + activation_delay
        fresh = new_key(use, now=now, activates_at=starts)
        kept = tuple(
            replace(k, retired_at=starts) if k.use == use and k.retired_at is None else k for k in self.keys
        )
        return KeySet(keys=(*kept, fresh))

    def prune(self, now: datetime, retention: Retention) -> KeySet:
        return KeySet(keys=tuple(self.published(now, retention)))


def bootstrap_keyset(now: datetime) -> KeySet:
    """The first key set of a new stack: one code key and one venue key, created ``now`` and
    signing at any instant of the stack clock (from ``clock.EARLIEST``): no key precedes them, so
    a clock set before the stack's creation — a local stack replaying a past scenario — still
    signs. Rotated keys keep their delay (``KeySet.rotate``)."""
    return KeySet(
        keys=(
            new_key("code", now=now, activates_at=clock.EARLIEST),
            new_key("venue", now=now, activates_at=clock.EARLIEST),
        )
    )


# --- the container's view of the key set ------------------------------------------------------


class KeyCache:
    """Key set loaded through ``load`` and kept for ``ttl_seconds`` (per container)."""

    def __init__(self, load: Callable[[], KeySet], ttl_seconds: float = 300.0) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._value: KeySet | None = None
        self._loaded_at = 0.0

    def get(self) -> KeySet:
        value = self._value
        if value is not None and time.monotonic() - self._loaded_at < self._ttl:
            return value
        with self._lock:
            if self._value is None or time.monotonic() - self._loaded_at >= self._ttl:
                self._value = self._load()
                self._loaded_at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None


# --- signing and verifying codes ----------------------------------------------------------------


def sign_code(
    keyset: KeySet,
    *,
    kind: CodeKind,
    issuer: str,
    subject: str,
    claims: Mapping[str, Any],
    lifetime: timedelta,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """Sign a code of ``kind``; returns the token and its expiry. ``claims`` must hold no
    personal data (no name, ID number or phone): callers pass pseudonymous ids and colours."""
    instant = now or clock.now()
    key = keyset.signing_key(KEY_USE[kind], instant)
    issued = instant.replace(microsecond=0)
    expires = issued + lifetime
    payload = {
        **claims,
        "iss": issuer,
        "sub": subject,
        "typ": kind,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": str(claims.get("jti") or secrets.token_urlsafe(9)),  # fixed by a retried request
    }
    token = jwt.encode(
        payload,
        key.private_key(),
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": TYP_HEADER[kind]},
        json_encoder=_Utf8Json,
    )
    return token, expires


@dataclass(frozen=True)
class VerifiedCode:
    kind: CodeKind
    issuer: str
    subject: str
    kid: str
    issued_at: datetime
    expires_at: datetime
    claims: Mapping[str, Any]


#: Finds the verifying key for (issuer, kid); None when unknown. The local one knows this stack's
#: keys; a trust list (other provinces' JWKS) can extend it.
KeyResolver = Callable[[str, str], "ec.EllipticCurvePublicKey | None"]


def local_resolver(
    keyset: KeySet, *, issuer: str, kinds: Iterable[CodeKind], now: datetime, retention: Retention
) -> KeyResolver:
    uses = {KEY_USE[k] for k in kinds}
    published = {k.kid: k for k in keyset.published(now, retention) if k.use in uses}

    def resolve(iss: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = published.get(kid) if iss == issuer else None
        return key.private_key().public_key() if key else None

    return resolve


def verify_code(
    token: str,
    *,
    kinds: Iterable[CodeKind],
    resolve: KeyResolver,
    issuers: Iterable[str],
    now: datetime | None = None,
) -> VerifiedCode:
    """Verify ``token`` as one of ``kinds``. Raises InvalidInput with ``invalid_code`` /
    ``invalid_venue_code`` (forged, tampered, wrong kind, unknown key) or ``code_expired``."""
    wanted = tuple(kinds)
    bad = INVALID_CODE[wanted[0]]
    field = "venue_code" if wanted == ("venue",) else "code"

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"code refused: {why}", field=field, code=bad)

    if not isinstance(token, str) or not 16 <= len(token) <= 4096 or token.count(".") != 2:
        raise refuse("not a signed code")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise refuse("malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise refuse("algorithm not allowed")
    if FORBIDDEN_HEADERS & set(header):
        raise refuse("header-supplied keys are not accepted")
    kid, typ = header.get("kid"), header.get("typ")
    kind = next((k for k in wanted if TYP_HEADER[k] == typ), None)
    if kind is None or unverified.get("typ") != kind:
        raise refuse("wrong kind of code")
    iss = unverified.get("iss")
    if not isinstance(kid, str) or not isinstance(iss, str) or iss not in set(issuers):
        raise refuse("unknown issuer or key")
    public = resolve(iss, kid)
    if public is None:
        raise refuse("unknown issuer or key")
    try:
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            issuer=iss,
            options={
                "require": ["exp", "iat", "iss", "sub", "typ", "jti"],
                "verify_exp": False,  # checked below on the stack clock
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise refuse("signature or claims invalid") from exc
    current = now or clock.now()
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or isinstance(iat, bool):
        raise refuse("bad time claims")
    try:
        issued = datetime.fromtimestamp(iat, tz=current.tzinfo)
        expires = datetime.fromtimestamp(exp, tz=current.tzinfo)
    except (OverflowError, OSError, ValueError) as exc:  # an instant outside any calendar
        raise refuse("bad time claims") from exc
    if issued - IAT_LEEWAY > current or expires <= issued:
        raise refuse("issued in the future")
    if current >= expires:
        raise InvalidInput("code expired: refresh it", field=field, code="code_expired")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise refuse("bad subject")
    return VerifiedCode(
        kind=kind,
        issuer=iss,
        subject=claims["sub"],
        kid=kid,
        issued_at=issued,
        expires_at=expires,
        claims=claims,
    )


# --- compact venue codes -------------------------------------------------------------------------

#: The claims of a compact venue code, and nothing else.
VENUE_CODE_CLAIMS: frozenset[str] = frozenset({"v", "g"})
#: The header of a compact venue code, and nothing else.
VENUE_CODE_HEADER: frozenset[str] = frozenset({"alg", "kid"})
#: Longest compact venue code accepted (one is under 200 characters).
MAX_VENUE_CODE_CHARS = 400
_VENUE_ID_BYTES = 16


@dataclass(frozen=True)
class VenueCodeRef:
    """What a verified venue code names: the venue and the generation it was issued at (0 for
    a code printed before compact codes). ``claims`` holds such an older code's claims."""

    venue_id: str
    generation: int
    kid: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def compact(self) -> bool:
        return not self.claims


def _venue_id_claim(venue_id: str) -> str:
    if not venue_id.startswith("v-") or len(venue_id) != 2 + 2 * _VENUE_ID_BYTES:
        raise ValueError("not a venue id")
    raw = bytes.fromhex(venue_id[2:])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _venue_id_from_claim(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 22:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except (ValueError, TypeError):
        return None
    if len(raw) != _VENUE_ID_BYTES or _venue_id_claim("v-" + raw.hex()) != value:
        return None  # only the one canonical spelling of each id
    return "v-" + raw.hex()


def sign_venue_code(keyset: KeySet, *, venue_id: str, generation: int, now: datetime | None = None) -> str:
    """A compact venue code for ``venue_id`` at ``generation``, signed by the current venue key."""
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValueError("a generation is a whole number from 0")
    key = keyset.signing_key("venue", now or clock.now())
    return jwt.encode(
        {"v": _venue_id_claim(venue_id), "g": generation},
        key.private_key(),
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": None},
    )


#: Finds the public key of a venue key id this stack publishes; None when unknown.
VenueKeyResolver = Callable[[str], "ec.EllipticCurvePublicKey | None"]


def is_compact_venue_code(token: str) -> bool:
    """Whether ``token`` has the shape of a compact venue code (a header without ``typ``);
    anything else is checked as an older code by ``verify_code``."""
    try:
        return "typ" not in jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False


def verify_venue_code(token: str, *, resolve: VenueKeyResolver) -> VenueCodeRef:
    """Verify a compact venue code: pinned algorithm, exactly the header and claims it may
    have, a published venue key. Raises InvalidInput ``invalid_venue_code``."""

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"venue code refused: {why}", field="venue_code", code="invalid_venue_code")

    if not isinstance(token, str) or not 16 <= len(token) <= MAX_VENUE_CODE_CHARS or token.count(".") != 2:
        raise refuse("not a signed code")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise refuse("malformed") from exc
    if set(header) != VENUE_CODE_HEADER or header.get("alg") != ALGORITHM:
        raise refuse("not a venue code header")
    kid = header.get("kid")
    public = resolve(kid) if isinstance(kid, str) else None
    if public is None or not isinstance(kid, str):
        raise refuse("unknown key")
    try:
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise refuse("signature or claims invalid") from exc
    if set(claims) != VENUE_CODE_CLAIMS:
        raise refuse("not venue code claims")
    venue_id = _venue_id_from_claim(claims["v"])
    generation = claims["g"]
    if venue_id is None:
        raise refuse("not a venue id")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise refuse("bad generation")
    return VenueCodeRef(venue_id=venue_id, generation=generation, kid=kid)
