"""Province policies: the five shipped files and the validation every policy goes through."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from healthcode.rules import policy as policy_module
from healthcode.rules import regions
from healthcode.rules.policy import (
    VENUE_TYPES,
    FactKind,
    Policy,
    PolicyError,
    RiskLevel,
    Tracing,
    available_provinces,
    load_policy,
    parse_policy,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=200, deadline=None)

FUJIAN, SHANXI, HENAN, JIANGXI, GUIZHOU = "350000", "140000", "410000", "360000", "520000"
BASE: dict[str, Any] = {"province": GUIZHOU, "name": "贵州省"}


def raw_file(province: str) -> dict[str, Any]:
    text = (resources.files("healthcode") / "policies" / f"{province}.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def refused(document: dict[str, Any]) -> str:
    """The PolicyError message for a document."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(json.dumps(document, ensure_ascii=False), source="test.json")
    message = str(caught.value)
    assert message.startswith("test.json: ")
    return message


# ----- the shipped files ----------------------------------------------------------------------


def test_the_five_provinces_are_shipped_and_every_file_loads() -> None:
    # GIVEN the package's policy folder WHEN every file is loaded
    # THEN the five seed provinces are there, each file under its own code and GB/T 2260 name
    assert {FUJIAN, SHANXI, HENAN, JIANGXI, GUIZHOU} <= set(available_provinces())
    for province in available_provinces():
        loaded = load_policy(province)
        assert loaded.province == province
        assert loaded.name == regions.region_name(province)


def test_load_policy_reads_each_file_once() -> None:
    assert load_policy(FUJIAN) is load_policy(FUJIAN)


@pytest.mark.parametrize("province", available_provinces())
def test_a_file_states_only_what_differs_from_the_defaults(province: str) -> None:
    # GIVEN a shipped file and the all-defaults policy of the same province
    document = raw_file(province)
    defaults = Policy(province=province, name=document["name"])
    loaded = load_policy(province)
    # THEN every field it names (beyond province and name) changes the default
    for field in set(document) - {"province", "name"}:
        assert getattr(loaded, field) != getattr(defaults, field), f"{province}: {field} repeats the default"


def test_docs_describe_every_field_and_every_province() -> None:
    # GIVEN docs/policies.md WHEN read THEN every field and every shipped province has its entry
    docs = (Path(__file__).parents[2] / "docs" / "policies.md").read_text(encoding="utf-8")
    for field in dataclasses.fields(Policy):
        assert f"`{field.name}`" in docs, field.name
    for field in dataclasses.fields(Tracing):
        assert f"`tracing.{field.name}`" in docs, field.name
    for province in available_provinces():
        assert f"### {province} {regions.region_name(province)}" in docs


def test_fujian_shows_orange_and_registers_non_green() -> None:
    # GIVEN 八闽健康码 WHEN loaded
    fujian = load_policy(FUJIAN)
    # THEN levels 1 and 2 both show orange, and orange (and fever) holders are registered
    assert [fujian.colour(level) for level in RiskLevel] == ["green", "orange", "orange"]
    assert [fujian.verdict(level) for level in RiskLevel] == ["pass", "register", "register"]
    assert fujian.fever_verdict == "register"
    # AND the management side sees orange holders' identity
    assert fujian.manager_sees_identities == "non_green"


def test_fujian_venue_lists_follow_the_attachment() -> None:
    fujian = load_policy(FUJIAN)
    # 强制: parks, scenic spots, sports, libraries/museums, enclosed entertainment, care homes,
    # medical institutions, government service halls, hotels
    assert {"park", "scenic_spot", "sports", "library_museum", "cinema_entertainment"} <= (
        fujian.mandatory_venue_types
    )
    assert {
        "elderly_care",
        "hospital",
        "clinic",
        "government_service",
        "hotel",
    } <= fujian.mandatory_venue_types
    # 鼓励: schools, offices, communities, enterprises, transit, public transport, malls, shops, food
    assert {
        "school",
        "office",
        "residential",
        "village",
        "enterprise",
        "factory",
    } <= fujian.encouraged_venue_types
    assert {"transit_hub", "vehicle", "mall", "supermarket", "restaurant"} <= fujian.encouraged_venue_types
    # and types its list never names are in neither
    assert not {"farmers_market", "pharmacy", "public_toilet", "express_point", "other"} & (
        fujian.mandatory_venue_types | fujian.encouraged_venue_types
    )


