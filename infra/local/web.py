"""The web pages on the local stack: the built ``web/dist`` at ``/h5/`` and ``/console/``, the
``config.json`` each page reads, and a small OpenID provider at ``/_local/oidc`` so the pages'
authorization code + PKCE sign-in runs for real, as it does against the deployment's issuer.

Every page answer carries the same security headers the deployment serves: a
Content-Security-Policy allowing only the page's own origin (and the API's, when elsewhere), no
sniffing, no referrer, the camera for the page itself only.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from infra.local.authorizer import TOKEN_LIFETIME, LocalIdentityProvider

#: The two pages (Vite entries) and the folder of the chunks they share.
PAGES = ("h5", "console")
SHARED = "assets"
WEB_AUTH_MODES = ("local", "oidc")
#: Roles offered by the local sign-in forms, as the API names them (protection/auth.py).
SIGN_IN_ROLES = ("citizen", "scanner", "venue_manager", "official", "admin")
ROLE_NAMES = {
    "citizen": "市民",
    "scanner": "卡口工作人员",
    "venue_manager": "场所管理员",
    "official": "防控工作人员",
    "admin": "系统管理员",
}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

MISSING_BUILD = (
    "网页尚未构建：请先运行 make web。\n"
    "The web pages are not built: run `make web` (or `make run`, which builds them).\n"
).encode()

Answer = tuple[int, dict[str, str], bytes]


def security_headers(api_base: str = "") -> dict[str, str]:
    """The headers every page answer carries (the CloudFront response policy sends the same)."""
    connect = "'self'" + (f" {api_base}" if api_base else "")
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; media-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(self)",
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebSite:
    """Static files from ``dist`` (``None`` for a path that is not the web's: the API's)."""

    def __init__(self, dist: Path, config: Callable[[str], dict[str, Any]], api_base: str = "") -> None:
        self.dist = dist.resolve()
        self.config = config
        self.headers = security_headers(_origin(api_base) if api_base else "")

    def answer(self, method: str, path: str, stack_url: str) -> Answer | None:
        if path == "/":
            return self._redirect("/console/")
        first = path.split("/")[1]
        if first not in (*PAGES, SHARED):
            return None
        if method not in ("GET", "HEAD"):
            return self._text(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
        if path == f"/{first}" and first in PAGES:
            return self._redirect(f"/{first}/")
        if first in PAGES and path == f"/{first}/config.json":
            body = json.dumps(self.config(stack_url), ensure_ascii=False).encode("utf-8")
            return (
                200,
                {**self.headers, "Content-Type": "application/json", "Cache-Control": "no-store"},
                body,
            )
        if not (self.dist / "h5" / "index.html").is_file():
            return self._text(503, MISSING_BUILD)
        file = self._file(path)
        if file is None:
            return self._text(404, "找不到该页面。\nNot found.\n".encode())
        cache = "public, max-age=31536000, immutable" if first == SHARED else "no-cache"
        content_type = CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
        body = file.read_bytes()
        return 200, {**self.headers, "Content-Type": content_type, "Cache-Control": cache}, body

    def _file(self, path: str) -> Path | None:
        """The file under ``dist`` the path names, or None: no ``..``, no encoded separators, no
        hidden files, nothing that resolves (through links) outside ``dist``."""
        text = unquote(path)
        if "\x00" in text or "\\" in text or re.search(r"%2f|%5c|%00", path, re.IGNORECASE):
            return None
        segments = [s for s in text.split("/") if s]
        if any(s in (".", "..") or s.startswith(".") for s in segments):
            return None
        if text.endswith("/"):
            segments.append("index.html")
        candidate = self.dist.joinpath(*segments).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def _redirect(self, location: str) -> Answer:
        return 302, {**self.headers, "Location": location, "Content-Type": "text/plain"}, b""

    def _text(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> Answer:
        return status, {**self.headers, "Content-Type": "text/plain; charset=utf-8", **(extra or {})}, body


def page_config(
    *, stack_url: str, mode: str, audience: str, province: str, brand: str, api_base: str = ""
) -> dict[str, Any]:
    """What ``config.json`` says: in mode ``oidc`` the issuer is this stack's emulated provider
    and the client id its audience; the API answers on the same origin unless ``api_base``."""
    return {
        "apiBase": api_base,
        "mode": mode,
        "issuer": f"{stack_url}/_local/oidc" if mode == "oidc" else "",
        "clientId": audience if mode == "oidc" else "",
        "province": province,
        "brand": brand,
    }


# -- the emulated OpenID provider -------------------------------------------------------------

CODE_LIFETIME_S = 120
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_REGION = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    sub: str
    role: str
    region: str
    expires: float


class OidcRefusal(Exception):
    """An authorization request not to send back to its redirect_uri (unknown client, another
    origin, no S256): shown to the person as a page instead."""


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcProvider:
    """Authorization code + PKCE (S256 only), one client (the stack's audience), redirect URIs on
    the stack's own origin, codes usable once within ``CODE_LIFETIME_S``; the tokens are the
    stack's caller tokens, so the API's authorizer accepts them."""

    def __init__(self, identity: LocalIdentityProvider, client_id: str, province: str) -> None:
        self.identity = identity
        self.client_id = client_id
        self.province = province
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def answer(self, method: str, path: str, query: str, body: bytes, stack_url: str) -> Answer:
        route = path.removeprefix("/_local/oidc")
        if method == "GET" and route == "/.well-known/openid-configuration":
            return _json(200, self.discovery(stack_url))
        if route == "/authorize" and method in ("GET", "POST"):
            fields = dict(parse_qsl(query if method == "GET" else body.decode("utf-8", "replace")))
            try:
                request = self._check_request(fields, stack_url)
            except OidcRefusal as refusal:
                return _html(400, _page("无法登录", f"<p>{html.escape(str(refusal))}</p>"))
            if method == "GET":
                return _html(200, self._form(request, fields))
            return self._approve(request, fields)
        if method == "POST" and route == "/token":
            status, value = self.token(dict(parse_qsl(body.decode("utf-8", "replace"))))
            return _json(status, value, {"Cache-Control": "no-store"})
        return _json(404, {"error": "not_found"})

    def discovery(self, stack_url: str) -> dict[str, Any]:
        issuer = f"{stack_url}/_local/oidc"
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid"],
        }

    def _check_request(self, fields: dict[str, str], stack_url: str) -> dict[str, str]:
        if fields.get("client_id") != self.client_id:
            raise OidcRefusal("未知的应用（client_id）。")
        redirect_uri = fields.get("redirect_uri", "")
        if _origin(redirect_uri) != _origin(stack_url) or urlsplit(redirect_uri).fragment:
            raise OidcRefusal("回调地址必须与本站同源（redirect_uri）。")
        if fields.get("response_type") != "code":
            raise OidcRefusal("只支持授权码模式（response_type=code）。")
        if fields.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(
            fields.get("code_challenge", "")
        ):
            raise OidcRefusal("需要 PKCE（code_challenge_method=S256）。")
        return {
            key: fields.get(key, "")
            for key in ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
        }

    def _form(self, request: dict[str, str], fields: dict[str, str], error: str = "") -> str:
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
            for k, v in {**request, "response_type": "code"}.items()
        )
        options = "".join(
            f'<option value="{r}"{" selected" if fields.get("role") == r else ""}>{ROLE_NAMES[r]}</option>'
            for r in SIGN_IN_ROLES
        )
        region = html.escape(fields.get("region") or self.province)
        alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        form = (
            f'{alert}<form method="post" action="/_local/oidc/authorize">{hidden}'
            f'<p><label for="role">身份</label><br><select id="role" name="role">{options}</select></p>'
            '<p><label for="sub">用户编号</label><br>'
            f'<input id="sub" name="sub" required value="{html.escape(fields.get("sub", ""))}"></p>'
            '<p><label for="region">所属地区（行政区划代码）</label><br>'
            f'<input id="region" name="region" required value="{region}"></p>'
            '<p><button type="submit">登录</button></p></form>'
        )
        return _page("统一身份认证（本地）", form)

    def _approve(self, request: dict[str, str], fields: dict[str, str]) -> Answer:
        sub, role, region = fields.get("sub", "").strip(), fields.get("role", ""), fields.get("region", "")
        if not sub or len(sub) > 128 or role not in SIGN_IN_ROLES or not _REGION.fullmatch(region):
            return _html(400, self._form(request, fields, "请填写用户编号，选择身份，地区为 6 位数字。"))
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._grants = {k: g for k, g in self._grants.items() if g.expires > now}
            self._grants[code] = Grant(
                client_id=request["client_id"],
                redirect_uri=request["redirect_uri"],
                challenge=request["code_challenge"],
                sub=sub,
                role=role,
                region=region,
                expires=now + CODE_LIFETIME_S,
            )
        separator = "&" if urlsplit(request["redirect_uri"]).query else "?"
        location = (
            f"{request['redirect_uri']}{separator}{urlencode({'code': code, 'state': request['state']})}"
        )
        return 302, {"Location": location, "Content-Type": "text/plain", "Cache-Control": "no-store"}, b""

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """RFC 6749 §4.1.3 with RFC 7636 §4.6: the code is spent on its first presentation,
        whether or not the rest checks out."""
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.expires <= time.monotonic():
            return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
        if form.get("client_id") != grant.client_id:
            return 400, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier) or not secrets.compare_digest(s256(verifier), grant.challenge):
            return 400, {"error": "invalid_grant", "error_description": "code_verifier does not match"}
        token = self.identity.issue(grant.sub, [grant.role], {"region": grant.region})
        return 200, {
            "id_token": token,
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
        }


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"{content}</main></body></html>"
    )


def _html(status: int, page: str) -> Answer:
    headers = {**security_headers(), "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return status, headers, page.encode("utf-8")


def _json(status: int, value: Any, extra: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(extra or {})}, json.dumps(value).encode("utf-8")
