"""Geolocation: a venue's registered position and a scanning device's, and how far apart they are.

Every venue is registered with a location, and a check-in farther than the policy's
``checkin_max_distance_m`` from the venue is refused as ``location_mismatch``. Any
valid WGS 84 coordinate is accepted: venues are not confined to the mainland's bounding box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from healthcode.errors import InvalidInput

#: Mean Earth radius (IUGG, R1), metres.
EARTH_RADIUS_M: Final = 6_371_008.8

INVALID_LOCATION: Final = "invalid_location"


@dataclass(frozen=True, slots=True)
class Location:
    """A point in decimal degrees: ``lat`` in [-90, 90], ``lng`` in [-180, 180]."""

    lat: float
    lng: float

    def as_dict(self) -> dict[str, float]:
        """The API's ``{lat, lng}`` object."""
        return {"lat": self.lat, "lng": self.lng}


def check_location(raw: object, *, field: str = "location") -> Location:
    """The :class:`Location` in an API ``{lat, lng}`` object, or ``InvalidInput``.

    Both coordinates must be finite JSON numbers (``int``, ``float`` or ``Decimal`` as DynamoDB
    hands them back; never ``bool`` or a numeric string) within range. Other keys are ignored.
    """
    if not isinstance(raw, dict):
        raise _invalid("location must be an object with lat and lng", field)
    lat = _coordinate(raw, "lat", 90.0, field)
    lng = _coordinate(raw, "lng", 180.0, field)
    return Location(lat=lat, lng=lng)


def distance_m(a: Location, b: Location) -> float:
    """Great-circle distance between ``a`` and ``b`` in metres, on a sphere.

    The central angle comes from ``atan2`` (the spherical case of Vincenty's formula), which
    keeps its precision at every distance; haversine's ``asin`` loses it near antipodal points,
    where a detour could come out shorter than the direct path."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    dlng = math.radians(b.lng - a.lng)
    across = math.cos(lat_b) * math.sin(dlng)
    along = math.cos(lat_a) * math.sin(lat_b) - math.sin(lat_a) * math.cos(lat_b) * math.cos(dlng)
    level = math.sin(lat_a) * math.sin(lat_b) + math.cos(lat_a) * math.cos(lat_b) * math.cos(dlng)
    return EARTH_RADIUS_M * math.atan2(math.hypot(across, along), level)


def _coordinate(raw: dict[object, object], name: str, limit: float, field: str) -> float:
    if name not in raw:
        raise _invalid(f"location needs {name}", field)
    value = raw[name]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _invalid(f"location {name} must be a number", field)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise _invalid(f"location {name} must be between -{limit:g} and {limit:g}", field) from None
    except ValueError:  # Decimal("sNaN")
        raise _invalid(f"location {name} must be a finite number", field) from None
    if not math.isfinite(number):
        raise _invalid(f"location {name} must be a finite number", field)
    if not -limit <= number <= limit:
        raise _invalid(f"location {name} must be between -{limit:g} and {limit:g}", field)
    return number


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field, code=INVALID_LOCATION)