def test_jiangxi_one_venue_per_phone_green_applicants_no_identities() -> None:
    jiangxi = load_policy(JIANGXI)
    assert jiangxi.one_venue_per_phone
    assert jiangxi.venue_applicant_must_be_green
    assert jiangxi.manager_sees_identities == "never"
    # residential communities are only advised to apply (建议申领); every other venue must
    assert jiangxi.encouraged_venue_types == {"residential", "village"}
    assert jiangxi.mandatory_venue_types == VENUE_TYPES - {"residential", "village"}


def test_henan_reports_by_four_pm_and_every_venue_scans() -> None:
    henan = load_policy(HENAN)
    assert henan.daily_report_due == "16:00"
    assert henan.report_due() == time(16, 0)
    assert henan.mandatory_venue_types == VENUE_TYPES
    assert [henan.colour(level) for level in RiskLevel] == ["green", "yellow", "red"]


def test_shanxi_three_colours_and_fourteen_days_for_yellow() -> None:
    shanxi = load_policy(SHANXI)
    assert [shanxi.colour(level) for level in RiskLevel] == ["green", "yellow", "red"]
    assert [shanxi.verdict(level) for level in RiskLevel] == ["pass", "dissuade", "isolate"]
    assert (shanxi.tracing.quarantine_days, shanxi.tracing.observation_days) == (14, 14)
    assert shanxi.mandatory_venue_types == VENUE_TYPES


def test_guizhou_three_colours_and_fever_at_a_checkpoint_is_a_fact() -> None:
    guizhou = load_policy(GUIZHOU)
    assert [guizhou.colour(level) for level in RiskLevel] == ["green", "yellow", "red"]
    assert guizhou.fever_at_checkpoint_is_fact
    assert guizhou.fact_levels[FactKind.FEVER] == RiskLevel.YELLOW
    assert "residential" not in guizhou.mandatory_venue_types | guizhou.encouraged_venue_types
    assert guizhou.report_due() is None


def test_only_henan_sets_a_report_deadline() -> None:
    assert [p for p in available_provinces() if load_policy(p).daily_report_due] == [HENAN]


# ----- invariants -----------------------------------------------------------------------------

#: One bad document per invariant in Policy._invariants, and the field its message must name.
INVARIANT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown province", {"province": "990000"}, "province: 990000"),
    ("palette missing a level", {"palette": {"0": "green", "1": "yellow"}}, "palette: missing levels [2]"),
    ("palette level 0 not green", {"palette": {"0": "blue", "1": "yellow", "2": "red"}}, "palette: level 0"),
    ("palette red named green", {"palette": {"0": "green", "1": "yellow", "2": "green"}}, "palette: level 2"),
    ("verdicts missing a level", {"verdicts": {"0": "pass", "2": "isolate"}}, "verdicts: missing levels [1]"),
    (
        "green does not pass",
        {"verdicts": {"0": "register", "1": "dissuade", "2": "isolate"}},
        "verdicts: level 0",
    ),
    ("yellow passes", {"verdicts": {"0": "pass", "1": "pass", "2": "isolate"}}, "verdicts: level 1"),
    ("fact_levels missing kinds", {"fact_levels": {"case": 2}}, "fact_levels: missing kinds"),
    (
        "a case below red",
        {"fact_levels": {**{kind.value: 1 for kind in FactKind}, "case": 1}},
        "fact_levels: a case is always red",
    ),
    (
        "negative lab clears a case",
        {"negative_lab_clears": ["fever", "case"]},
        "negative_lab_clears: ['case']",
    ),
    (
        "negative lab clears close contacts",
        {"negative_lab_clears": ["close_contact"]},
        "negative_lab_clears: ['close_contact']",
    ),
    ("unknown dwell type", {"dwell_minutes": {"spaceport": 5}}, "dwell_minutes: unknown venue types"),
    ("unknown shard type", {"scan_shards": {"spaceport": 5}}, "scan_shards: unknown venue types"),
    ("unknown mandatory type", {"mandatory_venue_types": ["spaceport"]}, "mandatory_venue_types: unknown"),
    ("unknown encouraged type", {"encouraged_venue_types": ["spaceport"]}, "encouraged_venue_types: unknown"),
    (
        "both mandatory and encouraged",
        {"mandatory_venue_types": ["park", "mall"], "encouraged_venue_types": ["mall"]},
        "mandatory_venue_types / encouraged_venue_types: ['mall']",
    ),
    (
        "observation longer than quarantine",
        {"tracing": {"quarantine_days": 7, "observation_days": 10}},
        "tracing.observation_days",
    ),
    ("retention shorter than lookback", {"retention_days": 10}, "retention_days"),
]


