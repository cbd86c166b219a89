"""The venue managers' console pages in a real browser (issue 17, Deliver 3): a manager
registers a venue through the form (a field error first, in Chinese, beside its field), edits
and completes its credential, previews, prints and downloads the poster (the download decodes
to the venue's own code), assigns and removes staff, issues a join code that another manager's
store registers with, and reads the last 14 days' counts and the day's alerts after the venue's
own staff scanned there; a vehicle registers under its plate; and a manager gets no power over
another manager's venue. Every page is checked with axe-core and kept as a screenshot."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from healthcode import clock
from healthcode.rules import credentials
from PIL import Image

from tests.codes_forms import adult_id, declaration, form
from tests.e2e.stack import Stack

USCC = "91440300708461136T"


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def venue_id_of(page: Any) -> str:
    found = re.search(r"/manager/venues/(v-[0-9a-f]{32})", page.url)
    assert found, page.url
    return found.group(1)


@pytest.fixture
def china_midday(stack: Stack) -> Iterator[str]:
    """The stack's clock on the next China midday for one test (then back where it was), so
    counts by China day never straddle midnight (16:00 UTC) while the test runs. Ahead, never
    behind: caller tokens minted on it are still valid on the browser's own clock. Requested
    before ``page_as``, so the page signs in on the moved clock."""
    now = clock.parse_instant(stack.clock(advance_seconds=0)).astimezone(clock.CHINA)
    midday = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if midday <= now:
        midday += timedelta(days=1)
    shift = (midday - now).total_seconds()
    stack.clock(now=midday.isoformat())
    try:
        yield midday.isoformat()
    finally:
        stack.clock(advance_seconds=-shift)


@contextmanager
def clock_moved(stack: Stack, *, days: int) -> Iterator[None]:
    """The stack's clock ``days`` away while inside, then back by the same amount."""
    stack.clock(advance_seconds=days * 86_400)
    try:
        yield
    finally:
        stack.clock(advance_seconds=-days * 86_400)


def fill_venue_form(page: Any, *, name: str, type_label: str, credential: str, subject: str) -> None:
    """Every field of the registration form, as a manager types it (labels follow the type)."""
    page.get_by_label("场所类型").select_option(label=type_label)
    if not type_label.startswith("交通工具"):  # a vehicle's one credential type is chosen for it
        page.get_by_label("证照类型").select_option("uscc")
    page.get_by_label(re.compile("^(场所名称|车辆名称)")).fill(name)
    page.get_by_label("所在区县（行政区划代码）").fill("520102")
    page.get_by_label(re.compile("^(地址|车场地址)$")).fill("贵州省贵阳市南明区花果园大街1号")
    page.get_by_label("纬度").fill("26.5783")
    page.get_by_label("经度").fill("106.7135")
    page.get_by_label(re.compile("^(主体名称|车辆所有人)")).fill(subject)
    page.get_by_label(re.compile("^(证照号码|车牌号)$")).fill(credential)
    page.get_by_label("负责人手机号").fill(phone())


def open_section(page: Any, label: str, heading: str) -> None:
    page.get_by_role("navigation", name="场所页面").get_by_role("link", name=label).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for()


