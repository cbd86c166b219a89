"""Signed codes: the signing key set, JWKS, and code signing / verification.

Every code the stack issues is an ES256 JWT with a ``kid``. Three kinds, never interchangeable:

* ``code``  — the dynamic personal code (minutes), signed by a *code* key;
* ``paper`` — the printed personal code for people without smartphones (months), *paper* key;
* ``venue`` — the venue code on a poster (years), signed by a *venue* key.

A personal code is *compact* (``sign_personal_code``) because a phone shows it as a QR symbol
that must stay at version 10 or below at level M (old phones, worn screens): a JWT whose header
holds only ``alg`` and ``kid`` and whose claims hold only ``sub`` (the person id's 128 bits,
base64url: 22 characters), ``lvl`` (the risk level) and ``exp``. The issuer is implied by the
``kid``, which names the province (``350000c1f2e3``: province, ``c`` for a code key, five hex
digits; see ``province_of_kid``), and verifiers look its key up by province and ``kid``. The kind
is bound by the key: code keys sign nothing but personal codes, and a paper or venue key never
verifies one (nor a code key anything else); by shape as well (no ``typ`` header).
Personal codes signed before compact codes (``typ`` headers, ``iss``/``col``/``prv``/``iat``/
``jti`` claims, a key id without a province) live minutes; ``verify_code`` still accepts them
from such an older key (``legacy_code_key``), which also verifies paper codes it signed.

A venue code is *compact* (``sign_venue_code``): a JWT whose header holds only ``alg`` and
``kid`` and whose claims hold only the venue id (``v``: its 128 random bits, base64url) and the
code's generation (``g``). Everything else about the venue is read with the venue at check-in,
and a reissue moves the venue's generation on, so an older code is refused. It has no expiry:
it lives while its generation is current and its key is published. Its kind is bound by the key
(venue keys sign nothing else) and by its shape (no ``typ``: a personal code needs one). Venue
codes printed before compact codes (the ``venue`` kind below, with the venue's name, place and
coordinates in the claims) are still verified by ``verify_code``.

Paper codes keep the full form (``sign_code``): they live months and are revoked by their
``jti`` when a new one is issued, and their QR is printed with large modules. For those, kind is
bound three ways: the ``typ`` header, the ``typ`` claim, and the key's ``use``; a venue code
offered as a paper code fails all three. Verification follows the EU DCC verifier order:
structure and header first (pinned algorithm, known ``kid``, no header-supplied keys), then the
signature, then content (issuer, expiry and issue time on the stack clock).

The tokens are written and read by ``healthcode.codes.jws`` (ES256 only, canonical base64url,
no duplicate members, no critical headers); what each kind's header and claims must hold is
decided here: exactly ``{alg, kid}`` or ``{alg, kid, typ}``, the claims each kind requires and
their types, expiry and issue time on the stack clock (``nbf`` and ``aud`` are not read).

Rotation without downtime: a new key is published in JWKS ``activation_delay`` before it signs
(every container's key cache has refreshed by then); the key it replaces stops signing at that
moment and stays published for as long as anything it signed may still be live — the longest
personal code lifetime for code keys, the venue code lifetime for venue keys (posters are not
invalidated by rotation; they are re-issued at the manager's pace and old keys expire with them).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from healthcode import clock
from healthcode.codes import jws
from healthcode.codes.jws import ALGORITHM
from healthcode.errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

KeyUse = Literal["code", "paper", "venue"]
KEY_USES: tuple[KeyUse, ...] = ("code", "paper", "venue")
CodeKind = Literal["code", "paper", "venue"]
KEY_USE: dict[CodeKind, KeyUse] = {"code": "code", "paper": "paper", "venue": "venue"}
#: Longest key id of a code or paper key: a personal code's QR symbol holds it.
MAX_KID_CHARS = 12
#: A key id naming its province and use: six digits of the province, ``c`` (personal code) or
#: ``p`` (paper code), five hex digits.
_PROVINCE_KID = re.compile(r"^(?P<province>[1-8][0-9]0000)(?P<use>[cp])[0-9a-f]{5}$")
_KID_USE_LETTER: dict[str, KeyUse] = {"c": "code", "p": "paper"}
TYP_HEADER: dict[CodeKind, str] = {"code": "hc-code+jwt", "paper": "hc-paper+jwt", "venue": "hc-venue+jwt"}
#: Headers that would let a token choose its own key: refused outright.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
#: The header of a full-form code, and nothing else.
FULL_CODE_HEADER: frozenset[str] = frozenset({"alg", "kid", "typ"})
#: The claims a full-form code must hold (not null); ``sign_code`` callers may add others.
FULL_CODE_CLAIMS: tuple[str, ...] = ("exp", "iat", "iss", "sub", "typ", "jti")
IAT_LEEWAY = timedelta(seconds=60)
#: Error code per kind when a code is forged/tampered/garbage.
INVALID_CODE: dict[CodeKind, str] = {
    "code": "invalid_code",
    "paper": "invalid_code",
    "venue": "invalid_venue_code",
}


def issuer_of(province: str) -> str:
    """The issuer of a province's codes, as the EU DCC names the country."""
    return f"urn:healthcode:{province}"