@pytest.mark.parametrize(
    ("overrides", "names"), [case[1:] for case in INVARIANT_CASES], ids=[case[0] for case in INVARIANT_CASES]
)
def test_each_invariant_refuses_a_bad_document_naming_the_field(
    overrides: dict[str, Any], names: str
) -> None:
    # GIVEN an otherwise valid document breaking one invariant
    # WHEN parsed THEN it is refused with a message naming the field
    assert names in refused({**BASE, **overrides})


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"name": ""}, "name:"),
        ({"palette": {"0": "green", "1": "Orange!", "2": "red"}}, "palette.1:"),
        ({"palette": {"0": "green", "3": "red", "1": "yellow", "2": "red"}}, "palette.3"),
        ({"verdicts": {"0": "pass", "1": "shrug", "2": "isolate"}}, "verdicts.1:"),
        ({"fever_verdict": "pass"}, "fever_verdict:"),
        ({"fever_threshold_c": 35.9}, "fever_threshold_c:"),
        ({"fever_threshold_c": "hot"}, "fever_threshold_c:"),
        ({"code_lifetime_seconds": 29}, "code_lifetime_seconds:"),
        ({"scan_shards": {"transit_hub": 65}}, "scan_shards.transit_hub:"),
        ({"default_scan_shards": 0}, "default_scan_shards:"),
        ({"dwell_minutes": {"mall": 0}}, "dwell_minutes.mall:"),
        ({"tracing": {"lookback_days": 0}}, "tracing.lookback_days:"),
        ({"manager_sees_identities": "sometimes"}, "manager_sees_identities:"),
        ({"one_venue_per_phone": "maybe"}, "one_venue_per_phone:"),
        ({"daily_report_due": "24:00"}, "daily_report_due:"),
        ({"daily_report_due": "4pm"}, "daily_report_due:"),
        ({"daily_report_due": "16:60"}, "daily_report_due:"),
        ({"daily_report_due": "9:00"}, "daily_report_due:"),
        ({"fact_levels": {**{kind.value: 1 for kind in FactKind}, "case": 3}}, "fact_levels.case:"),
    ],
)
def test_bad_values_are_refused_naming_their_path(overrides: dict[str, Any], names: str) -> None:
    assert names in refused({**BASE, **overrides})


def test_every_problem_is_reported_at_once() -> None:
    message = refused({**BASE, "retention_days": 0, "checkin_max_distance_m": -1})
    assert "retention_days:" in message
    assert "checkin_max_distance_m:" in message


# ----- unknown keys, wrong provinces, unreadable files -----------------------------------------


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"colour_of_hope": "green"}, "colour_of_hope: Extra inputs are not permitted"),
        ({"_comment": "why"}, "_comment: Extra inputs are not permitted"),
        ({"tracing": {"lookback_dayz": 10}}, "tracing.lookback_dayz: Extra inputs"),
    ],
)
def test_unknown_keys_are_refused(overrides: dict[str, Any], names: str) -> None:
    assert names in refused({**BASE, **overrides})


@pytest.mark.parametrize(
    ("province", "names"),
    [
        ("35000", "province:"),  # five digits
        ("350500", "province:"),  # a prefecture (泉州市), not a province
        ("350000 ", "province:"),
        ("990000", "province: 990000 is not a current GB/T 2260 province"),
        (350000, "province:"),
    ],
)
def test_wrong_province_codes_are_refused(province: object, names: str) -> None:
    assert names in refused({**BASE, "province": province})


