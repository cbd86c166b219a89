"""Fujian on the mobile pages (a stack of this module's own, province 350000): its palette has no
yellow and its verdict for a non-green code is 登记 (register), not 劝返. A citizen who declares a
cough gets an orange code in the province's own colour, and checkpoint staff reading that code
with the camera see 登记 across the screen. The citizen's and the staff member's steps go through
the pages; the manager's checkpoint is seeded over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_h5_citizen import account, fill_application, unexpected
from tests.browser.test_h5_staff import set_checkpoint
from tests.codes_forms import adult_id
from tests.e2e.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack("350000") as started:
        yield started


def fujian_checkpoint(stack: Stack, staff: str) -> str:
    """A Fuzhou venue its manager registered, with ``staff`` assigned to it: its id."""
    manager = (account("manager"), ["venue_manager"])
    body = {
        "name": "福州火车站北广场入口",
        "type": "transit_hub",
        "subject_name": "福州火车站管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "350102",
        "location": {"lat": 26.11, "lng": 119.31},
        "address": "福建省福州市鼓楼区华林路1号",
        "manager_phone": "13950000000",
    }
    created = stack.call("POST", "/v1/venues", as_=manager, json=body)
    assert created.status_code == 201, created.text
    venue_id = str(created.json()["venue_id"])
    assigned = stack.call("PUT", f"/v1/venues/{venue_id}/staff/{staff}", as_=manager)
    assert assigned.status_code == 200, assigned.text
    return venue_id


def test_an_orange_code_in_fujian_and_its_register_verdict(
    page_as: Any, camera_page: Any, stack: Stack, axe_check: Any
) -> None:
    sub = account("citizen")
    page = page_as("citizen", sub)
    fill_application(page, name="陈一", number=adult_id())
    page.get_by_label("所在地区（行政区划代码）").fill("350102")
    page.get_by_label("咳嗽").check()
    page.get_by_role("button", name="提交申领").click()

    # the code page: orange in words, on the colour the API's display names (not a fallback)
    page.get_by_role("img", name="健康码二维码（橙码）").wait_for()
    person_id = page.url.split("/codes/")[1].split("/")[0]
    shown = stack.call("GET", f"/v1/codes/{person_id}", as_=(sub, ["citizen"])).json()
    assert shown["colour"] == "orange", shown
    badge = page.locator(".code-colour .colour-badge")
    assert badge.inner_text() == "橙码"
    hex_colour = shown["display"]["colour_hex"].lstrip("#")
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb({}, {}, {})".format(*rgb)
    axe_check(page)

    # the staff member's camera reads that same code from the citizen's screen: 登记, orange
    png = stack.call("GET", f"/v1/codes/{person_id}/qr.png", as_=(sub, ["citizen"]))
    assert png.status_code == 200
    staff = account("scanner")
    venue_id = fujian_checkpoint(stack, staff)
    phone = camera_page(bytes(png.content), "scanner", staff)
    phone.get_by_role("heading", name="扫码核验").wait_for()
    set_checkpoint(phone, venue_id)
    phone.get_by_text("已识别健康码").wait_for()
    phone.get_by_role("button", name="核验", exact=True).click()
    verdict = phone.get_by_role("dialog", name="核验结论")
    verdict.wait_for()
    text = verdict.inner_text()
    assert "登记" in text and "（橙色）" in text and "橙码" in text, text
    assert "通行" not in text and "劝返" not in text, text
    assert "陈*" in text and re.search(r"5201\*+\d{3}[\dX]", text), text
    axe_check(phone)
    assert unexpected(page) == [] and phone.violations == []
