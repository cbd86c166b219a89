"""Registers and indicators end to end over HTTP on a Guizhou stack of its own: coverage rates
from an uploaded market-entity register (JSON and CSV) against venues registered under the same
credit codes, the uncovered list, and the colour-change timeliness of a traced case checked
against the colour histories of the people it recoloured."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import idcard
from healthcode.rules.credentials import org_code_check_character, uscc_check_character
from healthcode.rules.indicators import nearest_rank

from tests.e2e.stack import Stack, running_stack

COUNTY, LAT, LNG, ADDRESS = "520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号"
_serial = itertools.count(500)


@pytest.fixture(scope="module")
def own() -> Iterator[Stack]:
    with running_stack("520000") as started:
        yield started


def account(role: str) -> tuple[str, list[str]]:
    return (f"e2e-{role}-{uuid.uuid4().hex[:8]}", [role])


def credit_code(region: str = COUNTY) -> str:
    body = f"{next(_serial):08d}"
    first17 = f"91{region}{body}{org_code_check_character(body)}"
    return first17 + uscc_check_character(first17)


def as_official(stack: Stack, region: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token('e2e-official', ['official'], region)}"}


def register_venue(
    stack: Stack, who: tuple[str, list[str]], credit: str, venue_type: str = "restaurant"
) -> dict[str, Any]:
    body = {
        "name": f"{venue_type} {uuid.uuid4().hex[:4]}",
        "type": venue_type,
        "subject_name": "贵阳某某有限公司",
        "credential_type": "uscc",
        "credential_number": credit,
        "region_code": COUNTY,
        "location": {"lat": LAT, "lng": LNG},
        "address": ADDRESS,
        "manager_phone": f"139{next(_serial):08d}",
    }
    answer = stack.call("POST", "/v1/venues", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_coverage_rates_from_an_uploaded_register(own: Stack) -> None:
    # GIVEN a Nanming official uploads three entities as JSON and two as CSV (one CSV row bad,
    # one JSON row outside their area)
    codes = [credit_code() for _ in range(5)]
    rows = [
        {"credit_code": c, "name": f"南明某某{i}", "region_code": COUNTY, "type": "enterprise"}
        for i, c in enumerate(codes[:3])
    ]
    rows.append(
        {
            "credit_code": credit_code("520103"),
            "name": "云岩某某",
            "region_code": "520103",
            "type": "enterprise",
        }
    )
    headers = as_official(own, COUNTY)
    answer = own.http.put(
        f"{own.url}/v1/registers/entities", json={"entities": rows}, headers=headers, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "accepted": 3,
        "rejected": [{"index": 3, "error": "outside_area", "field": "region_code"}],
    }
    text = "credit_code,name,region_code,type\r\n" + "".join(
        f"{c},南明个体{i},{COUNTY},individual_business\r\n" for i, c in enumerate(codes[3:])
    )
    text += "91520102000000000X,坏的行,520102,enterprise\r\n"
    answer = own.http.put(
        f"{own.url}/v1/registers/entities",
        data=text.encode(),
        headers={**headers, "Content-Type": "text/csv"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "accepted": 2,
        "rejected": [{"index": 2, "error": "invalid_credit_code", "field": "credit_code"}],
    }
    # AND venues are registered under two of the five credit codes
    manager = account("venue_manager")
    register_venue(own, manager, codes[0])
    register_venue(own, manager, codes[3], "supermarket")
    # WHEN the streams are drained
    own.drain()
    # THEN Nanming's coverage counts five entities, two with a venue code: a rate of 0.4
    coverage = own.http.get(f"{own.url}/v1/reports/coverage?region_code=520100", headers=headers, timeout=60)
    assert coverage.status_code == 403  # Guiyang is wider than the official's area
    coverage = own.http.get(
        f"{own.url}/v1/reports/coverage?region_code={COUNTY}", headers=headers, timeout=60
    )
    assert coverage.status_code == 200, coverage.text
    assert (coverage.json()["entities"], coverage.json()["with_code"], coverage.json()["rate"]) == (5, 2, 0.4)
    province = own.http.get(
        f"{own.url}/v1/reports/coverage?region_code=520100", headers=as_official(own, None), timeout=60
    )
    nanming = next(r for r in province.json()["by_region"] if r["region_code"] == COUNTY)
    assert (nanming["entities"], nanming["with_code"], nanming["rate"]) == (5, 2, 0.4)
    # AND the three without a code are listed, two a page
    seen: list[str] = []
    cursor = ""
    while True:
        page = own.http.get(
            f"{own.url}/v1/reports/uncovered-entities?region_code={COUNTY}&limit=2&cursor={cursor}",
            headers=headers,
            timeout=60,
        )
        assert page.status_code == 200, page.text
        seen += [e["credit_code"] for e in page.json()["entities"]]
        cursor = page.json()["next_cursor"] or ""
        if not cursor:
            break
    assert seen == sorted([codes[1], codes[2], codes[4]])


# -- colour-change timeliness ----------------------------------------------------------------------


def apply(stack: Stack, who: tuple[str, list[str]]) -> str:
    first17 = f"{COUNTY}19850301{next(_serial) % 1000:03d}"
    body = {
        "name": "王建华",
        "id_number": first17 + idcard.check_character(first17),
        "phone": "13800000000",
        "address": ADDRESS,
        "region_code": COUNTY,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["person_id"])


def check_in(
    stack: Stack, who: tuple[str, list[str]], venue: dict[str, Any], person: str, at: datetime
) -> None:
    stack.clock(now=at.isoformat())
    body = {"venue_code": venue["code"], "person_id": person, "location": {"lat": LAT + 0.001, "lng": LNG}}
    answer = stack.call("POST", "/v1/checkins", as_=who, json=body)
    assert answer.status_code == 201, answer.text


#: the distribution's upper bounds, whole seconds, then the open bucket (as docs/api.md lists them)
BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, None)


def bucket(seconds: int) -> int | None:
    """The first bound at least ``seconds``: the bucket a change of that many seconds is in."""
    return next((bound for bound in BUCKETS if bound is None or seconds <= bound), None)


def test_timeliness_matches_the_colour_histories_of_a_traced_case(own: Stack) -> None:
    # GIVEN a case person and six others at the same restaurant, the next day the case reported
    # with tracing held back for 40 seconds
    now = clock.parse_instant(own.clock(advance_seconds=0)).astimezone(clock.CHINA)
    t0 = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)  # one China day
    venue = register_venue(own, account("venue_manager"), credit_code())
    people = [(who, apply(own, who)) for who in (account("citizen") for _ in range(7))]
    (case_who, case_person), contacts = people[0], people[1:]
    check_in(own, case_who, venue, case_person, t0)
    for minutes, (who, person) in zip((5, 10, 20, 30, 60, 80), contacts, strict=True):
        check_in(own, who, venue, person, t0 + timedelta(minutes=minutes))
    own.drain()
    reported_at = t0 + timedelta(days=1)
    official = ("e2e-tracer", ["official"])
    with own.pump_paused():
        own.clock(now=reported_at.isoformat())
        reported = own.call(
            "POST",
            "/v1/cases",
            as_=official,
            json={"person_id": case_person, "status": "confirmed", "diagnosed_at": reported_at.isoformat()},
        )
        assert reported.status_code == 202, reported.text
        own.clock(advance_seconds=40)
    # WHEN tracing and the colour consumer run
    own.drain()
    # THEN each recoloured person's history gives the seconds from the report to their new colour
    case = own.call("GET", f"/v1/cases/{reported.json()['case_id']}", as_=official).json()
    assert case["tracing"] == "done"
    reported_shown = clock.parse_instant(case["history"][0]["at"])
    kinds = {
        row["person_id"]: f"{row['kind']}_contact"
        for row in own.call("GET", f"/v1/cases/{case['case_id']}/contacts", as_=official).json()["contacts"]
    }
    samples: dict[str, list[int]] = {"case": []}
    for who, person in people:
        history = own.call("GET", f"/v1/codes/{person}/history", as_=who).json()["changes"]
        changed = [c for c in history if c["from"] == "green" and c["to"] != "green"]
        if not changed:
            assert person not in kinds
            continue
        (change,) = changed
        seconds = int((clock.parse_instant(change["at"]) - reported_shown).total_seconds())
        samples.setdefault("case" if person == case_person else kinds[person], []).append(seconds)
    assert samples["case"] == [0] and sum(len(v) for v in samples.values()) >= 2
    assert all(s >= 40 for cause, values in samples.items() if cause != "case" for s in values)
    # AND the indicators of the county on that day give exactly those figures
    day = reported_at.astimezone(clock.CHINA).date().isoformat()
    answer = own.http.get(
        f"{own.url}/v1/reports/indicators?region_code={COUNTY}&from={day}&to={day}",
        headers=as_official(own, COUNTY),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    timeliness = answer.json()["colour_change_timeliness"]

    def figures(values: list[int]) -> dict[str, Any]:
        histogram: dict[int, int] = {}
        for value in values:
            histogram[value] = histogram.get(value, 0) + 1
        return {
            "count": len(values),
            "p50_seconds": nearest_rank(histogram, 50),
            "p95_seconds": nearest_rank(histogram, 95),
            "max_seconds": max(values),
            "distribution": [
                {"up_to_seconds": bound, "count": sum(1 for v in values if bucket(v) == bound)}
                for bound in BUCKETS
            ],
        }

    every = [s for values in samples.values() for s in values]
    assert {
        k: timeliness[k] for k in ("count", "p50_seconds", "p95_seconds", "max_seconds", "distribution")
    } == figures(every)
    assert timeliness["by_cause"] == {cause: figures(values) for cause, values in samples.items() if values}
    # AND the application rate counts the seven codes once a population is registered
    body = {"regions": [{"region_code": COUNTY, "population": 700}]}
    put = own.http.put(
        f"{own.url}/v1/registers/population", json=body, headers=as_official(own, COUNTY), timeout=60
    )
    assert put.status_code == 200, put.text
    again = own.http.get(
        f"{own.url}/v1/reports/indicators?region_code={COUNTY}&from={day}&to={day}",
        headers=as_official(own, COUNTY),
        timeout=60,
    ).json()
    assert again["application_rate"] == pytest.approx(7 / 700)
    # AND the scans of the day before were all at the (non-mandatory) restaurant, complete
    before = (reported_at - timedelta(days=1)).astimezone(clock.CHINA).date().isoformat()
    scans = own.http.get(
        f"{own.url}/v1/reports/indicators?region_code={COUNTY}&from={before}&to={before}",
        headers=as_official(own, COUNTY),
        timeout=60,
    ).json()
    assert scans["verification_rate"]["scans"] == 7
    assert scans["data_accuracy"]["complete_record_share"] == 1.0


def test_bad_register_input_over_http_is_refused_clearly(own: Stack) -> None:
    headers = as_official(own, COUNTY)
    url = f"{own.url}/v1/registers/entities"
    csv_headers = {**headers, "Content-Type": "text/csv"}
    for data, status, code in (
        (b"name,type\r\n", 422, "invalid_csv"),
        ("名称".encode("gb18030"), 422, "invalid_csv"),
        (
            b"credit_code,name,region_code,type\r\n" + b"x,y,520102,enterprise\r\n" * 10_001,
            422,
            "too_many_rows",
        ),
        (b"credit_code,name,region_code,type\r\n" + b"x" * (4 * 1024 * 1024), 413, "payload_too_large"),
    ):
        answer = own.http.put(url, data=data, headers=csv_headers, timeout=60)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    answer = own.http.put(
        url, data=b"{not json", headers={**headers, "Content-Type": "application/json"}, timeout=60
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_json")
    answer = own.http.put(
        f"{own.url}/v1/registers/population",
        json={"regions": [{"region_code": "520103", "population": 5}]},
        headers=headers,
        timeout=60,
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "outside_area")
    answer = own.http.get(
        f"{own.url}/v1/reports/uncovered-entities?region_code={COUNTY}&cursor=AAAA",
        headers=headers,
        timeout=60,
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_cursor")
    citizen = {"Authorization": f"Bearer {own.token('e2e-c', ['citizen'])}"}
    answer = own.http.get(f"{own.url}/v1/reports/indicators", headers=citizen, timeout=60)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden_role")