def province_of_kid(kid: str) -> tuple[str, KeyUse] | None:
    """The province and use a key id names (``("350000", "code")`` for ``350000c1f2e3``); None
    for a venue key's id or a key id from before province-named keys."""
    found = _PROVINCE_KID.fullmatch(kid) if isinstance(kid, str) else None  # ``$`` allows a final newline
    if found is None:
        return None
    return found.group("province"), _KID_USE_LETTER[found.group("use")]


def legacy_code_key(use: str, kid: str) -> bool:
    """A code key from before province-named keys: it signed the older personal codes and the
    paper codes of its time, and verifies those (never a compact personal code)."""
    return use == "code" and province_of_kid(kid) is None


def key_verifies(use: str, kid: str, kind: CodeKind, *, compact: bool) -> bool:
    """Whether a key of ``use`` named ``kid`` may verify a code of ``kind`` (``compact``: the
    personal code's compact form). The key's use binds the kind: a venue or paper key never
    verifies a personal code, nor a personal-code key a paper or venue code."""
    if compact:
        named = province_of_kid(kid)
        return kind == "code" and use == "code" and named is not None and named[1] == "code"
    if kind == "venue":
        return use == "venue"
    if kind == "paper":
        return use == "paper" or legacy_code_key(use, kid)
    return legacy_code_key(use, kid)


def _b64url_uint(value: int, length: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=64)
def _private_key(kid: str, pem: str) -> ec.EllipticCurvePrivateKey:
    """Parse a key once per container: PEM parsing costs more than the signature check itself.
    ``cryptography``'s key modules load here, with the first key a container uses, not at import."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

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
        if use not in KEY_USES:
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


def new_kid(use: KeyUse, province: str) -> str:
    """A new key id. Short, because QR symbols hold them: a venue key's (``v`` and 8 hex digits)
    is in every compact venue code; a code or paper key's names the province and the use
    (``province_of_kid``), so a verifier knows whose trust list entry holds its key."""
    if use == "venue":
        return f"v{secrets.token_hex(4)}"
    if not re.fullmatch(r"[1-8][0-9]0000", province):
        raise ValueError(f"not a province code: {province!r}")
    letter = next(letter for letter, named in _KID_USE_LETTER.items() if named == use)
    return f"{province}{letter}{secrets.token_hex(3)[:5]}"


def new_key(
    use: KeyUse,
    *,
    now: datetime,
    province: str,
    activates_at: datetime | None = None,
    taken: Iterable[str] = (),
) -> SigningKey:
    """A new P-256 key of ``use`` for ``province``, its id unlike any in ``taken``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    used = set(taken)
    kid = new_kid(use, province)
    while kid in used:  # 20 random bits: a clash among a province's few keys is rare, never kept
        kid = new_kid(use, province)
    return SigningKey(kid=kid, use=use, private_pem=pem, created_at=now, activates_at=activates_at or now)


