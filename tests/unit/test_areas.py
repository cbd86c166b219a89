"""A caller's area (``protection.auth``): the GB/T 2260 prefix of a province, prefecture or
county, what an area covers, and the ``region`` claim read strictly."""

from __future__ import annotations

import pytest
from healthcode.errors import Forbidden, Unauthorized
from healthcode.protection.auth import Caller, area_prefix, caller_from_claims
from hypothesis import given
from hypothesis import strategies as st

PROVINCES = st.integers(11, 82).map(lambda n: f"{n:02d}")
TWO = st.integers(1, 99).map(lambda n: f"{n:02d}")


@st.composite
def counties(draw: st.DrawFn) -> str:
    return f"{draw(PROVINCES)}{draw(TWO)}{draw(TWO)}"


def province_of(code: str) -> str:
    return code[:2] + "0000"


def prefecture_of(code: str) -> str:
    return code[:4] + "00"


def official(area: str | None) -> Caller:
    return Caller(sub="official-1", roles=frozenset({"official"}), area=area)


@pytest.mark.parametrize(
    ("code", "prefix"), [("520000", "52"), ("520100", "5201"), ("520102", "520102"), ("110101", "110101")]
)
def test_prefix_of_each_level(code: str, prefix: str) -> None:
    assert area_prefix(code) == prefix


@given(counties())
def test_a_county_lies_inside_its_prefecture_and_province_and_itself(county: str) -> None:
    # GIVEN a county code THEN the callers of its county, prefecture and province cover it
    for area in (county, prefecture_of(county), province_of(county), None):
        assert official(area).covers(county)
        assert official(area).require_area(county).area == area


@given(counties(), counties())
def test_a_county_area_covers_no_other_county(mine: str, other: str) -> None:
    # GIVEN two county codes THEN a county official covers the other only when it is the same
    assert official(mine).covers(other) == (mine == other)


@given(counties(), counties())
def test_a_prefecture_covers_exactly_its_own_counties(county: str, other: str) -> None:
    area = prefecture_of(county)
    assert official(area).covers(other) == (other[:4] == county[:4])
    assert official(area).covers(area)
    assert official(area).covers(province_of(county)) == (area == province_of(county))


@given(counties())
def test_a_wider_region_is_outside_a_narrower_area(county: str) -> None:
    # GIVEN a county official THEN its prefecture and province (wider than the area) lie outside
    if county[4:] != "00":
        assert not official(county).covers(prefecture_of(county))
    assert not official(county).covers(province_of(county))


@given(st.one_of(st.none(), counties()))
def test_no_region_lies_nowhere_for_an_area_and_anywhere_without_one(area: str | None) -> None:
    # GIVEN a person or venue without a known region THEN only a caller without an area covers it
    assert official(area).covers(None) == (area is None)
    assert official(area).covers("") == (area is None)


def test_outside_is_403_outside_area() -> None:
    with pytest.raises(Forbidden) as refused:
        official("520100").require_area("520302")
    assert (refused.value.code, refused.value.status) == ("outside_area", 403)


@pytest.mark.parametrize("claim", ["region", "custom:region"])
def test_the_region_claim_sets_the_area(claim: str) -> None:
    caller = caller_from_claims({"sub": "official-1", "roles": "official", claim: "520100"})
    assert caller.area == "520100"
    assert caller_from_claims({"sub": "official-1", "roles": "official"}).area is None


@given(
    st.one_of(
        st.text(max_size=8).filter(lambda t: not (len(t) == 6 and t.isascii() and t.isdigit())),
        st.integers(),
        st.lists(st.just("520100"), min_size=1, max_size=2),
    )
)
def test_a_malformed_region_claim_is_refused(value: object) -> None:
    # GIVEN a region claim that is not six ASCII digits THEN the token is refused (401): a broken
    # area never widens into the whole province
    with pytest.raises(Unauthorized):
        caller_from_claims({"sub": "official-1", "roles": "official", "region": value})
