"""The indicators' arithmetic (``healthcode.rules.indicators``): exact nearest-rank percentiles
of a histogram against the textbook definition on the sorted samples, shares, complete records,
whole seconds, the distribution's buckets; and the register rows (``healthcode.rules.registers``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules import indicators, registers
from healthcode.rules.credentials import USCC_CODE_SET, org_code_check_character, uscc_check_character
from hypothesis import given
from hypothesis import strategies as st

samples = st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=300)
percents = st.integers(min_value=1, max_value=100)


def reference(values: list[int], percent: int) -> int:
    """Nearest rank as defined: the value at ordinal rank ceil(P/100 * N) of the sorted list, in
    exact arithmetic (in floats 56/100 * 25 is 14.000000000000002, whose ceiling is 15)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(percent, 100) * len(ordered)))
    return ordered[rank - 1]


def histogram(values: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for value in values:
        found[value] = found.get(value, 0) + 1
    return found


BOUNDS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, None)


def bucket_of(value: int) -> int | None:
    """The bound of the first bucket whose bound is at least ``value``; None past a day."""
    return next((bound for bound in BOUNDS if bound is None or value <= bound), None)


def reference_distribution(values: list[int]) -> tuple[tuple[int | None, int], ...]:
    """Each sample counted in its bucket, one by one."""
    return tuple((bound, sum(1 for v in values if bucket_of(v) == bound)) for bound in BOUNDS)


@given(samples, percents)
def test_nearest_rank_of_a_histogram_is_that_of_its_samples(values: list[int], percent: int) -> None:
    assert indicators.nearest_rank(histogram(values), percent) == reference(values, percent)


@given(samples)
def test_timeliness_gives_count_p50_p95_max_and_distribution(values: list[int]) -> None:
    figures = indicators.timeliness(histogram(values))
    assert figures == indicators.Timeliness(
        count=len(values),
        p50_seconds=reference(values, 50),
        p95_seconds=reference(values, 95),
        max_seconds=max(values),
        distribution=reference_distribution(values),
    )


def test_a_rank_that_floats_would_round_up_is_exact() -> None:
    # GIVEN 14 changes of 0 s and 11 of 1 s THEN the 56th percentile is rank 14 (0 s), not 15
    assert indicators.nearest_rank({0: 14, 1: 11}, 56) == 0 == reference([0] * 14 + [1] * 11, 56)


@given(st.lists(samples, min_size=1, max_size=5), percents)
def test_merged_histograms_rank_like_the_pooled_samples(parts: list[list[int]], percent: int) -> None:
    pooled = [v for part in parts for v in part]
    merged = indicators.merged(histogram(part) for part in parts)
    assert indicators.nearest_rank(merged, percent) == reference(pooled, percent)


#: whole seconds, the buckets' bounds and their neighbours among them
seconds = st.one_of(
    st.integers(min_value=0, max_value=200_000),
    st.sampled_from([b + step for b in BOUNDS if b is not None for step in (-1, 0, 1)]),
)
weighted = st.dictionaries(seconds, st.integers(min_value=0, max_value=1_000), max_size=60)


@given(weighted)
def test_the_distribution_counts_every_change_once(found: dict[int, int]) -> None:
    buckets = indicators.distribution(found)
    assert [bound for bound, _ in buckets] == [*indicators.DISTRIBUTION_BUCKETS, None] == list(BOUNDS)
    assert sum(count for _, count in buckets) == sum(found.values())
    assert buckets == reference_distribution([v for v, n in found.items() for _ in range(n)])


@given(seconds, st.integers(min_value=1, max_value=1_000))
def test_a_value_lands_in_the_first_bucket_whose_bound_holds_it(value: int, count: int) -> None:
    buckets = dict(indicators.distribution({value: count}))
    (bound,) = [b for b, n in buckets.items() if n]
    assert buckets[bound] == count
    assert bound is None or value <= bound
    assert all(other is not None and value > other for other in BOUNDS[: BOUNDS.index(bound)])
    assert (bound is None) == (value > 86400)


@given(st.dictionaries(st.integers(min_value=0, max_value=200_000), st.just(0), max_size=10))
def test_no_changes_give_every_bucket_zero(found: dict[int, int]) -> None:
    assert indicators.distribution(found) == tuple((bound, 0) for bound in BOUNDS)
    assert indicators.timeliness(found).distribution == tuple((bound, 0) for bound in BOUNDS)


def test_known_buckets() -> None:
    values = {0: 1, 10: 2, 11: 3, 60: 4, 61: 5, 86400: 6, 86401: 7, 10**7: 8}
    assert dict(indicators.distribution(values)) == {
        10: 3,
        30: 3,
        60: 4,
        300: 5,
        900: 0,
        1800: 0,
        3600: 0,
        7200: 0,
        21600: 0,
        43200: 0,
        86400: 6,
        None: 15,
    }


