"""Reports for health officials: daily scans per unit (Henan's 16:00 report) and venue-code
coverage by type and region (Fujian's mandatory list). Both read counters only, never scans or
venues: the daily report the per venue-day counters, coverage the coverage counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.venues import VENUE_TYPE_LABELS, Coverage, Requirement, coverage, requirement
from healthcode.settings import policy
from healthcode.storage import stats
from healthcode.storage import venues as store
from healthcode.storage.stats import UnitStats

__all__ = [
    "CoverageReport",
    "DailyScans",
    "RegionCount",
    "TypeCount",
    "UnitStats",
    "daily_scans",
    "due_at",
    "venue_coverage",
]

logger = get_logger("reports")


@dataclass(frozen=True)
class DailyScans:
    """Every unit's scans on a day in a region, ordered by region code then venue id."""

    day: str
    region_code: str
    region_name: str
    due_at: datetime | None
    units: Sequence[UnitStats]

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


def daily_scans(region_code: str, day: str) -> DailyScans:
    """The daily scans report of a county, prefecture or province: ``REGION_SHARDS`` Queries."""
    units = tuple(stats.units(region_code, day))
    logger.info("daily scans report", extra={"region_code": region_code, "date": day, "units": len(units)})
    return DailyScans(
        day=day,
        region_code=region_code,
        region_name=regions.region_name(region_code),
        due_at=due_at(day),
        units=units,
    )


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


@dataclass(frozen=True)
class CoverageReport:
    """Venue codes in a region by type (every type, with the province's requirement for it) and
    by region one level down, against the province's mandatory types."""

    region_code: str
    region_name: str
    covered: Coverage
    by_type: Sequence[TypeCount]
    by_region: Sequence[RegionCount]


def _name(code: str) -> str | None:
    try:
        return regions.region_name(code)
    except KeyError:
        return None


def venue_coverage(region_code: str) -> CoverageReport:
    """The coverage report of a county, prefecture or province: one Query of its counters."""
    rules = policy()
    counts = store.coverage_counts(region_code)
    covered = coverage(region_code, counts.by_type, counts.by_region, rules)
    return CoverageReport(
        region_code=region_code,
        region_name=regions.region_name(region_code),
        covered=covered,
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
            RegionCount(region_code=code, region_name=_name(code), venues=n)
            for code, n in covered.by_region.items()
        ),
    )