@dataclass(frozen=True)
class Retention:
    """How long a retired key stays published, per use (the longest life of what it signed).
    Paper keys keep the longest personal code lifetime, paper codes included, and so does a code
    key from before paper keys (``legacy_code_key``): it signed paper codes still alive. A code
    key naming its province signs compact personal codes only, which no verifier takes beyond
    ``MAX_PERSONAL_CODE_LIFETIME``: it leaves JWKS that long after it retires, so a rotation
    ends a leaked code key's power within the hour, not a paper code's year later."""

    code: timedelta
    venue: timedelta

    def of(self, use: KeyUse) -> timedelta:
        return self.venue if use == "venue" else self.code

    def of_key(self, key: SigningKey) -> timedelta:
        """How long ``key`` stays published once retired (see the class docstring)."""
        return MAX_PERSONAL_CODE_LIFETIME if signs_compact(key) else self.of(key.use)


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...]

    def signing_key(self, use: KeyUse, now: datetime) -> SigningKey:
        candidates = [k for k in self.keys if k.use == use and k.signs_at(now)]
        if not candidates:
            raise LookupError(f"no active {use} signing key")
        return max(candidates, key=lambda k: (k.activates_at, k.kid))

    def signing_key_for(self, kind: CodeKind, now: datetime) -> SigningKey:
        """The key that signs a code of ``kind`` now. Paper codes fall back to an older code key
        (``legacy_code_key``) until the stack's first paper key signs (``keystore.ensure_bootstrapped``
        adds one with the activation delay)."""
        use = KEY_USE[kind]
        try:
            return self.signing_key(use, now)
        except LookupError:
            if kind != "paper":
                raise
        legacy = [k for k in self.keys if legacy_code_key(k.use, k.kid) and k.signs_at(now)]
        if not legacy:
            raise LookupError("no active paper signing key")
        return max(legacy, key=lambda k: (k.activates_at, k.kid))

    def published(self, now: datetime, retention: Retention) -> list[SigningKey]:
        """Every key that may have signed a live code, or is about to sign."""
        return [k for k in self.keys if k.retired_at is None or now < k.retired_at + retention.of_key(k)]

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

    def rotate(self, use: KeyUse, *, now: datetime, activation_delay: timedelta, province: str) -> KeySet:
        """Add a new ``use`` key that signs from ``now + activation_delay``; the keys it
        replaces retire at that instant. Keys retired longer ago than any retention are kept
        out of JWKS by ``published`` and pruned by ``prune``."""
        starts = now + activation_delay
        fresh = new_key(
            use, now=now, province=province, activates_at=starts, taken=(k.kid for k in self.keys)
        )
        kept = tuple(
            replace(k, retired_at=starts) if k.use == use and k.retired_at is None else k for k in self.keys
        )
        return KeySet(keys=(*kept, fresh))

    def prune(self, now: datetime, retention: Retention) -> KeySet:
        return KeySet(keys=tuple(self.published(now, retention)))


def bootstrap_keyset(now: datetime, *, province: str) -> KeySet:
    """The first key set of a new stack: one key of each use, created ``now`` and signing at
    any instant of the stack clock (from ``clock.EARLIEST``): no key precedes them, so a clock
    set before the stack's creation — a local stack replaying a past scenario — still signs.
    Rotated keys keep their delay (``KeySet.rotate``)."""
    return KeySet(
        keys=tuple(new_key(use, now=now, province=province, activates_at=clock.EARLIEST) for use in KEY_USES)
    )


def missing_uses(keyset: KeySet) -> list[KeyUse]:
    """The uses for which a stack signed before compact personal codes has no key yet: a paper
    key, or a code key whose id names the province."""
    missing: list[KeyUse] = []
    if not any(k.use == "code" and province_of_kid(k.kid) is not None for k in keyset.keys):
        missing.append("code")
    if not any(k.use == "paper" for k in keyset.keys):
        missing.append("paper")
    if not any(k.use == "venue" for k in keyset.keys):
        missing.append("venue")
    return missing


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
    """Sign a code of ``kind`` in the full form (a paper code; a personal code while the stack's
    code key is still a ``legacy_code_key``); returns the token and its expiry. ``claims`` must
    hold no personal data (no name, ID number or phone): callers pass pseudonymous ids and colours."""
    instant = now or clock.now()
    key = keyset.signing_key_for(kind, instant)
    if kind == "code" and signs_compact(key):
        raise ValueError(f"key {key.kid} signs compact personal codes only (sign_personal_code)")
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
    return jws.sign(payload, key.private_key(), kid=key.kid, typ=TYP_HEADER[kind]), expires


