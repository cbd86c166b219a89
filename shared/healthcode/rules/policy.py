"""Province policy: every rule a province may set, as validated data with defaults.

One JSON file per province in ``healthcode/policies/<GB/T 2260 code>.json``. A file names only
the fields that differ from the defaults below (docs/api.md's bracketed values and the Guizhou/Shanxi
colour rules); a field it names replaces the default whole (a ``palette`` lists every level, a
``dwell_minutes`` table every type the province wants to keep). ``load_policy`` validates the
file and fails fast with a message that names the offending field, so a bad policy stops a stack
at start, never mid-request. Every field, its default and each province's choice, with the
source sentence behind it: ``docs/policies.md``.

A policy is a frozen dataclass whose construction validates it (each field's check sits next to
the field, then the invariants between fields), the way per-tenant configuration is validated in
Google's exposure-notifications verification server. Every Lambda function imports this module,
so it uses the standard library only: no pydantic import or model build on a cold start.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import time
from enum import IntEnum, StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from healthcode.rules import regions


class RiskLevel(IntEnum):
    """Canonical level: 0 green, 1 yellow, 2 red."""

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
    QUARANTINE = "quarantine"  # under centralised or home quarantine placed by an official
    PREFECTURE_TRAVEL = "prefecture_travel"  # declared travel to another prefecture of the province
    SAME_BUILDING = "same_building"  # lives in the building of a case or close contact
    FEVER_CONTACT = "fever_contact"  # "contact with people with fever" ticked on the declaration
    NO_RECENT_TEST = "no_recent_test"  # came from a risk area without a recent negative test
    HEALTH_MONITORING = "health_monitoring"  # days of monitoring after a case recovered (policy)


#: The venue types with their default dwell minutes.
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
    "checkpoint": 10,  # a roadside checkpoint (卡口), registered by officials
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
    FactKind.QUARANTINE: RiskLevel.RED,
    FactKind.PREFECTURE_TRAVEL: RiskLevel.YELLOW,
    FactKind.SAME_BUILDING: RiskLevel.YELLOW,
    FactKind.FEVER_CONTACT: RiskLevel.YELLOW,
    FactKind.NO_RECENT_TEST: RiskLevel.YELLOW,
    FactKind.HEALTH_MONITORING: RiskLevel.YELLOW,
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

#: Facts a negative lab result may never clear: a case ends by review, a close contact by quarantine,
#: a quarantine when it ends or is lifted by two officials.
_ENDED_ONLY_BY_REVIEW = frozenset({FactKind.CASE, FactKind.CLOSE_CONTACT, FactKind.QUARANTINE})
#: Facts whose holder's building neighbours may turn yellow (``same_building_sources``).
_BUILDING_SOURCES = frozenset({FactKind.CASE, FactKind.CLOSE_CONTACT, FactKind.SECONDARY_CONTACT})

_FeverVerdict = Literal["dissuade", "isolate", "register"]
_IdentityVisibility = Literal["never", "non_green", "always"]


class PolicyError(ValueError):
    """A province policy file is missing or invalid.

    ``problems`` lists each finding of a failed validation as ``field.path: message`` (empty when
    the file itself is missing)."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)


def _invalid(problems: list[str]) -> PolicyError:
    return PolicyError("invalid policy: " + "; ".join(problems), problems)


# -- checks: one per field, next to it in the dataclasses below ------------------------------------
#
# A check takes a value found at ``path`` (from a JSON document or a Python caller) and returns it
# normalised (JSON's string keys as RiskLevel / FactKind, lists as frozensets); a bad value is
# returned as given and recorded in ``problems`` as ``path: message``, so every problem of a
# document is reported at once.

_Check = Callable[[object, str, list[str]], object]


def _rule(check: _Check) -> dict[str, _Check]:
    """A dataclass field's metadata: the check its values go through."""
    return {"check": check}


def _either(choices: Iterable[object]) -> str:
    """``'a', 'b' or 'c'``."""
    shown = [repr(choice) for choice in choices]
    return f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]