def test_known_nearest_ranks() -> None:
    # the textbook example: 15, 20, 35, 40, 50
    sample = {15: 1, 20: 1, 35: 1, 40: 1, 50: 1}
    assert [indicators.nearest_rank(sample, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    assert indicators.nearest_rank({}, 50) is None
    assert indicators.nearest_rank({3: 0}, 50) is None
    assert indicators.timeliness({}) == indicators.Timeliness(0, None, None, None, reference_distribution([]))
    for bad in (0, 101, -5):
        with pytest.raises(ValueError):
            indicators.nearest_rank(sample, bad)


def test_shares_need_a_denominator() -> None:
    assert indicators.share(1, 4) == 0.25
    assert indicators.share(0, 0) is None
    assert indicators.share(3, -1) is None


def test_seconds_are_whole_and_never_negative() -> None:
    learned = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert indicators.seconds_between(learned, learned + timedelta(seconds=59, milliseconds=999)) == 59
    # whole seconds as shown: 10.8 s → 48.1 s counts 38, like the shown times 10 and 48
    late = learned + timedelta(seconds=10, milliseconds=800)
    assert indicators.seconds_between(late, learned + timedelta(seconds=48, milliseconds=100)) == 38
    assert indicators.seconds_between(learned, learned + timedelta(hours=2)) == 7200
    assert indicators.seconds_between(learned, learned - timedelta(seconds=3)) == 0


@pytest.mark.parametrize(
    ("kind", "fields", "complete"),
    [
        (
            "checkin",
            {"name_masked": "张*", "id_masked": "5201**", "colour": "green", "temperature": None},
            True,
        ),
        (
            "verification",
            {"name_masked": "张*", "id_masked": "5201**", "colour": "green", "temperature": 36.5},
            True,
        ),
        (
            "verification",
            {"name_masked": "张*", "id_masked": "5201**", "colour": "green", "temperature": None},
            False,
        ),
        ("manual", {"name_masked": "张*", "id_masked": None, "colour": "green", "temperature": 36.5}, False),
        (
            "checkin",
            {"name_masked": None, "id_masked": "5201**", "colour": "green", "temperature": None},
            False,
        ),
        ("checkin", {"name_masked": "张*", "id_masked": "5201**", "colour": "", "temperature": None}, False),
    ],
)
def test_a_complete_record_has_every_field_of_its_kind(
    kind: str, fields: dict[str, object], complete: bool
) -> None:
    assert indicators.record_complete(kind, **fields) is complete  # type: ignore[arg-type]


# -- register rows ----------------------------------------------------------------------------------


def uscc(serial: int, region: str = "520102") -> str:
    body = f"{serial:08d}"
    first17 = f"91{region}{body}{org_code_check_character(body)}"
    return first17 + uscc_check_character(first17)


def good(**changes: object) -> dict[str, object]:
    return {
        "credit_code": uscc(1),
        "name": "某某公司",
        "region_code": "520102",
        "type": "enterprise",
        **changes,
    }


def test_a_good_row_is_normalised() -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in uscc(7)).lower()
    row = registers.check_row(good(credit_code=wide, name="  某某　 公司 "), province="520000")
    assert row == registers.Row(
        credit_code=uscc(7), name="某某 公司", region_code="520102", type="enterprise"
    )


@given(st.text(alphabet=USCC_CODE_SET, min_size=18, max_size=18))
def test_a_credit_code_is_taken_only_with_both_check_characters(code: str) -> None:
    try:
        row = registers.check_row(good(credit_code=code), province="520000")
    except InvalidInput as refused:
        assert (refused.code, refused.field) == ("invalid_credit_code", "credit_code")
        return
    assert row.credit_code == code
    assert code[17] == uscc_check_character(code[:17])
    assert code[16] == org_code_check_character(code[8:16])


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"credit_code": None}, "missing_field", "credit_code"),
        ({"credit_code": 12}, "invalid_type", "credit_code"),
        ({"name": "x" * 201}, "invalid_entity_name", "name"),
        ({"region_code": "520000x"}, "invalid_region_code", "region_code"),
        ({"region_code": "110101"}, "region_outside_province", "region_code"),
        ({"type": "Enterprise"}, "invalid_entity_type", "type"),
        ({"extra": 1}, "unknown_field", "extra"),
    ],
)
def test_each_mistake_has_its_code_and_field(changes: dict[str, object], code: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        registers.check_row(good(**changes), province="520000")
    assert (refused.value.code, refused.value.field) == (code, field)


def test_csv_rows_need_the_header_and_mark_short_lines() -> None:
    rows = list(registers.csv_rows(b"type,name,credit_code,region_code\nenterprise,a,b,520102\nx,y\n\n"))
    assert rows == [{"type": "enterprise", "name": "a", "credit_code": "b", "region_code": "520102"}, None]
    for bad in (b"", b"name,type\n", b"\xff\xfe", b'credit_code,name,region_code,type\n"open'):
        with pytest.raises(InvalidInput) as refused:
            list(registers.csv_rows(bad))
        assert refused.value.code == "invalid_csv"
