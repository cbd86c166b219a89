"""Province policy: every rule a province may set, as validated data with defaults.

One JSON file per province in ``healthcode/policies/<GB/T 2260 code>.json``. A file names only
the fields that differ from the defaults below (API.md's bracketed values and the Guizhou/Shanxi
colour rules); a field it names replaces the default whole (a ``palette`` lists every level, a
``dwell_minutes`` table every type the province wants to keep). ``load_policy`` validates the
file and fails fast with a message that names the offending field, so a bad policy stops a stack
at start, never mid-request. Every field, its default and each province's choice, with the
source sentence behind it: ``docs/policies.md``.
"""

from __future__ import annotations

import json
import re
from datetime import time
from enum import IntEnum, StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from healthcode import regions


class RiskLevel(IntEnum):
    """Canonical level: 0 green, 1 yellow, 2 red (API.md)."""

    GREEN = 0
    YELLOW = 1
    RED = 2


class FactKind(StrEnum):
    """Kinds of fact the colour engine weighs. Each policy maps every kind to a level."""

    CASE = "case"  # confirmed / asymptomatic / suspected
    CLOSE_CONTACT = "close_contact"
    SECONDARY_CONTACT = "secondary_contact"
    HIGH_RISK_TRAVEL = "high_risk_travel"
    MEDIUM_RISK_TRAVEL = "medium_risk_travel"
    FEVER = "fever"
    SYMPTOMS = "symptoms"
    DECLARED_CONTACT = "declared_contact"  # "contact with a case" ticked on the declaration


#: API.md's venue types with their default dwell minutes.
DEFAULT_DWELL_MINUTES: dict[str, int] = {
    "residential": 720,
    "village": 720,
    "school": 480,
    "kindergarten": 480,
    "enterprise": 480,
    "office": 480,
    "factory": 480,
    "construction_site": 480,
    "government_service": 60,
    "farmers_market": 60,
    "mall": 120,
    "supermarket": 45,
    "restaurant": 90,
    "hotel": 720,
    "hospital": 120,
    "clinic": 60,
    "pharmacy": 15,
    "elderly_care": 720,
    "park": 120,
    "scenic_spot": 180,
    "sports": 120,
    "library_museum": 120,
    "cinema_entertainment": 150,
    "internet_cafe": 180,
    "transit_hub": 30,
    "vehicle": 30,
    "public_toilet": 10,
    "express_point": 10,
    "other": 60,
}
VENUE_TYPES: frozenset[str] = frozenset(DEFAULT_DWELL_MINUTES)

DEFAULT_FACT_LEVELS: dict[FactKind, RiskLevel] = {
    FactKind.CASE: RiskLevel.RED,
    FactKind.CLOSE_CONTACT: RiskLevel.RED,
    FactKind.HIGH_RISK_TRAVEL: RiskLevel.RED,
    FactKind.SECONDARY_CONTACT: RiskLevel.YELLOW,
    FactKind.MEDIUM_RISK_TRAVEL: RiskLevel.YELLOW,
    FactKind.FEVER: RiskLevel.YELLOW,
    FactKind.SYMPTOMS: RiskLevel.YELLOW,
    FactKind.DECLARED_CONTACT: RiskLevel.YELLOW,
}

Verdict = Literal["pass", "dissuade", "isolate", "register"]

DEFAULT_PALETTE: dict[RiskLevel, str] = {
    RiskLevel.GREEN: "green",
    RiskLevel.YELLOW: "yellow",
    RiskLevel.RED: "red",
}
DEFAULT_VERDICTS: dict[RiskLevel, Verdict] = {
    RiskLevel.GREEN: "pass",
    RiskLevel.YELLOW: "dissuade",
    RiskLevel.RED: "isolate",
}
DEFAULT_SCAN_SHARDS: dict[str, int] = {"transit_hub": 32, "mall": 8, "hospital": 8, "vehicle": 4}
#: Most write shards one venue's scan partition may be spread over.
MAX_SCAN_SHARDS = 64

