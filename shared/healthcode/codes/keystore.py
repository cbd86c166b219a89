"""The stack's signing keys in Secrets Manager, cached per container, and the code helpers the
functions call: ``sign_personal``, ``sign`` and ``verify`` with this stack's issuer, policy and
clock.

Activation delay: a new key is published in JWKS ``ACTIVATION_DELAY`` before it signs. Every
cache of the key set must have refreshed by then, or a verifier holding a copy from just before
the rotation would refuse the first codes of the new key: this stack's containers
(``CACHE_SECONDS``), other provinces' trust lists (``trust.CACHE_SECONDS``, plus a failed fetch
retried after ``trust.RETRY_SECONDS``), and offline verifiers — scanners and front ends that
fetch JWKS over HTTP and keep it for the ``Cache-Control`` max-age the keys function sends
(``JWKS_MAX_AGE_SECONDS``), behind a CDN that may keep it as long again. ``slowest_key_cache``
adds these up; a test holds the delay above it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from healthcode import aws, clock
from healthcode.codes import trust
from healthcode.codes.tokens import (
    CodeKind,
    KeyCache,
    KeySet,
    KeyUse,
    Retention,
    VenueCodeRef,
    VerifiedCode,
    bootstrap_keyset,
    is_compact_venue_code,
    is_personal_code,
    key_verifies,
    legacy_code_key,
    local_resolver,
    missing_uses,
    sign_code,
    sign_personal_code,
    sign_venue_code,
    verify_code,
    verify_personal_code,
    verify_venue_code,
)
from healthcode.errors import InvalidInput
from healthcode.settings import env, policy, settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

SECRET_ENV = "SIGNING_KEYS_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
#: A new key is published this long before it signs: longer than every key cache
#: (``slowest_key_cache``; see the module docstring).
ACTIVATION_DELAY = timedelta(minutes=15)
#: How long a container keeps the key set it read from Secrets Manager.
CACHE_SECONDS = 300.0
#: The ``Cache-Control: max-age`` of ``GET /.well-known/jwks.json``: how long an offline verifier
#: (a scanner, a front end, a CDN in front of either) may keep the key set it fetched.
JWKS_MAX_AGE_SECONDS = 300


def slowest_key_cache() -> timedelta:
    """The longest a verifier may go on using a key set fetched before a rotation: this stack's
    containers; another province's trust list (its cache, and a failed refresh retried later);
    an offline verifier's copy of JWKS, fetched through a CDN that kept it for its max-age."""
    containers = CACHE_SECONDS
    provinces = trust.CACHE_SECONDS + trust.RETRY_SECONDS
    offline = 2 * JWKS_MAX_AGE_SECONDS
    return timedelta(seconds=max(containers, provinces, offline))


def _load() -> KeySet:
    answer = aws.client("secretsmanager").get_secret_value(SecretId=env(SECRET_ENV))
    return KeySet.from_json(answer["SecretString"])


_cache = KeyCache(_load, ttl_seconds=CACHE_SECONDS)


def keyset() -> KeySet:
    return _cache.get()


def invalidate() -> None:
    _cache.invalidate()


def retention() -> Retention:
    p = policy()
    return Retention(
        code=timedelta(seconds=p.longest_code_lifetime_seconds),
        venue=timedelta(days=p.venue_code_lifetime_days),
    )


