"""The browser suite: Playwright driving Debian's Chromium (``/usr/bin/chromium``, installed by
``make chromium``; Playwright never downloads a browser) against a local stack serving
``web/dist`` (built by ``make web``). Nothing is skipped: without Chromium or the build, or with
a build older than a source of the pages, the tests fail and say which make target to run.

Fixtures:
- ``stack``: a local stack (own process) per test module, pages in mode "local";
- ``browser``: Chromium, headless, one per session;
- ``page_as(role, sub, region=None)``: a page signed in through the local sign-in form (H5 for
  citizen and scanner at 375×667 mobile, the console at 1280×800 for the other roles);
- ``axe_check(page)``: axe-core on the page; fails listing serious or critical violations;
- ``screenshot(page, name)``: always taken; written to docs/screenshots/<name>.png only with
  ``UPDATE_SCREENSHOTS=1`` (else into the session's temporary directory, so a run leaves the
  committed pictures alone);
- ``camera_page(png, role, sub, region=None)``: like ``page_as``, in a browser whose camera
  shows ``png`` (see tests/browser/camera.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.camera import camera_args, write_y4m
from tests.e2e.stack import ROOT, Stack, running_stack

CHROMIUM = Path("/usr/bin/chromium")
DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: What the build is made from (the Makefile's web sources) and its stamp (``make web`` touches it).
WEB_SOURCE_DIRS = [ROOT / "web" / name for name in ("src", "h5", "console")]
BUILD_STAMP = DIST / ".built"
H5_ROLES = ("citizen", "scanner")
MOBILE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
#: Chromium as a test browser: no GPU, no QUIC, no first-run, nothing fetched in the background.
BROWSER_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_args() -> list[str]:
    return (["--no-sandbox"] if os.geteuid() == 0 else []) + BROWSER_ARGS


def page_for(role: str) -> str:
    """The page a role works in: /h5/ for citizens and checkpoint staff, else /console/."""
    return "h5" if role in H5_ROLES else "console"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)", pytrace=False)
    if not (DIST / "h5" / "index.html").is_file():
        pytest.fail("web/dist is missing: run `make web`", pytrace=False)
    newer = sources_newer_than_build()
    if newer:
        pytest.fail(
            f"web/dist is older than {', '.join(newer[:3])}"
            + (f" and {len(newer) - 3} more" if len(newer) > 3 else "")
            + ": run `make web`",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


def built_at() -> float:
    """When web/dist was built: ``make web``'s stamp, else the newest file of the build."""
    if BUILD_STAMP.is_file():
        return BUILD_STAMP.stat().st_mtime
    return max((f.stat().st_mtime for f in DIST.rglob("*") if f.is_file()), default=0.0)


def sources_newer_than_build() -> list[str]:
    """The page sources changed since the build (the tests would run an old page), newest first."""
    built = built_at()
    newer = [
        f
        for folder in WEB_SOURCE_DIRS
        if folder.is_dir()
        for f in folder.rglob("*")
        if f.is_file() and f.stat().st_mtime > built
    ]
    newer.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    return [str(f.relative_to(ROOT)) for f in newer]


def launch(playwright: Any, extra: list[str] | None = None) -> Any:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=browser_args() + (extra or [])
    )


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    started = launch(playwright)
    yield started
    started.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack("520000") as started:
        yield started


def new_page(browser: Any, role: str, base_url: str) -> Any:
    context = browser.new_context(**(MOBILE if page_for(role) == "h5" else DESKTOP), base_url=base_url)
    page = context.new_page()
    page.violations = []  # type: ignore[attr-defined]
    page.on("console", lambda message: _note_console(page, message))
    return page


def _note_console(page: Any, message: Any) -> None:
    if message.type == "error":
        page.violations.append(message.text)


def sign_in(page: Any, role: str, sub: str, region: str | None) -> Any:
    """Through the local sign-in form, as a person would."""
    page.goto(f"/{page_for(role)}/")
    page.get_by_label("身份").select_option(role)
    page.get_by_label("用户编号").fill(sub)
    if region is not None:
        page.get_by_label("所属地区（行政区划代码）").fill(region)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()
    return page


@pytest.fixture
def page_as(browser: Any, stack: Stack) -> Iterator[Callable[..., Any]]:
    pages: list[Any] = []

    def make(role: str, sub: str, region: str | None = None) -> Any:
        page = new_page(browser, role, stack.url)
        pages.append(page)
        return sign_in(page, role, sub, region)

    yield make
    for page in pages:
        page.context.close()


@pytest.fixture
def camera_page(playwright: Any, stack: Stack, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A signed-in page in a browser whose camera shows ``png`` (one browser per call: Chromium
    reads the fake-capture file at launch)."""
    browsers: list[Any] = []

    def make(png: bytes, role: str, sub: str, region: str | None = None) -> Any:
        video = write_y4m(png, tmp_path / f"camera-{len(browsers)}.y4m")
        started = launch(playwright, camera_args(video))
        browsers.append(started)
        page = new_page(started, role, stack.url)
        page.context.grant_permissions(["camera"])
        return sign_in(page, role, sub, region)

    yield make
    for started in browsers:
        started.close()


@pytest.fixture
def axe_check() -> Callable[[Any], None]:
    def check(page: Any) -> None:
        # Evaluated through DevTools, not a <script>: the page's CSP allows no inline script.
        page.evaluate(AXE.read_text(encoding="utf-8"))
        result = page.evaluate("async () => await axe.run(document)")
        bad = [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
        assert not bad, "axe-core: " + json.dumps(
            [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": [n["target"] for n in v["nodes"]],
                }
                for v in bad
            ],
            ensure_ascii=False,
            indent=1,
        )

    return check


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/screenshots with ``UPDATE_SCREENSHOTS=1``; else a directory of this test session."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take