#: Facts a negative lab result may never clear: a case ends by review, a close contact by quarantine.
_ENDED_ONLY_BY_REVIEW = frozenset({FactKind.CASE, FactKind.CLOSE_CONTACT})

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
ShardCount = Annotated[int, Field(ge=1, le=MAX_SCAN_SHARDS)]
#: A colour's name as the API shows it: lower-case letters (``green``, ``orange`` ...).
ColourName = Annotated[str, Field(pattern=r"^[a-z]+(_[a-z]+)*$", max_length=20)]
#: A time of day, ``HH:MM`` on the 24-hour clock, China Standard Time (+08:00).
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class PolicyError(ValueError):
    """A province policy file is missing or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tracing(_Strict):
    """The contact-tracing rule's parameters (API.md, defaults in brackets there)."""

    lookback_days: PositiveInt = 14
    close_contact_minutes: PositiveInt = 15
    quarantine_days: PositiveInt = 14
    observation_days: PositiveInt = 7
    default_dwell_minutes: PositiveInt = 60


class Policy(_Strict):
    """Everything a province decides. Defaults follow Guizhou/Shanxi and API.md."""

    #: The province's GB/T 2260 code (``xx0000``), the file's name.
    province: Annotated[str, Field(pattern=r"^[0-9]{2}0000$")]
    name: Annotated[str, Field(min_length=1)]
    #: Colour name shown for each canonical level, e.g. Fujian {0: green, 1: orange, 2: orange}.
    palette: dict[RiskLevel, ColourName] = Field(default_factory=lambda: dict(DEFAULT_PALETTE))
    #: Checkpoint verdict for each level (Fujian's orange: "register").
    verdicts: dict[RiskLevel, Verdict] = Field(default_factory=lambda: dict(DEFAULT_VERDICTS))
    #: Verdict when the temperature is at or above the threshold (never "pass").
    fever_verdict: Literal["dissuade", "isolate", "register"] = "dissuade"
    fever_threshold_c: Annotated[float, Field(ge=36.0, le=40.0)] = 37.3
    #: A fever reading at a checkpoint becomes a colour fact (Guizhou: yes) lasting this long.
    fever_at_checkpoint_is_fact: bool = True
    fever_fact_hours: PositiveInt = 24
    #: Declared symptoms / fever on an application count for this long.
    declaration_fact_days: PositiveInt = 14
    #: Level each kind of fact gives.
    fact_levels: dict[FactKind, RiskLevel] = Field(default_factory=lambda: dict(DEFAULT_FACT_LEVELS))
    #: Kinds a negative lab result clears (from its sampling time on).
    negative_lab_clears: frozenset[FactKind] = frozenset({FactKind.FEVER, FactKind.SYMPTOMS})
    #: Travel to a risk area counts if the person left it less than this many days ago.
    risk_travel_window_days: PositiveInt = 14

    tracing: Tracing = Field(default_factory=Tracing)
    #: Dwell minutes per venue type; types missing here use ``tracing.default_dwell_minutes``.
    dwell_minutes: dict[str, PositiveInt] = Field(default_factory=lambda: dict(DEFAULT_DWELL_MINUTES))
    #: Venue types where the province makes code checking compulsory / only encourages it
    #: (Fujian's 强制 / 鼓励 list); a type in neither is one its documents say nothing specific about.
    mandatory_venue_types: frozenset[str] = frozenset()
    encouraged_venue_types: frozenset[str] = frozenset()
    #: Write shards of a venue's scan partition, per type (hot venues spread their writes).
    scan_shards: dict[str, ShardCount] = Field(default_factory=lambda: dict(DEFAULT_SCAN_SHARDS))
    default_scan_shards: ShardCount = 4

    #: Personal (dynamic) code lifetime: short, so a screenshot goes stale.
    code_lifetime_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    #: Paper code lifetime (people without smartphones); verified online for the current colour.
    paper_code_lifetime_days: PositiveInt = 365
    #: Venue codes are printed on posters and live long.
    venue_code_lifetime_days: PositiveInt = 3650
    checkin_max_distance_m: PositiveInt = 2000
    retention_days: PositiveInt = 28

    #: What a venue manager sees of a visitor in alerts: nothing, only non-green ones, or all.
    manager_sees_identities: Literal["never", "non_green", "always"] = "never"
    #: Jiangxi: one venue code per phone number, only a green-code holder may apply.
    one_venue_per_phone: bool = False
    venue_applicant_must_be_green: bool = False

    override_requires_second_official: bool = True
    override_requests_per_hour_limit: PositiveInt = 20

    #: Time of day (CST) by which units report the day's scan counts (Henan: 16:00); None: no deadline.
    daily_report_due: ClockTime | None = None

    @model_validator(mode="after")
    def _invariants(self) -> Policy:
        if not regions.is_region(self.province):
            raise ValueError(f"province: {self.province} is not a current GB/T 2260 province code")
        missing = set(RiskLevel) - set(self.palette)
        if missing:
            raise ValueError(f"palette: missing levels {sorted(int(m) for m in missing)}")
        if self.palette[RiskLevel.GREEN] != "green":
            raise ValueError("palette: level 0 must be named 'green'")
        for level in (RiskLevel.YELLOW, RiskLevel.RED):
            if self.palette[level] == "green":
                raise ValueError(f"palette: level {int(level)} cannot be named 'green'")
        missing = set(RiskLevel) - set(self.verdicts)
        if missing:
            raise ValueError(f"verdicts: missing levels {sorted(int(m) for m in missing)}")
        if self.verdicts[RiskLevel.GREEN] != "pass":
            raise ValueError("verdicts: level 0 (green) must pass")
        for level in (RiskLevel.YELLOW, RiskLevel.RED):
            if self.verdicts[level] == "pass":
                raise ValueError(f"verdicts: level {int(level)} cannot pass")
        missing_kinds = set(FactKind) - set(self.fact_levels)
        if missing_kinds:
            raise ValueError(f"fact_levels: missing kinds {sorted(str(kind) for kind in missing_kinds)}")
        if self.fact_levels[FactKind.CASE] != RiskLevel.RED:
            raise ValueError("fact_levels: a case is always red")
        uncleared = sorted(str(kind) for kind in self.negative_lab_clears & _ENDED_ONLY_BY_REVIEW)
        if uncleared:
            raise ValueError(
                f"negative_lab_clears: {uncleared} end by review or quarantine, not by a lab result"
            )
        for field in ("dwell_minutes", "scan_shards", "mandatory_venue_types", "encouraged_venue_types"):
            unknown = set(getattr(self, field)) - VENUE_TYPES
            if unknown:
                raise ValueError(f"{field}: unknown venue types {sorted(unknown)}")
        both = self.mandatory_venue_types & self.encouraged_venue_types
        if both:
            raise ValueError(f"mandatory_venue_types / encouraged_venue_types: {sorted(both)} cannot be both")
        if self.tracing.observation_days > self.tracing.quarantine_days:
            raise ValueError("tracing.observation_days cannot exceed tracing.quarantine_days")
        if self.retention_days < self.tracing.lookback_days:
            raise ValueError(
                "retention_days cannot be shorter than tracing.lookback_days: tracing would miss presences"
            )
        return self

    # -- derived answers -------------------------------------------------------------------

    def colour(self, level: RiskLevel) -> str:
        return self.palette[RiskLevel(level)]

    def verdict(self, level: RiskLevel) -> str:
        return self.verdicts[RiskLevel(level)]

    def dwell(self, venue_type: str) -> int:
        """Dwell minutes of a venue type ([60] when the type is unknown)."""
        return self.dwell_minutes.get(venue_type, self.tracing.default_dwell_minutes)

    def shards(self, venue_type: str) -> int:
        return self.scan_shards.get(venue_type, self.default_scan_shards)

    def report_due(self) -> time | None:
        """``daily_report_due`` as a time of day (China Standard Time), or None."""
        if self.daily_report_due is None:
            return None
        hours, minutes = self.daily_report_due.split(":")
        return time(int(hours), int(minutes))

    @property
    def longest_code_lifetime_seconds(self) -> int:
        """The longest any personal code may stay valid (keys stay in JWKS at least this long)."""
        return max(self.code_lifetime_seconds, self.paper_code_lifetime_days * 86400)


def _policy_text(province: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", province):
        raise PolicyError(f"province must be a 6-digit GB/T 2260 code, got {province!r}")
    resource = resources.files("healthcode") / "policies" / f"{province}.json"
    if not resource.is_file():
        known = ", ".join(available_provinces()) or "none"
        raise PolicyError(f"no policy file for province {province} (known: {known})")
    return resource.read_text(encoding="utf-8")


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate a policy document; the error names the file and every bad field."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{source}: not valid JSON: {exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise PolicyError(f"{source}: invalid policy: {problems}") from exc


def _problem(err: ErrorDetails) -> str:
    """One validation error as ``field.path: message``; the invariants name their own fields."""
    where = ".".join(str(part) for part in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


@cache
def load_policy(province: str) -> Policy:
    policy = parse_policy(_policy_text(province), source=f"policies/{province}.json")
    if policy.province != province:
        raise PolicyError(f"policies/{province}.json declares province {policy.province}")
    return policy


def available_provinces() -> list[str]:
    folder = resources.files("healthcode") / "policies"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
