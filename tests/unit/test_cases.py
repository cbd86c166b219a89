"""The officials' domain rules (healthcode.rules.cases): case ids and reports, lab-result batches,
override requests, tracing task plans, contact ranks, risk-area reach and expiry buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from healthcode.edge import specs
from healthcode.errors import InvalidInput
from healthcode.rules import cases, colour, idcard, regions
from healthcode.rules.policy import Policy, RiskLevel, load_policy
from healthcode.rules.tracing import ContactKind, Exposure, Presence, exposure_id, strongest_per_person
from healthcode.services.recolour import bucket_of
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
GUIZHOU = Policy(province="520000", name="Guizhou")


def valid_id(first17: str = "52010219900307123") -> str:
    return first17 + idcard.check_character(first17)


def wrong_check(number: str) -> str:
    digits = "0123456789X"
    return number[:17] + digits[(digits.index(number[17]) + 1) % len(digits)]


# -- cases ---------------------------------------------------------------------------------------


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2023, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=1, max_value=10**6),
)
def test_case_id_is_one_per_person_and_diagnosis_instant(diagnosed: datetime, microseconds: int) -> None:
    """GIVEN a person and a diagnosis instant WHEN the case id is derived THEN the same instant
    (in any offset) gives the same id and any other instant or person another one."""
    same = cases.case_id_for("p-1", diagnosed)
    assert same == cases.case_id_for("p-1", diagnosed.astimezone(CST))
    assert same.startswith("case-") and len(same) <= 64
    assert same != cases.case_id_for("p-1", diagnosed + timedelta(microseconds=microseconds))
    assert same != cases.case_id_for("p-2", diagnosed)


def test_case_report_by_person_or_id_number() -> None:
    """GIVEN a report naming a person by id, or by ID number WHEN checked THEN it is accepted
    with the diagnosis in UTC; naming both or neither is refused."""
    report = cases.check_case_report(
        {"person_id": "p-abc", "status": "asymptomatic", "diagnosed_at": "2022-05-18T09:30:00+08:00"}, now=NOW
    )
    assert report.person_id == "p-abc" and report.status is cases.CaseStatus.ASYMPTOMATIC
    assert report.diagnosed_at == datetime(2022, 5, 18, 1, 30, tzinfo=UTC)
    by_number = cases.check_case_report(
        {"id_number": valid_id().lower(), "status": "confirmed", "diagnosed_at": "2022-05-18T01:30:00Z"},
        now=NOW,
    )
    assert by_number.id_number == valid_id() and by_number.person_id is None
    assert valid_id() not in repr(by_number)
    for body in (
        {"status": "confirmed", "diagnosed_at": "2022-05-18T01:30:00Z"},
        {
            "person_id": "p-1",
            "id_number": valid_id(),
            "status": "confirmed",
            "diagnosed_at": "2022-05-18T01:30:00Z",
        },
    ):
        with pytest.raises(InvalidInput) as refused:
            specs.check_body("POST /v1/cases", body)
        assert refused.value.code == "person_required"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"id_number": wrong_check(valid_id()), "person_id": None}, "id_number", "invalid_id_number"),
        ({"person_id": "p#1"}, "person_id", "invalid_person_id"),
        ({"person_id": 42}, "person_id", "invalid_person_id"),
        ({"status": "recovered"}, "status", "invalid_status"),
        ({"diagnosed_at": "2022-05-18T09:30:00"}, "diagnosed_at", "invalid_diagnosed_at"),
        ({"diagnosed_at": 1652837400}, "diagnosed_at", "invalid_diagnosed_at"),
        ({"diagnosed_at": "2022-05-18T10:06:00+08:00"}, "diagnosed_at", "diagnosed_in_future"),
        ({"severity": "mild"}, "severity", "unknown_field"),
    ],
)
def test_case_report_refusals(change: dict[str, object], field: str, code: str) -> None:
    """GIVEN a report with one bad field WHEN checked THEN 422 names that field and why."""
    body: dict[str, object] = {
        "person_id": "p-1",
        "status": "confirmed",
        "diagnosed_at": "2022-05-18T09:00:00+08:00",
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(InvalidInput) as refused:
        specs.check_body("POST /v1/cases", body)  # the request's spec, then the rules
        cases.check_case_report(body, now=NOW)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_diagnosis_within_clock_skew_is_accepted() -> None:
    """GIVEN a diagnosis 5 minutes ahead of the server (a client's clock) THEN it is accepted."""
    assert cases.check_diagnosed_at(NOW + cases.CLOCK_SKEW, now=NOW) == NOW + cases.CLOCK_SKEW


# -- lab results ---------------------------------------------------------------------------------

GOOD = {"id_number": valid_id(), "sampled_at": "2022-05-17T08:00:00+08:00", "result": "negative"}
BAD_ROWS: dict[str, object] = {
    "not_an_object": ["520102199003071234", "2022-05-17T08:00:00+08:00", "negative"],
    "unknown_field": {**GOOD, "name": "张三"},
    "invalid_id_number": {**GOOD, "id_number": wrong_check(valid_id())},
    "invalid_sampled_at": {**GOOD, "sampled_at": "2022-05-17 08:00"},
    "sampled_in_future": {**GOOD, "sampled_at": "2022-05-19T08:00:00+08:00"},
    "invalid_result": {**GOOD, "result": "inconclusive"},
}


@st.composite
def lab_batches(draw: st.DrawFn) -> tuple[list[object], dict[int, str | None]]:
    """A batch mixing valid rows (distinct people) with each kind of bad row; the expected
    rejection code per index (None: accepted)."""
    size = draw(st.integers(min_value=1, max_value=30))
    rows: list[object] = []
    expected: dict[int, str | None] = {}
    for index in range(size):
        error = draw(st.sampled_from([None, None, *BAD_ROWS]))
        if error is None:
            body = f"52010219900307{index:03d}"
            rows.append(
                {
                    **GOOD,
                    "id_number": valid_id(body),
                    "result": draw(st.sampled_from(["negative", "positive"])),
                }
            )
        else:
            rows.append(BAD_ROWS[error])
        expected[index] = error
    return rows, expected


@given(lab_batches())
def test_each_lab_row_is_judged_on_its_own(batch: tuple[list[object], dict[int, str | None]]) -> None:
    """GIVEN a batch mixing good rows and every kind of bad row WHEN checked THEN each bad row
    is rejected with its own code at its own index and every good row is accepted."""
    rows, expected = batch
    accepted, rejected = cases.check_lab_rows(rows, now=NOW)
    assert {row.index for row in accepted} == {i for i, error in expected.items() if error is None}
    assert {(r.index, r.error) for r in rejected} == {(i, e) for i, e in expected.items() if e is not None}
    for row in accepted:
        assert row.sampled_at == datetime(2022, 5, 17, 0, 0, tzinfo=UTC)


def test_lab_batch_limits_and_duplicates() -> None:
    """GIVEN batches at and over 1,000 rows, an empty one, repeated and contradicting rows THEN
    1,000 pass, 1,001 and 0 are refused whole, a repeat is taken once, a contradiction not at all."""
    accepted, rejected = cases.check_lab_rows([GOOD] * cases.MAX_LAB_ROWS, now=NOW)
    assert [row.index for row in accepted] == [0] and rejected == []
    for rows, code in (([GOOD] * (cases.MAX_LAB_ROWS + 1), "too_many_results"), ([], "invalid_results")):
        with pytest.raises(InvalidInput) as refused:
            cases.check_lab_rows(rows, now=NOW)
        assert (refused.value.field, refused.value.code) == ("results", code)
    accepted, rejected = cases.check_lab_rows([GOOD, {**GOOD, "result": "positive"}, GOOD], now=NOW)
    assert accepted == [] and {(r.index, r.error) for r in rejected} == {
        (0, "conflicting_result"),
        (1, "conflicting_result"),
        (2, "conflicting_result"),
    }


def test_lab_id_is_deterministic_per_person_instant_and_result() -> None:
    """GIVEN the same row twice (another offset) and the opposite result THEN the lab id is the
    same for the former and differs for the latter."""
    (first,), _ = cases.check_lab_rows([GOOD], now=NOW)
    (again,), _ = cases.check_lab_rows([{**GOOD, "sampled_at": "2022-05-17T00:00:00Z"}], now=NOW)
    (positive,), _ = cases.check_lab_rows([{**GOOD, "result": "positive"}], now=NOW)
    assert first.lab_id == again.lab_id != positive.lab_id


# -- overrides -----------------------------------------------------------------------------------


def override(**change: object) -> cases.OverrideRequest:
    body: dict[str, object] = {
        "colour": "green",
        "reason_code": "recovered",
        "evidence_ref": "GY-2022-0518-7",
    }
    body.update(change)
    specs.check_body("PUT /v1/persons/{person_id}/colour", body)  # the request's spec, then the rules
    return cases.check_override_body(body, policy=GUIZHOU, now=NOW)


def test_override_request_is_validated() -> None:
    """GIVEN a complete request WHEN checked THEN colour, level, reason, evidence, note and end
    come back trimmed and typed."""
    request = override(colour="red", note=" 复核后确认 ", until="2022-06-01T00:00:00+08:00")
    assert request.level is RiskLevel.RED and request.colour == "red"
    assert request.note == "复核后确认" and request.until == datetime(2022, 5, 31, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"colour": "purple"}, "colour", "invalid_colour"),
        ({"colour": 2}, "colour", "invalid_colour"),
        ({"reason_code": "Recovered!"}, "reason_code", "invalid_reason_code"),
        ({"evidence_ref": " "}, "evidence_ref", "invalid_evidence_ref"),
        ({"evidence_ref": "x" * 201}, "evidence_ref", "invalid_evidence_ref"),
        ({"evidence_ref": f"ID {valid_id()}"}, "evidence_ref", "personal_data_in_text"),
        ({"note": "call 13812345678"}, "note", "personal_data_in_text"),
        ({"note": "a\x00b"}, "note", "invalid_note"),
        ({"until": "2022-05-18T09:00:00+08:00"}, "until", "invalid_until"),
        ({"until": "2023-06-01T00:00:00+08:00"}, "until", "invalid_until"),
        ({"until": "tomorrow"}, "until", "invalid_until"),
        ({"risk_level": 2}, "risk_level", "invalid_risk_level"),
        ({"approved": True}, "approved", "unknown_field"),
    ],
)
def test_override_refusals(change: dict[str, object], field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        override(**change)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_fujian_orange_needs_a_level() -> None:
    """GIVEN Fujian's palette (orange for levels 1 and 2) WHEN an official asks for orange THEN
    the level must be given and must be one orange stands for."""
    fujian = load_policy("350000")
    with pytest.raises(InvalidInput) as refused:
        cases.level_of_colour("orange", None, fujian)
    assert refused.value.code == "ambiguous_colour"
    assert cases.level_of_colour("orange", 2, fujian) is RiskLevel.RED
    assert cases.level_of_colour("green", None, fujian) is RiskLevel.GREEN
    with pytest.raises(InvalidInput):
        cases.level_of_colour("orange", True, fujian)


def test_rate_limit_boundary() -> None:
    """GIVEN the policy's hourly limit N THEN N−1 earlier requests allow one more, N do not."""
    limit = GUIZHOU.override_requests_per_hour_limit
    assert not cases.over_rate_limit(limit - 1, GUIZHOU)
    assert cases.over_rate_limit(limit, GUIZHOU)


# -- tracing tasks -------------------------------------------------------------------------------

START = datetime(2022, 5, 10, 2, 0, tzinfo=UTC)


def presence(pid: str, venue: str, complex_id: str, minute: int = 0, person: str = "p0") -> Presence:
    return Presence(pid, person, venue, complex_id, "restaurant", START + timedelta(minutes=minute))


def test_plan_searches_own_venue_then_its_complex_once_each() -> None:
    """GIVEN two presences in a mall complex (one twice) and one at a standalone shop WHEN
    planned THEN each presence searches its own venue first, then the other venues of its
    complex; duplicates give one task."""
    mall = [cases.VenueToSearch(v, "mall", 8) for v in ("m0", "m1", "m2")]
    shop = [cases.VenueToSearch("s1", "pharmacy", 1)]
    a, b = presence("a", "m1", "m0"), presence("b", "s1", "s1", 30)
    tasks = cases.plan_tasks("case-1", "p0", [a, b, a], {"m0": mall, "s1": shop})
    assert [(t.presence.presence_id, t.venue.venue_id) for t in tasks] == [
        ("a", "m1"),
        ("a", "m0"),
        ("a", "m2"),
        ("b", "s1"),
    ]
    assert len({t.key for t in tasks}) == 4
    with pytest.raises(ValueError, match="missing"):
        cases.plan_tasks("case-1", "p0", [presence("c", "m9", "m0")], {"m0": mall})
    with pytest.raises(ValueError, match="another person"):
        cases.plan_tasks("case-1", "p0", [presence("d", "s1", "s1", person="p1")], {"s1": shop})


after_keys = st.none() | st.fixed_dictionaries(
    {
        "venue_shard": st.fixed_dictionaries({"S": st.text(min_size=1)}),
        "at_scan": st.fixed_dictionaries({"S": st.text()}),
    }
)


@given(st.integers(min_value=0, max_value=7), after_keys, st.integers(min_value=0, max_value=500))
def test_task_survives_storage_and_continues_where_it_stopped(shard: int, after: object, part: int) -> None:
    """GIVEN a task and a position WHEN its continuation is stored and read back THEN it is the
    same task, one part further, resuming at that shard and key, under a key of its own."""
    task = cases.TracingTask(
        "case-1", "p0", presence("a", "m1", "m0", 7), cases.VenueToSearch("m2", "mall", 8), part
    )
    following = task.continuation(shard, after)  # type: ignore[arg-type]
    assert cases.TracingTask.from_json(following.to_json()) == following
    assert following.part == part + 1 and following.key != task.key
    assert following.key.rsplit("#", 1)[0] == task.key.rsplit("#", 1)[0]
    with pytest.raises(ValueError):
        task.continuation(8, None)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(v=2),
        lambda d: d.pop("presence"),
        lambda d: d["presence"].update(start="yesterday"),
        lambda d: d["venue"].update(shards=0),
        lambda d: d.update(shard=9),
        lambda d: d.update(part="1"),
        lambda d: d.update(after="LastEvaluatedKey"),
        lambda d: d["presence"].update(person_id=""),
    ],
)
def test_malformed_task_is_refused(damage: object) -> None:
    """GIVEN a stored task damaged in one place THEN reading it raises ValueError (poison)."""
    data = cases.TracingTask(
        "case-1", "p0", presence("a", "m1", "m0"), cases.VenueToSearch("m1", "mall", 8)
    ).to_json()
    damage(data)  # type: ignore[operator]
    with pytest.raises(ValueError):
        cases.TracingTask.from_json(data)


