"""The local stack's web serving and its emulated OpenID provider (infra/local/web.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from infra.local.authorizer import LocalIdentityProvider
from infra.local.web import OidcProvider, WebSite, page_config, s256

STACK = "http://127.0.0.1:3000"
CLIENT = "healthcode-local"
# RFC 7636 appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    for page in ("h5", "console"):
        (tmp_path / page).mkdir()
        (tmp_path / page / "index.html").write_text(f"<!doctype html><title>{page}</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "h5-abc.js").write_text("console.log(1)")
    (tmp_path / "assets" / "style.css").write_text("body{}")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return tmp_path


def site(dist: Path) -> WebSite:
    return WebSite(
        dist,
        lambda url: page_config(
            stack_url=url, mode="oidc", audience=CLIENT, province="520000", brand="贵州健康码"
        ),
    )


def test_pages_come_with_their_type_and_the_security_headers(dist: Path) -> None:
    status, headers, body = site(dist).answer("GET", "/h5/", STACK)  # type: ignore[misc]
    assert (status, headers["Content-Type"], body) == (
        200,
        "text/html; charset=utf-8",
        b"<!doctype html><title>h5</title>",
    )
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self';" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Permissions-Policy"] == "camera=(self)"
    assert (
        site(dist).answer("GET", "/assets/h5-abc.js", STACK)[1]["Content-Type"].startswith("text/javascript")
    )  # type: ignore[index]
    assert site(dist).answer("GET", "/assets/style.css", STACK)[1]["Content-Type"].startswith("text/css")  # type: ignore[index]


def test_a_separate_api_origin_is_allowed_to_connect(dist: Path) -> None:
    web = WebSite(dist, lambda url: {}, api_base="https://api.example.cn/prod")
    assert (
        "connect-src 'self' https://api.example.cn;"
        in web.answer("GET", "/h5/", STACK)[1]["Content-Security-Policy"]
    )  # type: ignore[index]


def test_bare_names_redirect_and_other_paths_are_the_apis(dist: Path) -> None:
    web = site(dist)
    assert web.answer("GET", "/h5", STACK)[:2][0] == 302  # type: ignore[index]
    assert web.answer("GET", "/h5", STACK)[1]["Location"] == "/h5/"  # type: ignore[index]
    assert web.answer("GET", "/console", STACK)[1]["Location"] == "/console/"  # type: ignore[index]
    assert web.answer("GET", "/", STACK)[1]["Location"] == "/console/"  # type: ignore[index]
    assert web.answer("GET", "/v1/codes", STACK) is None
    assert web.answer("GET", "/h5x/", STACK) is None
    assert web.answer("POST", "/h5/", STACK)[0] == 405  # type: ignore[index]


@pytest.mark.parametrize(
    "path",
    [
        "/h5/../secret.txt",
        "/h5/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/h5/..%5c..%5csecret.txt",
        "/console/%00index.html",
        "/h5/.hidden",
        "/h5/nothing-here.js",
    ],
)
def test_no_file_outside_the_build_is_served(dist: Path, path: str) -> None:
    status, _headers, body = site(dist).answer("GET", path, STACK)  # type: ignore[misc]
    assert status == 404
    assert b"outside" not in body


def test_config_json_is_generated_for_this_stack(dist: Path) -> None:
    status, headers, body = site(dist).answer("GET", "/console/config.json", STACK)  # type: ignore[misc]
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {
        "apiBase": "",
        "mode": "oidc",
        "issuer": f"{STACK}/_local/oidc",
        "clientId": CLIENT,
        "province": "520000",
        "brand": "贵州健康码",
    }


def test_without_a_build_the_pages_say_how_to_make_one(tmp_path: Path) -> None:
    status, headers, body = site(tmp_path / "missing").answer("GET", "/h5/", STACK)  # type: ignore[misc]
    assert status == 503 and "make web" in body.decode() and "网页尚未构建" in body.decode()
    assert "Content-Security-Policy" in headers


# -- the emulated provider -----------------------------------------------------------------


@pytest.fixture
def provider() -> OidcProvider:
    return OidcProvider(
        LocalIdentityProvider("https://local.healthcode.invalid/issuer", CLIENT), CLIENT, "520000"
    )


def authorize_query(**overrides: str) -> str:
    fields = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": f"{STACK}/h5/",
        "state": "st-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **overrides,
    }
    return urlencode(fields)


def sign_in(provider: OidcProvider, **overrides: str) -> str:
    person = urlencode({"role": "official", "sub": "off-1", "region": "520100"})
    form = f"{authorize_query(**overrides)}&{person}"
    status, headers, _ = provider.answer("POST", "/_local/oidc/authorize", "", form.encode(), STACK)
    assert status == 302, _
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{STACK}/h5/"
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(
    provider: OidcProvider, code: str, verifier: str = VERIFIER, **overrides: str
) -> tuple[int, dict]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": f"{STACK}/h5/",
        "client_id": CLIENT,
        "code_verifier": verifier,
        **overrides,
    }
    status, _headers, body = provider.answer(
        "POST", "/_local/oidc/token", "", urlencode(form).encode(), STACK
    )
    return status, json.loads(body)


def test_s256_is_rfc_7636() -> None:
    assert s256(VERIFIER) == CHALLENGE
    assert (
        base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
        == CHALLENGE
    )


def test_discovery_names_this_stacks_endpoints(provider: OidcProvider) -> None:
    status, _, body = provider.answer("GET", "/_local/oidc/.well-known/openid-configuration", "", b"", STACK)
    document = json.loads(body)
    assert status == 200
    assert document["token_endpoint"] == f"{STACK}/_local/oidc/token"
    assert document["code_challenge_methods_supported"] == ["S256"]


def test_the_authorize_page_is_a_chinese_form(provider: OidcProvider) -> None:
    status, headers, body = provider.answer("GET", "/_local/oidc/authorize", authorize_query(), b"", STACK)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'lang="zh-CN"' in page and "用户编号" in page and 'value="st-1"' in page


def test_a_code_and_the_right_verifier_give_a_caller_token(provider: OidcProvider) -> None:
    status, answer = exchange(provider, sign_in(provider))
    assert status == 200 and answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    claims = jwt.decode(answer["id_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["roles"], claims["region"], claims["aud"]) == (
        "off-1",
        ["official"],
        "520100",
        CLIENT,
    )
    assert provider.identity.validate(f"Bearer {answer['access_token']}")["sub"] == "off-1"


def test_a_wrong_verifier_is_invalid_grant_and_burns_the_code(provider: OidcProvider) -> None:
    code = sign_in(provider)
    status, answer = exchange(provider, code, verifier="x" * 43)
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert exchange(provider, code)[0] == 400


def test_a_code_is_used_once(provider: OidcProvider) -> None:
    code = sign_in(provider)
    assert exchange(provider, code)[0] == 200
    status, answer = exchange(provider, code)
    assert (status, answer["error"]) == (400, "invalid_grant")


def test_the_exchange_must_repeat_the_client_and_redirect_uri(provider: OidcProvider) -> None:
    assert exchange(provider, sign_in(provider), client_id="other")[1]["error"] == "invalid_client"
    assert (
        exchange(provider, sign_in(provider), redirect_uri=f"{STACK}/console/")[1]["error"] == "invalid_grant"
    )
    assert (
        exchange(provider, sign_in(provider), grant_type="password")[1]["error"] == "unsupported_grant_type"
    )
    assert exchange(provider, "made-up")[1]["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "someone-else"},
        {"redirect_uri": "https://evil.example/h5/"},
        {"redirect_uri": "http://127.0.0.1:3001/h5/"},
        {"code_challenge_method": "plain"},
        {"code_challenge": "short"},
        {"response_type": "token"},
    ],
)
def test_bad_authorization_requests_are_refused_without_a_redirect(
    provider: OidcProvider, overrides: dict[str, str]
) -> None:
    for method, query, body in (
        ("GET", authorize_query(**overrides), b""),
        ("POST", "", authorize_query(**overrides).encode()),
    ):
        status, headers, page = provider.answer(method, "/_local/oidc/authorize", query, body, STACK)
        assert status == 400 and "Location" not in headers
        assert "无法登录" in page.decode()


def test_the_form_asks_again_for_missing_answers(provider: OidcProvider) -> None:
    form = f"{authorize_query()}&role=official&sub=&region=52"
    status, headers, page = provider.answer("POST", "/_local/oidc/authorize", "", form.encode(), STACK)
    assert status == 400 and "Location" not in headers and 'role="alert"' in page.decode()
