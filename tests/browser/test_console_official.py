"""The officials' console in a real browser against a local stack: the queues (alerts, appeals,
overrides with the two-official rule, risk areas), a case traced from a person search to its
contacts' timeline and venue plan, the reports with their CSV, and no power beyond the API's
(another prefecture sees nothing of this one; an admin gets only what the API gives admins).

The world is seeded through the HTTP API (venues, citizens, check-ins, a fever at a checkpoint,
an appeal, another official's override request); every step an official takes is taken in the
page."""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules.credentials import org_code_check_character, uscc_check_character
from playwright.sync_api import expect

from tests.e2e.stack import Stack
from tests.security.http.world import VENUE_LOCATION, application, declaration, unique_id_number, venue_form

PREFECTURE, COUNTY, ELSEWHERE = "520100", "520102", "520300"
YUNYAN = "520103"  # a county of the prefecture where only the indicators' fevers live


_serial = itertools.count(700)


def credit_code(region: str) -> str:
    """A fresh valid unified social credit code registered in ``region``."""
    body = f"{next(_serial):08d}"
    first17 = f"91{region}{body}{org_code_check_character(body)}"
    return first17 + uscc_check_character(first17)


def sub(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}"


def ok(stack: Stack, method: str, path: str, who: tuple[str, list[str]], body: Any = None) -> Any:
    answer = stack.call(method, path, as_=who, json=body)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


@dataclass
class World:
    official: str
    other_official: str
    case_id_number: str
    case_person: str
    appellant: tuple[str, list[str]]
    appellant_person: str
    override_id: str
    scan_day: str
    diagnosed_local: str
    venues: dict[str, dict[str, Any]]


def citizen(stack: Stack, name: str, **changes: Any) -> tuple[tuple[str, list[str]], str, str]:
    who = (sub("citizen"), ["citizen"])
    number = unique_id_number(COUNTY)
    body = application(number, name=name, region_code=COUNTY, **changes)
    person = ok(stack, "POST", "/v1/codes", who, body)
    return who, person["person_id"], number