def _integer(*, gt: int | None = None, ge: int | None = None, le: int | None = None) -> _Check:
    """A whole number in range: a JSON integer, never a boolean or a number with a fraction."""

    def check(value: object, path: str, problems: list[str]) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: Input should be a valid integer")
        elif gt is not None and value <= gt:
            problems.append(f"{path}: Input should be greater than {gt}")
        elif ge is not None and value < ge:
            problems.append(f"{path}: Input should be greater than or equal to {ge}")
        elif le is not None and value > le:
            problems.append(f"{path}: Input should be less than or equal to {le}")
        else:
            return int(value)
        return value

    return check


def _number(*, ge: float, le: float) -> _Check:
    """A finite number in range; integers are accepted and become floats."""

    def check(value: object, path: str, problems: list[str]) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: Input should be a valid number")
        elif not math.isfinite(value):
            problems.append(f"{path}: Input should be a finite number")
        elif value < ge:
            problems.append(f"{path}: Input should be greater than or equal to {ge:g}")
        elif value > le:
            problems.append(f"{path}: Input should be less than or equal to {le:g}")
        else:
            return float(value)
        return value

    return check


def _text(*, pattern: str | None = None, min_length: int = 0, max_length: int | None = None) -> _Check:
    """A string of bounded length matching ``pattern`` (the whole string must match)."""
    compiled = re.compile(pattern) if pattern is not None else None

    def check(value: object, path: str, problems: list[str]) -> object:
        if not isinstance(value, str):
            problems.append(f"{path}: Input should be a valid string")
        elif len(value) < min_length:
            plural = "" if min_length == 1 else "s"
            problems.append(f"{path}: String should have at least {min_length} character{plural}")
        elif max_length is not None and len(value) > max_length:
            problems.append(f"{path}: String should have at most {max_length} characters")
        elif compiled is not None and not compiled.fullmatch(value):
            problems.append(f"{path}: String should match pattern '{pattern}'")
        else:
            return str(value)
        return value

    return check


def _one_of(choices: tuple[str, ...]) -> _Check:
    """One of a Literal's strings."""
    expected = _either(choices)

    def check(value: object, path: str, problems: list[str]) -> object:
        if isinstance(value, str) and value in choices:
            return str(value)
        problems.append(f"{path}: Input should be {expected}")
        return value

    return check


def _boolean(value: object, path: str, problems: list[str]) -> object:
    """JSON ``true`` or ``false``; not 1, 0 or a string."""
    if not isinstance(value, bool):
        problems.append(f"{path}: Input should be a valid boolean")
    return value


def _optional(check: _Check) -> _Check:
    """``check``, or JSON ``null`` for None."""

    def optional(value: object, path: str, problems: list[str]) -> object:
        return None if value is None else check(value, path, problems)

    return optional


_LEVELS = {int(level): level for level in RiskLevel}
_LEVEL_KEYS = {str(int(level)): level for level in RiskLevel}
_KINDS = {kind.value: kind for kind in FactKind}


def _level(value: object, path: str, problems: list[str]) -> object:
    """A RiskLevel given as its number."""
    if isinstance(value, int) and not isinstance(value, bool) and value in _LEVELS:
        return _LEVELS[value]
    problems.append(f"{path}: Input should be {_either(_LEVELS)}")
    return value


def _level_key(value: object, path: str, problems: list[str]) -> object:
    """A RiskLevel as a table key: JSON's ``"0"``, ``"1"``, ``"2"``, or the level itself."""
    if isinstance(value, str) and value in _LEVEL_KEYS:
        return _LEVEL_KEYS[value]
    return _level(value, path, problems)


def _fact_kind(value: object, path: str, problems: list[str]) -> object:
    """A FactKind given as its name."""
    if isinstance(value, str) and value in _KINDS:
        return _KINDS[value]
    problems.append(f"{path}: Input should be {_either(_KINDS)}")
    return value


