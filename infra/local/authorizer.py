"""The local stand-in for the HTTP API's JWT authorizer, and the dev identity provider that
issues caller tokens for it (``POST /_local/tokens``).

Checks exactly what API Gateway checks: the ``Authorization`` header carries a bearer JWT,
signed by a key of the issuer's JWKS with a pinned asymmetric algorithm, ``iss`` equal to the
configured issuer, ``aud`` (or ``client_id``) containing the configured audience, ``exp`` in
the future and ``nbf``/``iat`` not — on the stack's clock. Claims are then flattened the way
API Gateway flattens them (lists become ``"[a b]"`` strings).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode import clock

ALGORITHMS = ["ES256", "RS256"]
TOKEN_LIFETIME = timedelta(hours=1)
#: The provider's signing key (PEM, P-256) when set, else a fresh key per start: a test that
#: forges caller tokens (wrong issuer or audience, expired, no ``exp``…) needs the genuine key, as
#: an attacker holding a stolen key would, to show the authorizer checks more than the signature.
CALLER_KEY_ENV = "LOCAL_CALLER_KEY_PEM"


class AuthorizerRejection(Exception):
    """401 from the authorizer (API Gateway answers {"message": "Unauthorized"})."""


class LocalIdentityProvider:
    def __init__(self, issuer: str, audience: str, private_pem: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = _signing_key(private_pem) if private_pem else ec.generate_private_key(ec.SECP256R1())
        self.kid = f"local-{secrets.token_hex(4)}"

    def issue(self, sub: str, roles: Iterable[str], extra: Mapping[str, Any] | None = None) -> str:
        now = clock.now()
        claims = {
            **(extra or {}),
            "sub": sub,
            "roles": sorted(set(roles)),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "token_use": "id",
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def validate(self, authorization: str | None) -> dict[str, str]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthorizerRejection("no bearer token")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthorizerRejection("malformed token") from exc
        if header.get("alg") not in ALGORITHMS or header.get("kid") != self.kid:
            raise AuthorizerRejection("unknown key or algorithm")
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthorizerRejection("invalid token") from exc
        now = clock.timestamp()
        if not isinstance(claims["exp"], int) or now >= claims["exp"]:
            raise AuthorizerRejection("expired")
        if not isinstance(claims["iat"], int) or claims["iat"] > now + 60:
            raise AuthorizerRejection("issued in the future")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 60:
            raise AuthorizerRejection("not yet valid")
        return flatten_claims(claims)


def _signing_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{CALLER_KEY_ENV} must be a P-256 private key")
    return key


def flatten_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """API Gateway's rendering of JWT claims in the event: every value a string."""
    flat = {}
    for name, value in claims.items():
        if isinstance(value, list):
            flat[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = str(value)
    return flat