def test_missing_province_or_name_is_refused() -> None:
    assert "province: Field required" in refused({"name": "x"})
    assert "name: Field required" in refused({"province": FUJIAN})


@pytest.mark.parametrize(
    ("province", "names"), [("35000", "6-digit"), ("３５００００", "6-digit"), ("990000", "no policy")]
)
def test_load_policy_refuses_provinces_without_a_file(province: str, names: str) -> None:
    with pytest.raises(PolicyError, match=names):
        load_policy(province)


def test_load_policy_refuses_a_file_declaring_another_province(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Fujian's file that declares Jiangxi inside
    monkeypatch.setattr(
        policy_module, "_policy_text", lambda province: json.dumps({**BASE, "province": JIANGXI})
    )
    load_policy.cache_clear()
    try:
        # WHEN loaded as Fujian THEN refused, naming both codes
        with pytest.raises(PolicyError, match=r"policies/350000\.json declares province 360000"):
            load_policy(FUJIAN)
    finally:
        load_policy.cache_clear()


def test_a_document_that_is_not_json_is_refused() -> None:
    with pytest.raises(PolicyError, match="not valid JSON"):
        parse_policy("{province: 350000", source="broken.json")


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PolicyError, match="invalid policy"):
        parse_policy("[]")


# ----- numeric overrides round-trip -----------------------------------------------------------

positive = st.integers(min_value=1, max_value=10**6)


@st.composite
def numeric_overrides(draw: st.DrawFn) -> dict[str, Any]:
    """Any valid choice of the policy's numbers, each present or left to its default."""
    quarantine = draw(st.integers(min_value=7, max_value=60))
    lookback = draw(st.integers(min_value=1, max_value=28))  # the default retention covers it
    tracing = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "lookback_days": st.just(lookback),
                "close_contact_minutes": st.integers(min_value=1, max_value=1440),
                "quarantine_days": st.just(quarantine),
                "observation_days": st.integers(min_value=1, max_value=7),
                "default_dwell_minutes": st.integers(min_value=1, max_value=1440),
            },
        )
    )
    types = st.sampled_from(sorted(VENUE_TYPES))
    overrides = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "fever_threshold_c": st.floats(min_value=36.0, max_value=40.0, allow_nan=False),
                "fever_fact_hours": positive,
                "declaration_fact_days": positive,
                "risk_travel_window_days": positive,
                "dwell_minutes": st.dictionaries(types, st.integers(min_value=1, max_value=1440), max_size=5),
                "scan_shards": st.dictionaries(types, st.integers(min_value=1, max_value=64), max_size=5),
                "default_scan_shards": st.integers(min_value=1, max_value=64),
                "code_lifetime_seconds": st.integers(min_value=30, max_value=3600),
                "paper_code_lifetime_days": positive,
                "venue_code_lifetime_days": positive,
                "checkin_max_distance_m": positive,
                "retention_days": st.integers(min_value=max(lookback, 14), max_value=3650),
                "override_requests_per_hour_limit": positive,
                "scanner_fever_facts_per_hour_limit": positive,
            },
        )
    )
    if tracing:
        overrides["tracing"] = tracing
    return overrides


@SETTINGS
@given(numeric_overrides())
def test_valid_numeric_overrides_round_trip(overrides: dict[str, Any]) -> None:
    # GIVEN any valid numeric choices written as a policy file
    text = json.dumps({**BASE, **overrides})
    # WHEN parsed
    parsed = parse_policy(text)
    # THEN each value reads back exactly, and the rest keep their defaults
    for field, value in overrides.items():
        if field == "tracing":
            for key, number in value.items():
                assert getattr(parsed.tracing, key) == number
        else:
            assert getattr(parsed, field) == value
    untouched = {field.name for field in dataclasses.fields(Policy)} - set(overrides) - {"province", "name"}
    defaults = Policy(**BASE)
    assert all(getattr(parsed, field) == getattr(defaults, field) for field in untouched)
    # AND the policy written back out parses to the same policy
    assert parse_policy(json.dumps(parsed.to_document())) == parsed


