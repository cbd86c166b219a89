"""Who is calling: the claims API Gateway's JWT authorizer validated, read from the event.

In AWS the HTTP API's JWT authorizer has already checked signature, issuer, audience and expiry
before a handler runs; the local stack does the same checks (``infra.local.authorizer``). Both
put the claims in ``requestContext.authorizer.jwt.claims``. API Gateway flattens list claims to
strings like ``"[citizen scanner]"``; both shapes are read here.

Identity is read strictly (docs/api.md, "Callers"):

* **Roles** are compared exactly. ``" official"``, ``"Official"``, ``"official "``,
  ``'"official"'`` are no role. A list claim counts its items that are exactly a role; the
  flattened ``"[a b]"`` string counts its space-separated items, and a flattened string with an
  empty item (a leading, trailing or doubled space: what a role with a space becomes once
  flattened) counts no role at all; a plain string is one role, or roles separated by commas
  with nothing around them.
* **The area** (``region``, Cognito ``custom:region``) is a GB/T 2260 code: a province
  (``520000``), a prefecture (``520100``) or a county (``520102``). An official or admin with an
  area acts only on what lies inside it; without one, on the whole province. A ``region`` claim
  that is not six digits is refused at the edge (``401``): a malformed area must never widen into
  the whole province.
* **The subject** (``sub``) must be an account id the system cannot confuse with its own: not
  empty, at most ``SUB_MAX`` characters, without ``#`` (the separator of internal keys: owners
  of unclaimed persons are ``unclaimed#<person_id>``, guards ``owner#<sub>#…``), without control
  or invisible format characters, without surrounding white space. Anything else is refused at
  the edge with ``401 unauthorized`` before any handler reads or writes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from healthcode.errors import Forbidden, Unauthorized

ROLES: Final = frozenset({"citizen", "scanner", "venue_manager", "official", "admin", "lab"})
#: Longest account id accepted (Cognito's are 36-character UUIDs).
SUB_MAX: Final = 128
#: Character categories a subject may not hold: controls, invisible formatting (zero-width,
#: bidirectional overrides), line and paragraph separators, surrogates, unassigned.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})


def area_prefix(region_code: str) -> str:
    """The leading digits a GB/T 2260 code shares with every region inside it: ``520000`` →
    ``52``, ``520100`` → ``5201``, ``520102`` → ``520102``."""
    if region_code.endswith("0000"):
        return region_code[:2]
    if region_code.endswith("00"):
        return region_code[:4]
    return region_code


@dataclass(frozen=True)
class Caller:
    sub: str
    roles: frozenset[str]
    #: The caller's area (a GB/T 2260 code), or None: the whole province.
    area: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def covers(self, region_code: str | None) -> bool:
        """Whether ``region_code`` lies inside the caller's area (always, without an area; never
        for an unknown region when the caller has one)."""
        if self.area is None:
            return True
        if not region_code:
            return False
        return str(region_code).startswith(area_prefix(self.area))

    def require_area(self, region_code: str | None) -> Caller:
        """``403 outside_area`` unless ``region_code`` lies inside the caller's area."""
        if not self.covers(region_code):
            raise Forbidden("this lies outside your area", code="outside_area")
        return self

    def require(self, *roles: str) -> Caller:
        if not self.has(*roles):
            raise Forbidden(f"this needs the role {' or '.join(roles)}", code="forbidden_role")
        return self


def _exact(items: Iterable[Any]) -> frozenset[str]:
    return frozenset(item for item in items if isinstance(item, str) and item in ROLES)


def parse_roles(value: Any) -> frozenset[str]:
    """Roles from a claim value, compared exactly: a list, API Gateway's ``"[a b]"`` string, a
    single role or ``"a,b"``. Anything not exactly a role is none (see the module docstring)."""
    if isinstance(value, list | tuple):
        return _exact(value)
    if not isinstance(value, str):
        return frozenset()
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1]
        items = inner.split(" ")
    else:
        items = value.split(",")
    if "" in items:  # an empty item (a role with a space in it, flattened): refuse the whole claim
        return frozenset()
    return _exact(items)


def check_subject(sub: Any) -> str:
    """The account id of a caller token, if it is one the system may use (module docstring);
    ``401 unauthorized`` otherwise."""
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("the caller token has no subject", code="unauthorized")
    if (
        len(sub) > SUB_MAX
        or "#" in sub
        or sub != sub.strip()
        or any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in sub)
    ):
        raise Unauthorized("the caller token's subject is not a valid account id", code="unauthorized")
    return sub


def check_area(value: Any) -> str | None:
    """The caller's area from its ``region`` / ``custom:region`` claim: None when absent, six
    ASCII digits otherwise; anything else is ``401 unauthorized``."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 6 or not value.isascii() or not value.isdigit():
        raise Unauthorized("the caller token's region is not a region code", code="unauthorized")
    return value


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub = check_subject(claims.get("sub"))
    roles = parse_roles(claims.get("roles")) | parse_roles(claims.get("cognito:groups"))
    area = check_area(claims.get("region", claims.get("custom:region")))
    return Caller(sub=sub, roles=roles, area=area)


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt_part = authorizer.get("jwt") or {}
    claims = jwt_part.get("claims")
    if not isinstance(claims, Mapping):
        raise Unauthorized("a caller token is required", code="unauthorized")
    return caller_from_claims(claims)
