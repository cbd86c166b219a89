"""The registers and indicators routes on moto (RegistersFunction, RegisterCountsFunction):
register uploads row by row (JSON and CSV) inside the caller's area, entity counts and coverage
rates from the stream, the uncovered-entity list paged, population, and the indicators read
from counters."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules.credentials import org_code_check_character, uscc_check_character
from healthcode.storage import registers as registers_store

from infra.local.streams import StreamPump
from tests.codes_forms import adult_id, form
from tests.handlers.harness import Answer, InProcessStack, in_process_stack
from tests.handlers.venue_support import manager, register

OFFICIAL = ("official-reg", ["official"])
ADMIN = ("admin-reg", ["admin"])
_serial = itertools.count(1000)


def credit_code(region: str = "520102") -> str:
    """A fresh valid unified social credit code (an enterprise registered in ``region``)."""
    body = f"{next(_serial):08d}"
    first17 = f"91{region}{body}{org_code_check_character(body)}"
    return first17 + uscc_check_character(first17)


def row(region: str = "520102", **changes: Any) -> dict[str, Any]:
    return {
        "credit_code": credit_code(region),
        "name": "贵阳某某餐饮有限公司",
        "region_code": region,
        "type": "enterprise",
        **changes,
    }


@pytest.fixture
def stack() -> Iterator[InProcessStack]:
    with in_process_stack() as fresh:
        yield fresh


def pump(stack: InProcessStack) -> StreamPump:
    found = getattr(stack, "_register_pump", None)
    if isinstance(found, StreamPump):
        return found
    made = StreamPump(stack.template, stack.clients, stack.invoke)
    wanted = ("CoverageFunction", "CountersFunction", "RegisterCountsFunction", "ColourFunction")
    made.sources = [s for s in made.sources if s.source.function in wanted]
    stack._register_pump = made  # type: ignore[attr-defined]
    return made


def call(
    stack: InProcessStack,
    method: str,
    path: str,
    who: tuple[str, Sequence[str]],
    *,
    area: str | None = None,
    json_body: Any = None,
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Answer:
    """A route called as ``who``, with an area claim when ``area`` is given."""
    function, event = stack.event(
        method, path, as_=who, json_body=json_body, raw_body=raw_body, headers=headers, query=query
    )
    if area is not None:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["region"] = area
    return stack.answer(stack.invoke(function, event))


def upload(stack: InProcessStack, rows: list[Any], *, who: Any = OFFICIAL, area: str | None = None) -> Answer:
    return call(stack, "PUT", "/v1/registers/entities", who, area=area, json_body={"entities": rows})


def coverage(stack: InProcessStack, region: str) -> dict[str, Any]:
    answer = call(stack, "GET", "/v1/reports/coverage", OFFICIAL, query=f"region_code={region}")
    assert answer.status == 200, answer.body
    return dict(answer.json())


def uncovered(stack: InProcessStack, region: str, **query: str) -> Answer:
    text = "&".join(f"{k}={v}" for k, v in {"region_code": region, **query}.items())
    return call(stack, "GET", "/v1/reports/uncovered-entities", OFFICIAL, query=text)


# -- uploads --------------------------------------------------------------------------------------


def test_each_row_is_checked_on_its_own(stack: InProcessStack) -> None:
    # GIVEN an upload with good rows and one of each mistake
    good = [row(), row("520103", type="individual_business"), row(name="ｆｕｌｌ－ｗｉｄｔｈ　名称")]
    bad_check = {**row(), "credit_code": good[0]["credit_code"][:-1] + "0"}
    if bad_check["credit_code"] == good[0]["credit_code"]:
        bad_check["credit_code"] = good[0]["credit_code"][:-1] + "1"
    rows: list[Any] = [
        *good,
        bad_check,  # 3: check character
        row(region_code="520199"),  # 4: not a current code
        row(region_code="360102"),  # 5: another province
        row(type="bank"),  # 6
        {**row(), "credit_code": good[1]["credit_code"]},  # 7: twice in the upload
        {**row(), "colour": "green"},  # 8
        row(name=" "),  # 9
        "not a row",  # 10
        row(name="a\u0007b"),  # 11
    ]
    # WHEN uploaded
    answer = upload(stack, rows)
    # THEN the good rows are taken and each other row answered with its own error
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["accepted"] == 3
    assert body["rejected"] == [
        {"index": 3, "error": "invalid_credit_code", "field": "credit_code"},
        {"index": 4, "error": "invalid_region_code", "field": "region_code"},
        {"index": 5, "error": "region_outside_province", "field": "region_code"},
        {"index": 6, "error": "invalid_entity_type", "field": "type"},
        {"index": 7, "error": "duplicate_credit_code", "field": "credit_code"},
        {"index": 8, "error": "unknown_field", "field": "colour"},
        {"index": 9, "error": "missing_field", "field": "name"},
        {"index": 10, "error": "invalid_row", "field": None},
        {"index": 11, "error": "invalid_entity_name", "field": "name"},
    ]
    # AND the full-width name was normalised (NFKC) before it was stored
    pump(stack).drain()
    names = {e["name"] for e in uncovered(stack, "520102").json()["entities"]}
    assert "full-width 名称" in names


def test_a_full_width_credit_code_is_read_as_its_ascii_form(stack: InProcessStack) -> None:
    code = credit_code()
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)
    answer = upload(stack, [row(credit_code=wide)])
    assert answer.json() == {"accepted": 1, "rejected": []}
    pump(stack).drain()
    assert [e["credit_code"] for e in uncovered(stack, "520102").json()["entities"]] == [code]


def test_rows_outside_the_callers_area_are_refused_row_by_row(stack: InProcessStack) -> None:
    # GIVEN an official of Nanming district (520102)
    rows = [row("520102"), row("520103"), row("520201")]
    # WHEN they upload rows of Nanming, Yunyan and Zhongshan
    answer = upload(stack, rows, area="520102")
    # THEN only Nanming's row is taken
    assert answer.status == 200
    assert answer.json()["accepted"] == 1
    assert [(r["index"], r["error"]) for r in answer.json()["rejected"]] == [
        (1, "outside_area"),
        (2, "outside_area"),
    ]
    # AND a prefecture official (Guiyang 520100) may upload both Guiyang rows
    assert upload(stack, [row("520102"), row("520103")], area="520100").json()["accepted"] == 2
    # AND the lists outside the area are refused
    outside = call(
        stack, "GET", "/v1/reports/uncovered-entities", OFFICIAL, area="520102", query="region_code=520103"
    )
    assert (outside.status, outside.error_code) == (403, "outside_area")
    whole = call(stack, "GET", "/v1/reports/uncovered-entities", OFFICIAL, area="520102")
    assert whole.status == 200 and whole.json()["region_code"] == "520102"


def test_an_entity_of_another_area_is_not_renamed_or_moved_into_the_callers(stack: InProcessStack) -> None:
    """GIVEN an entity registered in Yunyan (520103) WHEN an official of Nanming uploads its
    credit code with a Nanming region (and a new name) THEN the row is refused as outside_area
    and the entity stays as Yunyan registered it; their own rows in the same upload are taken."""
    theirs = row("520103")
    assert upload(stack, [theirs], area="520103").json()["accepted"] == 1
    moved = {**theirs, "region_code": "520102", "name": "改名后的公司"}
    answer = upload(stack, [row("520102"), moved], area="520102")
    assert answer.status == 200, answer.body
    assert answer.json()["accepted"] == 1
    assert answer.json()["rejected"] == [{"index": 1, "error": "outside_area", "field": "credit_code"}]
    stored = registers_store.stored_regions([theirs["credit_code"]])
    assert stored == {theirs["credit_code"]: "520103"}
    # AND an official of the whole province may move it (a correction across counties)
    assert upload(stack, [moved]).json()["accepted"] == 1


def test_only_officials_and_admins_manage_registers(stack: InProcessStack) -> None:
    for who in (("c-1", ["citizen"]), ("m-1", ["venue_manager"]), ("s-1", ["scanner"]), ("l-1", ["lab"])):
        answer = upload(stack, [row()], who=who)
        assert (answer.status, answer.error_code) == (403, "forbidden_role")
    assert upload(stack, [row()], who=ADMIN).json()["accepted"] == 1


def test_bad_bodies_are_refused_whole_and_nothing_is_written(stack: InProcessStack) -> None:
    for body, status, code in (
        ({"entities": "x"}, 422, "invalid_type"),
        ({}, 422, "missing_field"),
        ({"entities": [], "more": 1}, 422, "unknown_field"),
        ({"entities": [row()] * 10_001}, 422, "too_many_rows"),
    ):
        answer = call(stack, "PUT", "/v1/registers/entities", OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code) == (status, code), body if len(str(body)) < 200 else code
    huge = json.dumps({"entities": [row(name="名" * 200)] * 9000}).encode()
    assert len(huge) > 4 * 1024 * 1024
    answer = call(stack, "PUT", "/v1/registers/entities", OFFICIAL, raw_body=huge)
    assert (answer.status, answer.error_code) == (413, "payload_too_large")
    pump(stack).drain()
    assert coverage(stack, "520000")["entities"] == 0


def test_a_csv_upload_answers_bad_lines_by_index(stack: InProcessStack) -> None:
    good = row()
    text = (
        "\ufeffregion_code,credit_code,name,type\r\n"
        f'{good["region_code"]},{good["credit_code"]},"贵阳某某, 有限公司",enterprise\r\n'
        "520102,91520102000000000X,坏的行,enterprise\r\n"
        "520102,too,few\r\n"
        f"520103,{credit_code('520103')},云岩某某,farmer_cooperative\r\n"
    )
    answer = call(
        stack,
        "PUT",
        "/v1/registers/entities",
        OFFICIAL,
        raw_body=text.encode(),
        headers={"content-type": "text/csv"},
    )
    assert answer.status == 200, answer.body
    assert answer.json() == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "error": "invalid_credit_code", "field": "credit_code"},
            {"index": 2, "error": "invalid_row", "field": None},
        ],
    }
    for bad in (
        b"credit_code,name\r\n",
        "名称".encode("gb18030") + b"\r\n",
        b'credit_code,name,region_code,type\r\n"a',
    ):
        refused = call(
            stack,
            "PUT",
            "/v1/registers/entities",
            OFFICIAL,
            raw_body=bad,
            headers={"content-type": "text/csv"},
        )
        assert (refused.status, refused.error_code) == (422, "invalid_csv")
    lines = "credit_code,name,region_code,type\n" + "x,y,520102,enterprise\n" * 10_001
    too_many = call(
        stack,
        "PUT",
        "/v1/registers/entities",
        OFFICIAL,
        raw_body=lines.encode(),
        headers={"content-type": "text/csv"},
    )
    assert (too_many.status, too_many.error_code) == (422, "too_many_rows")


# -- counts, coverage rates and the uncovered list ------------------------------------------------


def test_coverage_rates_follow_the_register_and_the_venues(stack: InProcessStack) -> None:
    # GIVEN a register of four Nanming entities and one Yunyan entity
    nanming = [row("520102") for _ in range(4)]
    yunyan = row("520103")
    assert upload(stack, [*nanming, yunyan]).json()["accepted"] == 5
    # AND venues registered under two of the Nanming credit codes (one of them twice) and under
    # a credit code the register does not hold
    who = manager()
    for code in (nanming[0]["credit_code"], nanming[1]["credit_code"], credit_code("520102")):
        assert register(stack, who, credential_number=code).status == 201
    assert register(stack, manager(), credential_number=nanming[0]["credit_code"]).status == 201
    # WHEN the streams are drained
    pump(stack).drain()
    # THEN Guiyang's coverage shows entities, those with a code and the rate, per county too
    report = coverage(stack, "520100")
    assert (report["entities"], report["with_code"], report["rate"]) == (5, 2, 0.4)
    by_region = {r["region_code"]: r for r in report["by_region"]}
    assert (
        by_region["520102"]["entities"],
        by_region["520102"]["with_code"],
        by_region["520102"]["rate"],
    ) == (
        4,
        2,
        0.5,
    )
    assert (by_region["520103"]["entities"], by_region["520103"]["with_code"]) == (1, 0)
    assert by_region["520103"]["rate"] == 0.0
    province = coverage(stack, "520000")
    assert (province["entities"], province["with_code"]) == (5, 2)
    # AND a region without entities has no rate
    empty = coverage(stack, "520201")
    assert (empty["entities"], empty["with_code"], empty["rate"]) == (0, 0, None)
    # AND the uncovered list holds exactly the entities without a venue
    listed = uncovered(stack, "520100").json()
    assert sorted(e["credit_code"] for e in listed["entities"]) == sorted(
        [nanming[2]["credit_code"], nanming[3]["credit_code"], yunyan["credit_code"]]
    )
    assert listed["next_cursor"] is None
    # WHEN the same register is uploaded again and drained THEN nothing changes
    assert upload(stack, [*nanming, yunyan]).json()["accepted"] == 5
    pump(stack).drain()
    assert (coverage(stack, "520100")["entities"], coverage(stack, "520100")["with_code"]) == (5, 2)
    # WHEN an entity moves to Yunyan THEN the counts move with it
    moved = {**nanming[0], "region_code": "520103"}
    assert upload(stack, [moved]).json()["accepted"] == 1
    pump(stack).drain()
    by_region = {r["region_code"]: r for r in coverage(stack, "520100")["by_region"]}
    assert (by_region["520102"]["entities"], by_region["520102"]["with_code"]) == (3, 1)
    assert (by_region["520103"]["entities"], by_region["520103"]["with_code"]) == (2, 1)


def test_the_uncovered_list_pages_by_cursor(stack: InProcessStack) -> None:
    # GIVEN seven uncovered entities across two prefectures
    rows = (
        [row("520102") for _ in range(3)]
        + [row("520103") for _ in range(2)]
        + [row("520201") for _ in range(2)]
    )
    assert upload(stack, rows).json()["accepted"] == 7
    pump(stack).drain()
    # WHEN the province's list is read two at a time
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = uncovered(stack, "520000", **query)
        assert answer.status == 200, answer.body
        page = answer.json()
        assert len(page["entities"]) <= 2
        seen += [e["credit_code"] for e in page["entities"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN every entity comes once, in region then credit-code order
    expected = [r["credit_code"] for r in sorted(rows, key=lambda r: (r["region_code"], r["credit_code"]))]
    assert seen == expected
    assert pages == 4
    # AND a county reads only its own
    assert [e["region_code"] for e in uncovered(stack, "520103").json()["entities"]] == ["520103"] * 2
    # AND a cursor the list did not give, or a bad limit, is refused
    for query, code in (
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "%%%"}, "invalid_cursor"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "501"}, "invalid_limit"),
    ):
        answer = uncovered(stack, "520000", **query)
        assert (answer.status, answer.error_code) == (422, code)
    # AND a cursor of another region's list is refused
    first = uncovered(stack, "520100", limit="1").json()["next_cursor"]
    answer = uncovered(stack, "520200", cursor=first)
    assert (answer.status, answer.error_code) == (422, "invalid_cursor")


# -- population and indicators --------------------------------------------------------------------


def indicators(
    stack: InProcessStack, region: str, who: Any = OFFICIAL, area: str | None = None, **query: str
) -> Answer:
    text = "&".join(f"{k}={v}" for k, v in {"region_code": region, **query}.items())
    return call(stack, "GET", "/v1/reports/indicators", who, area=area, query=text)


def test_population_is_set_inside_the_area(stack: InProcessStack) -> None:
    body = {
        "regions": [
            {"region_code": "520102", "population": 1000},
            {"region_code": "520100", "population": 5000},
        ]
    }
    answer = call(stack, "PUT", "/v1/registers/population", OFFICIAL, area="520100", json_body=body)
    assert (answer.status, answer.json()) == (200, {"updated": 2})
    for regions_, area, status, code in (
        ([{"region_code": "520201", "population": 10}], "520100", 403, "outside_area"),
        ([{"region_code": "520000", "population": 10}], "520100", 403, "outside_area"),
        ([{"region_code": "520199", "population": 10}], None, 422, "invalid_region_code"),
        ([{"region_code": "360102", "population": 10}], None, 422, "region_outside_province"),
        ([{"region_code": "520102", "population": -1}], None, 422, "invalid_population"),
        ([{"region_code": "520102", "population": 1.5}], None, 422, "invalid_population"),
        ([{"region_code": "520102"}], None, 422, "missing_field"),
        ([{"region_code": "520102", "population": 1}] * 2, None, 422, "duplicate_region_code"),
        ([], None, 422, "missing_field"),
    ):
        refused = call(
            stack, "PUT", "/v1/registers/population", OFFICIAL, area=area, json_body={"regions": regions_}
        )
        assert (refused.status, refused.error_code) == (status, code), regions_
    # THEN the application rate of Nanming is persons / 1000, null for a region without population
    found = indicators(stack, "520102").json()
    assert found["application_rate"] == 0.0
    assert indicators(stack, "520103").json()["application_rate"] is None


def test_indicators_count_applications_refusals_and_scans(stack: InProcessStack) -> None:
    # GIVEN Yunyan's population, two applications and one refused for a bad ID number
    body = {"regions": [{"region_code": "520103", "population": 4}]}
    assert call(stack, "PUT", "/v1/registers/population", ADMIN, json_body=body).status == 200
    for _ in range(2):
        answer = stack.call(
            "POST", "/v1/codes", as_=(f"cit-{next(_serial)}", ["citizen"]), json_body=form(adult_id())
        )
        assert answer.status == 201, answer.body
    refused = stack.call(
        "POST", "/v1/codes", as_=("cit-x", ["citizen"]), json_body=form("520103198506120000")
    )
    assert refused.status == 422
    # WHEN the indicators of Yunyan and of the province are read
    found = indicators(stack, "520103").json()
    # THEN two of four people have a code, one of three attempts was refused
    assert found["application_rate"] == 0.5
    assert found["data_accuracy"]["refused_share"] == pytest.approx(1 / 3)
    assert indicators(stack, "520000").json()["data_accuracy"]["attempts"] == 3
    # AND without scans the shares have no denominator
    assert found["verification_rate"] == {
        "mandatory_scan_share": None,
        "active_mandatory_venue_share": None,
        "scans": 0,
        "mandatory_scans": 0,
        "mandatory_venues": 0,
        "active_mandatory_venue_days": 0,
    }
    assert found["colour_change_timeliness"] == {
        "count": 0,
        "p50_seconds": None,
        "p95_seconds": None,
        "max_seconds": None,
        "distribution": [{"up_to_seconds": bound, "count": 0} for bound in BUCKETS],
        "by_cause": {},
    }


#: the distribution's upper bounds, whole seconds, then the open bucket (as docs/api.md lists them)
BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, None)


def test_the_timeliness_distribution_buckets_the_counted_changes(stack: InProcessStack) -> None:
    # GIVEN colour changes counted today in Nanming: three close contacts and two fevers
    today = clock.now().astimezone(clock.CHINA).date().isoformat()
    changes = {"close_contact": [0, 10, 11, 3700, 90_000], "fever": [45, 86_400]}
    registers_store.add_colour_changes(
        ("520102", today, cause, seconds) for cause, values in changes.items() for seconds in values
    )
    # WHEN today's indicators of Guiyang are read
    found = indicators(stack, "520100", **{"from": today, "to": today}).json()["colour_change_timeliness"]

    # THEN each change is counted in the first bucket whose bound holds it, past a day in the last
    def expected(counts: dict[int | None, int]) -> list[dict[str, Any]]:
        return [{"up_to_seconds": bound, "count": counts.get(bound, 0)} for bound in BUCKETS]

    assert found["distribution"] == expected({10: 2, 30: 1, 60: 1, 7200: 1, 86400: 1, None: 1})
    assert found["by_cause"]["close_contact"]["distribution"] == expected({10: 2, 30: 1, 7200: 1, None: 1})
    assert found["by_cause"]["fever"]["distribution"] == expected({60: 1, 86400: 1})
    assert (found["count"], found["max_seconds"]) == (7, 90_000)


def test_indicator_requests_are_checked(stack: InProcessStack) -> None:
    today = clock.now().astimezone(clock.CHINA).date()
    for query, code in (
        ({"from": "2026-13-01"}, "invalid_date"),
        ({"from": today.isoformat(), "to": "2000-01-01"}, "invalid_range"),
        ({"from": "2000-01-01", "to": "2000-03-01"}, "range_too_long"),
        ({"to": "2999-01-01"}, "invalid_date"),
    ):
        answer = indicators(stack, "520102", **query)
        assert (answer.status, answer.error_code) == (422, code), query
    assert (
        indicators(stack, "520103", area="520102").status,
        indicators(stack, "520103", area="520102").error_code,
    ) == (
        403,
        "outside_area",
    )
    answer = indicators(stack, "520102", who=("c", ["citizen"]))
    assert (answer.status, answer.error_code) == (403, "forbidden_role")
    assert indicators(stack, "520102", who=ADMIN).status == 200


# -- counters never fail what they count ----------------------------------------------------------


def test_a_refused_application_stays_422_when_its_counter_cannot_be_written(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the indicator counters cannot be written
    from botocore.exceptions import ClientError
    from healthcode.storage import registers as store

    def broken(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(store, "add_attempt", broken)
    monkeypatch.setattr(store, "add_person", broken)
    # WHEN a bad application and a good one are sent
    refused = stack.call(
        "POST", "/v1/codes", as_=("cit-b", ["citizen"]), json_body=form("520103198506120000")
    )
    taken = stack.call("POST", "/v1/codes", as_=("cit-g", ["citizen"]), json_body=form(adult_id()))
    # THEN they are answered as without the counters: 422 and 201
    assert (refused.status, refused.error_code) == (422, "invalid_id_number")
    assert taken.status == 201, taken.body


def test_reconciling_again_changes_nothing(stack: InProcessStack) -> None:
    from healthcode.services import registers as service

    rows = [row("520102"), row("520103")]
    assert upload(stack, rows).json()["accepted"] == 2
    pump(stack).drain()
    # WHEN every record is delivered again (or late) THEN no count moves
    assert service.reconcile([r["credit_code"] for r in rows]) == 0
    assert service.reconcile([credit_code()]) == 0  # an entity nobody registered
    assert (coverage(stack, "520100")["entities"], coverage(stack, "520100")["with_code"]) == (2, 0)


def test_timeliness_takes_the_earliest_new_fact_and_the_case_report_for_contacts() -> None:
    from datetime import timedelta

    from healthcode.rules import colour
    from healthcode.rules.colour import ColourDecision, Reason
    from healthcode.rules.policy import FactKind, RiskLevel
    from healthcode.services.indicators import colour_change_sample

    reported = clock.parse_instant("2026-05-01T10:00:00.700+08:00")
    written = reported + timedelta(seconds=95)
    contact = colour.Fact(
        fact_id="exposure#c-1#ab",
        kind=FactKind.CLOSE_CONTACT,
        starts_at=reported - timedelta(days=1),
        expires_at=reported + timedelta(days=13),
        recorded_at=reported,  # tracing records an exposure at its case's report
        learned_at=reported + timedelta(seconds=80),  # when tracing found it
    )
    fever = colour.Fact(
        fact_id="fever#1",
        kind=FactKind.FEVER,
        starts_at=reported,
        expires_at=None,
        learned_at=reported + timedelta(seconds=30),
    )
    old = colour.Fact(fact_id="travel#1", kind=FactKind.HIGH_RISK_TRAVEL, starts_at=reported, expires_at=None)

    def reason(fact: colour.Fact) -> Reason:
        return Reason(code=str(fact.kind), level=RiskLevel.RED, fact_id=fact.fact_id, until=None, text="")

    decision = ColourDecision(
        level=RiskLevel.RED,
        colour="red",
        reasons=(reason(contact), reason(fever), reason(old)),
        next_change_at=None,
        as_of=written,
    )
    before = [{"fact_id": "travel#1"}]
    # THEN the contact counts from its case's report (95 s), before the fever (65 s)
    assert colour_change_sample(before, decision, [contact, fever, old], written_at=written) == (
        "close_contact",
        95,
    )
    # AND without the contact the fever counts; with nothing new, nothing counts
    only_fever = ColourDecision(
        level=RiskLevel.RED, colour="red", reasons=(reason(fever),), next_change_at=None, as_of=written
    )
    assert colour_change_sample([], only_fever, [fever], written_at=written) == ("fever", 65)
    assert colour_change_sample([{"fact_id": "fever#1"}], only_fever, [fever], written_at=written) is None


def test_ten_thousand_rows_are_taken_in_one_upload(stack: InProcessStack) -> None:
    # GIVEN the most rows one upload may hold (about 1.3 MB of JSON)
    rows = [row("520102") for _ in range(10_000)]
    # WHEN uploaded THEN every row is taken
    answer = upload(stack, rows)
    assert answer.status == 200, answer.body[:300]
    assert answer.json() == {"accepted": 10_000, "rejected": []}


def test_verification_shares_and_complete_records_come_from_the_scan_counters(stack: InProcessStack) -> None:
    from healthcode.rules.venues import china_day
    from healthcode.settings import policy

    from tests.handlers.venue_support import citizen, make_person

    # GIVEN two venues of a mandatory type and one of another type in Nanming
    mandatory = sorted(policy().mandatory_venue_types)[0]
    other = next(t for t in ("residential", "village") if t not in policy().mandatory_venue_types)
    who = manager()
    busy, idle = (register(stack, who, type=mandatory).json() for _ in range(2))
    elsewhere = register(stack, who, type=other).json()
    # AND three check-ins at the busy one and one at the other type
    for code, times in ((busy["code"], 3), (elsewhere["code"], 1)):
        for _ in range(times):
            visitor = citizen()
            person = make_person(visitor[0])
            body = {
                "venue_code": code,
                "person_id": person.person_id,
                "location": {"lat": 26.5783, "lng": 106.7145},
            }
            assert stack.call("POST", "/v1/checkins", as_=visitor, json_body=body).status == 201
    pump(stack).drain()
    # WHEN today's indicators of Nanming are read
    today = china_day(clock.now())
    found = indicators(stack, "520102", **{"from": today, "to": today}).json()
    # THEN 3 of 4 scans were at mandatory venues, 1 of 2 mandatory venues scanned, every record complete
    assert found["verification_rate"] == {
        "mandatory_scan_share": 0.75,
        "active_mandatory_venue_share": 0.5,
        "scans": 4,
        "mandatory_scans": 3,
        "mandatory_venues": 2,
        "active_mandatory_venue_days": 1,
    }
    assert found["data_accuracy"]["complete_record_share"] == 1.0
    assert idle["venue_id"] != busy["venue_id"]
    # AND a counter written before venue types were kept on it is typed from the venue itself
    stack.clients["dynamodb"].update_item(
        TableName=stack.template.physical_name("StatsTable"),
        Key={"pk": {"S": f"{busy['venue_id']}#{today}"}, "sk": {"S": "STATS"}},
        UpdateExpression="REMOVE venue_type",
    )
    again = indicators(stack, "520102", **{"from": today, "to": today}).json()
    assert again["verification_rate"] == found["verification_rate"]