NUMERIC_FIELDS = [
    "fever_fact_hours",
    "declaration_fact_days",
    "risk_travel_window_days",
    "default_scan_shards",
    "code_lifetime_seconds",
    "paper_code_lifetime_days",
    "venue_code_lifetime_days",
    "checkin_max_distance_m",
    "retention_days",
    "override_requests_per_hour_limit",
    "scanner_fever_facts_per_hour_limit",
]


@SETTINGS
@given(st.sampled_from(NUMERIC_FIELDS), st.integers(max_value=0))
def test_non_positive_numbers_are_refused_naming_the_field(field: str, value: int) -> None:
    message = refused({**BASE, field: value})
    assert re.search(rf"(^|[ ;]){field}: ", message.removeprefix("test.json: invalid policy: "))


# ----- JSON types are taken strictly -----------------------------------------------------------

ALL_BUT_FEVER_RED = {kind.value: 2 for kind in FactKind if kind is not FactKind.FEVER}


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"one_venue_per_phone": 1}, "one_venue_per_phone: Input should be a valid boolean"),
        ({"override_requires_second_official": "true"}, "override_requires_second_official: Input should"),
        ({"code_lifetime_seconds": 300.0}, "code_lifetime_seconds: Input should be a valid integer"),
        ({"code_lifetime_seconds": "300"}, "code_lifetime_seconds: Input should be a valid integer"),
        ({"retention_days": True}, "retention_days: Input should be a valid integer"),
        ({"tracing": {"lookback_days": True}}, "tracing.lookback_days: Input should be a valid integer"),
        ({"scan_shards": {"mall": 8.5}}, "scan_shards.mall: Input should be a valid integer"),
        ({"fever_threshold_c": True}, "fever_threshold_c: Input should be a valid number"),
        ({"fever_threshold_c": math.nan}, "fever_threshold_c: Input should be a finite number"),
        ({"fever_threshold_c": math.inf}, "fever_threshold_c: Input should be a finite number"),
        (
            {"fact_levels": {**ALL_BUT_FEVER_RED, "fever": 1.0}},
            "fact_levels.fever: Input should be 0, 1 or 2",
        ),
        (
            {"fact_levels": {**ALL_BUT_FEVER_RED, "fever": "1"}},
            "fact_levels.fever: Input should be 0, 1 or 2",
        ),
        (
            {"fact_levels": {**ALL_BUT_FEVER_RED, "fever": True}},
            "fact_levels.fever: Input should be 0, 1 or 2",
        ),
        ({"fact_levels": {**ALL_BUT_FEVER_RED, "fever": 1, "plague": 2}}, "fact_levels.plague.[key]: Input"),
        ({"palette": {"0": "green", "x": "red", "1": "yellow", "2": "red"}}, "palette.x.[key]: Input"),
        ({"palette": ["green", "yellow", "red"]}, "palette: Input should be a valid dictionary"),
        ({"palette": {"0": "green", "1": "a" * 21, "2": "red"}}, "palette.1: String should have at most 20"),
        ({"tracing": 14}, "tracing: Input should be a valid dictionary"),
        ({"negative_lab_clears": "fever"}, "negative_lab_clears: Input should be a valid list"),
        ({"negative_lab_clears": ["fever", "plague"]}, "negative_lab_clears.1: Input should be 'case'"),
        ({"mandatory_venue_types": ["park", 3]}, "mandatory_venue_types.1: Input should be a valid string"),
        ({"daily_report_due": "16:00\n"}, "daily_report_due: String should match pattern"),
        ({"province": "520000\n"}, "province: String should match pattern"),
        ({"name": None}, "name: Input should be a valid string"),
    ],
)
def test_json_types_are_taken_strictly(overrides: dict[str, Any], names: str) -> None:
    # GIVEN a value of the wrong JSON type (or a key or item that is not one of the choices)
    # WHEN parsed THEN it is refused at its path, never coerced
    assert names in refused({**BASE, **overrides})


def field_names(kind: type[Any], annotation: str) -> list[str]:
    """Fields of a policy dataclass declared with ``annotation`` (annotations are strings here)."""
    return [field.name for field in dataclasses.fields(kind) if field.type == annotation]


INTEGER_PATHS = field_names(Policy, "int") + [f"tracing.{name}" for name in field_names(Tracing, "int")]
BOOLEAN_FIELDS = field_names(Policy, "bool")