@dataclass(frozen=True)
class VerifiedCode:
    kind: CodeKind
    issuer: str
    subject: str
    kid: str
    #: None for a compact personal code: it carries no issue time (its ``exp`` is enough).
    issued_at: datetime | None
    expires_at: datetime
    claims: Mapping[str, Any]


#: Finds the verifying key for (issuer, kid) of a code of a kind; None when unknown or when the
#: key may not verify that kind (``key_verifies``). The local one knows this stack's keys; a
#: trust list (other provinces' JWKS) can extend it.
KeyResolver = Callable[[str, str, CodeKind], "ec.EllipticCurvePublicKey | None"]


def _outlived_personal_codes(key: SigningKey, now: datetime) -> bool:
    """Whether every personal code ``key`` signed has expired: it retired longer ago than any
    lives. An older code key stays published for the paper codes it signed, not for these."""
    return key.retired_at is not None and now >= key.retired_at + MAX_PERSONAL_CODE_LIFETIME


def local_resolver(keyset: KeySet, *, issuer: str, now: datetime, retention: Retention) -> KeyResolver:
    """This stack's published keys, each for the kinds its use binds (full-form codes); an older
    code key verifies personal codes only while one it signed may be alive."""
    published = {k.kid: k for k in keyset.published(now, retention)}

    def resolve(iss: str, kid: str, kind: CodeKind) -> ec.EllipticCurvePublicKey | None:
        key = published.get(kid) if iss == issuer else None
        if key is None or not key_verifies(key.use, key.kid, kind, compact=False):
            return None
        if kind == "code" and _outlived_personal_codes(key, now):
            return None
        return key.private_key().public_key()

    return resolve


def verify_code(
    token: str,
    *,
    kinds: Iterable[CodeKind],
    resolve: KeyResolver,
    issuers: Iterable[str],
    now: datetime | None = None,
) -> VerifiedCode:
    """Verify a full-form ``token`` (``sign_code``) as one of ``kinds``. Raises InvalidInput with
    ``invalid_code`` / ``invalid_venue_code`` (forged, tampered, wrong kind, unknown key) or
    ``code_expired``. A compact personal code is ``verify_personal_code``'s."""
    wanted = tuple(kinds)
    bad = INVALID_CODE[wanted[0]]
    field = "venue_code" if wanted == ("venue",) else "code"

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"code refused: {why}", field=field, code=bad)

    if not isinstance(token, str) or not 16 <= len(token) <= 4096 or token.count(".") != 2:
        raise refuse("not a signed code")
    try:
        compact = jws.parse(token)
        unverified = compact.unverified_claims()
    except jws.JWSError as exc:
        raise refuse("malformed") from exc
    header = compact.header
    if header.get("alg") != ALGORITHM:
        raise refuse("algorithm not allowed")
    if FORBIDDEN_HEADERS & set(header):
        raise refuse("header-supplied keys are not accepted")
    if set(header) != FULL_CODE_HEADER:
        raise refuse("not a code header")
    kid, typ = header.get("kid"), header.get("typ")
    kind = next((k for k in wanted if TYP_HEADER[k] == typ), None)
    if kind is None or unverified.get("typ") != kind:
        raise refuse("wrong kind of code")
    iss = unverified.get("iss")
    if not isinstance(kid, str) or not isinstance(iss, str) or iss not in set(issuers):
        raise refuse("unknown issuer or key")
    public = resolve(iss, kid, kind)
    if public is None:
        raise refuse("unknown issuer or key")
    try:
        claims = jws.verify(compact, public)
    except jws.JWSError as exc:
        raise refuse("signature or claims invalid") from exc
    if any(claims.get(name) is None for name in FULL_CODE_CLAIMS):
        raise refuse("missing claims")
    if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
        raise refuse("bad subject or code id")
    current = now or clock.now()  # expiry and issue time on the stack clock; nbf and aud unused
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
    if kind == "code" and expires > current + MAX_PERSONAL_CODE_LIFETIME:
        raise refuse("expires later than any code lives")  # as a compact code is bounded
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


# --- compact personal codes ----------------------------------------------------------------------

