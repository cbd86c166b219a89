"""Who is calling: the claims API Gateway's JWT authorizer validated, read from the event.

In AWS the HTTP API's JWT authorizer has already checked signature, issuer, audience and expiry
before a handler runs; the local stack does the same checks (``infra.local.authorizer``). Both
put the claims in ``requestContext.authorizer.jwt.claims``. API Gateway flattens list claims to
strings like ``"[citizen scanner]"``; both shapes are read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from healthcode.errors import Forbidden, Unauthorized

ROLES = frozenset({"citizen", "scanner", "venue_manager", "official", "admin"})


@dataclass(frozen=True)
class Caller:
    sub: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def require(self, *roles: str) -> Caller:
        if not self.has(*roles):
            raise Forbidden(f"this needs the role {' or '.join(roles)}", code="forbidden_role")
        return self


def parse_roles(value: Any) -> frozenset[str]:
    """Roles from a claim value: a list, API Gateway's "[a b]" string, or "a,b" / "a b"."""
    items: Iterable[Any]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = text.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return frozenset()
    return frozenset(str(v).strip().strip('"') for v in items) & ROLES


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("the caller token has no subject", code="unauthorized")
    roles = parse_roles(claims.get("roles")) | parse_roles(claims.get("cognito:groups"))
    return Caller(sub=sub, roles=roles)


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt_part = authorizer.get("jwt") or {}
    claims = jwt_part.get("claims")
    if not isinstance(claims, Mapping):
        raise Unauthorized("a caller token is required", code="unauthorized")
    return caller_from_claims(claims)