def document_setting(path: str, value: object) -> dict[str, Any]:
    head, _, tail = path.partition(".")
    return {**BASE, head: {tail: value}} if tail else {**BASE, head: value}


@SETTINGS
@given(st.sampled_from(INTEGER_PATHS), st.booleans() | st.floats() | st.text(max_size=5) | st.none())
def test_whole_number_fields_refuse_anything_but_json_integers(path: str, value: object) -> None:
    # GIVEN a boolean, any float (even 300.0), a string or null where a whole number belongs
    # WHEN parsed THEN refused, naming the field
    assert f"{path}: Input should be a valid integer" in refused(document_setting(path, value))


@SETTINGS
@given(st.sampled_from(BOOLEAN_FIELDS), st.integers() | st.floats() | st.text(max_size=5) | st.none())
def test_boolean_fields_refuse_anything_but_true_and_false(field: str, value: object) -> None:
    assert f"{field}: Input should be a valid boolean" in refused({**BASE, field: value})


def test_the_properties_above_cover_every_integer_and_boolean_field() -> None:
    # GIVEN the all-defaults policy WHEN its values' types are read
    defaults = Policy(**BASE)
    names = [field.name for field in dataclasses.fields(Policy)]
    tracing_names = [field.name for field in dataclasses.fields(Tracing)]
    # THEN the fields the two properties draw from are exactly those holding whole numbers / booleans
    assert BOOLEAN_FIELDS == [name for name in names if type(getattr(defaults, name)) is bool]
    assert INTEGER_PATHS == [name for name in names if type(getattr(defaults, name)) is int] + [
        f"tracing.{name}" for name in tracing_names if type(getattr(defaults.tracing, name)) is int
    ]
    assert BOOLEAN_FIELDS
    assert "retention_days" in INTEGER_PATHS


@SETTINGS
@given(st.integers(min_value=36, max_value=40))
def test_a_whole_number_is_a_valid_temperature(degrees: int) -> None:
    # GIVEN a threshold written without a fraction WHEN parsed THEN it reads back as that float
    threshold = parse_policy(json.dumps({**BASE, "fever_threshold_c": degrees})).fever_threshold_c
    assert type(threshold) is float
    assert threshold == degrees


def test_json_keys_and_lists_become_levels_kinds_and_frozensets() -> None:
    # GIVEN a document with string level keys, a level table, and lists (one with a repeat)
    document = {
        **BASE,
        "palette": {"0": "green", "1": "orange", "2": "orange"},
        "fact_levels": {kind.value: 2 for kind in FactKind},
        "negative_lab_clears": ["fever", "fever", "symptoms"],
        "mandatory_venue_types": ["park", "mall"],
    }
    # WHEN parsed
    parsed = parse_policy(json.dumps(document))
    # THEN the keys are RiskLevels / FactKinds, the levels RiskLevels and the lists frozensets
    assert list(parsed.palette) == list(RiskLevel)
    assert all(type(key) is RiskLevel for key in parsed.palette)
    assert all(
        type(key) is FactKind and type(level) is RiskLevel for key, level in parsed.fact_levels.items()
    )
    assert parsed.negative_lab_clears == frozenset({FactKind.FEVER, FactKind.SYMPTOMS})
    assert all(type(kind) is FactKind for kind in parsed.negative_lab_clears)
    assert parsed.mandatory_venue_types == frozenset({"park", "mall"})
    assert type(parsed.mandatory_venue_types) is frozenset


# ----- built in code: validated the same way, immutable ------------------------------------------


def test_a_policy_built_in_code_is_validated_like_a_file() -> None:
    # GIVEN the same bad choice made in code and in a file
    with pytest.raises(PolicyError) as caught:
        Policy(**BASE, retention_days=0, default_scan_shards=65)
    # THEN both are refused with the same problems (the file's message also names the file)
    assert str(caught.value) == (
        "invalid policy: default_scan_shards: Input should be less than or equal to 64; "
        "retention_days: Input should be greater than 0"
    )
    assert caught.value.problems == (
        "default_scan_shards: Input should be less than or equal to 64",
        "retention_days: Input should be greater than 0",
    )
    assert refused({**BASE, "retention_days": 0, "default_scan_shards": 65}) == f"test.json: {caught.value}"


