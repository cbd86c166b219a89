"""Cross-province trust: verify codes signed by another province's stack (national mutual
recognition), as the EU DCC verifiers trust other countries' keys through a trust list.

The trust list is deployment configuration (the template parameter ``TrustList`` → environment
``TRUST_LIST``): ``<province>=<JWKS URL>`` pairs, comma-separated, e.g.
``350000=https://…/.well-known/jwks.json,410000=https://…``. Each foreign JWKS is fetched over
HTTPS (plain HTTP to this machine only: local stacks) with a short timeout and cached per
container (``CACHE_SECONDS``); a fetch failure keeps the keys already held (verifiers keep working
through a neighbour's outage) and, with none held, makes that province's codes unverifiable —
never accepted unverified.

Only what a verifier needs is accepted from a foreign JWKS: EC P-256 keys for ES256 whose
``hc_use`` (when present) is ``code``, and whose ``kid``, when it names a province
(``tokens.province_of_kid``), names that province and a code key. Keys are looked up by province
and ``kid``: a compact personal code's ``kid`` names its province, so only that province's JWKS
is asked, and a key another province publishes under a name not its own is never used. A foreign
code's level is the one it was signed with: it lives minutes, and the issuing province owns
that person's data.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from healthcode.codes import jws
from healthcode.codes.tokens import issuer_of, province_of_kid

if TYPE_CHECKING:
    from http.client import HTTPMessage

    from cryptography.hazmat.primitives.asymmetric import ec

TRUST_ENV = "TRUST_LIST"
CACHE_SECONDS = 300.0
RETRY_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 3.0
MAX_JWKS_BYTES = 256 * 1024
_ENTRY = re.compile(r"^(?P<province>[1-8][0-9]0000)=(?P<url>https?://\S+)$")

Fetch = Callable[[str], bytes]


class TrustListError(ValueError):
    """The configured trust list is malformed (a deployment mistake: fail at start)."""


__all__ = [
    "CACHE_SECONDS",
    "TrustList",
    "configured",
    "issuer_of",
    "keys_from_jwks",
    "parse_trust_list",
    "reset",
]


def parse_trust_list(text: str, *, own_province: str) -> dict[str, str]:
    """``{issuer: jwks_url}`` from the configuration text; the own province is never listed."""
    trusted: dict[str, str] = {}
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        found = _ENTRY.match(raw)
        if not found:
            raise TrustListError(f"trust list entry {raw[:60]!r} is not <province>=<JWKS URL>")
        province = found.group("province")
        if province == own_province:
            raise TrustListError(f"province {province} is this stack; it does not trust itself by URL")
        if issuer_of(province) in trusted:
            raise TrustListError(f"province {province} listed twice")
        if not _authenticated(found.group("url")):
            raise TrustListError(
                f"province {province}: a JWKS URL is https (plain http on this machine only)"
            )
        trusted[issuer_of(province)] = found.group("url")
    return trusted


def _authenticated(url: str) -> bool:
    """Whether keys fetched from ``url`` come from whom the URL names: https, or plain http to
    this machine (local stacks). Over plain http anyone on the path could hand the verifier keys
    of their own and sign that province's codes in any colour."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        host = parts.hostname
    except ValueError:
        return False
    return host in _LOOPBACK_NAMES or (host is not None and _is_loopback_address(host))


_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follows a neighbour's redirect only to a URL the trust list itself could name: an https
    JWKS redirected to plain http would be as open to substitution as one configured so."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not _authenticated(newurl):
            raise urllib.error.HTTPError(newurl, code, "redirect to an unauthenticated JWKS URL", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _http_fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - configured URL
    opener = urllib.request.build_opener(_NoDowngrade())
    with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:
        data: bytes = answer.read(MAX_JWKS_BYTES + 1)
    if len(data) > MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    return data


def keys_from_jwks(
    document: Mapping[str, Any], *, province: str | None = None
) -> dict[str, ec.EllipticCurvePublicKey]:
    """The usable verification keys of a JWKS document, by ``kid`` (others are ignored); with
    ``province``, only keys whose ``kid`` names no province or names that one's code key."""
    found: dict[str, ec.EllipticCurvePublicKey] = {}
    for raw in document.get("keys", []) if isinstance(document.get("keys"), list) else []:
        if not isinstance(raw, dict) or raw.get("kty") != "EC" or raw.get("crv") != "P-256":
            continue
        if raw.get("alg", "ES256") != "ES256" or raw.get("hc_use", "code") != "code" or "d" in raw:
            continue
        kid = raw.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        named = province_of_kid(kid)
        if province is not None and named is not None and named != (province, "code"):
            continue
        try:
            found[kid] = jws.public_key_from_jwk(raw)
        except jws.JWSError:
            continue
    return found


@dataclass
class _Held:
    keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    retry_at: float = float("-inf")


class TrustList:
    """Foreign issuers' keys, fetched lazily and cached per container."""

    def __init__(self, trusted: Mapping[str, str], fetch: Fetch = _http_fetch) -> None:
        self.trusted = dict(trusted)
        self._fetch = fetch
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {issuer: _Held() for issuer in self.trusted}

    @property
    def issuers(self) -> list[str]:
        return sorted(self.trusted)

    def key(self, issuer: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        held = self._held.get(issuer)
        if held is None:
            return None
        now = time.monotonic()
        stale = now - held.fetched_at >= CACHE_SECONDS or (kid not in held.keys and now >= held.retry_at)
        if stale and now >= held.retry_at:
            with self._lock:
                self._refresh(issuer, held, now)
        return held.keys.get(kid)

    def _refresh(self, issuer: str, held: _Held, now: float) -> None:
        try:
            document = json.loads(self._fetch(self.trusted[issuer]))
            province = issuer.rsplit(":", 1)[-1]
            keys = keys_from_jwks(document if isinstance(document, dict) else {}, province=province)
        except (OSError, ValueError):
            held.retry_at = now + RETRY_SECONDS  # keep what we hold; ask again a little later
            return
        held.keys, held.fetched_at, held.retry_at = keys, now, now + RETRY_SECONDS


_lock = threading.Lock()
_configured: TrustList | None = None


def configured(own_province: str) -> TrustList:
    """The stack's trust list from ``TRUST_LIST`` (empty when unset), built once."""
    global _configured
    with _lock:
        if _configured is None:
            _configured = TrustList(
                parse_trust_list(os.environ.get(TRUST_ENV, ""), own_province=own_province)
            )
        return _configured


def reset() -> None:
    global _configured
    with _lock:
        _configured = None
