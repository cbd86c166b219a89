"""Reports for health officials: daily scans per unit (Henan's 16:00 report) and venue-code
coverage by type and region (Fujian's mandatory list). Neither reads scans: the daily report
lists every unit (venue) of the area from the venues' region index with its per venue-day
counters (zero-scan units included), coverage reads the coverage counters.

At 16:00 China time a schedule (``DailyReportFunction``) writes the day's counts so far, one CSV
per prefecture, to the export bucket: ``reports/daily-scans/dt=<day>/region=<prefecture>.csv``
(:func:`export_daily`). The counts are those the counters hold when it runs: every scan the
stream consumer had counted by then (it lags the scans by seconds).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from healthcode import aws, clock
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.forms import check_page_size as page_size
from healthcode.rules.indicators import share
from healthcode.rules.venues import (
    VENUE_TYPE_LABELS,
    Coverage,
    Requirement,
    china_day,
    coverage,
    csv_document,
    requirement,
)
from healthcode.settings import policy, settings
from healthcode.storage import registers, unit_days
from healthcode.storage import venues as store
from healthcode.storage.stats import UnitStats

__all__ = [
    "DAILY_COLUMNS",
    "DEFAULT_PAGE",
    "EXPORT_BUCKET_ENV",
    "MAX_PAGE",
    "CoverageReport",
    "DailyScans",
    "RegionCount",
    "TypeCount",
    "UnitStats",
    "check_page_size",
    "daily_csv",
    "daily_scans",
    "due_at",
    "export_daily",
    "export_key",
    "venue_coverage",
]

logger = get_logger("reports")

DEFAULT_PAGE = 100
MAX_PAGE = 500
EXPORT_BUCKET_ENV = "EXPORT_BUCKET"
DAILY_COLUMNS = ("date", "region_code", "venue_id", "name", "scans", "abnormal")


@dataclass(frozen=True)
class DailyScans:
    """One page of every unit's scans on a day in a region, ordered by region code, type and
    venue id; ``next_cursor`` None on the last page."""

    day: str
    region_code: str
    region_name: str
    due_at: datetime | None
    units: Sequence[UnitStats]
    next_cursor: str | None = None

    @property
    def total_scans(self) -> int:
        return sum(unit.scans for unit in self.units)

    @property
    def total_abnormal(self) -> int:
        return sum(unit.abnormal for unit in self.units)


def due_at(day: str) -> datetime | None:
    """When units' counts for ``day`` are due (Henan: 16:00 that day), if the province sets it."""
    due = policy().report_due()
    if due is None:
        return None
    return datetime.combine(datetime.fromisoformat(day).date(), due, tzinfo=clock.CHINA)


def check_page_size(raw: str | None) -> int:
    """``?limit=``: 1 to 500, 100 when absent; else 422 ``invalid_limit``."""
    return page_size(raw, default=DEFAULT_PAGE, maximum=MAX_PAGE)


def daily_scans(
    region_code: str, day: str, *, limit: int = DEFAULT_PAGE, cursor: str | None = None
) -> DailyScans:
    """One page of the daily scans report of a county, prefecture or province: every unit of
    it, zero-scan units included (one Query of the venues' index, one BatchGetItem per 100)."""
    found = unit_days.page(region_code, day, limit=limit, cursor=cursor)
    logger.info(
        "daily scans report", extra={"region_code": region_code, "date": day, "units": len(found.units)}
    )
    return DailyScans(
        day=day,
        region_code=region_code,
        region_name=regions.region_name(region_code),
        due_at=due_at(day),
        units=found.units,
        next_cursor=found.next_cursor,
    )


def daily_csv(day: str, units: Iterable[UnitStats]) -> str:
    """The daily report as CSV (every text cell neutralised against formula injection)."""
    return csv_document(
        DAILY_COLUMNS, ((day, u.region_code, u.venue_id, u.name or "", u.scans, u.abnormal) for u in units)
    )


def export_key(day: str, prefecture: str) -> str:
    return f"reports/daily-scans/dt={day}/region={prefecture}.csv"


def _prefecture(unit: UnitStats) -> str:
    return f"{unit.region_code[:4]}00"


def _by_prefecture(units: Iterator[UnitStats]) -> Iterator[tuple[str, list[UnitStats]]]:
    """Units come ordered by region code, so each prefecture's are together."""
    for prefecture, members in groupby(units, key=_prefecture):
        yield prefecture, list(members)


def export_daily(at: datetime) -> list[str]:
    """Write the China day of ``at``'s counts so far, one CSV per prefecture with units, to the
    export bucket; returns the keys written."""
    bucket = os.environ.get(EXPORT_BUCKET_ENV)
    if not bucket:
        raise RuntimeError(f"{EXPORT_BUCKET_ENV} is not set: the daily report has nowhere to go")
    day = china_day(at)
    province = settings().province
    written = []
    s3 = aws.client("s3")
    for prefecture, units in _by_prefecture(unit_days.every_unit(province, day)):
        key = export_key(day, prefecture)
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=daily_csv(day, units).encode("utf-8"),
            ContentType="text/csv; charset=utf-8",
        )
        written.append(key)
    logger.info("daily scans exported", extra={"date": day, "files": len(written)})
    return written


@dataclass(frozen=True)
class TypeCount:
    venue_type: str
    label: str
    requirement: Requirement
    venues: int


@dataclass(frozen=True)
class RegionCount:
    region_code: str
    region_name: str | None
    venues: int
    #: Market-entity register: entities of the region, and those holding a venue code.
    entities: int = 0
    with_code: int = 0

    @property
    def rate(self) -> float | None:
        return share(self.with_code, self.entities)


@dataclass(frozen=True)
class CoverageReport:
    """Venue codes in a region by type (every type, with the province's requirement for it) and
    by region one level down, against the province's mandatory types."""

    region_code: str
    region_name: str
    covered: Coverage
    by_type: Sequence[TypeCount]
    by_region: Sequence[RegionCount]
    entities: int = 0
    with_code: int = 0

    @property
    def rate(self) -> float | None:
        """Register entities with a venue code ÷ register entities (None without entities)."""
        return share(self.with_code, self.entities)


def _name(code: str) -> str | None:
    try:
        return regions.region_name(code)
    except KeyError:
        return None


def venue_coverage(region_code: str) -> CoverageReport:
    """The coverage report of a county, prefecture or province: one Query of its counters and
    one of its market-entity counters."""
    rules = policy()
    counts = store.coverage_counts(region_code)
    covered = coverage(region_code, counts.by_type, counts.by_region, rules)
    entities = registers.entity_counts(region_code)
    children = sorted(set(covered.by_region) | set(entities.by_region))
    return CoverageReport(
        region_code=region_code,
        region_name=regions.region_name(region_code),
        covered=covered,
        entities=entities.entities,
        with_code=entities.with_code,
        by_type=tuple(
            TypeCount(
                venue_type=venue_type,
                label=VENUE_TYPE_LABELS[venue_type],
                requirement=requirement(rules, venue_type),
                venues=covered.by_type.get(venue_type, 0),
            )
            for venue_type in sorted(VENUE_TYPE_LABELS)
        ),
        by_region=tuple(
            RegionCount(
                region_code=code,
                region_name=_name(code),
                venues=covered.by_region.get(code, 0),
                entities=entities.by_region.get(code, (0, 0))[0],
                with_code=entities.by_region.get(code, (0, 0))[1],
            )
            for code in children
        ),
    )