def test_levels_in_code_may_be_given_as_numbers_or_levels() -> None:
    # GIVEN Fujian's palette with level keys as numbers WHEN built in code
    built = Policy(**BASE, palette={0: "green", 1: "orange", 2: "orange"})  # type: ignore[dict-item]
    # THEN it equals the one read from JSON's string keys
    assert built == parse_policy(
        json.dumps({**BASE, "palette": {"0": "green", "1": "orange", "2": "orange"}})
    )
    assert built.colour(RiskLevel.RED) == "orange"


def test_a_changed_copy_is_validated() -> None:
    guizhou = load_policy(GUIZHOU)
    # GIVEN a valid change WHEN copied THEN only that field differs
    stricter = dataclasses.replace(guizhou, override_requests_per_hour_limit=3)
    assert stricter.override_requests_per_hour_limit == 3
    assert dataclasses.replace(stricter, override_requests_per_hour_limit=20) == guizhou
    # GIVEN a change breaking an invariant WHEN copied THEN refused, naming the field
    with pytest.raises(PolicyError, match=r"negative_lab_clears: \['case'\]"):
        dataclasses.replace(guizhou, negative_lab_clears=frozenset({FactKind.CASE}))
    with pytest.raises(
        PolicyError, match=r"^invalid policy: tracing\.lookback_days: Input should be greater"
    ):
        Tracing(lookback_days=0)


def test_policies_are_immutable() -> None:
    guizhou = load_policy(GUIZHOU)
    with pytest.raises(dataclasses.FrozenInstanceError):
        guizhou.retention_days = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        guizhou.tracing.lookback_days = 1  # type: ignore[misc]


def test_a_policy_does_not_share_the_tables_it_was_built_from() -> None:
    # GIVEN a dwell table handed to a policy WHEN the caller changes it afterwards
    table = {"mall": 30}
    built = Policy(**BASE, dwell_minutes=table)
    table["mall"] = 1
    # THEN the policy keeps the value it validated, and the module's defaults are untouched
    assert built.dwell("mall") == 30
    assert Policy(**BASE).dwell_minutes is not Policy(**BASE).dwell_minutes


def test_every_broken_invariant_is_reported_at_once() -> None:
    message = refused(
        {
            **BASE,
            "palette": {"0": "blue", "1": "yellow", "2": "red"},
            "verdicts": {"0": "register", "1": "dissuade", "2": "isolate"},
            "retention_days": 10,
        }
    )
    assert "palette: level 0 must be named 'green'" in message
    assert "verdicts: level 0 (green) must pass" in message
    assert "retention_days cannot be shorter than tracing.lookback_days" in message


def test_invariants_wait_until_every_field_is_sound() -> None:
    # GIVEN a bad number and a broken invariant WHEN parsed THEN only the number is reported
    message = refused({**BASE, "retention_days": 0, "palette": {"0": "blue", "1": "yellow", "2": "red"}})
    assert message == "test.json: invalid policy: retention_days: Input should be greater than 0"


# ----- documents and cold start ------------------------------------------------------------------


@pytest.mark.parametrize("province", available_provinces())
def test_a_policy_written_as_a_document_reads_back_equal(province: str) -> None:
    loaded = load_policy(province)
    document = loaded.to_document()
    # THEN the document is plain JSON data, and reads back (as JSON text or as data) to the same policy
    assert json.loads(json.dumps(document)) == document
    assert parse_policy(json.dumps(document)) == loaded
    assert Policy.from_document(document) == loaded
    assert set(document) == {field.name for field in dataclasses.fields(Policy)}


def test_importing_and_loading_a_policy_does_not_import_pydantic() -> None:
    # GIVEN a fresh interpreter (as in a Lambda cold start) WHEN it loads a policy
    shared = Path(__file__).parents[2] / "shared"
    program = (
        "import sys, healthcode.rules.policy as p; p.load_policy('520000'); "
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in ('pydantic', 'pydantic_core')))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(shared)},
    )
    # THEN no pydantic module was imported
    assert answer.stdout.strip() == "[]"
