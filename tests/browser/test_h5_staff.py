"""Checkpoint staff on the mobile page in a real browser against a local stack: the camera reads
a citizen's own code PNG, the temperature is added, the verdict fills the screen (a fever turns
it into 劝返); a manual registration with a field error in Chinese, then a paper code printed with
a print stylesheet; and no new power (a checkpoint the account is not assigned to, the citizens'
pages). The manager's assignment and the citizen's code are other people's steps, seeded over
HTTP; the staff member's steps go through the page."""

from __future__ import annotations

import re
import uuid
from typing import Any

from healthcode.rules.idcard import check_character

from tests.codes_forms import elderly_id, form
from tests.e2e.stack import Stack


def account(role: str) -> str:
    return f"h5-{role}-{uuid.uuid4().hex[:10]}"


def unexpected(page: Any) -> list[str]:
    """Console errors other than the API's refusals the test asked for (Chromium logs each
    4xx answer as "Failed to load resource")."""
    return [v for v in page.violations if "Failed to load resource" not in v]


def checkpoint(stack: Stack, *staff: str) -> str:
    """A venue its manager registered, with ``staff`` assigned to it: its id."""
    manager = (account("manager"), ["venue_manager"])
    body = {
        "name": f"客运站入口{uuid.uuid4().hex[:4]}",
        "type": "transit_hub",
        "subject_name": "贵阳客运站有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "520102",
        "location": {"lat": 26.57, "lng": 106.71},
        "address": "贵州省贵阳市南明区客运站路1号",
        "manager_phone": f"139{uuid.uuid4().int % 10**8:08d}",
    }
    created = stack.call("POST", "/v1/venues", as_=manager, json=body)
    assert created.status_code == 201, created.text
    venue_id = str(created.json()["venue_id"])
    for sub in staff:
        assigned = stack.call("PUT", f"/v1/venues/{venue_id}/staff/{sub}", as_=manager)
        assert assigned.status_code == 200, assigned.text
    return venue_id


def citizen_code_png(stack: Stack) -> bytes:
    """A citizen's code as their phone shows it (qr.png), 王小明, green."""
    citizen = (account("citizen"), ["citizen"])
    created = stack.call("POST", "/v1/codes", as_=citizen, json=form(name="王小明"))
    assert created.status_code in (200, 201), created.text
    png = stack.call("GET", f"/v1/codes/{created.json()['person_id']}/qr.png", as_=citizen)
    assert png.status_code == 200
    return bytes(png.content)


def set_checkpoint(page: Any, venue_id: str) -> None:
    page.get_by_label("卡口编号").fill(venue_id)
    page.get_by_role("button", name="保存卡口").click()
    page.get_by_text(f"当前卡口：{venue_id}").wait_for()


def test_staff_scan_a_code_and_the_verdict_fills_the_screen(
    camera_page: Any, stack: Stack, axe_check: Any, screenshot: Any
) -> None:
    sub = account("scanner")
    venue_id = checkpoint(stack, sub)
    phone = camera_page(citizen_code_png(stack), "scanner", sub)
    phone.get_by_role("heading", name="扫码核验").wait_for()  # staff land on the scan page
    axe_check(phone)
    screenshot(phone, "scanner-checkpoint")
    set_checkpoint(phone, venue_id)

    # the camera reads the code; 36.6 °C; the verdict across the whole screen
    phone.get_by_text("已识别健康码").wait_for()
    phone.get_by_label("体温（°C，选填）").fill("36.6")
    axe_check(phone)
    screenshot(phone, "scanner-verify")
    phone.get_by_role("button", name="核验", exact=True).click()
    verdict = phone.get_by_role("dialog", name="核验结论")
    verdict.wait_for()
    text = verdict.inner_text()
    assert "通行" in text and "（绿色）" in text and "绿码" in text and "正常" in text
    assert "王*" in text and re.search(r"5201\*+\d{3}[\dX]", text), text
    box = verdict.bounding_box()
    assert box is not None and box["width"] >= 375 and box["height"] >= 667  # the whole screen
    axe_check(phone)
    screenshot(phone, "scanner-verdict")

    # the next person: the same code with a fever never passes, and the scan is abnormal
    phone.get_by_role("button", name="继续核验").click()
    phone.get_by_text("已识别健康码").wait_for()
    phone.get_by_label("体温（°C，选填）").fill("38.5")
    phone.get_by_role("button", name="核验", exact=True).click()
    verdict.wait_for()
    text = verdict.inner_text()
    assert "劝返" in text and "通行" not in text, text
    assert "异常：已记录并通知防控部门（体温异常 38.5°C）" in text, text
    axe_check(phone)
    screenshot(phone, "scanner-verdict-fever")
    assert phone.violations == []