def jwks(now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    return keyset().jwks(now or clock.now(), retention())


def sign_personal(person_id: str, *, level: int, colour: str, lifetime: timedelta) -> tuple[str, datetime]:
    """A personal code for the person at ``level``: compact (``tokens.sign_personal_code``), or,
    while the stack's code key does not yet name the province (a stack signing before compact
    codes, for the ``ACTIVATION_DELAY`` after its upgrade), the full form older verifiers read,
    with ``colour`` and the province."""
    keys, now = keyset(), clock.now()
    try:
        return sign_personal_code(keys, person_id=person_id, level=level, lifetime=lifetime, now=now)
    except LookupError:
        pass
    claims = {"lvl": level, "col": colour, "prv": settings().province}
    return sign_code(
        keys,
        kind="code",
        issuer=settings().code_issuer,
        subject=person_id,
        claims=claims,
        lifetime=lifetime,
        now=now,
    )


def sign(
    kind: CodeKind, *, subject: str, claims: Mapping[str, Any], lifetime: timedelta
) -> tuple[str, datetime]:
    """A full-form code of ``kind`` (a paper code; see ``tokens.sign_code``)."""
    return sign_code(
        keyset(),
        kind=kind,
        issuer=settings().code_issuer,
        subject=subject,
        claims=claims,
        lifetime=lifetime,
    )


def verify(token: str, *, kinds: Iterable[CodeKind], foreign: bool = False) -> VerifiedCode:
    """Verify a code this stack signed; with ``foreign``, also a dynamic personal code signed by
    a province on the trust list (``healthcode.codes.trust``): check ``VerifiedCode.issuer`` to know
    which (a foreign code's subject is not a person of this stack)."""
    wanted = tuple(kinds)
    now = clock.now()
    if "code" in wanted and is_personal_code(token):
        return _verify_personal(token, foreign=foreign, now=now)
    issuer = settings().code_issuer
    local = local_resolver(keyset(), issuer=issuer, now=now, retention=retention())
    if not foreign or "code" not in wanted:
        return verify_code(token, kinds=wanted, resolve=local, issuers=[issuer], now=now)
    trusted = trust.configured(settings().province)

    def resolve(iss: str, kid: str, kind: CodeKind) -> ec.EllipticCurvePublicKey | None:
        if iss == issuer:
            return local(iss, kid, kind)
        # another province's full-form code: a personal code of its older code key only
        return trusted.key(iss, kid) if kind == "code" and legacy_code_key("code", kid) else None

    verified = verify_code(token, kinds=wanted, resolve=resolve, issuers=[issuer, *trusted.issuers], now=now)
    if verified.issuer != issuer and verified.kind != "code":
        # paper and venue codes are checked online against this stack's own records only
        raise InvalidInput(
            "code refused: only dynamic codes are recognised across provinces",
            field="code",
            code="invalid_code",
        )
    return verified


def _verify_personal(token: str, *, foreign: bool, now: datetime) -> VerifiedCode:
    """A compact personal code: this province's code keys, or with ``foreign`` the code keys
    the trust list holds for the province the ``kid`` names."""
    own = settings().province
    published = {k.kid: k for k in keyset().published(now, retention())}
    trusted = trust.configured(own) if foreign else None

    def resolve(province: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        if province == own:
            key = published.get(kid)
            if key is None or not key_verifies(key.use, key.kid, "code", compact=True):
                return None
            return key.private_key().public_key()
        return trusted.key(trust.issuer_of(province), kid) if trusted is not None else None

    return verify_personal_code(token, resolve=resolve, now=now)


def sign_venue(venue_id: str, generation: int) -> str:
    """A compact venue code for ``venue_id`` at ``generation``, signed by the current venue key."""
    return sign_venue_code(keyset(), venue_id=venue_id, generation=generation, now=clock.now())


def venue_signing_kid() -> str:
    """The id of the venue key that signs now (a stored code signed by another is re-signed)."""
    return keyset().signing_key("venue", clock.now()).kid


def verify_venue(token: str) -> VenueCodeRef:
    """Verify a venue code this stack signed: a compact one, or one printed before compact codes
    (generation 0, its claims kept). Raises InvalidInput ``invalid_venue_code`` (or
    ``code_expired`` for an older code past its expiry)."""
    now = clock.now()
    if not is_compact_venue_code(token):
        verified = verify(token, kinds=("venue",))
        return VenueCodeRef(venue_id=verified.subject, generation=0, kid=verified.kid, claims=verified.claims)
    published = {key.kid: key for key in keyset().published(now, retention()) if key.use == "venue"}

    def resolve(kid: str) -> ec.EllipticCurvePublicKey | None:
        key = published.get(kid)
        return key.private_key().public_key() if key else None

    return verify_venue_code(token, resolve=resolve)


# --- administration: bootstrap (stack creation) and rotation (ops) -------------------------------


def _store(keys: KeySet) -> None:
    aws.client("secretsmanager").put_secret_value(SecretId=env(SECRET_ENV), SecretString=keys.to_json())
    invalidate()


def ensure_bootstrapped() -> KeySet:
    """Create the first keys if the secret holds none; on a stack keyed before compact personal
    codes, add what it lacks — a code key naming the province, a paper key — as a rotation
    would, signing after ``ACTIVATION_DELAY`` (idempotent)."""
    current = _load()
    now, province = clock.now(), settings().province
    if not current.keys:
        fresh = bootstrap_keyset(now, province=province)
        _store(fresh)
        return fresh
    missing = missing_uses(current)
    if not missing:
        return current
    upgraded = current
    for use in missing:
        upgraded = upgraded.rotate(use, now=now, activation_delay=ACTIVATION_DELAY, province=province)
    _store(upgraded)
    return upgraded


def rotate(use: KeyUse) -> KeySet:
    """Publish a new ``use`` key now; it signs after ``ACTIVATION_DELAY``; prune expired keys."""
    now = clock.now()
    rotated = _load().rotate(use, now=now, activation_delay=ACTIVATION_DELAY, province=settings().province)
    rotated = rotated.prune(now, retention())
    _store(rotated)
    return rotated
