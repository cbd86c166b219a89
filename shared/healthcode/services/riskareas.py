"""Risk areas: officials set an area's level; each change recolours the people who travelled there.

Nobody alone moves a wide area or lowers one: a prefecture- or province-level change, and any
lowering, waits for a second official (``202 pending_approval``, ``services.approvals``, kind
``risk_area``); an official raising counties past their hourly limit waits too. How many people
a change recolours is known only when the sweep runs, so the area change itself is what counts.

A level on a prefecture (``xxyy00``) or province (``xx0000``) covers every trip to a code under
it, so a change sweeps the trips to every covered code (one Query per code, trips left less than
``risk_travel_window_days`` ago) and recomputes each traveller (cause ``risk_area``): raising a
level raises their colour, lowering it lowers the colours it caused. A change that reaches more
people than one invocation can recompute carries on through a *sweep* item, whose insert the
next invocation picks up. Recomputing is idempotent, so a redelivered change only repeats work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from healthcode import clock
from healthcode.protection.auth import Caller
from healthcode.rules import cases
from healthcode.rules.cases import Sweep
from healthcode.rules.colour import AreaRisk
from healthcode.rules.policy import Policy
from healthcode.services import account_limits, approvals, recolour
from healthcode.services.tracing import DEFAULT_MARGIN_SECONDS
from healthcode.settings import policy
from healthcode.storage import riskareas as area_store
from healthcode.storage.overrides import RequestView
from healthcode.storage.riskareas import RiskAreaView

__all__ = [
    "DEFAULT_MARGIN_SECONDS",
    "HELD_KIND",
    "TRIP_PAGE_SIZE",
    "AreaChange",
    "RiskAreaView",
    "Sweep",
    "SweepOutcome",
    "execute_held",
    "is_wide",
    "run_sweep",
    "set_level",
    "show",
    "sweep_of_record",
]

#: Trips per Query page (each one a recomputation).
TRIP_PAGE_SIZE = 100
_REGION = re.compile(r"[1-9]\d{5}")


#: Kind of a held risk-area change (``services.approvals``).
HELD_KIND = "risk_area"
_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class AreaChange:
    """A level set (``area``), or the request it waits in for a second official (``held``)."""

    area: RiskAreaView | None
    held: RequestView | None = None


def is_wide(region_code: str) -> bool:
    """Whether the code is a prefecture (``xxyy00``) or a province (``xx0000``): a level on it
    covers every code under it."""
    return region_code.endswith("00")


def set_level(region_code: str, level: AreaRisk, *, who: Caller, now: datetime) -> AreaChange:
    """Set an area's level, unless one official may not do it alone: lowering any area, and any
    change of a prefecture- or province-level area, always wait for a second official; raising a
    county counts against the official's hourly limit (``risk_area_changes_per_hour_limit``,
    atomic) and waits past it. The same level set again changes nothing and is answered as set.
    An official with an area sets levels inside it only (403 ``outside_area``)."""
    official = who.sub
    who.require_area(region_code)
    account_limits.official_write(official, now=now)
    current = area_store.get(region_code)
    before = current.level if current is not None else "low"
    if before == level and current is not None:
        return AreaChange(area=current)
    why = None
    if _RANK[level] < _RANK[before]:
        why = "lowering"
    elif is_wide(region_code):
        why = "wide_area"
    elif not approvals.within_limit(
        approvals.AREA_CHANGES, official, limit=policy().risk_area_changes_per_hour_limit, now=now
    ):
        why = "over_limit"
    if why is None:
        return AreaChange(area=area_store.put(region_code, level, actor=official, now=now))
    since = current.updated_at.isoformat() if current is not None else "never"
    held = approvals.hold(
        HELD_KIND,
        actor=official,
        action={"region_code": region_code, "level": level, "from": before},
        why=why,
        now=now,
        seed=f"{region_code}#{level}#{since}",
    )
    return AreaChange(area=None, held=held)


def execute_held(action: Mapping[str, Any], approval: approvals.Approval) -> dict[str, Any]:
    """Set a held level once a second official approved it (setting a level is idempotent)."""
    region_code = str(action["region_code"])
    level = str(action["level"])
    if not _REGION.fullmatch(region_code) or level not in _RANK:
        raise ValueError("a held risk-area change that is not one")  # pragma: no cover
    area = area_store.put(region_code, cast(AreaRisk, level), actor=approval.requested_by, now=approval.now)
    return {"region_code": area.region_code, "level": area.level, "updated_at": clock.show(area.updated_at)}


def show(region_code: str) -> tuple[str, datetime | None]:
    """The area's level as set and when (``low`` and None when never set)."""
    area = area_store.get(region_code)
    if area is None:
        return "low", None
    return area.level, area.updated_at


def sweep_of_record(
    event_name: str,
    region_code: str,
    old_image: Mapping[str, Any],
    new_image: Mapping[str, Any],
    *,
    policy: Policy,
    now: datetime,
) -> Sweep | None:
    """The sweep a RiskAreasTable stream record calls for: an inserted sweep item's own sweep, a
    new sweep when an area's level changed, or None (the same level set again, a sweep item
    updated or removed). ``ValueError`` for a record that is neither (a poison record)."""
    if area_store.is_sweep_key(region_code):
        return area_store.sweep_from_image(new_image) if event_name == "INSERT" else None
    if not _REGION.fullmatch(region_code):
        raise ValueError("a risk-area record whose key is neither a region code nor a sweep")
    if old_image.get("level") == new_image.get("level"):
        return None
    version = new_image.get("version", old_image.get("version", 0))
    change = f"v{int(version)}" if new_image else f"removed-v{int(version)}"
    return Sweep(area=region_code, change=change, cutoff=cases.travel_cutoff(now, policy))


@dataclass(frozen=True)
class SweepOutcome:
    persons: int = 0
    continued: bool = False


def _recompute(person_id: str) -> object:
    return recolour.recompute(person_id, now=clock.now(), cause="risk_area")


def run_sweep(
    sweep: Sweep,
    *,
    remaining_seconds: Callable[[], float],
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
    page_size: int | None = None,
    recompute: Callable[[str], object] = _recompute,
    now: datetime,
) -> SweepOutcome:
    """Recompute each person whose declared trip the area covers (one Query per covered code,
    trips left after the cutoff only, ``page_size`` trips a page, default :data:`TRIP_PAGE_SIZE`),
    handing over to a sweep item when time runs short. A person met twice in one run is
    recomputed once."""
    codes = cases.covered_trip_regions(sweep.area)
    size = TRIP_PAGE_SIZE if page_size is None else page_size
    index, after = sweep.code_index, sweep.after
    done: set[str] = set()
    while index < len(codes):
        if remaining_seconds() < margin_seconds:
            area_store.add_sweep(sweep.continuation(index, after), now=now)
            return SweepOutcome(persons=len(done), continued=True)
        travellers, after = area_store.travellers(
            codes[index], left_since=sweep.cutoff, after=after, limit=size
        )
        for person_id in travellers:
            if person_id not in done:
                recompute(person_id)
                done.add(person_id)
        if after is None:
            index += 1
    return SweepOutcome(persons=len(done))