#: The header of a compact personal code, and nothing else.
PERSONAL_CODE_HEADER: frozenset[str] = frozenset({"alg", "kid"})
#: The claims of a compact personal code, and nothing else.
PERSONAL_CODE_CLAIMS: frozenset[str] = frozenset({"sub", "lvl", "exp"})
#: Longest compact personal code accepted (one is about 200 characters).
MAX_PERSONAL_CODE_CHARS = 300
#: Latest expiry accepted, from now: the longest ``code_lifetime_seconds`` a policy may set (an
#: hour) and a minute of clock skew. A compact code has no ``iat``; this bounds it instead.
MAX_PERSONAL_CODE_LIFETIME = timedelta(hours=1, minutes=1)
#: Risk levels a personal code may carry (``RiskLevel``: 0 green, 1 yellow, 2 red).
PERSONAL_CODE_LEVELS = (0, 1, 2)
_PERSON_ID_BYTES = 16


def person_claim(person_id: str) -> str:
    """The ``sub`` of a compact personal code: a person id's 128 bits (``p-`` and 32 hex
    digits), base64url without padding — 22 characters. Raises ValueError for another id."""
    if not re.fullmatch(r"p-[0-9a-f]{32}", person_id):
        raise ValueError("not a person id")
    return base64.urlsafe_b64encode(bytes.fromhex(person_id[2:])).rstrip(b"=").decode("ascii")


def person_id_from_claim(value: object) -> str | None:
    """The person id a ``sub`` claim names; None unless it is the one canonical spelling."""
    if not isinstance(value, str) or len(value) != 22:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except (ValueError, TypeError):
        return None
    person_id = "p-" + raw.hex()
    if len(raw) != _PERSON_ID_BYTES or person_claim(person_id) != value:
        return None
    return person_id


def signs_compact(key: SigningKey) -> bool:
    """Whether ``key`` signs compact personal codes: a code key whose id names its province."""
    return key.use == "code" and province_of_kid(key.kid) is not None


def sign_personal_code(
    keyset: KeySet, *, person_id: str, level: int, lifetime: timedelta, now: datetime | None = None
) -> tuple[str, datetime]:
    """A compact personal code for ``person_id`` at risk ``level``, signed by the current code
    key; returns the token and its expiry. Raises LookupError while that key is a
    ``legacy_code_key`` (``keystore.sign_personal`` then signs the full form)."""
    if isinstance(level, bool) or level not in PERSONAL_CODE_LEVELS:
        raise ValueError("a risk level is 0, 1 or 2")
    instant = now or clock.now()
    key = keyset.signing_key("code", instant)
    if not signs_compact(key):
        raise LookupError(f"code key {key.kid} does not name its province")
    expires = instant.replace(microsecond=0) + lifetime
    claims = {"sub": person_claim(person_id), "lvl": int(level), "exp": int(expires.timestamp())}
    return jws.sign(claims, key.private_key(), kid=key.kid), expires


def is_personal_code(token: str) -> bool:
    """Whether ``token`` has the shape of a compact personal code (a header without ``typ`` whose
    ``kid`` names a province); anything else is checked by ``verify_code`` or as a venue code."""
    try:
        header = jws.header(token)
    except jws.JWSError:
        return False
    return "typ" not in header and province_of_kid(str(header.get("kid"))) is not None


#: Finds the public key of a province's code key by (province, kid); None when unknown.
ProvinceKeyResolver = Callable[[str, str], "ec.EllipticCurvePublicKey | None"]


