"""The web foundation in a real browser: local and OIDC sign-in, the H5 "my codes" page, the
Content-Security-Policy, and a bundle without secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser.conftest import DIST, MOBILE, new_page
from tests.codes_forms import adult_id, form, png_text
from tests.e2e.stack import Stack, running_stack

CSP_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)


def test_a_citizen_signs_in_locally_and_sees_no_codes_yet(
    page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    page = page_as("citizen", "browser-citizen-empty")
    page.get_by_role("heading", name="我的健康码").wait_for()
    page.get_by_text("您还没有健康码。").wait_for()
    assert page.get_by_text("市民 · 地区 520000").is_visible()
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    assert "token" not in page.url
    axe_check(page)
    screenshot(page, "h5-my-codes-empty")
    assert page.violations == []


def test_my_codes_lists_what_the_api_answers(page_as: Any, stack: Stack, screenshot: Any) -> None:
    created = stack.call("POST", "/v1/codes", as_=("browser-citizen-1", ["citizen"]), json=form(adult_id()))
    assert created.status_code in (200, 201), created.text
    page = page_as("citizen", "browser-citizen-1")
    link = page.get_by_role("link", name=re.compile(re.escape(created.json()["name_masked"])))
    link.wait_for()
    assert "绿码" in link.inner_text() or "黄码" in link.inner_text() or "红码" in link.inner_text()
    screenshot(page, "h5-my-codes")


def test_the_sign_in_page_is_accessible(browser: Any, stack: Stack, axe_check: Any, screenshot: Any) -> None:
    for role, name in (("citizen", "h5-sign-in"), ("official", "console-sign-in")):
        page = new_page(browser, role, stack.url)
        page.goto("/h5/" if role == "citizen" else "/console/")
        page.get_by_role("button", name="登录").wait_for()
        axe_check(page)
        screenshot(page, name)
        page.context.close()


def test_signing_out_forgets_the_token(page_as: Any) -> None:
    page = page_as("official", "browser-official", "520100")
    assert page.get_by_text("防控工作人员 · 地区 520100").is_visible()
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录").wait_for()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_token_the_api_refuses_sends_the_page_back_to_sign_in(page_as: Any) -> None:
    """A token the API no longer accepts (here: its signature altered; in life, revoked or past
    its time) is dropped at the first 401, and the page asks for a sign-in instead of showing
    errors it can never recover from."""
    page = page_as("citizen", "browser-refused-token")
    page.get_by_role("heading", name="我的健康码").wait_for()
    page.evaluate(
        "() => { const t = sessionStorage.getItem('hc.token');"
        " sessionStorage.setItem('hc.token', t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA')); }"
    )
    page.reload()
    page.get_by_label("用户编号").wait_for()
    assert page.get_by_role("button", name="退出登录").count() == 0
    assert page.evaluate("() => sessionStorage.getItem('hc.token')") is None


def test_a_session_for_the_other_page_is_told_so_and_can_sign_out(page_as: Any, axe_check: Any) -> None:
    """The token is kept per tab and origin, so an official who opens /h5/ in the console's tab
    arrives signed in with no H5 page for the role: a notice, a way to the console and sign-out,
    never an empty screen."""
    page = page_as("official", "browser-official-on-h5", "520100")
    page.goto("/h5/")
    page.get_by_role("heading", name="此页面不适用于当前身份").wait_for()
    assert page.get_by_role("link", name="场所管理及防控工作台").get_attribute("href") == "../console/"
    axe_check(page)
    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户编号").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('hc.token')") is None


def test_every_page_answer_carries_the_security_headers(stack: Stack) -> None:
    for path in ("/h5/", "/console/", "/h5/config.json"):
        answer = requests.get(f"{stack.url}{path}", timeout=10)
        assert answer.status_code == 200
        policy = answer.headers["Content-Security-Policy"]
        assert all(part in policy for part in CSP_PARTS), policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Permissions-Policy"] == "camera=(self)"
    for path in (
        "/h5/../../pyproject.toml",
        "/h5/%2e%2e/%2e%2e/pyproject.toml",
        "/assets/..%2f..%2fpyproject.toml",
    ):
        answer = requests.get(f"{stack.url}{path}", timeout=10)
        assert answer.status_code == 404 and b"healthcode" not in answer.content
    assert requests.get(f"{stack.url}/h5", allow_redirects=False, timeout=10).headers["Location"] == "/h5/"
    assert requests.get(f"{stack.url}/", allow_redirects=False, timeout=10).headers["Location"] == "/console/"


def test_the_pages_run_without_a_csp_violation(browser: Any, stack: Stack) -> None:
    page = new_page(browser, "citizen", stack.url)
    reports: list[str] = []
    page.on("console", lambda m: reports.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/h5/")
    page.evaluate(
        "() => { window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"
    )
    page.get_by_label("用户编号").fill("browser-csp")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="我的健康码").wait_for()
    # the policy is really in force: an inline script is refused
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.__ran") is None
    violations = page.evaluate("() => window.__csp")
    assert violations == ["script-src-elem inline"], violations
    assert [r for r in reports if "window.__ran" not in r and "inline" not in r] == []
    page.context.close()


def test_the_bundle_holds_no_secrets_and_no_configuration() -> None:
    built = [
        p for p in DIST.rglob("*") if p.is_file() and p.suffix in (".js", ".css", ".html", ".json", ".map")
    ]
    assert any(p.suffix == ".js" for p in built)
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in built)
    for forbidden in (
        "-----BEGIN",
        "PRIVATE KEY",
        "secret",
        "healthcode-local",
        "local.healthcode.invalid",
        "AKIA",
    ):
        assert forbidden.lower() not in text.lower(), forbidden
    assert not (DIST / "h5" / "config.json").exists() and not (DIST / "console" / "config.json").exists()


@pytest.fixture(scope="module")
def oidc_stack() -> Iterator[Stack]:
    with running_stack("520000", extra=["--web-auth", "oidc"]) as started:
        yield started


def test_oidc_sign_in_with_pkce_end_to_end(
    browser: Any, oidc_stack: Stack, screenshot: Any, axe_check: Any
) -> None:
    config = requests.get(f"{oidc_stack.url}/h5/config.json", timeout=10).json()
    assert config["mode"] == "oidc" and config["issuer"] == f"{oidc_stack.url}/_local/oidc"
    context = browser.new_context(**MOBILE, base_url=oidc_stack.url)
    page = context.new_page()
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.goto("/h5/")
    page.get_by_role("button", name="使用统一身份认证登录").click()
    page.wait_for_url(re.compile(r"/_local/oidc/authorize\?"))
    authorize = (
        requests_seen[-1]
        if "/authorize" in requests_seen[-1]
        else next(u for u in requests_seen if "/authorize" in u)
    )
    assert "code_challenge_method=S256" in authorize and "code_challenge=" in authorize
    screenshot(page, "oidc-authorize")
    page.get_by_label("身份").select_option("citizen")
    page.get_by_label("用户编号").fill("browser-oidc-citizen")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="我的健康码").wait_for()
    assert "code=" not in page.url and "state=" not in page.url
    assert any(u.endswith("/_local/oidc/token") for u in requests_seen)
    page.get_by_text("您还没有健康码。").wait_for()
    token = page.evaluate("() => sessionStorage.getItem('hc.token')")
    mine = requests.get(
        f"{oidc_stack.url}/v1/codes", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert mine.status_code == 200 and mine.json() == {"codes": []}
    axe_check(page)
    context.close()


JSQR = DIST.parent / "node_modules" / "jsqr" / "dist" / "jsQR.js"
READ_CAMERA = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  const video = document.createElement('video');
  video.muted = true; video.srcObject = stream; await video.play();
  const canvas = document.createElement('canvas');
  for (let i = 0; i < 100; i += 1) {
    await new Promise(r => requestAnimationFrame(r));
    if (!video.videoWidth) continue;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const context = canvas.getContext('2d');
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(image.data, image.width, image.height);
    if (code) { stream.getTracks().forEach(t => t.stop()); return code.data; }
  }
  return null;
}"""


def test_the_fake_camera_shows_the_stacks_own_code_png(camera_page: Any, stack: Stack) -> None:
    """The camera harness: a personal code PNG from the stack, played as the camera, reads back
    with jsQR (the decoder the pages use) to the token the API issued."""
    caller = ("browser-camera", ["citizen"])
    created = stack.call("POST", "/v1/codes", as_=caller, json=form(adult_id())).json()
    png = stack.call("GET", f"/v1/codes/{created['person_id']}/qr.png", as_=caller)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    page = camera_page(png.content, "citizen", "browser-camera")
    page.evaluate(JSQR.read_text(encoding="utf-8"))
    decoded = page.evaluate(READ_CAMERA)
    assert decoded is not None and decoded == png_text(png.content)
