"""The stack's signing keys in Secrets Manager, cached per container, and the code helpers the
functions call: ``sign`` and ``verify`` with this stack's issuer, policy and clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

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
    local_resolver,
    sign_code,
    sign_venue_code,
    verify_code,
    verify_venue_code,
)
from healthcode.errors import InvalidInput
from healthcode.settings import env, policy, settings

SECRET_ENV = "SIGNING_KEYS_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
#: A new key is published this long before it signs: longer than the key cache below.
ACTIVATION_DELAY = timedelta(minutes=10)
CACHE_SECONDS = 300.0


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


def sign(
    kind: CodeKind, *, subject: str, claims: Mapping[str, Any], lifetime: timedelta
) -> tuple[str, datetime]:
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
    issuer = settings().code_issuer
    local = local_resolver(keyset(), issuer=issuer, kinds=wanted, now=now, retention=retention())
    if not foreign or "code" not in wanted:
        return verify_code(token, kinds=wanted, resolve=local, issuers=[issuer], now=now)
    trusted = trust.configured(settings().province)

    def resolve(iss: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        return local(iss, kid) if iss == issuer else trusted.key(iss, kid)

    verified = verify_code(token, kinds=wanted, resolve=resolve, issuers=[issuer, *trusted.issuers], now=now)
    if verified.issuer != issuer and verified.kind != "code":
        # paper and venue codes are checked online against this stack's own records only
        raise InvalidInput(
            "code refused: only dynamic codes are recognised across provinces",
            field="code",
            code="invalid_code",
        )
    return verified


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
    """Create the first code and venue keys if the secret holds none (idempotent)."""
    current = _load()
    if any(k.use == "code" for k in current.keys) and any(k.use == "venue" for k in current.keys):
        return current
    fresh = bootstrap_keyset(clock.now())
    _store(fresh)
    return fresh


def rotate(use: KeyUse) -> KeySet:
    """Publish a new ``use`` key now; it signs after ``ACTIVATION_DELAY``; prune expired keys."""
    now = clock.now()
    rotated = _load().rotate(use, now=now, activation_delay=ACTIVATION_DELAY).prune(now, retention())
    _store(rotated)
    return rotated