def test_staff_register_someone_without_a_phone_and_print_the_paper_code(
    page_as: Any, stack: Stack, axe_check: Any, screenshot: Any
) -> None:
    sub = account("scanner")
    venue_id = checkpoint(stack, sub)
    page = page_as("scanner", sub)
    page.goto("/h5/#/register")
    page.get_by_role("heading", name="人工登记").wait_for()
    set_checkpoint(page, venue_id)

    number = elderly_id()
    wrong = number[:17] + ("1" if check_character(number[:17]) != "1" else "2")
    page.get_by_label("姓名").fill("赵六")
    page.get_by_label("证件号码").fill(wrong)
    page.get_by_label("体温（°C）").fill("36.4")
    page.get_by_label("同时打印纸质健康码").check()
    axe_check(page)
    screenshot(page, "scanner-register")
    page.get_by_role("button", name="提交登记").click()
    page.locator("#field-id_number-error").wait_for()
    assert page.locator("#field-id_number-error").inner_text() == "证件号码有误，请核对后重新输入。"
    screenshot(page, "scanner-register-field-error")

    page.get_by_label("证件号码").fill(number)
    page.get_by_role("button", name="提交登记").click()
    page.get_by_role("heading", name="登记完成").wait_for()
    result = page.locator(".verdict-screen").inner_text()
    assert "通行" in result and "赵*" in result, result
    card = page.get_by_role("img", name="纸质健康码卡片")
    card.wait_for()
    assert (card.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert page.evaluate("() => document.querySelector('.paper-image').naturalWidth") > 100
    axe_check(page)
    screenshot(page, "scanner-paper-code")

    # printing: the button opens the print dialog, and the print stylesheet keeps only the card
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.get_by_role("button", name="打印纸质码").click()
    assert page.evaluate("() => window.__printed") == 1
    page.emulate_media(media="print")
    assert card.is_visible()
    assert not page.get_by_role("button", name="退出登录").is_visible()
    assert not page.get_by_role("heading", name="登记完成").is_visible()
    page.emulate_media(media="screen")
    assert unexpected(page) == []


def test_staff_gain_no_power_through_the_page(page_as: Any, stack: Stack, axe_check: Any) -> None:
    sub = account("scanner")
    checkpoint(stack, sub)
    elsewhere = checkpoint(stack)  # a checkpoint nobody assigned this account to
    page = page_as("scanner", sub)
    page.goto("/h5/#/register")
    set_checkpoint(page, elsewhere)
    page.get_by_label("姓名").fill("孙七")
    page.get_by_label("证件号码").fill(elderly_id())
    page.get_by_label("体温（°C）").fill("36.5")
    page.get_by_role("button", name="提交登记").click()
    banner = page.get_by_role("alert")
    banner.wait_for()
    refused = stack.call(
        "POST",
        "/v1/manual-registrations",
        as_=(sub, ["scanner"]),
        json={"name": "孙七", "id_number": elderly_id(), "temperature": 36.5, "checkpoint_id": elsewhere},
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_assigned"
    assert banner.inner_text() == refused.json()["error"]["message"]
    assert page.get_by_role("heading", name="登记完成").count() == 0
    axe_check(page)

    # the citizens' pages are not offered to staff: the page goes back to the scan page
    page.goto("/h5/#/codes")
    page.get_by_role("heading", name="扫码核验").wait_for()
    assert page.get_by_role("link", name="我的健康码").count() == 0
