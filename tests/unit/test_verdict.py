"""The checkpoint rule (healthcode.rules.verdict): each verdict per province palette, the fever rule,
abnormal marking, and temperature validation."""

from __future__ import annotations

import math

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules.policy import Policy, RiskLevel, load_policy
from healthcode.rules.verdict import MAX_TEMPERATURE_C, MIN_TEMPERATURE_C, check_temperature, is_fever, judge
from hypothesis import given, settings
from hypothesis import strategies as st

GUIZHOU = load_policy("520000")
FUJIAN = load_policy("350000")
SHANXI = load_policy("140000")
ALL_POLICIES = [load_policy(code) for code in ("140000", "350000", "360000", "410000", "520000")]

NORMAL = 36.5
FEVER = 38.2


@pytest.mark.parametrize(
    ("policy", "level", "colour", "expected"),
    [
        # Guizhou / Shanxi: green passes, yellow is dissuaded, red is isolated
        (GUIZHOU, RiskLevel.GREEN, "green", "pass"),
        (GUIZHOU, RiskLevel.YELLOW, "yellow", "dissuade"),
        (GUIZHOU, RiskLevel.RED, "red", "isolate"),
        (SHANXI, RiskLevel.GREEN, "green", "pass"),
        (SHANXI, RiskLevel.YELLOW, "yellow", "dissuade"),
        (SHANXI, RiskLevel.RED, "red", "isolate"),
        # Fujian: green passes; orange (either level) has the staff register the person
        (FUJIAN, RiskLevel.GREEN, "green", "pass"),
        (FUJIAN, RiskLevel.YELLOW, "orange", "register"),
        (FUJIAN, RiskLevel.RED, "orange", "register"),
    ],
)
def test_each_level_gets_its_palette_colour_and_policy_verdict(
    policy: Policy, level: RiskLevel, colour: str, expected: str
) -> None:
    # GIVEN a person at ``level`` with a normal temperature WHEN judged THEN the policy decides
    judged = judge(level, NORMAL, policy)
    assert (judged.colour, judged.verdict) == (colour, expected)
    assert judged.abnormal is (level != RiskLevel.GREEN)
    assert judged.fever is False


@pytest.mark.parametrize(
    ("policy", "expected"), [(GUIZHOU, "dissuade"), (SHANXI, "dissuade"), (FUJIAN, "register")]
)
def test_a_green_person_with_a_fever_does_not_pass(policy: Policy, expected: str) -> None:
    # GIVEN a green person at 38.2 °C WHEN judged THEN the fever verdict applies, abnormal
    judged = judge(RiskLevel.GREEN, FEVER, policy)
    assert judged.verdict == expected
    assert judged.fever and judged.abnormal
    assert judged.colour == "green"


def test_the_threshold_itself_is_a_fever_and_just_below_is_not() -> None:
    # GIVEN the default threshold 37.3 °C THEN 37.3 is a fever, 37.2 is not
    assert judge(RiskLevel.GREEN, 37.3, GUIZHOU).verdict == "dissuade"
    assert judge(RiskLevel.GREEN, 37.2, GUIZHOU).verdict == "pass"
    assert is_fever(37.3, GUIZHOU) and not is_fever(37.2999, GUIZHOU)


def test_a_stricter_level_verdict_stands_with_a_fever() -> None:
    # GIVEN a red person with a fever in a province whose fever verdict is milder THEN isolate
    assert judge(RiskLevel.RED, FEVER, GUIZHOU).verdict == "isolate"


def test_a_province_threshold_and_fever_verdict_are_read_from_the_policy() -> None:
    # GIVEN a policy with a 37.0 °C threshold and "isolate" for fever
    strict = Policy(province="520000", name="t", fever_threshold_c=37.0, fever_verdict="isolate")
    # THEN 37.1 °C isolates a green person, and the default policy would have passed them
    assert judge(RiskLevel.GREEN, 37.1, strict).verdict == "isolate"
    assert judge(RiskLevel.GREEN, 37.1, GUIZHOU).verdict == "pass"


def test_no_reading_judges_by_colour_alone() -> None:
    assert judge(RiskLevel.GREEN, None, GUIZHOU).verdict == "pass"
    assert not judge(RiskLevel.GREEN, None, GUIZHOU).abnormal
    assert judge(RiskLevel.YELLOW, None, GUIZHOU).verdict == "dissuade"


levels = st.sampled_from(list(RiskLevel))
readings = st.one_of(st.none(), st.floats(min_value=MIN_TEMPERATURE_C, max_value=MAX_TEMPERATURE_C))
policies = st.sampled_from(ALL_POLICIES)


@settings(max_examples=200)
@given(level=levels, temperature=readings, policy=policies)
def test_properties_of_every_verdict(level: RiskLevel, temperature: float | None, policy: Policy) -> None:
    judged = judge(level, temperature, policy)
    fever = temperature is not None and temperature >= policy.fever_threshold_c
    # a fever never passes; only green without a fever passes
    assert (judged.verdict == "pass") == (level == RiskLevel.GREEN and not fever)
    # abnormal means non-green or fever, exactly
    assert judged.abnormal == (level != RiskLevel.GREEN or fever)
    assert judged.fever == fever
    # the verdict is the level's own unless a fever replaced a pass
    expected = policy.verdicts[level] if not (fever and level == RiskLevel.GREEN) else policy.fever_verdict
    assert judged.verdict == expected
    assert judged.colour == policy.palette[level]


@settings(max_examples=200)
@given(level=levels, low=readings, high=readings, policy=policies)
def test_a_higher_reading_never_turns_a_refusal_into_a_pass(
    level: RiskLevel, low: float | None, high: float | None, policy: Policy
) -> None:
    if low is None or high is None or low > high:
        return
    if judge(level, low, policy).verdict != "pass":
        assert judge(level, high, policy).verdict != "pass"


@settings(max_examples=200)
@given(st.floats(min_value=MIN_TEMPERATURE_C, max_value=MAX_TEMPERATURE_C))
def test_plausible_readings_are_accepted(value: float) -> None:
    assert check_temperature(value) == value


@pytest.mark.parametrize("value", [36, 34, 43])
def test_whole_degrees_are_accepted(value: int) -> None:
    assert check_temperature(value) == float(value)


@pytest.mark.parametrize(
    "value",
    ["36.5", True, False, None, [36.5], {"c": 36.5}, 33.9, 43.1, -1, 0, 100, 10**400, math.nan, math.inf],
)
def test_implausible_or_mistyped_readings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_temperature(value, field="temperature")
    assert refused.value.code == "invalid_temperature"
    assert refused.value.field == "temperature"


@settings(max_examples=200)
@given(st.one_of(st.floats(allow_nan=True), st.integers()))
def test_out_of_range_numbers_are_refused(value: float) -> None:
    inside = isinstance(value, float | int) and math.isfinite(value) and 34 <= value <= 43
    if inside:
        assert check_temperature(value) == float(value)
    else:
        with pytest.raises(InvalidInput):
            check_temperature(value)