def verify_personal_code(
    token: str, *, resolve: ProvinceKeyResolver, now: datetime | None = None
) -> VerifiedCode:
    """Verify a compact personal code: pinned algorithm, exactly its header and claims, a code
    key of the province its ``kid`` names (``resolve``), not expired on the stack clock and not
    expiring later than any policy allows. Raises InvalidInput ``invalid_code`` or
    ``code_expired``."""

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"code refused: {why}", field="code", code="invalid_code")

    compact, kid = _compact_of(token, MAX_PERSONAL_CODE_CHARS, PERSONAL_CODE_HEADER, "personal code", refuse)
    named = province_of_kid(kid) if kid is not None else None
    if kid is None or named is None or named[1] != "code":
        raise refuse("the key does not sign personal codes")
    public = resolve(named[0], kid)
    if public is None:
        raise refuse("unknown issuer or key")
    claims = _claims_of(compact, public, PERSONAL_CODE_CLAIMS, "personal code", refuse)
    person_id = person_id_from_claim(claims["sub"])
    level, exp = claims["lvl"], claims["exp"]
    if person_id is None:
        raise refuse("bad subject")
    if isinstance(level, bool) or level not in PERSONAL_CODE_LEVELS or not isinstance(level, int):
        raise refuse("bad risk level")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise refuse("bad time claims")
    current = now or clock.now()
    try:
        expires = datetime.fromtimestamp(exp, tz=current.tzinfo)
    except (OverflowError, OSError, ValueError) as exc:  # an instant outside any calendar
        raise refuse("bad time claims") from exc
    if expires > current + MAX_PERSONAL_CODE_LIFETIME:
        raise refuse("expires later than any code lives")
    if current >= expires:
        raise InvalidInput("code expired: refresh it", field="code", code="code_expired")
    return VerifiedCode(
        kind="code",
        issuer=issuer_of(named[0]),
        subject=person_id,
        kid=kid,
        issued_at=None,
        expires_at=expires,
        claims=claims,
    )


def _compact_of(
    token: object, max_chars: int, header: frozenset[str], kind: str, refuse: Callable[[str], InvalidInput]
) -> tuple[jws.Compact, str | None]:
    """A compact code's parts and its ``kid`` (None unless text), before any key is looked up:
    text of a sane length in three segments, read strictly, with exactly ``header`` and the pinned
    algorithm. Raises what ``refuse`` makes."""
    if not isinstance(token, str) or not 16 <= len(token) <= max_chars or token.count(".") != 2:
        raise refuse("not a signed code")
    try:
        compact = jws.parse(token)
    except jws.JWSError as exc:
        raise refuse("malformed") from exc
    if set(compact.header) != header or compact.header.get("alg") != ALGORITHM:
        raise refuse(f"not a {kind} header")
    kid = compact.header.get("kid")
    return compact, kid if isinstance(kid, str) else None


def _claims_of(
    compact: jws.Compact,
    public: ec.EllipticCurvePublicKey,
    names: frozenset[str],
    kind: str,
    refuse: Callable[[str], InvalidInput],
) -> dict[str, Any]:
    """The claims of a compact code signed by ``public``, which must be exactly ``names``."""
    try:
        claims = jws.verify(compact, public)
    except jws.JWSError as exc:
        raise refuse("signature or claims invalid") from exc
    if set(claims) != names:
        raise refuse(f"not {kind} claims")
    return claims


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
    return jws.sign({"v": _venue_id_claim(venue_id), "g": generation}, key.private_key(), kid=key.kid)


#: Finds the public key of a venue key id this stack publishes; None when unknown.
VenueKeyResolver = Callable[[str], "ec.EllipticCurvePublicKey | None"]


def is_compact_venue_code(token: str) -> bool:
    """Whether ``token`` has the shape of a compact venue code (a header without ``typ``);
    anything else is checked as an older code by ``verify_code``."""
    try:
        return "typ" not in jws.header(token)
    except jws.JWSError:
        return False


def verify_venue_code(token: str, *, resolve: VenueKeyResolver) -> VenueCodeRef:
    """Verify a compact venue code: pinned algorithm, exactly the header and claims it may
    have, a published venue key. Raises InvalidInput ``invalid_venue_code``."""

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"venue code refused: {why}", field="venue_code", code="invalid_venue_code")

    compact, kid = _compact_of(token, MAX_VENUE_CODE_CHARS, VENUE_CODE_HEADER, "venue code", refuse)
    public = resolve(kid) if kid is not None else None
    if public is None or kid is None:
        raise refuse("unknown key")
    claims = _claims_of(compact, public, VENUE_CODE_CLAIMS, "venue code", refuse)
    venue_id = _venue_id_from_claim(claims["v"])
    generation = claims["g"]
    if venue_id is None:
        raise refuse("not a venue id")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise refuse("bad generation")
    return VenueCodeRef(venue_id=venue_id, generation=generation, kid=kid)
