"""Every unit (venue) of a region with its scans on one day, zero-scan units included, paged: the
daily report's read.

The units come from VenuesTable's index ``by_region`` (hash the province, range
``<region_code>#<type>#<venue_id>``: a prefecture or county is a ``begins_with``), their counts
from the per venue-day counters (``storage.stats``) with one BatchGetItem per 100 units; a unit
with no counter item had no scans. Venues closed before the day began and venues registered
after it ended are not units of that day. A page's cursor is the last unit it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from healthcode.clock import CHINA
from healthcode.storage import cursors
from healthcode.storage.models import Stat, Venue
from healthcode.storage.stats import STATS_SK, UnitStats

__all__ = ["UnitPage", "every_unit", "page"]

_REGION = re.compile(r"[1-9][0-9]{5}")
_QUERY_PAGE: Final = 200
_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class UnitPage:
    units: tuple[UnitStats, ...]
    next_cursor: str | None


def _prefix(region_code: str) -> str | None:
    if region_code.endswith("0000"):
        return None
    if region_code.endswith("00"):
        return region_code[:4]
    return f"{region_code}#"


def _bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(day), time.min, tzinfo=CHINA)
    return start, start + timedelta(days=1)


def _open_on(venue: Venue, day: str) -> bool:
    start, end = _bounds(day)
    if venue.closed_at is not None and venue.closed_at < start:
        return False
    return venue.created_at is None or venue.created_at < end


def _encode(venue: Venue) -> str:
    return cursors.encode({"k": str(venue.region_type_venue)})


def _decode(cursor: str | None, province: str, prefix: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    key = cursors.decode(cursor, frozenset({"k"}))["k"]
    parts = key.split("#")
    if (
        len(parts) != 3
        or not _REGION.fullmatch(parts[0])
        or not parts[0].startswith(province[:2])
        or (prefix is not None and not key.startswith(prefix))
        or not parts[1]
        or not parts[2]
    ):
        raise cursors.refused()
    return {"venue_id": {"S": parts[2]}, "province": {"S": province}, "region_type_venue": {"S": key}}


def _venues(region_code: str, start: dict[str, Any] | None) -> Iterator[Venue]:
    prefix = _prefix(region_code)
    return iter(
        Venue.by_region.query(
            f"{region_code[:2]}0000",
            Venue.region_type_venue.startswith(prefix) if prefix else None,
            last_evaluated_key=start,
            page_size=_QUERY_PAGE,
        )
    )


def _counted(venues: Sequence[Venue], day: str) -> list[UnitStats]:
    """The units with their counts: one BatchGetItem of counters per 100 venues."""
    counts: dict[str, Stat] = {}
    for offset in range(0, len(venues), _BATCH):
        keys = [(f"{v.venue_id}#{day}", STATS_SK) for v in venues[offset : offset + _BATCH]]
        for item in Stat.batch_get(keys):
            counts[str(item.pk).rsplit("#", 1)[0]] = item
    units = []
    for venue in venues:
        found: Stat | None = counts.get(venue.venue_id)
        colours = found.by_colour.as_dict() if found is not None and found.by_colour is not None else {}
        units.append(
            UnitStats(
                venue_id=venue.venue_id,
                name=venue.name,
                region_code=str(venue.region_code),
                day=day,
                scans=int(found.scans or 0) if found is not None else 0,
                abnormal=int(found.abnormal or 0) if found is not None else 0,
                by_colour={str(k): int(v) for k, v in dict(colours).items()},
            )
        )
    return units


def page(region_code: str, day: str, *, limit: int, cursor: str | None) -> UnitPage:
    """At most ``limit`` units of a county, prefecture or province on ``day``, ordered by region
    code, type and venue id, with the cursor of the next page (None at the end)."""
    if not _REGION.fullmatch(region_code):
        raise ValueError("a region code")
    province = f"{region_code[:2]}0000"
    start = _decode(cursor, province, _prefix(region_code))
    found: list[Venue] = []
    more = False
    for venue in _venues(region_code, start):
        if not _open_on(venue, day):
            continue
        if len(found) == limit:
            more = True
            break
        found.append(venue)
    return UnitPage(tuple(_counted(found, day)), _encode(found[-1]) if more and found else None)


def every_unit(region_code: str, day: str, *, chunk: int = 500) -> Iterator[UnitStats]:
    """Every unit of the region on ``day`` (the scheduled report), page after page."""
    cursor: str | None = None
    while True:
        result = page(region_code, day, limit=chunk, cursor=cursor)
        yield from result.units
        if result.next_cursor is None:
            return
        cursor = result.next_cursor