def _table(key: _Check, item: _Check) -> _Check:
    """A JSON object whose keys and values pass ``key`` and ``item``; a key's own problem is
    reported at ``path.<key>.[key]``, its value's at ``path.<key>``."""

    def check(value: object, path: str, problems: list[str]) -> object:
        if not isinstance(value, Mapping):
            problems.append(f"{path}: Input should be a valid dictionary")
            return value
        return {
            key(name, f"{path}.{name}.[key]", problems): item(entry, f"{path}.{name}", problems)
            for name, entry in value.items()
        }

    return check


def _set_of(item: _Check) -> _Check:
    """A JSON list (a Python list, tuple or set) of items passing ``item``, as a frozenset."""

    def check(value: object, path: str, problems: list[str]) -> object:
        if not isinstance(value, list | tuple | set | frozenset):
            problems.append(f"{path}: Input should be a valid list")
            return value
        found = len(problems)
        items = [item(entry, f"{path}.{index}", problems) for index, entry in enumerate(value)]
        return frozenset(items) if len(problems) == found else value

    return check


def _tracing(value: object, path: str, problems: list[str]) -> object:
    """A Tracing, or a JSON object naming the tracing parameters that differ from the defaults."""
    if isinstance(value, Tracing):
        return value
    if isinstance(value, Mapping):
        found = len(problems)
        values = _read(Tracing, value, f"{path}.", problems)
        return Tracing(**values) if len(problems) == found else value
    problems.append(f"{path}: Input should be a valid dictionary or instance of Tracing")
    return value


def _read(
    kind: type[Tracing | Policy], document: Mapping[Any, object], prefix: str, problems: list[str]
) -> dict[str, Any]:
    """The fields a JSON object gives, checked; a missing required field or an unknown key is a problem."""
    values: dict[str, Any] = {}
    names: set[str] = set()
    for spec in fields(kind):
        names.add(spec.name)
        if spec.name in document:
            values[spec.name] = spec.metadata["check"](document[spec.name], prefix + spec.name, problems)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            problems.append(f"{prefix}{spec.name}: Field required")
    problems.extend(f"{prefix}{key}: Extra inputs are not permitted" for key in document if key not in names)
    return values


def _normalise(instance: Tracing | Policy, prefix: str) -> list[str]:
    """Run every field's check on a new instance, keeping the normalised values; the problems found."""
    problems: list[str] = []
    for spec in fields(instance):
        value = spec.metadata["check"](getattr(instance, spec.name), prefix + spec.name, problems)
        object.__setattr__(instance, spec.name, value)  # frozen: set once, while being built
    return problems