def check_in(
    stack: Stack, who: tuple[str, list[str]], person: str, venue: dict[str, Any], near: dict[str, float]
) -> None:
    body = {"venue_code": venue["code"], "person_id": person, "location": near}
    ok(stack, "POST", "/v1/checkins", who, body)


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    manager = (sub("venue_manager"), ["venue_manager"])
    registrar = (sub("official"), ["official"])
    far = {"lat": VENUE_LOCATION["lat"] + 0.009, "lng": VENUE_LOCATION["lng"] + 0.006}
    mall = ok(stack, "POST", "/v1/venues", manager, venue_form(name="花果园购物中心"))
    restaurant = ok(
        stack,
        "POST",
        "/v1/venues",
        manager,
        venue_form(name="花果园美食城", type="restaurant", parent_venue_id=mall["venue_id"]),
    )
    pharmacy = ok(
        stack, "POST", "/v1/venues", manager, venue_form(name="南明大药房", type="pharmacy", location=far)
    )
    checkpoint = ok(stack, "POST", "/v1/venues", registrar, venue_form(type="checkpoint", name="G60 卡口"))
    # the market-entity register: the venues' credential and three more in the county, two next door
    entities = [(venue_form()["credential_number"], COUNTY)]
    entities += [(credit_code(COUNTY), COUNTY) for _ in range(3)] + [
        (credit_code("520103"), "520103") for _ in range(2)
    ]
    rows = [
        {"credit_code": code, "name": f"市场主体{i}", "region_code": region, "type": "enterprise"}
        for i, (code, region) in enumerate(entities)
    ]
    assert ok(stack, "PUT", "/v1/registers/entities", registrar, {"entities": rows})["rejected"] == []
    scanner = (sub("scanner"), ["scanner"])
    ok(stack, "PUT", f"/v1/venues/{checkpoint['venue_id']}/staff/{scanner[0]}", registrar)

    case_who, case_person, case_number = citizen(stack, "陈病例")
    close_who, close_person, _ = citizen(stack, "李密接")
    far_who, far_person, _ = citizen(stack, "王药房", declaration=declaration(symptoms=["cough"]))
    mall_who, mall_person, _ = citizen(stack, "赵商场")
    here = dict(VENUE_LOCATION)
    check_in(stack, case_who, case_person, restaurant, here)
    check_in(stack, close_who, close_person, restaurant, here)
    check_in(stack, case_who, case_person, pharmacy, far)
    check_in(stack, far_who, far_person, pharmacy, far)
    check_in(stack, mall_who, mall_person, mall, here)

    # a fever at the checkpoint: an abnormal scan, an alert for the area's officials
    token = ok(stack, "GET", f"/v1/codes/{mall_person}", mall_who)["token"]
    body = {"code": token, "checkpoint_id": checkpoint["venue_id"], "temperature": 38.2}
    ok(stack, "POST", "/v1/verifications", scanner, body)
    # an appeal, and another official's override request waiting for a second official
    ok(
        stack,
        "POST",
        f"/v1/codes/{far_person}/appeals",
        far_who,
        {"reason": "我没有咳嗽，申报时点错了。"},
    )
    other_official = sub("official")
    override = ok(
        stack,
        "PUT",
        f"/v1/persons/{close_person}/colour",
        (other_official, ["official"]),
        {"colour": "green", "reason_code": "data_error", "evidence_ref": "ZJ-2026-0017"},
    )
    stack.drain()
    # the case is diagnosed an hour after those visits (the token minted after this, on the new clock)
    scanned = clock.parse_instant(stack.clock(advance_seconds=0))
    diagnosed = clock.parse_instant(stack.clock(advance_seconds=3600)).astimezone(clock.CHINA)
    return World(
        official=sub("official"),
        other_official=other_official,
        case_id_number=case_number,
        case_person=case_person,
        appellant=far_who,
        appellant_person=far_person,
        override_id=override["override_id"],
        scan_day=scanned.astimezone(clock.CHINA).date().isoformat(),
        diagnosed_local=(diagnosed - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        venues={"mall": mall, "restaurant": restaurant, "pharmacy": pharmacy, "checkpoint": checkpoint},
    )


def open_nav(page: Any, label: str, heading: str) -> None:
    page.get_by_role("navigation", name="页面导航").get_by_role("link", name=label).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for()


def test_an_official_works_the_queues(
    world: World, stack: Stack, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    page = page_as("official", world.official, PREFECTURE)
    # the alerts queue is the official's landing page
    page.get_by_role("heading", name="告警处置").wait_for()
    page.get_by_label("日期").fill(world.scan_day)
    # the world's fever (38.2 ℃): the indicators' fevers at the same checkpoint (38.4 ℃) are in
    # the queue too when that test ran first (the order is random)
    row = page.get_by_role("row").filter(has_text="G60 卡口").filter(has_text="38.2 ℃")
    row.wait_for()
    assert "就地隔离" in row.inner_text() or "劝返" in row.inner_text()
    assert "38.2 ℃" in row.inner_text() and "待处置" in row.inner_text()
    axe_check(page)
    screenshot(page, "official-alerts")
    row.get_by_role("button", name=re.compile("^处置")).click()
    page.get_by_label("处置情况（必填，500 字以内）").fill("已通知南明区疾控，复测体温并引导至发热门诊。")
    page.get_by_role("button", name="确认处置").click()
    page.get_by_text("已处置：G60 卡口").wait_for()
    expect(row).to_have_count(0)  # the open list no longer holds it

    # appeals: answered in the page, read by the citizen over the API
    open_nav(page, "申诉处理", "申诉处理")
    page.get_by_text("我没有咳嗽，申报时点错了。").wait_for()
    axe_check(page)
    screenshot(page, "official-appeals")
    page.get_by_label("结论").select_option("upheld")
    page.get_by_label("答复内容（必填，将告知申诉人）").fill("经核实申报有误，已安排改码。")
    page.get_by_role("button", name="提交答复").click()
    page.get_by_text(re.compile("已答复：申诉成立")).wait_for()
    appeals = ok(stack, "GET", f"/v1/codes/{world.appellant_person}/appeals", world.appellant)["appeals"]
    assert appeals[-1]["status"] == "upheld" and appeals[-1]["answer"] == "经核实申报有误，已安排改码。"

    # overrides: another official's request is approved here (the second official)
    open_nav(page, "改码审批", "改码审批")
    card = page.get_by_role("region", name=f"申请 {world.override_id}")
    card.get_by_text("ZJ-2026-0017").wait_for()
    card.get_by_role("button", name="批准").click()
    page.get_by_text(re.compile(f"申请 {world.override_id} (已生效|已批准)")).wait_for()
    decided = ok(stack, "GET", f"/v1/overrides/{world.override_id}", (world.other_official, ["official"]))
    assert decided["status"] != "pending_approval" and decided["decided_by"] == world.official

    # risk areas: a county raise applies at once, a prefecture waits for a second official
    open_nav(page, "风险地区", "风险地区")
    page.get_by_label("行政区划代码（六位）").fill(COUNTY)
    page.get_by_role("button", name="查询").click()
    page.get_by_role("heading", name=f"地区 {COUNTY}").wait_for()
    page.get_by_label("设为").select_option("medium")
    page.get_by_role("button", name="设置等级").click()
    page.get_by_text(f"{COUNTY} 已设为中风险地区。").wait_for()
    page.get_by_label("行政区划代码（六位）").fill(PREFECTURE)
    page.get_by_role("button", name="查询").click()
    page.get_by_role("heading", name=f"地区 {PREFECTURE}").wait_for()
    page.get_by_label("设为").select_option("high")
    page.get_by_role("button", name="设置等级").click()
    page.get_by_text(re.compile("等待另一名工作人员审批（申请编号 req-")).wait_for()
    axe_check(page)
    screenshot(page, "official-risk-areas")
    assert (
        ok(stack, "GET", f"/v1/risk-areas/{PREFECTURE}", (world.other_official, ["official"]))["level"]
        == "low"
    )
    assert page.violations == []


def test_an_official_traces_a_case(
    world: World, stack: Stack, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    page = page_as("official", world.official, PREFECTURE)
    open_nav(page, "人员查询", "人员查询")
    page.get_by_label("证件号码", exact=True).fill(world.case_id_number)
    page.get_by_role("button", name="查询").click()
    found = page.get_by_role("row").filter(has_text="陈*")
    found.wait_for()
    assert world.case_id_number not in found.inner_text()  # masked in the search answer
    axe_check(page)
    screenshot(page, "official-person-search")
    found.get_by_role("link", name=re.compile("查看档案")).click()
    page.get_by_role("heading", name="人员档案").wait_for()
    page.get_by_text(world.case_id_number).wait_for()  # the audited full record
    page.get_by_text("本次查看已记入审计日志。").wait_for()
    axe_check(page)
    screenshot(page, "official-person-record")

    # this official's own override request: the queue says why they cannot approve it
    page.get_by_label("依据编号（如解除隔离通知书编号）").fill("ZJ-2026-0099")
    page.get_by_role("button", name="提交改码申请").click()
    page.get_by_text(re.compile("改码申请已提交（编号 ")).wait_for()
    open_nav(page, "改码审批", "改码审批")
    mine = page.get_by_role("listitem").filter(has_text="ZJ-2026-0099")
    mine.get_by_text("这是您本人提交的申请，须由另一名工作人员审批").wait_for()
    assert mine.get_by_role("button", name="批准").is_disabled()
    axe_check(page)
    screenshot(page, "official-overrides")

    # the case: reported from the person's record, traced, drawn
    page.go_back()
    page.get_by_role("heading", name="人员档案").wait_for()
    page.get_by_role("link", name="为此人上报病例").click()
    page.get_by_role("heading", name="病例", exact=True).wait_for()
    assert page.get_by_label("人员编号").input_value() == world.case_person
    page.get_by_label("诊断时间（北京时间）").fill(world.diagnosed_local)
    axe_check(page)
    screenshot(page, "official-cases")
    page.get_by_role("button", name="上报病例").click()
    page.get_by_role("heading", name="病例详情").wait_for()
    stack.drain()
    page.get_by_text("流调已完成").wait_for()
    contacts = page.get_by_role("table", name="接触者明细")
    contacts.get_by_role("row").filter(has_text="密切接触者").first.wait_for()
    contacts.get_by_role("row").filter(has_text="花果园美食城").wait_for()  # the venues' names read
    text = contacts.inner_text()
    assert "花果园美食城" in text and "南明大药房" in text and "次密切接触者" in text
    page.get_by_role("img", name=re.compile("接触者时间轴：3 人")).wait_for()
    plan = page.get_by_role("img", name=re.compile("场所示意图：3 个场所"))
    plan.wait_for()
    assert "花果园购物中心（1 人）" in plan.inner_html() and "南明大药房（1 人）" in plan.inner_html()
    axe_check(page)
    screenshot(page, "official-case")
    plan.scroll_into_view_if_needed()
    screenshot(page, "official-case-plan")
    # closing a case is never one official's act: it waits for a second one
    page.get_by_label("改为").select_option("recovered")
    page.get_by_role("button", name="提交变更").click()
    page.get_by_text(re.compile("等待另一名工作人员审批（申请编号 req-")).wait_for()
    page.get_by_text("确诊", exact=True).first.wait_for()
    assert page.violations == []


#: the clock moved between fever readings and their colours being written, and how many people
#: each: the changes land in the buckets ≤5分钟 (150 s and the seconds the writes take) and
#: ≤30分钟 (1500 s and those seconds), minutes from either edge
FEVER_DELAYS = ((150, 2), (1500, 1))
BUCKET_LABELS = (
    "≤10秒", "≤30秒", "≤1分钟", "≤5分钟", "≤15分钟", "≤30分钟",
    "≤1小时", "≤2小时", "≤6小时", "≤12小时", "≤24小时", ">24小时",
)  # fmt: skip


def fevers_with_known_delays(stack: Stack, world: World) -> tuple[str, str]:
    """Yunyan residents (no one else in this module lives there) read feverish at the checkpoint
    with the streams held while the clock moves on FEVER_DELAYS; the China days from the first
    reading to the last colour written."""
    registrar = (sub("official"), ["official"])
    scanner = (sub("scanner"), ["scanner"])
    checkpoint = world.venues["checkpoint"]["venue_id"]
    ok(stack, "PUT", f"/v1/venues/{checkpoint}/staff/{scanner[0]}", registrar)
    first = clock.parse_instant(stack.clock(advance_seconds=0))
    for delay, people in FEVER_DELAYS:
        readers = []
        for _ in range(people):
            who = (sub("citizen"), ["citizen"])
            body = application(unique_id_number(YUNYAN), name="周发热", region_code=YUNYAN)
            readers.append((who, ok(stack, "POST", "/v1/codes", who, body)["person_id"]))
        stack.drain()
        with stack.pump_paused():
            for who, person in readers:
                token = ok(stack, "GET", f"/v1/codes/{person}", who)["token"]
                body = {"code": token, "checkpoint_id": checkpoint, "temperature": 38.4}
                ok(stack, "POST", "/v1/verifications", scanner, body)
            stack.clock(advance_seconds=delay)
        stack.drain()
    last = clock.parse_instant(stack.clock(advance_seconds=0))
    return first.astimezone(clock.CHINA).date().isoformat(), last.astimezone(clock.CHINA).date().isoformat()


def test_reports_and_their_csv(
    world: World, stack: Stack, page_as: Any, axe_check: Any, screenshot: Any
) -> None:
    # GIVEN three fevers in Yunyan whose colours were written minutes after the readings
    first_day, last_day = fevers_with_known_delays(stack, world)
    page = page_as("official", world.official, PREFECTURE)
    open_nav(page, "每日扫码", "每日扫码统计")
    page.get_by_label("日期").fill(world.scan_day)
    table = page.get_by_role("table", name=f"{world.scan_day} 各场所扫码数")
    table.get_by_role("row").filter(has_text="花果园美食城").wait_for()
    axe_check(page)
    screenshot(page, "official-daily-scans")
    with page.expect_download() as started:
        page.get_by_role("button", name="下载 CSV（全天全部场所）").click()
    download = started.value
    assert download.suggested_filename == f"daily-scans-{PREFECTURE}-{world.scan_day}.csv"
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    by_venue = {row["venue_id"]: row for row in rows}
    assert by_venue[world.venues["restaurant"]["venue_id"]]["scans"] == "2"
    assert by_venue[world.venues["pharmacy"]["venue_id"]]["scans"] == "2"
    assert world.venues["checkpoint"]["venue_id"] in by_venue

    open_nav(page, "覆盖率", "场所码覆盖率")
    page.get_by_role("img", name=re.compile("各下级地区场所码覆盖率")).wait_for()
    by_region = page.get_by_role("table", name="各下级地区覆盖情况")
    assert "25.0%" in by_region.get_by_role("row").filter(has_text=COUNTY).inner_text()
    assert "0.0%" in by_region.get_by_role("row").filter(has_text="520103").inner_text()
    axe_check(page)
    screenshot(page, "official-coverage")

    open_nav(page, "考核指标", "考核指标")
    page.get_by_role("img", name=re.compile("变码及时性分布")).wait_for()
    # WHEN the official reads Yunyan's indicators over the days of those fevers
    page.get_by_label("地区（行政区划代码）").fill(YUNYAN)
    page.get_by_label("地区（行政区划代码）").dispatch_event("change")
    page.get_by_label("截止日期（最多 31 天）").fill(last_day)
    page.get_by_label("起始日期").fill(first_day)
    page.get_by_text(f"{first_day} 至 {last_day}").wait_for()
    # THEN the figures count three changes, all of them fevers
    figures = page.get_by_role("table", name="变码及时性（用时）")
    for cause in ("全部", "发热"):
        expect(figures.get_by_role("row", name=re.compile(cause)).locator("td").first).to_have_text("3")
    # AND the histogram draws them in ≤5分钟 (two) and ≤30分钟 (one), each count on its bar
    expected = {label: 0 for label in BUCKET_LABELS} | {"≤5分钟": 2, "≤30分钟": 1}
    histogram = page.get_by_role("img", name="变码用时直方图：全部共 3 次变码，按用时分档的次数")
    expect(histogram.locator(".histogram-label")).to_have_text(list(BUCKET_LABELS))
    expect(histogram.locator(".histogram-count")).to_have_text([str(n) for n in expected.values()])
    heights = histogram.locator("rect.bar").evaluate_all("bars => bars.map(b => b.getBBox().height)")
    assert heights[3] == max(heights) > heights[5] > 0 and heights[3] == 2 * heights[5]
    assert [h for i, h in enumerate(heights) if i not in (3, 5)] == [0] * 10
    # AND the table beneath gives the same counts, for all causes and for fevers
    table = page.get_by_role("table", name="变码用时分布（次数）")
    expect(table.get_by_role("columnheader")).to_have_text(["用时", "全部", "发热"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(BUCKET_LABELS))
    assert [rows.nth(i).locator("th, td").all_inner_texts() for i in range(len(BUCKET_LABELS))] == [
        [label, str(n), str(n)] for label, n in expected.items()
    ]
    axe_check(page)
    # the picture: the percentiles, their table and the histogram beneath, in one window
    page.get_by_role("heading", name="变码及时性").evaluate("h => h.scrollIntoView({block: 'start'})")
    screenshot(page, "official-indicators")
    assert page.violations == []


def test_no_power_beyond_the_api(world: World, page_as: Any, axe_check: Any, screenshot: Any) -> None:
    # an official of another prefecture: no alert, no person, and the API's refusal for this area
    page = page_as("official", sub("official"), ELSEWHERE)
    page.get_by_role("heading", name="告警处置").wait_for()
    page.get_by_label("状态").select_option("")
    page.get_by_label("日期").fill(world.scan_day)
    page.get_by_text("当天没有符合条件的告警。").wait_for()
    open_nav(page, "人员查询", "人员查询")
    page.get_by_label("证件号码", exact=True).fill(world.case_id_number)
    page.get_by_role("button", name="查询").click()
    page.get_by_text("辖区内没有持此证件号码的人员。").wait_for()
    open_nav(page, "每日扫码", "每日扫码统计")
    page.get_by_label("地区（行政区划代码）").fill(PREFECTURE)
    page.get_by_label("地区（行政区划代码）").dispatch_event("change")
    page.get_by_role("alert").filter(has_text="该对象不在您的管辖区域内。").wait_for()
    assert page.get_by_role("table").count() == 0
    axe_check(page)
    open_nav(page, "审计日志", "审计日志")
    page.get_by_label("查询方式").select_option("actor")
    page.get_by_label("账号").fill(world.official)
    page.get_by_role("button", name="查询", exact=True).click()
    page.get_by_role("alert").filter(has_text="只能查询本人的操作记录").wait_for()
    assert page.get_by_role("table").count() == 0
    page.goto("/console/#/official/cases/case-that-is-not-there")
    page.get_by_role("alert").wait_for()

    # an admin: reports and person search (masked, no full record), none of the officials' acts
    admin_sub = sub("admin")
    admin = page_as("admin", admin_sub, PREFECTURE)
    admin.get_by_role("heading", name="每日扫码统计").wait_for()
    nav = admin.get_by_role("navigation", name="页面导航")
    assert nav.get_by_role("link", name="告警处置").count() == 0
    assert nav.get_by_role("link", name="改码审批").count() == 0
    admin.goto("/console/#/official/overrides")
    admin.get_by_role("heading", name="每日扫码统计").wait_for()
    open_nav(admin, "人员查询", "人员查询")
    admin.get_by_label("证件号码", exact=True).fill(world.case_id_number)
    admin.get_by_role("button", name="查询").click()
    admin.get_by_text("系统管理员不查看完整档案").wait_for()
    assert admin.get_by_role("link", name=re.compile("查看档案")).count() == 0
    axe_check(admin)
    # the admin reads the person's audit trail: their own search is on it
    open_nav(admin, "审计日志", "审计日志")
    admin.get_by_label("对象编号").fill(world.case_person)
    admin.get_by_role("button", name="查询", exact=True).click()
    trail = admin.get_by_role("table", name=re.compile("审计记录"))
    trail.get_by_role("row").filter(has_text="按证件号码查询").filter(has_text=admin_sub).first.wait_for()
    axe_check(admin)
    screenshot(admin, "admin-audit")
