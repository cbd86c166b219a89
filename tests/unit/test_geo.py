"""Geolocation: validating API ``{lat, lng}`` objects and great-circle distances."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules.geo import EARTH_RADIUS_M, Location, check_location, distance_m
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=200, deadline=None)

BEIJING = Location(39.9042, 116.4074)  # Tiananmen
SHANGHAI = Location(31.2304, 121.4737)  # People's Square
GUANGZHOU = Location(23.1291, 113.2644)
LONDON = Location(51.5074, -0.1278)
PARIS = Location(48.8566, 2.3522)

latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
locations = st.builds(Location, latitudes, longitudes)


# ----- check_location ------------------------------------------------------------------------


def test_a_valid_object_becomes_a_location() -> None:
    # GIVEN a device position as the API sends it, with an extra key a mini-program adds
    raw = {"lat": 26.0745, "lng": 119.2965, "accuracy": 30}
    # WHEN checked THEN the location carries the coordinates and round-trips to the API shape
    location = check_location(raw)
    assert location == Location(lat=26.0745, lng=119.2965)
    assert location.as_dict() == {"lat": 26.0745, "lng": 119.2965}


def test_integers_decimals_and_the_exact_bounds_are_accepted() -> None:
    assert check_location({"lat": 90, "lng": -180}) == Location(90.0, -180.0)
    assert check_location({"lat": -90, "lng": 180}) == Location(-90.0, 180.0)
    assert check_location({"lat": Decimal("28.68"), "lng": Decimal("115.89")}) == Location(28.68, 115.89)


def test_locations_outside_mainland_china_are_accepted() -> None:
    # GIVEN a venue abroad (no bounding box is enforced) WHEN checked THEN accepted
    assert check_location({"lat": -33.8688, "lng": 151.2093}) == Location(-33.8688, 151.2093)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "object"),
        ([26.07, 119.29], "object"),
        ("26.07,119.29", "object"),
        ({}, "needs lat"),
        ({"lat": 26.07}, "needs lng"),
        ({"latitude": 26.07, "longitude": 119.29}, "needs lat"),
        ({"lat": "26.07", "lng": 119.29}, "lat must be a number"),
        ({"lat": 26.07, "lng": None}, "lng must be a number"),
        ({"lat": True, "lng": 119.29}, "lat must be a number"),
        ({"lat": 26.07, "lng": False}, "lng must be a number"),
        ({"lat": math.nan, "lng": 119.29}, "finite"),
        ({"lat": 26.07, "lng": math.inf}, "finite"),
        ({"lat": Decimal("NaN"), "lng": 119.29}, "finite"),
        ({"lat": Decimal("sNaN"), "lng": 119.29}, "finite"),
        ({"lat": 90.000001, "lng": 119.29}, "between -90 and 90"),
        ({"lat": -91, "lng": 119.29}, "between -90 and 90"),
        ({"lat": 26.07, "lng": 180.5}, "between -180 and 180"),
        ({"lat": 26.07, "lng": -361}, "between -180 and 180"),
        ({"lat": 10**400, "lng": 119.29}, "between -90 and 90"),
    ],
)
def test_invalid_locations_are_rejected_with_reason(raw: object, reason: str) -> None:
    # GIVEN a malformed location WHEN checked THEN invalid_location on the given field says why
    with pytest.raises(InvalidInput) as caught:
        check_location(raw, field="venue_location")
    assert caught.value.code == "invalid_location"
    assert caught.value.field == "venue_location"
    assert reason in caught.value.message


@SETTINGS
@given(latitudes, longitudes)
def test_any_in_range_coordinates_are_accepted_unchanged(lat: float, lng: float) -> None:
    assert check_location({"lat": lat, "lng": lng}) == Location(lat, lng)


@SETTINGS
@given(
    st.one_of(
        st.floats(min_value=90, exclude_min=True),
        st.floats(max_value=-90, exclude_max=True),
        st.just(math.nan),
    ),
    longitudes,
)
def test_any_out_of_range_latitude_is_rejected(lat: float, lng: float) -> None:
    with pytest.raises(InvalidInput):
        check_location({"lat": lat, "lng": lng})


# ----- distance_m ----------------------------------------------------------------------------


def test_known_city_pairs() -> None:
    # GIVEN well-known city centres WHEN measured THEN the published great-circle distances
    assert distance_m(BEIJING, SHANGHAI) == pytest.approx(1_067_000, abs=3_000)
    assert distance_m(BEIJING, GUANGZHOU) == pytest.approx(1_888_000, abs=5_000)
    assert distance_m(LONDON, PARIS) == pytest.approx(343_500, abs=1_500)


def test_exact_spherical_distances() -> None:
    # One degree along a meridian, a quarter meridian, and antipodes on the mean-radius sphere
    assert distance_m(Location(0, 0), Location(1, 0)) == pytest.approx(EARTH_RADIUS_M * math.pi / 180)
    assert distance_m(Location(0, 120), Location(90, 0)) == pytest.approx(EARTH_RADIUS_M * math.pi / 2)
    assert distance_m(Location(10, 20), Location(-10, -160)) == pytest.approx(EARTH_RADIUS_M * math.pi)
    # and the same meridian seen from either side of the antimeridian
    assert distance_m(Location(0, 179.5), Location(0, -179.5)) == pytest.approx(
        EARTH_RADIUS_M * math.pi / 180
    )


def test_a_venue_poster_two_kilometres_away_is_measured_as_such() -> None:
    # GIVEN a venue and a device 0.018 degrees of latitude north of it (about 2 km)
    venue = Location(26.0745, 119.2965)
    device = Location(26.0745 + 0.018, 119.2965)
    # THEN the distance is about 2001.5 m, enough to tell a forwarded poster photo apart
    assert distance_m(venue, device) == pytest.approx(2001.5, abs=1)


@SETTINGS
@given(locations, locations)
def test_distance_is_symmetric_non_negative_and_bounded(a: Location, b: Location) -> None:
    d = distance_m(a, b)
    assert 0 <= d <= math.pi * EARTH_RADIUS_M + 1e-6
    assert d == pytest.approx(distance_m(b, a), abs=1e-6)


@SETTINGS
@given(locations)
def test_distance_to_itself_is_zero(a: Location) -> None:
    assert distance_m(a, a) == pytest.approx(0, abs=1e-6)


@SETTINGS
@given(locations, locations, locations)
def test_triangle_inequality(a: Location, b: Location, c: Location) -> None:
    assert distance_m(a, c) <= distance_m(a, b) + distance_m(b, c) + 1e-3


def test_location_is_immutable() -> None:
    with pytest.raises(AttributeError):
        BEIJING.lat = 0.0  # type: ignore[misc]