#: Whole numbers greater than zero (days, hours, minutes, metres, requests).
_POSITIVE = _integer(gt=0)
#: Write shards of a scan partition, 1 to MAX_SCAN_SHARDS.
_SHARD_COUNT = _integer(ge=1, le=MAX_SCAN_SHARDS)
#: A colour's name as the API shows it: lower-case letters (``green``, ``orange`` ...).
_COLOUR_NAME = _text(pattern=r"^[a-z]+(_[a-z]+)*$", max_length=20)
#: A time of day, ``HH:MM`` on the 24-hour clock, China Standard Time (+08:00).
_CLOCK_TIME = _text(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_VENUE_TYPE = _text()


# -- the policy ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracing:
    """The contact-tracing rule's parameters (docs/api.md gives the defaults in brackets)."""

    lookback_days: int = field(default=14, metadata=_rule(_POSITIVE))
    close_contact_minutes: int = field(default=15, metadata=_rule(_POSITIVE))
    quarantine_days: int = field(default=14, metadata=_rule(_POSITIVE))
    observation_days: int = field(default=7, metadata=_rule(_POSITIVE))
    default_dwell_minutes: int = field(default=60, metadata=_rule(_POSITIVE))

    def __post_init__(self) -> None:
        problems = _normalise(self, "tracing.")
        if problems:
            raise _invalid(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Everything a province decides. Defaults follow Guizhou/Shanxi and docs/api.md.

    Building one validates it (raising :class:`PolicyError` naming every bad field), from a JSON
    document (:meth:`from_document`, :func:`parse_policy`) or in code (``Policy(province=..., name=...,
    **choices)``, ``dataclasses.replace(policy, **changes)``)."""

    #: The province's GB/T 2260 code (``xx0000``), the file's name.
    province: str = field(metadata=_rule(_text(pattern=r"^[0-9]{2}0000$")))
    name: str = field(metadata=_rule(_text(min_length=1)))
    #: The province's own name for its codes, printed on posters (八闽健康码, 赣通码 …).
    brand: str = field(default="健康码", metadata=_rule(_text(min_length=1, max_length=20)))
    #: Colour name shown for each canonical level, e.g. Fujian {0: green, 1: orange, 2: orange}.
    palette: dict[RiskLevel, str] = field(
        default_factory=lambda: dict(DEFAULT_PALETTE), metadata=_rule(_table(_level_key, _COLOUR_NAME))
    )
    #: Checkpoint verdict for each level (Fujian's orange: "register").
    verdicts: dict[RiskLevel, Verdict] = field(
        default_factory=lambda: dict(DEFAULT_VERDICTS),
        metadata=_rule(_table(_level_key, _one_of(get_args(Verdict)))),
    )
    #: Verdict when the temperature is at or above the threshold (never "pass").
    fever_verdict: _FeverVerdict = field(default="dissuade", metadata=_rule(_one_of(get_args(_FeverVerdict))))
    fever_threshold_c: float = field(default=37.3, metadata=_rule(_number(ge=36.0, le=40.0)))
    #: A fever reading at a checkpoint becomes a colour fact (Guizhou: yes) lasting this long.
    fever_at_checkpoint_is_fact: bool = field(default=True, metadata=_rule(_boolean))
    fever_fact_hours: int = field(default=24, metadata=_rule(_POSITIVE))
    #: At most this many checkpoint fever facts per scanner account per hour (a scan past it is
    #: still recorded and counted, but makes no fact: one account cannot turn many people yellow).
    scanner_fever_facts_per_hour_limit: int = field(default=30, metadata=_rule(_POSITIVE))
    #: Declared symptoms and declared contact on an application count for this long (a declared
    #: fever lasts ``fever_fact_hours``, as a checkpoint fever does).
    declaration_fact_days: int = field(default=14, metadata=_rule(_POSITIVE))
    #: A self-declared fever is cleared by a later declaration with a normal temperature made at
    #: least this long after it (or by a negative nucleic-acid test sampled after it); at or
    #: over ``fever_fact_hours`` a declaration never ends a fever early.
    fever_minimum_hours: int = field(default=12, metadata=_rule(_POSITIVE))
    #: A quarantine an official places without an end lasts this long (Shanxi: 14 days).
    quarantine_days: int = field(default=14, metadata=_rule(_POSITIVE))
    #: Declared travel to another prefecture of the province counts this long after leaving it
    #: (Shanxi 跨设区市旅居经历); None: such travel does not colour a code.
    prefecture_travel_days: int | None = field(default=None, metadata=_rule(_optional(_POSITIVE)))
    #: People living in the building of a person with one of ``same_building_sources`` count
    #: this long (Shanxi 同一楼道); None: a residence colours nobody.
    same_building_days: int | None = field(default=None, metadata=_rule(_optional(_POSITIVE)))
    same_building_sources: frozenset[FactKind] = field(
        default=frozenset({FactKind.CASE, FactKind.CLOSE_CONTACT}), metadata=_rule(_set_of(_fact_kind))
    )
    #: Declared contact with people with fever or respiratory symptoms counts this long (Shanxi);
    #: None: the declaration's ``contact_with_fever`` colours nobody.
    fever_contact_days: int | None = field(default=None, metadata=_rule(_optional(_POSITIVE)))
    #: Someone who left a medium- or high-risk area needs a negative nucleic-acid test sampled at
    #: most this many days before leaving it (or any time after); without one they hold a
    #: ``no_recent_test`` fact while the trip counts (Fujian: 7). None: no such rule.
    arrival_test_days: int | None = field(default=None, metadata=_rule(_optional(_POSITIVE)))
    #: A whitelist (白名单) is a green override of at most this many days, still under the
    #: two-official rule (Shanxi); None: the province keeps no whitelist.
    whitelist_max_days: int | None = field(default=None, metadata=_rule(_optional(_POSITIVE)))
    #: Level each kind of fact gives.
    fact_levels: dict[FactKind, RiskLevel] = field(
        default_factory=lambda: dict(DEFAULT_FACT_LEVELS), metadata=_rule(_table(_fact_kind, _level))
    )
    #: Kinds a negative lab result clears (from its sampling time on).
    negative_lab_clears: frozenset[FactKind] = field(
        default=frozenset({FactKind.FEVER, FactKind.SYMPTOMS}), metadata=_rule(_set_of(_fact_kind))
    )
    #: Travel to a risk area counts if the person left it less than this many days ago.
    risk_travel_window_days: int = field(default=14, metadata=_rule(_POSITIVE))

    tracing: Tracing = field(default_factory=Tracing, metadata=_rule(_tracing))
    #: Dwell minutes per venue type; types missing here use ``tracing.default_dwell_minutes``.
    dwell_minutes: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_DWELL_MINUTES),
        metadata=_rule(_table(_VENUE_TYPE, _POSITIVE)),
    )
    #: Venue types where the province makes code checking compulsory / only encourages it
    #: (Fujian's 强制 / 鼓励 list); a type in neither is one its documents say nothing specific about.
    mandatory_venue_types: frozenset[str] = field(default=frozenset(), metadata=_rule(_set_of(_VENUE_TYPE)))
    encouraged_venue_types: frozenset[str] = field(default=frozenset(), metadata=_rule(_set_of(_VENUE_TYPE)))
    #: Write shards of a venue's scan partition, per type (hot venues spread their writes).
    scan_shards: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_SCAN_SHARDS), metadata=_rule(_table(_VENUE_TYPE, _SHARD_COUNT))
    )
    default_scan_shards: int = field(default=4, metadata=_rule(_SHARD_COUNT))

    #: Personal (dynamic) code lifetime: short, so a screenshot goes stale.
    code_lifetime_seconds: int = field(default=300, metadata=_rule(_integer(ge=30, le=3600)))
    #: Paper code lifetime (people without smartphones); verified online for the current colour.
    paper_code_lifetime_days: int = field(default=365, metadata=_rule(_POSITIVE))
    #: Venue codes are printed on posters and live long.
    venue_code_lifetime_days: int = field(default=3650, metadata=_rule(_POSITIVE))
    #: A join code a complex's manager hands a store's own manager admits one store within this long.
    join_code_lifetime_days: int = field(default=7, metadata=_rule(_integer(ge=1, le=90)))
    checkin_max_distance_m: int = field(default=2000, metadata=_rule(_POSITIVE))
    #: Venue types that move (a bus, a taxi): a check-in skips the distance check and keeps the
    #: device's rounded position with the presence instead.
    mobile_venue_types: frozenset[str] = field(
        default=frozenset({"vehicle"}), metadata=_rule(_set_of(_VENUE_TYPE))
    )
    retention_days: int = field(default=28, metadata=_rule(_POSITIVE))
    #: Dependants one account may manage (children, elderly parents), held atomically by a
    #: counter written with each person (``storage.persons``); over it 409 ``too_many_dependants``.
    max_dependants: int = field(default=10, metadata=_rule(_integer(ge=1, le=50)))

    #: What a venue manager sees of a visitor in alerts: nothing, only non-green ones, or all.
    manager_sees_identities: _IdentityVisibility = field(
        default="never", metadata=_rule(_one_of(get_args(_IdentityVisibility)))
    )
    #: Jiangxi: one venue code per phone number, only a green-code holder may apply.
    one_venue_per_phone: bool = field(default=False, metadata=_rule(_boolean))
    venue_applicant_must_be_green: bool = field(default=False, metadata=_rule(_boolean))

    #: Always true: lowering a colour ahead of the rules is never one official's act (a policy
    #: saying false is refused when it loads).
    override_requires_second_official: bool = field(default=True, metadata=_rule(_boolean))
    override_requests_per_hour_limit: int = field(default=20, metadata=_rule(_POSITIVE))
    #: Per-account limits (``storage.limits``, fixed windows; over one: 429 ``rate_limited``).
    #: Applications (own code, dependants, assisted) one account may file per day.
    applications_per_day_limit: int = field(default=30, metadata=_rule(_POSITIVE))
    #: Appeals one account may file per day.
    appeals_per_day_limit: int = field(default=5, metadata=_rule(_POSITIVE))
    #: Guardian link codes one account may create per hour.
    link_codes_per_hour_limit: int = field(default=10, metadata=_rule(_POSITIVE))
    #: Manual registrations one scanner account may record per hour (one every 15 s).
    manual_registrations_per_hour_limit: int = field(default=240, metadata=_rule(_POSITIVE))
    #: Writes one official may make per hour: cases, lab imports, risk areas, colour requests,
    #: approvals and rejections, appeal answers (one budget for all of them).
    official_writes_per_hour_limit: int = field(default=300, metadata=_rule(_POSITIVE))
    #: Searches for a person by ID number one official or admin may make per hour.
    person_searches_per_hour_limit: int = field(default=120, metadata=_rule(_POSITIVE))
    #: Persons one official's own acts may turn red or yellow directly in an hour (case persons,
    #: persons of positive lab rows); past it the act waits for a second official (202).
    official_coloured_persons_per_hour_limit: int = field(default=50, metadata=_rule(_POSITIVE))
    #: The same for a laboratory system's account (role ``lab``), whose imports are larger.
    lab_coloured_persons_per_hour_limit: int = field(default=1000, metadata=_rule(_POSITIVE))
    #: County-level risk areas one official may raise in an hour on their own; prefecture- and
    #: province-level areas and any lowering always wait for a second official.
    risk_area_changes_per_hour_limit: int = field(default=20, metadata=_rule(_POSITIVE))

    #: Time of day (CST) by which units report the day's scan counts (Henan: 16:00); None: no deadline.
    daily_report_due: str | None = field(default=None, metadata=_rule(_optional(_CLOCK_TIME)))

    #: Generations contact tracing reaches: 1, the case's own contacts; 2 (Henan), also everyone
    #: found from each close contact's own presences, as secondary contacts (generation 2).
    trace_generations: int = field(default=1, metadata=_rule(_integer(ge=1, le=2)))
    #: Days of health monitoring (yellow) once a recovered case is approved; 0 (Guizhou: 经审核
    #: 确认转为绿码): green at once.
    recovery_monitoring_days: int = field(default=0, metadata=_rule(_integer(ge=0, le=28)))

    def __post_init__(self) -> None:
        problems = _normalise(self, "")
        if not problems:  # the invariants relate fields, so they need each field sound first
            problems = self._invariants()
        if problems:
            raise _invalid(problems)

    def _invariants(self) -> list[str]:
        """What must hold between fields; each problem names the fields it concerns."""
        problems: list[str] = []
        if not regions.is_region(self.province):
            problems.append(f"province: {self.province} is not a current GB/T 2260 province code")
        missing = set(RiskLevel) - set(self.palette)
        if missing:
            problems.append(f"palette: missing levels {sorted(int(m) for m in missing)}")
        else:
            if self.palette[RiskLevel.GREEN] != "green":
                problems.append("palette: level 0 must be named 'green'")
            for level in (RiskLevel.YELLOW, RiskLevel.RED):
                if self.palette[level] == "green":
                    problems.append(f"palette: level {int(level)} cannot be named 'green'")
        missing = set(RiskLevel) - set(self.verdicts)
        if missing:
            problems.append(f"verdicts: missing levels {sorted(int(m) for m in missing)}")
        else:
            if self.verdicts[RiskLevel.GREEN] != "pass":
                problems.append("verdicts: level 0 (green) must pass")
            for level in (RiskLevel.YELLOW, RiskLevel.RED):
                if self.verdicts[level] == "pass":
                    problems.append(f"verdicts: level {int(level)} cannot pass")
        missing_kinds = set(FactKind) - set(self.fact_levels)
        if missing_kinds:
            problems.append(f"fact_levels: missing kinds {sorted(str(kind) for kind in missing_kinds)}")
        elif self.fact_levels[FactKind.CASE] != RiskLevel.RED:
            problems.append("fact_levels: a case is always red")
        uncleared = sorted(str(kind) for kind in self.negative_lab_clears & _ENDED_ONLY_BY_REVIEW)
        if uncleared:
            problems.append(
                f"negative_lab_clears: {uncleared} end by review or quarantine, not by a lab result"
            )
        for name in (
            "dwell_minutes",
            "scan_shards",
            "mandatory_venue_types",
            "encouraged_venue_types",
            "mobile_venue_types",
        ):
            unknown = set(getattr(self, name)) - VENUE_TYPES
            if unknown:
                problems.append(f"{name}: unknown venue types {sorted(unknown)}")
        both = self.mandatory_venue_types & self.encouraged_venue_types
        if both:
            problems.append(f"mandatory_venue_types / encouraged_venue_types: {sorted(both)} cannot be both")
        sources = self.same_building_sources - _BUILDING_SOURCES
        if sources:
            problems.append(
                f"same_building_sources: {sorted(str(kind) for kind in sources)} cannot colour a building;"
                f" choose from {sorted(str(kind) for kind in _BUILDING_SOURCES)}"
            )
        if self.override_requires_second_official is not True:
            problems.append(
                "override_requires_second_official: cannot be false: lowering a colour ahead of the"
                " rules always needs a second official"
            )
        if self.tracing.observation_days > self.tracing.quarantine_days:
            problems.append("tracing.observation_days cannot exceed tracing.quarantine_days")
        if self.retention_days < self.tracing.lookback_days:
            problems.append(
                "retention_days cannot be shorter than tracing.lookback_days: tracing would miss presences"
            )
        return problems

    # -- documents -------------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: object) -> Policy:
        """A policy from a parsed JSON document: unknown keys and missing ``province`` / ``name``
        are refused, everything else not named keeps its default."""
        if not isinstance(document, Mapping):
            raise _invalid(["Input should be a valid dictionary or instance of Policy"])
        problems: list[str] = []
        values = _read(cls, document, "", problems)
        if problems:
            raise _invalid(problems)
        return cls(**values)

    def to_document(self) -> dict[str, object]:
        """Every field as JSON data (level keys ``"0"``..., sets as sorted lists, ``tracing`` an
        object), which :meth:`from_document` and :func:`parse_policy` read back to an equal policy."""
        return {spec.name: _as_json(getattr(self, spec.name)) for spec in fields(self)}

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


def _as_json(value: object) -> object:
    """A field's value as JSON data."""
    if isinstance(value, Tracing):
        return {spec.name: getattr(value, spec.name) for spec in fields(value)}
    if isinstance(value, dict):
        return {_as_json_key(key): _as_json(item) for key, item in value.items()}
    if isinstance(value, frozenset):
        return sorted(str(item) for item in value)
    if isinstance(value, IntEnum):
        return int(value)
    return value


def _as_json_key(key: object) -> str:
    return str(int(key)) if isinstance(key, IntEnum) else str(key)


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
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{source}: not valid JSON: {exc}") from exc
    try:
        return Policy.from_document(document)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}", exc.problems) from exc


@cache
def load_policy(province: str) -> Policy:
    policy = parse_policy(_policy_text(province), source=f"policies/{province}.json")
    if policy.province != province:
        raise PolicyError(f"policies/{province}.json declares province {policy.province}")
    return policy


def available_provinces() -> list[str]:
    folder = resources.files("healthcode") / "policies"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
