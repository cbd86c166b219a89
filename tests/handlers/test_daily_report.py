"""The daily report for every unit on moto: zero-scan units listed, pages (JSON and CSV with
X-Next-Cursor) that cover the area exactly once, tampered cursors refused, and the 16:00
schedule's CSV per prefecture in the export bucket."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

from healthcode import clock
from healthcode.rules.policy import RiskLevel
from healthcode.rules.venues import china_day

from infra.local.stack import scheduled_event
from tests.handlers import venue_support
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import OFFICIAL, PLACES, citizen, make_person, manager, pump, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack


def near() -> dict[str, float]:
    _, lat, lng, _ = PLACES["520000"]
    return {"lat": lat, "lng": lng + 0.001}


def check_in(stack: InProcessStack, code: str, level: RiskLevel = RiskLevel.GREEN) -> None:
    who = citizen()
    person = make_person(who[0], level=level)
    body = {"venue_code": code, "person_id": person.person_id, "location": near()}
    assert stack.call("POST", "/v1/checkins", as_=who, json_body=body).status == 201


def pages(stack: InProcessStack, query: str, *, as_csv: bool = False) -> list[Any]:
    """Every page of the report, following the cursor."""
    found: list[Any] = []
    cursor = None
    while True:
        sent = query + (f"&cursor={cursor}" if cursor else "") + ("&format=csv" if as_csv else "")
        answer = stack.call("GET", "/v1/reports/daily-scans", as_=OFFICIAL, query=sent)
        assert answer.status == 200, answer.body
        if as_csv:
            rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8")[1:], newline="")))
            found.append(rows[1:])
            cursor = answer.headers.get("x-next-cursor")
        else:
            found.append(answer.json()["units"])
            cursor = answer.json()["next_cursor"]
        if cursor is None:
            return found


def test_every_unit_is_listed_zero_scan_units_included_and_pages_cover_it_once(stack: InProcessStack) -> None:
    # GIVEN five venues in 观山湖区 (520115), two of them scanned, three never
    who = manager()
    venues = [
        register(stack, who, region_code="520115", name=f"单位{uuid.uuid4().hex[:4]}").json()
        for _ in range(5)
    ]
    check_in(stack, venues[0]["code"])
    check_in(stack, venues[0]["code"], RiskLevel.RED)
    check_in(stack, venues[1]["code"])
    pump(stack).drain()
    today = china_day(clock.now())
    # WHEN the county's report is read two units a page
    json_pages = pages(stack, f"region_code=520115&date={today}&limit=2")
    units = [u for page in json_pages for u in page]
    ids = [u["venue_id"] for u in units]
    # THEN every unit once, the silent ones with zeros
    assert len(ids) == len(set(ids)) and {v["venue_id"] for v in venues} <= set(ids)
    assert all(len(page) <= 2 for page in json_pages)
    by_id = {u["venue_id"]: u for u in units}
    assert (by_id[venues[0]["venue_id"]]["scans"], by_id[venues[0]["venue_id"]]["abnormal"]) == (2, 1)
    assert by_id[venues[1]["venue_id"]]["scans"] == 1
    assert all(by_id[v["venue_id"]]["scans"] == 0 for v in venues[2:])
    # AND the CSV pages the same way (X-Next-Cursor), with the same units
    csv_rows = [
        row for page in pages(stack, f"region_code=520115&date={today}&limit=2", as_csv=True) for row in page
    ]
    assert [row[2] for row in csv_rows] == ids
    # AND a unit of the county is in its prefecture's and the province's report
    assert venues[2]["venue_id"] in {
        u["venue_id"] for p in pages(stack, "region_code=520100&limit=500") for u in p
    }


def test_a_tampered_cursor_or_page_size_is_refused(stack: InProcessStack) -> None:
    who = manager()
    for _ in range(3):
        register(stack, who, region_code="520112")
    first = stack.call(
        "GET", "/v1/reports/daily-scans", as_=OFFICIAL, query="region_code=520112&limit=1"
    ).json()
    assert first["next_cursor"]
    for query, code, field in (
        (f"region_code=520113&cursor={first['next_cursor']}", "invalid_cursor", "cursor"),
        ("region_code=520112&cursor=e30", "invalid_cursor", "cursor"),
        ("region_code=520112&cursor=%%%", "invalid_cursor", "cursor"),
        ("limit=0", "invalid_limit", "limit"),
        ("limit=501", "invalid_limit", "limit"),
        ("limit=ten", "invalid_limit", "limit"),
    ):
        answer = stack.call("GET", "/v1/reports/daily-scans", as_=OFFICIAL, query=query)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field), (
            query
        )


def test_the_1600_schedule_writes_a_csv_per_prefecture(stack: InProcessStack) -> None:
    # GIVEN (at 15:00 China time) a scanned unit in 贵阳 (5201) and a silent one in 遵义 (5203)
    clock.set_now(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))
    who = manager()
    guiyang = register(stack, who, region_code="520102").json()
    zunyi = register(stack, who, region_code="520302").json()
    check_in(stack, guiyang["code"])
    pump(stack).drain()
    day = "2026-12-07"
    # WHEN the schedule fires at 16:00 China time (08:00 UTC)
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    clock.set_now(at)
    result = stack.invoke(
        "DailyReportFunction", scheduled_event("cn-north-1", "DailyReportFunction.At1600China", at)
    )
    # THEN one CSV per prefecture under reports/daily-scans/dt=<day>/
    assert f"reports/daily-scans/dt={day}/region=520100.csv" in result["written"]
    s3 = stack.clients["s3"]
    bucket = stack.template.ref("ExportBucket")
    rows = {}
    for prefecture in ("520100", "520300"):
        body = s3.get_object(Bucket=bucket, Key=f"reports/daily-scans/dt={day}/region={prefecture}.csv")[
            "Body"
        ]
        rows[prefecture] = {
            r[2]: r for r in csv.reader(io.StringIO(body.read().decode("utf-8")[1:], newline=""))
        }
    assert rows["520100"][guiyang["venue_id"]][4] == "1"
    assert rows["520300"][zunyi["venue_id"]][4] == "0"
    assert zunyi["venue_id"] not in rows["520100"]


def test_a_unit_closed_before_the_day_is_not_in_it(stack: InProcessStack) -> None:
    # GIVEN a venue registered and closed on 12-06, and one still open (China days)
    clock.set_now(datetime(2026, 12, 6, 2, 0, tzinfo=UTC))
    who = manager()
    closed = register(stack, who, region_code="520122").json()
    kept = register(stack, who, region_code="520122").json()
    assert stack.call("DELETE", f"/v1/venues/{closed['venue_id']}", as_=who).status == 204
    # WHEN the reports of 12-06 and 12-07 are read on 12-07
    clock.set_now(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    that_day = {u["venue_id"] for p in pages(stack, "region_code=520122&date=2026-12-06") for u in p}
    next_day = {u["venue_id"] for p in pages(stack, "region_code=520122&date=2026-12-07") for u in p}
    # THEN the closed unit is in the day it closed, not after; the open one in both
    assert {closed["venue_id"], kept["venue_id"]} <= that_day
    assert kept["venue_id"] in next_day and closed["venue_id"] not in next_day