def test_a_manager_runs_a_venue_end_to_end(
    stack: Stack, china_midday: str, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    manager = fresh("mgr-a")
    page = page_as("venue_manager", manager, "520102")
    # my venues: none yet
    page.get_by_role("heading", name="我的场所").wait_for()
    page.get_by_text("您还没有登记场所。").wait_for()
    axe_check(page)

    # register: a credential with a wrong check character is refused beside its field, in Chinese
    page.get_by_role("link", name="登记新场所").click()
    page.get_by_role("heading", name="登记场所").wait_for()
    fill_venue_form(
        page,
        name="花果园超市",
        type_label="超市",
        credential=USCC[:-1] + "X",
        subject="花果园商业管理有限公司",
    )
    page.get_by_role("button", name="提交登记").click()
    beside = page.locator("#field-credential_number-error")
    beside.wait_for()
    assert beside.inner_text() == "证照号码有误，请核对后重新输入。"
    assert page.get_by_label(re.compile("^证照号码")).get_attribute("aria-invalid") == "true"
    axe_check(page)
    screenshot(page, "manager-register")
    page.get_by_label(re.compile("^证照号码")).fill(USCC)
    page.get_by_role("button", name="提交登记").click()
    page.get_by_text("登记成功。").wait_for()
    venue_id = venue_id_of(page)
    page.get_by_text(venue_id).wait_for()
    axe_check(page)
    screenshot(page, "manager-venue")
    owner = (manager, ["venue_manager"])
    registered = stack.call("GET", f"/v1/venues/{venue_id}", as_=owner).json()
    assert registered["name"] == "花果园超市" and registered["credential_type"] == "uscc"

    # edit: a new name (a new code: the old poster is revoked) and another credential
    open_section(page, "修改登记", "修改场所登记")
    page.get_by_label("场所名称").fill("花果园超市（南门）")
    page.get_by_label("证照类型").select_option("business_licence")
    page.get_by_role("button", name="保存修改").click()
    page.locator("#field-credential_number-error").wait_for()  # a new type needs its number
    licence = "52010220000123" + credentials.business_licence_check_digit("52010220000123")
    page.get_by_label(re.compile("^证照号码")).fill(licence)
    page.get_by_role("button", name="保存修改").click()
    page.get_by_text("系统已生成新的场所码").wait_for()
    axe_check(page)
    screenshot(page, "manager-edit")
    changed = stack.call("GET", f"/v1/venues/{venue_id}", as_=owner).json()
    assert changed["name"] == "花果园超市（南门）" and changed["credential_type"] == "business_licence"
    assert changed["code_generation"] == registered["code_generation"] + 1

    # poster: the preview, a print that shows only the poster, and a download of the stack's PNG
    open_section(page, "场所码海报", "场所码海报")
    image = page.get_by_role("img", name=re.compile("花果园超市（南门）的场所码海报"))
    image.wait_for()
    assert page.evaluate("() => document.querySelector('.mgr-poster-sheet img').naturalWidth") > 0
    with page.expect_download() as started:
        page.get_by_role("link", name="下载海报（PNG）").click()
    png = Image.open(io.BytesIO(open(started.value.path(), "rb").read())).convert("L")
    assert [r.text for r in zxingcpp.read_barcodes(png)] == [changed["code_url"]]
    assert started.value.suggested_filename == "场所码海报-花果园超市（南门）.png"
    axe_check(page)
    screenshot(page, "manager-poster")
    page.emulate_media(media="print")
    assert not page.locator(".header").is_visible() and image.is_visible()
    assert not page.get_by_role("button", name="打印海报").is_visible()
    page.emulate_media(media="screen")

    # staff: a malformed account is refused beside the field; assign, list, remove
    open_section(page, "工作人员", "场所工作人员")
    page.get_by_text("还没有指派工作人员。").wait_for()
    page.get_by_label("工作人员账号").fill("bad account")
    page.get_by_role("button", name="指派").click()
    page.locator("#field-sub-error").wait_for()
    assert page.locator("#field-sub-error").inner_text() == "账号标识格式有误。"
    scanner, leaving = fresh("scanner-a"), fresh("scanner-b")
    for sub in (scanner, leaving):
        page.get_by_label("工作人员账号").fill(sub)
        page.get_by_role("button", name="指派").click()
        page.get_by_role("cell", name=sub, exact=True).wait_for()
    page.get_by_role("button", name=f"移除 {leaving}").click()
    page.get_by_text(f"已移除 {leaving}。").wait_for()
    page.get_by_role("cell", name=leaving, exact=True).wait_for(state="detached")
    listed = stack.call("GET", f"/v1/venues/{venue_id}/staff", as_=owner).json()["staff"]
    assert [s["sub"] for s in listed] == [scanner]
    axe_check(page)
    screenshot(page, "manager-staff")

    # join codes: one shown once, with which another manager's store registers under this venue
    open_section(page, "门店入驻码", "门店入驻码")
    page.get_by_text("本次还没有生成入驻码。").wait_for()
    page.get_by_role("button", name="生成入驻码").click()
    join_code = page.locator(".mgr-join-code").first.inner_text()
    assert len(join_code.replace("-", "")) == 16
    axe_check(page)
    screenshot(page, "manager-join-codes")
    store_manager = fresh("mgr-store")
    store = page_as("venue_manager", store_manager, "520102")
    store.get_by_role("link", name="登记新场所").click()
    fill_venue_form(
        store, name="花果园超市·奶茶店", type_label="餐饮门店", credential=USCC, subject="奶茶店经营有限公司"
    )
    store.get_by_label("综合体场所编号").fill(venue_id)
    store.get_by_label("入驻码").fill(join_code)
    store.get_by_role("button", name="提交登记").click()
    store.get_by_text("登记成功。").wait_for()
    store.get_by_role("link", name=venue_id).wait_for()
    # the same code again: refused with the API's own words
    store.goto("/console/#/manager/register")
    fill_venue_form(
        store, name="第二家奶茶店", type_label="餐饮门店", credential=USCC, subject="奶茶店经营有限公司"
    )
    store.get_by_label("综合体场所编号").fill(venue_id)
    store.get_by_label("入驻码").fill(join_code)
    store.get_by_role("button", name="提交登记").click()
    store.get_by_text("该入驻码已被使用（一码仅限一个门店）。").wait_for()

    # the venue's own staff scan there: a green code verified, a fever registered by hand
    staff_caller = (scanner, ["scanner"])
    citizen = (fresh("citizen"), ["citizen"])
    person_id = stack.call("POST", "/v1/codes", as_=citizen, json=form(adult_id())).json()["person_id"]
    token = stack.call("GET", f"/v1/codes/{person_id}", as_=citizen).json()["token"]
    verified = stack.call(
        "POST",
        "/v1/verifications",
        as_=staff_caller,
        json={"code": token, "checkpoint_id": venue_id, "temperature": 36.5},
    )
    assert verified.status_code == 200, verified.text
    manual = stack.call(
        "POST",
        "/v1/manual-registrations",
        as_=staff_caller,
        json={"name": "李四", "id_number": adult_id(), "temperature": 38.2, "checkpoint_id": venue_id},
    )
    assert manual.status_code == 201 and manual.json()["abnormal"] is True, manual.text
    with clock_moved(stack, days=-3):  # three days ago: a yellow code turned back at the door
        coughing = (fresh("citizen"), ["citizen"])
        body = form(adult_id(), declaration=declaration(symptoms=["cough"]))
        yellow_id = stack.call("POST", "/v1/codes", as_=coughing, json=body).json()["person_id"]
        yellow = stack.call("GET", f"/v1/codes/{yellow_id}", as_=coughing).json()
        assert yellow["colour"] == "yellow", yellow
        scan = {"code": yellow["token"], "checkpoint_id": venue_id, "temperature": 36.6}
        turned_back = stack.call("POST", "/v1/verifications", as_=staff_caller, json=scan)
        assert turned_back.status_code == 200 and turned_back.json()["verdict"] == "dissuade", (
            turned_back.text
        )
    stack.drain()

    # stats: 14 days, today with both scans, one abnormal
    open_section(page, "每日统计", "每日扫码统计")
    page.get_by_text("共扫码 3 次").wait_for()
    rows = page.get_by_role("table", name="每日扫码明细").locator("tbody tr")
    assert rows.count() == 14
    # newest first: date, scans, abnormal, green, yellow
    cells = [[c.strip() for c in rows.nth(i).inner_text().split("\t")] for i in (0, 1, 3)]
    three_days_ago = cells[2][0]
    assert [c[1:] for c in cells] == [["2", "1", "2", "0"], ["0", "0", "0", "0"], ["1", "1", "0", "1"]]
    page.get_by_role("list", name="图例").get_by_text("黄码").wait_for()  # the legend names it
    assert page.get_by_role("img", name=re.compile("近 14 天每日扫码次数")).is_visible()
    axe_check(page)
    screenshot(page, "manager-stats")

    # alerts: the fever, masked (this province shows managers no identities)
    open_section(page, "异常提醒", "异常提醒")
    row = page.get_by_role("row", name=re.compile("手工登记"))
    row.wait_for()
    text = row.inner_text()
    assert "38.2 ℃" in text and "李*" in text and "已核验身份" not in text
    # three days ago (the date typed): the yellow code turned back at the door
    page.get_by_label("日期（不填为今天）").fill(three_days_ago)
    row = page.get_by_role("row", name=re.compile("亮码核验"))
    row.wait_for()
    assert "黄码" in row.inner_text() and "劝返" in row.inner_text()
    assert page.get_by_role("row", name=re.compile("手工登记")).count() == 0
    axe_check(page)
    screenshot(page, "manager-alerts")

    # my venues lists it, with its new name
    page.get_by_role("navigation", name="页面导航").get_by_role("link", name="我的场所").click()
    page.get_by_role("link", name="花果园超市（南门）").wait_for()
    axe_check(page)
    screenshot(page, "manager-venues")
    # and on a phone the same pages fit the screen
    page.set_viewport_size({"width": 375, "height": 667})
    page.get_by_role("link", name="花果园超市（南门）").click()
    page.get_by_text(venue_id).wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    axe_check(page)
    screenshot(page, "manager-venue-mobile")
    # the console's only errors are the refusals the journey provoked (no CSP refusal, no crash)
    for seen in (page, store):
        assert [v for v in seen.violations if not v.startswith("Failed to load resource")] == []


def test_a_vehicle_registers_under_its_plate(
    stack: Stack, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    manager = fresh("mgr-bus")
    page = page_as("venue_manager", manager, "520102")
    page.get_by_role("link", name="登记新场所").click()
    page.get_by_label("场所类型").select_option(label="交通工具（公交、出租车、网约车）")
    # a vehicle has one credential type, its plate, chosen for it
    assert page.get_by_label("证照类型").input_value() == "licence_plate"
    fill_venue_form(
        page,
        name="贵阳公交 1 路",
        type_label="交通工具（公交、出租车、网约车）",
        credential="贵A-1234I",
        subject="贵阳公交集团",
    )
    page.get_by_role("button", name="提交登记").click()
    page.locator("#field-credential_number-error").wait_for()  # no I in a plate
    page.get_by_label("车牌号").fill("贵A·D12345")
    page.get_by_role("button", name="提交登记").click()
    page.get_by_text("登记成功。").wait_for()
    venue_id = venue_id_of(page)
    shown = stack.call("GET", f"/v1/venues/{venue_id}", as_=(manager, ["venue_manager"])).json()
    assert shown["type"] == "vehicle" and shown["credential_type"] == "licence_plate"
    page.get_by_text(re.compile("^车牌号 ")).wait_for()
    axe_check(page)
    screenshot(page, "manager-vehicle")


def test_a_manager_has_no_power_over_another_managers_venue(
    stack: Stack, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    owner = (fresh("mgr-owner"), ["venue_manager"])
    body = {
        "name": "别人的餐馆",
        "type": "restaurant",
        "subject_name": "别人的餐饮有限公司",
        "credential_type": "uscc",
        "credential_number": USCC,
        "region_code": "520102",
        "location": {"lat": 26.5783, "lng": 106.7135},
        "address": "贵州省贵阳市南明区花果园大街2号",
        "manager_phone": phone(),
    }
    created = stack.call("POST", "/v1/venues", as_=owner, json=body)
    assert created.status_code == 201, created.text
    venue_id = created.json()["venue_id"]
    stranger = page_as("venue_manager", fresh("mgr-stranger"), "520102")
    stranger.get_by_text("您还没有登记场所。").wait_for()  # the list holds only their own
    for section in ("", "/poster", "/staff", "/stats", "/alerts", "/join-codes"):
        stranger.goto(f"/console/#/manager/venues/{venue_id}{section}")
        stranger.get_by_role("alert").get_by_text("只有场所负责人可以进行此操作。").wait_for()
        assert stranger.get_by_text("别人的餐馆").count() == 0
        assert stranger.locator(".mgr-tabs").count() == 0
        if section == "":
            axe_check(stranger)
            screenshot(stranger, "manager-no-power")
    # nothing was written by the visits
    staff = stack.call("GET", f"/v1/venues/{venue_id}/staff", as_=owner).json()["staff"]
    assert staff == []
    # an official's console shows no manager pages at all
    official = page_as("official", fresh("official"), "520100")
    official.get_by_role("navigation", name="页面导航").wait_for()
    assert official.get_by_role("link", name="我的场所").count() == 0