exposures = st.builds(
    lambda n, kind, overlap, end: Exposure(
        exposure_id=exposure_id("case-1", "c", f"x{n}"),
        case_id="case-1",
        person_id="p1",
        kind=kind,
        venue_id="v1",
        case_presence_id="c",
        presence_id=f"x{n}",
        exposure_start=START + timedelta(minutes=end) - timedelta(minutes=overlap),
        exposure_end=START + timedelta(minutes=end),
        overlap=timedelta(minutes=overlap),
    ),
    st.integers(min_value=0, max_value=50),
    st.sampled_from(list(ContactKind)),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=4),
)


@given(st.lists(exposures, min_size=1, max_size=8))
def test_contact_rank_keeps_what_strongest_per_person_keeps(found: list[Exposure]) -> None:
    """GIVEN one person's exposures arriving in any order WHEN the stored row keeps the larger
    (rank, then smaller exposure id), as the conditional write does THEN it holds the exposure
    ``tracing.strongest_per_person`` picks."""
    stored: tuple[str, str] | None = None
    for exposure in found:
        rank = cases.contact_rank(exposure.kind, exposure.overlap, exposure.exposure_end)
        if stored is None or rank > stored[0] or (rank == stored[0] and exposure.exposure_id < stored[1]):
            stored = (rank, exposure.exposure_id)
    (row,) = strongest_per_person(found)
    assert stored is not None and stored[1] == row.exposure_id


# -- risk areas ----------------------------------------------------------------------------------


def test_covered_regions_of_county_prefecture_and_province() -> None:
    """GIVEN levels on a county, on Guiyang (520100) and on Guizhou (520000) THEN a county
    covers itself only, Guiyang its districts, Guizhou every code under it."""
    assert cases.covered_trip_regions("520102") == ["520102"]
    guiyang = cases.covered_trip_regions("520100")
    assert guiyang[0] == "520100" and {"520102", "520103", "520115"} <= set(guiyang)
    assert all(code.startswith("5201") for code in guiyang) and "520201" not in guiyang
    guizhou = cases.covered_trip_regions("520000")
    assert {"520100", "520102", "520201", "522301"} <= set(guizhou)
    assert all(code.startswith("52") for code in guizhou)
    with pytest.raises(ValueError):
        cases.covered_trip_regions("52010")


CODES = sorted(code for code in cases.covered_trip_regions("520000") if regions.is_region(code))


@settings(max_examples=200)
@given(st.sampled_from(CODES), st.sampled_from(["county", "prefecture", "province"]))
def test_covered_regions_agree_with_the_colour_rule(trip: str, level: str) -> None:
    """GIVEN a trip to a Guizhou code and a high level on that code, its prefecture or its
    province THEN the colour rule gives a travel fact exactly when the area's covered codes hold
    the trip's code — the consumer finds everyone the rule would colour, through the index."""
    area = {"county": trip, "prefecture": f"{trip[:4]}00", "province": f"{trip[:2]}0000"}[level]
    travel = [colour.Travel(region_code=trip, left_at=NOW - timedelta(days=1))]
    found = colour.travel_facts("p-1", travel, {area: "high"}, policy=GUIZHOU, at=NOW)
    assert bool(found) == (trip in cases.covered_trip_regions(area))
    assert bool(found)


def test_travel_cutoff_is_the_policy_window() -> None:
    assert cases.travel_cutoff(NOW, GUIZHOU) == NOW - timedelta(days=GUIZHOU.risk_travel_window_days)


# -- expiry --------------------------------------------------------------------------------------


def test_change_buckets_reach_back_across_midnight() -> None:
    """GIVEN 00:20 UTC and a 3-hour look-back THEN the buckets are the last four hours, oldest
    first, in the colour store's bucket format."""
    now = datetime(2022, 5, 18, 0, 20, tzinfo=UTC)
    buckets = cases.change_buckets(now, 3)
    assert buckets == ["2022-05-17T21", "2022-05-17T22", "2022-05-17T23", "2022-05-18T00"]
    assert buckets[-1] == bucket_of(now)
    assert cases.change_buckets(now.astimezone(CST), 0) == ["2022-05-18T00"]
