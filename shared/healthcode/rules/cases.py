"""Epidemiology rules on the official side: cases, lab-result batches, manual colour overrides,
risk-area reach, tracing task plans and expiry buckets. Plain functions; no storage, no clock.

Cases
    A case is one person diagnosed at one instant. Its id is derived from both
    (:func:`case_id_for`), so confirming the same person with the same ``diagnosed_at`` again —
    a retried request, a re-imported positive lab row — names the same case and never starts a
    second tracing run. A diagnosis may not lie in the future (beyond :data:`CLOCK_SKEW`).

Case lifecycle
    A case is reported ``suspected``, ``asymptomatic`` or ``confirmed`` (each turns its person
    red). :func:`check_status_change` says what a change of status is: an *upgrade* (suspected →
    asymptomatic or confirmed, asymptomatic → confirmed) applies at once; a *release*
    (``recovered`` 康复出院 from asymptomatic or confirmed, ``excluded`` 排除 from any open status)
    waits for a second official. Anything else is a 409: the same status again
    (``status_unchanged``), a change of a recovered or excluded case (``case_closed``), a
    downgrade or a suspected case recovering (``invalid_status_change``).

Lab results
    :func:`check_lab_rows` validates a batch (at most :data:`MAX_LAB_ROWS` rows) row by row: a
    bad row is rejected with ``{index, error}`` (a snake_case code) and never spoils the others.
    Two rows for the same ID number and sampling instant with different results contradict each
    other; both are rejected. Identical rows are accepted once.

Overrides
    :func:`check_override` turns an official's request into an :class:`OverrideRequest`: the
    colour must be one of the province palette's names (a name shared by two levels, Fujian's
    ``orange``, needs ``risk_level`` to say which); the reason is a snake_case code; the evidence
    reference and note are short free text that must not carry an ID or mobile number (they are
    kept in the audit trail, which holds no personal data in clear).

Tracing tasks
    Contact tracing runs as small tasks (``functions/tracing``): one per case presence and venue
    to search (the presence's own venue, then every other venue of its complex). A task carries
    where its co-visitor Query should resume (shard and DynamoDB ``LastEvaluatedKey``), so a task
    that runs short of time hands the rest to a *continuation* (:meth:`TracingTask.continuation`)
    instead of failing. Task keys are deterministic, so planning twice writes the same tasks.

Risk areas
    A level set on a prefecture (``xxyy00``) or province (``xx0000``) covers every trip to a code
    under it (``colour.travel_facts``). Trips are indexed by the exact code visited, so
    :func:`covered_trip_regions` lists the codes whose trips a change may affect: the area itself
    and every GB/T 2260 code (current or abolished) under it. A :class:`Sweep` walks those trips
    and, like a tracing task, carries on from where it stopped when time runs short.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from healthcode import clock
from healthcode.clock import CHINA
from healthcode.errors import Conflict, InvalidInput
from healthcode.rules import documents, regions
from healthcode.rules.colour import AreaRisk
from healthcode.rules.policy import Policy, RiskLevel
from healthcode.rules.tracing import ContactKind, Presence
from healthcode.rules.tracing import strength as tracing_strength

__all__ = [
    "CLOCK_SKEW",
    "CLOSED_STATUSES",
    "MAX_LAB_ROWS",
    "OPEN_STATUSES",
    "CaseReport",
    "CaseStatus",
    "LabRow",
    "OverrideRequest",
    "RejectedRow",
    "Sweep",
    "TracingTask",
    "VenueToSearch",
    "case_id_for",
    "change_buckets",
    "check_area_level",
    "check_case_report",
    "check_decision_note",
    "check_diagnosed_at",
    "check_instant",
    "check_lab_rows",
    "check_override",
    "check_override_body",
    "check_person_id",
    "check_status_body",
    "check_status_change",
    "contact_rank",
    "covered_trip_regions",
    "free_text",
    "level_of_colour",
    "over_rate_limit",
    "plan_second_generation",
    "plan_tasks",
    "travel_cutoff",
]

#: How far ahead of the server clock a submitted instant may be (clocks of clients differ).
CLOCK_SKEW = timedelta(minutes=5)
#: Most rows one lab-result import may carry.
MAX_LAB_ROWS = 1000
#: Longest a manual override may be set for (longer ones must be renewed, and audited again).
MAX_OVERRIDE_DAYS = 366
MAX_EVIDENCE_REF = 200
MAX_NOTE = 500

_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: An ID number (GB 11643) or a mainland mobile number inside free text.
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|1[3-9]\d{9})(?!\d)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LAB_FIELDS = frozenset({"id_number", "id_type", "nationality", "sampled_at", "result", "test"})
#: Tests a lab row may report (``test``; absent: nucleic acid).
LAB_TESTS = ("nucleic_acid", "igg_antibody")
_PERSON_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class CaseStatus(StrEnum):
    """A case's status: the open ones (:data:`OPEN_STATUSES`) turn the person red at once;
    ``recovered`` and ``excluded`` close the case, once a second official approved it."""

    CONFIRMED = "confirmed"
    ASYMPTOMATIC = "asymptomatic"
    SUSPECTED = "suspected"
    RECOVERED = "recovered"
    EXCLUDED = "excluded"


#: Statuses a case is reported with; each keeps its person red.
OPEN_STATUSES = frozenset({CaseStatus.CONFIRMED, CaseStatus.ASYMPTOMATIC, CaseStatus.SUSPECTED})
#: Statuses that close a case (after a second official): its person's red is released.
CLOSED_STATUSES = frozenset({CaseStatus.RECOVERED, CaseStatus.EXCLUDED})
#: What each open status may be upgraded to (applies at once).
_UPGRADES: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.SUSPECTED: frozenset({CaseStatus.ASYMPTOMATIC, CaseStatus.CONFIRMED}),
    CaseStatus.ASYMPTOMATIC: frozenset({CaseStatus.CONFIRMED}),
    CaseStatus.CONFIRMED: frozenset(),
}
#: What each open status may be closed as (waits for a second official).
_RELEASES: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.SUSPECTED: frozenset({CaseStatus.EXCLUDED}),
    CaseStatus.ASYMPTOMATIC: frozenset({CaseStatus.RECOVERED, CaseStatus.EXCLUDED}),
    CaseStatus.CONFIRMED: frozenset({CaseStatus.RECOVERED, CaseStatus.EXCLUDED}),
}
UPGRADE: Final = "upgrade"
RELEASE: Final = "release"


def check_status_change(current: str | None, wanted: CaseStatus) -> Literal["upgrade", "release"]:
    """What changing a case from ``current`` to ``wanted`` is (see the module docstring), or a
    409 naming why it cannot be done."""
    if current == wanted:
        raise Conflict(f"the case is already {wanted}", field="status", code="status_unchanged")
    if current in CLOSED_STATUSES or current is None:
        raise Conflict(
            f"the case is closed ({current}); report a new case", field="status", code="case_closed"
        )
    now = CaseStatus(current)
    if wanted in _UPGRADES[now]:
        return UPGRADE
    if wanted in _RELEASES[now]:
        return RELEASE
    raise Conflict(f"a {now} case cannot become {wanted}", field="status", code="invalid_status_change")


def check_status_body(body: Mapping[str, object]) -> CaseStatus:
    """The ``status`` of ``PATCH /v1/cases/{case_id}`` (the spec let through a known one)."""
    value = body.get("status")
    try:
        return CaseStatus(str(value))
    except ValueError as error:
        raise InvalidInput("status is not a case status", field="status", code="invalid_status") from error


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _digest(*parts: str, length: int = 24) -> str:
    key = json.dumps(list(parts), ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:length]


def _instant_text(value: datetime) -> str:
    """Fixed-width UTC text of an instant: sorts as time (same form as the storage keys)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- cases -------------------------------------------------------------------------------------


def case_id_for(person_id: str, diagnosed_at: datetime) -> str:
    """The case of ``person_id`` diagnosed at ``diagnosed_at``: the same inputs, the same id."""
    if not person_id:
        raise ValueError("person_id must not be empty")
    return f"case-{_digest(person_id, _instant_text(_aware_utc(diagnosed_at, 'diagnosed_at')))}"


def check_diagnosed_at(diagnosed_at: datetime, *, now: datetime, field: str = "diagnosed_at") -> datetime:
    """A diagnosis instant in UTC; refused (``422 diagnosed_in_future``) if it lies ahead of ``now``."""
    value = _aware_utc(diagnosed_at, field)
    if value > _aware_utc(now, "now") + CLOCK_SKEW:
        raise InvalidInput(f"{field} cannot be in the future", field=field, code="diagnosed_in_future")
    return value


@dataclass(frozen=True, slots=True)
class CaseReport:
    """A validated ``POST /v1/cases`` body: the person by id or by ID number (not both)."""

    person_id: str | None
    id_number: str | None = field(repr=False)
    status: CaseStatus
    diagnosed_at: datetime
    id_type: str = "resident_id"  # the identity document of id_number (healthcode.rules.documents)


def check_person_id(value: object, *, field: str = "person_id") -> str:
    """A person id as the API hands them out (``p-…``): opaque, short, no ``#``."""
    if not isinstance(value, str) or not _PERSON_ID.fullmatch(value):
        raise InvalidInput(f"{field} is not a person id", field=field, code="invalid_person_id")
    return value


def check_instant(value: object, *, field: str) -> datetime:
    """An ISO 8601 instant with an offset, in UTC (422 ``invalid_<field>`` otherwise)."""
    parsed = _parse_instant(value)
    if parsed is None:
        raise InvalidInput(
            f"{field} must be ISO 8601 with an offset, e.g. 2022-05-18T10:00:00+08:00",
            field=field,
            code=f"invalid_{field}",
        )
    return parsed


def check_case_report(body: Mapping[str, object], *, now: datetime) -> CaseReport:
    """``{person_id or id_number, status, diagnosed_at}`` as the spec of ``POST /v1/cases`` let
    it through: the ID number's check character and the diagnosis instant."""
    has_person, has_number = body.get("person_id") is not None, body.get("id_number") is not None
    if has_person == has_number:
        raise InvalidInput("give either person_id or id_number", field="person_id", code="person_required")
    person_id = check_person_id(body["person_id"]) if has_person else None
    id_number, id_type = None, "resident_id"
    if has_number:
        today = _aware_utc(now, "now").astimezone(CHINA).date()
        document = documents.check_document(
            str(body["id_number"]), body.get("id_type"), today=today, nationality=body.get("nationality")
        )
        id_number, id_type = document.number, document.id_type.value
    diagnosed_at = check_diagnosed_at(check_instant(body["diagnosed_at"], field="diagnosed_at"), now=now)
    return CaseReport(
        person_id=person_id,
        id_number=id_number,
        status=CaseStatus(str(body["status"])),
        diagnosed_at=diagnosed_at,
        id_type=id_type,
    )


def check_area_level(body: Mapping[str, object]) -> AreaRisk:
    """Validate ``{level: high/medium/low}`` of ``PUT /v1/risk-areas/{region_code}``."""
    level = body.get("level")
    if level == "high" or level == "medium" or level == "low":
        return level
    raise InvalidInput("level must be high, medium or low", field="level", code="invalid_level")


# -- lab results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabRow:
    """One valid row of a lab-result import. ``repr`` leaves the ID number out."""

    index: int
    id_number: str = field(repr=False)
    sampled_at: datetime
    positive: bool
    id_type: str = "resident_id"  # the identity document of id_number (healthcode.rules.documents)
    test: str = "nucleic_acid"  # or igg_antibody: shown on the code, never a case

    @property
    def lab_id(self) -> str:
        """Deterministic per (document, sampling instant, result, test): a re-import rewrites it
        (nucleic-acid rows keep the ids they had before tests were told apart)."""
        number = self.id_number if self.id_type == "resident_id" else f"{self.id_type}:{self.id_number}"
        outcome = "positive" if self.positive else "negative"
        if self.test != "nucleic_acid":
            return _digest(number, _instant_text(self.sampled_at), outcome, self.test)
        return _digest(number, _instant_text(self.sampled_at), outcome)

    @property
    def opens_case(self) -> bool:
        """A positive nucleic-acid result opens a case; an antibody result never does."""
        return self.positive and self.test == "nucleic_acid"


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """``{index, error, field}`` of a row that was not accepted; ``error`` is a snake_case code."""

    index: int
    error: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "error": self.error, "field": self.field}


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return clock.parse_instant(value)
    except ValueError:
        return None


def _check_lab_row(index: int, row: object, *, now: datetime, today: date) -> LabRow | RejectedRow:
    if not isinstance(row, Mapping):
        return RejectedRow(index, "not_an_object")
    unknown = sorted(str(key) for key in row if key not in _LAB_FIELDS)
    if unknown:
        return RejectedRow(index, "unknown_field", unknown[0])
    raw_id = row.get("id_number")
    if not isinstance(raw_id, str):
        return RejectedRow(index, "invalid_id_number", "id_number")
    try:
        document = documents.check_document(
            raw_id, row.get("id_type"), today=today, nationality=row.get("nationality")
        )
    except InvalidInput as refused:
        return RejectedRow(index, refused.code, refused.field)
    id_number, id_type = document.number, document.id_type.value
    sampled_at = _parse_instant(row.get("sampled_at"))
    if sampled_at is None:
        return RejectedRow(index, "invalid_sampled_at", "sampled_at")
    if sampled_at > now + CLOCK_SKEW:
        return RejectedRow(index, "sampled_in_future", "sampled_at")
    result = row.get("result")
    if result not in ("negative", "positive"):
        return RejectedRow(index, "invalid_result", "result")
    test = row.get("test", "nucleic_acid")
    if test not in LAB_TESTS:
        return RejectedRow(index, "invalid_test", "test")
    return LabRow(
        index=index,
        id_number=id_number,
        sampled_at=sampled_at,
        positive=result == "positive",
        id_type=id_type,
        test=str(test),
    )


def check_lab_rows(rows: object, *, now: datetime) -> tuple[list[LabRow], list[RejectedRow]]:
    """Valid rows (first occurrence of each) and rejected rows, each in index order.

    The batch as a whole must be a list of 1 to :data:`MAX_LAB_ROWS` rows (``422
    invalid_results`` / ``too_many_results``, field ``results``); everything else is per row:
    ``not_an_object``, ``unknown_field``, ``invalid_id_number``, ``invalid_sampled_at``,
    ``sampled_in_future``, ``invalid_result``, ``invalid_test`` (``test`` other than
    ``nucleic_acid`` or ``igg_antibody``) and ``conflicting_result`` (two rows of one test for
    the same person and sampling instant disagree: both are rejected, neither can be trusted).
    """
    now = _aware_utc(now, "now")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("results must be a non-empty list", field="results", code="invalid_results")
    if len(rows) > MAX_LAB_ROWS:
        raise InvalidInput(
            f"at most {MAX_LAB_ROWS} results per request", field="results", code="too_many_results"
        )
    today = now.astimezone(CHINA).date()
    checked = [_check_lab_row(index, row, now=now, today=today) for index, row in enumerate(rows)]
    results: dict[tuple[str, datetime, str], set[bool]] = {}
    for row in checked:
        if isinstance(row, LabRow):
            results.setdefault((row.id_number, row.sampled_at, row.test), set()).add(row.positive)
    accepted: list[LabRow] = []
    rejected: list[RejectedRow] = []
    seen: set[tuple[str, datetime, str]] = set()
    for row in checked:
        if isinstance(row, RejectedRow):
            rejected.append(row)
            continue
        key = (row.id_number, row.sampled_at, row.test)
        if len(results[key]) > 1:
            rejected.append(RejectedRow(row.index, "conflicting_result", "result"))
        elif key not in seen:
            seen.add(key)
            accepted.append(row)
    return accepted, rejected


# -- overrides ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """A validated manual colour change, not yet approved."""

    level: RiskLevel
    colour: str
    reason_code: str
    evidence_ref: str
    note: str | None
    until: datetime | None


def free_text(value: object, *, field: str, limit: int) -> str:
    """Short free text from an official: trimmed, bounded, printable, and without an ID or
    mobile number (it goes to the audit trail, which holds no personal data in clear)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field, code=f"invalid_{field}")
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(
            f"{field} must be at most {limit} characters", field=field, code=f"invalid_{field}"
        )
    if _CONTROL.search(text):
        raise InvalidInput(
            f"{field} must not contain control characters", field=field, code=f"invalid_{field}"
        )
    if _PERSONAL_NUMBER.search(text):
        raise InvalidInput(
            f"{field} must not contain an ID or phone number (it is kept in the audit trail)",
            field=field,
            code="personal_data_in_text",
        )
    return text


def level_of_colour(colour: object, risk_level: object, policy: Policy) -> RiskLevel:
    """The level an official means by a palette colour name (and ``risk_level`` if ambiguous)."""
    if not isinstance(colour, str) or not colour:
        raise InvalidInput("colour must be a colour name", field="colour", code="invalid_colour")
    levels = sorted(level for level, name in policy.palette.items() if name == colour)
    if not levels:
        names = sorted(set(policy.palette.values()))
        raise InvalidInput(f"colour must be one of {names}", field="colour", code="invalid_colour")
    if risk_level is None:
        if len(levels) > 1:
            raise InvalidInput(
                f"{colour} stands for levels {[int(level) for level in levels]}: give risk_level",
                field="risk_level",
                code="ambiguous_colour",
            )
        return RiskLevel(levels[0])
    if isinstance(risk_level, bool) or not isinstance(risk_level, int) or risk_level not in levels:
        raise InvalidInput(
            f"risk_level must be one of {[int(level) for level in levels]} for {colour}",
            field="risk_level",
            code="invalid_risk_level",
        )
    return RiskLevel(risk_level)


def check_override(
    *,
    colour: object,
    reason_code: object,
    evidence_ref: object,
    note: object = None,
    until: datetime | None = None,
    risk_level: object = None,
    policy: Policy,
    now: datetime,
) -> OverrideRequest:
    """Validate an override request (``PUT /v1/persons/{id}/colour``); ``until`` already parsed."""
    level = level_of_colour(colour, risk_level, policy)
    if not isinstance(reason_code, str) or not _REASON_CODE.fullmatch(reason_code):
        raise InvalidInput(
            "reason_code must be a snake_case code such as recovered or released_from_quarantine",
            field="reason_code",
            code="invalid_reason_code",
        )
    evidence = free_text(evidence_ref, field="evidence_ref", limit=MAX_EVIDENCE_REF)
    text = None if note is None else free_text(note, field="note", limit=MAX_NOTE)
    if reason_code == WHITELIST:
        until = _check_whitelist(level, until, policy=policy, now=now)
    if until is not None:
        until = _aware_utc(until, "until")
        now = _aware_utc(now, "now")
        if until <= now:
            raise InvalidInput("until must be in the future", field="until", code="invalid_until")
        if until > now + timedelta(days=MAX_OVERRIDE_DAYS):
            raise InvalidInput(
                f"until must be within {MAX_OVERRIDE_DAYS} days", field="until", code="invalid_until"
            )
    return OverrideRequest(
        level=level,
        colour=policy.colour(level),
        reason_code=reason_code,
        evidence_ref=evidence,
        note=text,
        until=until,
    )


#: The reason code of a whitelist (白名单) override: green, expiring, under the two-official rule.
WHITELIST = "whitelist"


def _check_whitelist(level: RiskLevel, until: datetime | None, *, policy: Policy, now: datetime) -> datetime:
    """A whitelist entry lowers a code to green for at most the policy's ``whitelist_max_days``
    (422 ``whitelist_not_in_policy`` where the province keeps none); like every override it
    covers only the facts known when it is approved."""
    if policy.whitelist_max_days is None:
        raise InvalidInput(
            "this province keeps no whitelist", field="reason_code", code="whitelist_not_in_policy"
        )
    if level != RiskLevel.GREEN:
        raise InvalidInput("a whitelist entry is green", field="colour", code="invalid_colour")
    if until is None:
        raise InvalidInput("a whitelist entry needs its end (until)", field="until", code="missing_field")
    if _aware_utc(until, "until") > _aware_utc(now, "now") + timedelta(days=policy.whitelist_max_days):
        raise InvalidInput(
            f"a whitelist entry lasts at most {policy.whitelist_max_days} days",
            field="until",
            code="invalid_until",
        )
    return until


def check_override_body(body: Mapping[str, object], *, policy: Policy, now: datetime) -> OverrideRequest:
    """Validate ``{colour, reason_code, evidence_ref, note?, until?, risk_level?}``."""
    until = body.get("until")
    return check_override(
        colour=body.get("colour"),
        reason_code=body.get("reason_code"),
        evidence_ref=body.get("evidence_ref"),
        note=body.get("note"),
        until=None if until is None else check_instant(until, field="until"),
        risk_level=body.get("risk_level"),
        policy=policy,
        now=now,
    )


def check_decision_note(body: Mapping[str, object], *, field: str) -> str | None:
    """An official's optional words on a decision (the ``reason`` of a rejection)."""
    value = body.get(field)
    return None if value is None else free_text(value, field=field, limit=MAX_NOTE)


def over_rate_limit(requests_in_last_hour: int, policy: Policy) -> bool:
    """Whether one more override request would exceed the official's hourly limit."""
    return requests_in_last_hour >= policy.override_requests_per_hour_limit


# -- tracing tasks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueToSearch:
    """A venue whose presences a task reads: its type (dwell) and its write shards."""

    venue_id: str
    venue_type: str
    shards: int

    def __post_init__(self) -> None:
        if not self.venue_id:
            raise ValueError("venue_id must not be empty")
        if not 1 <= self.shards <= 64:
            raise ValueError(f"venue {self.venue_id}: shards must be 1..64")


@dataclass(frozen=True, slots=True)
class TracingTask:
    """Search one venue for co-visitors of one case presence, from ``(shard, after)`` on.

    ``after`` is the DynamoDB ``LastEvaluatedKey`` of the previous page in ``shard`` (None: from
    the beginning of that shard). ``part`` counts continuations (0 for the planned task).
    A ``generation`` 2 task searches around a presence of the close contact ``via`` instead of
    the case person's. A task of a share of the venue's write shards (:meth:`split`: a
    station's 32 shards searched by several tasks at once) reads shards ``shard_from`` up to
    ``shard_to`` (None: all of them). ``stored_under`` is the partition key of the task's item
    when it is not the task's own: a task written by an earlier release lies under its case's
    key (storage decides; it is not part of the task's JSON, and continuations go to their own).
    """

    case_id: str
    case_person_id: str
    presence: Presence
    venue: VenueToSearch
    part: int = 0
    shard: int = 0
    after: Mapping[str, Any] | None = None
    generation: int = 1
    via: str | None = None
    shard_from: int = 0
    shard_to: int | None = None
    stored_under: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.generation not in (1, 2) or (self.generation == 2) != (self.via is not None):
            raise ValueError("a tracing task is of generation 1, or of generation 2 with via")
        if not 0 <= self.shard_from <= self.shard < self.shard_end <= self.venue.shards:
            raise ValueError("a tracing task's shards lie within its venue's, its position within them")
        if self.via is not None and self.presence.person_id != self.via:
            raise ValueError("a generation-2 task searches around a presence of its close contact")

    @property
    def key(self) -> str:
        """The task's sort key under its case: stable across re-planning, unique per part."""
        parts = [self.presence.presence_id, self.venue.venue_id]
        if self.generation != 1:
            parts += [str(self.generation), str(self.via)]
        if self.shard_to is not None:
            parts += [f"shards {self.shard_from}-{self.shard_to}"]
        return f"TASK#{_digest(*parts, length=20)}#{self.part:05d}"

    @property
    def shard_end(self) -> int:
        """The shard after the task's last."""
        return self.venue.shards if self.shard_to is None else self.shard_to

    def split(self, shards_per_task: int) -> list[TracingTask]:
        """This planned task as tasks of at most ``shards_per_task`` shards each (itself when
        the venue has no more): they search the same venue for the same presence, in parallel."""
        if shards_per_task < 1:
            raise ValueError("shards_per_task must be at least 1")
        if self.part or self.shard_to is not None or self.venue.shards <= shards_per_task:
            return [self]
        return [
            replace(
                self,
                shard=start,
                shard_from=start,
                shard_to=min(start + shards_per_task, self.venue.shards),
            )
            for start in range(0, self.venue.shards, shards_per_task)
        ]

    def continuation(self, shard: int, after: Mapping[str, Any] | None) -> TracingTask:
        """The task that carries on from ``(shard, after)``."""
        if not self.shard_from <= shard < self.shard_end:
            raise ValueError(f"shard {shard} outside {self.shard_from}..{self.shard_end - 1}")
        return TracingTask(
            case_id=self.case_id,
            case_person_id=self.case_person_id,
            presence=self.presence,
            venue=self.venue,
            part=self.part + 1,
            shard=shard,
            after=dict(after) if after is not None else None,
            generation=self.generation,
            via=self.via,
            shard_from=self.shard_from,
            shard_to=self.shard_to,
        )

    def to_json(self) -> dict[str, Any]:
        p = self.presence
        second = {"generation": self.generation, "via": self.via} if self.generation != 1 else {}
        split = self.shard_to is not None
        share = {"shard_from": self.shard_from, "shard_to": self.shard_to} if split else {}
        return {
            **second,
            **share,
            "v": 1,
            "case_id": self.case_id,
            "case_person_id": self.case_person_id,
            "presence": {
                "presence_id": p.presence_id,
                "person_id": p.person_id,
                "venue_id": p.venue_id,
                "complex_id": p.complex_id,
                "venue_type": p.venue_type,
                "start": _instant_text(p.start),
            },
            "venue": {
                "venue_id": self.venue.venue_id,
                "venue_type": self.venue.venue_type,
                "shards": self.venue.shards,
            },
            "part": self.part,
            "shard": self.shard,
            "after": dict(self.after) if self.after is not None else None,
        }

    @classmethod
    def from_json(cls, data: object) -> TracingTask:
        """Read a stored task; ``ValueError`` for anything malformed (a poison record)."""
        try:
            if not isinstance(data, Mapping) or data.get("v") != 1:
                raise ValueError("not a version-1 tracing task")
            p, v = data["presence"], data["venue"]
            start = _parse_instant(p["start"])
            if start is None:
                raise ValueError("presence.start is not an instant")
            after = data.get("after")
            if after is not None and not isinstance(after, Mapping):
                raise ValueError("after must be a key or null")
            via = data.get("via")
            shard_to = data.get("shard_to")
            task = cls(
                case_id=_text(data["case_id"]),
                case_person_id=_text(data["case_person_id"]),
                presence=Presence(
                    presence_id=_text(p["presence_id"]),
                    person_id=_text(p["person_id"]),
                    venue_id=_text(p["venue_id"]),
                    complex_id=_text(p["complex_id"]),
                    venue_type=_text(p["venue_type"]),
                    start=start,
                ),
                venue=VenueToSearch(_text(v["venue_id"]), _text(v["venue_type"]), _whole(v["shards"])),
                part=_whole(data["part"]),
                shard=_whole(data["shard"]),
                after=after,
                generation=_whole(data.get("generation", 1)),
                via=None if via is None else _text(via),
                shard_from=_whole(data.get("shard_from", 0)),
                shard_to=None if shard_to is None else _whole(shard_to),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed tracing task: {error!r}") from error
        if task.part < 0 or not 0 <= task.shard < task.venue.shards:
            raise ValueError("malformed tracing task: part or shard out of range")
        return task


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise TypeError("expected a whole number")
    return int(value)


def plan_tasks(
    case_id: str,
    case_person_id: str,
    presences: Sequence[Presence],
    venues_by_complex: Mapping[str, Sequence[VenueToSearch]],
) -> list[TracingTask]:
    """One task per (case presence, venue to search): the presence's own venue first, then the
    other venues of its complex (``venues_by_complex[presence.complex_id]``, which must hold
    the presence's own venue). Duplicated presences or venues give one task each."""
    tasks: dict[str, TracingTask] = {}
    for presence in sorted(presences, key=lambda p: (p.start, p.presence_id)):
        if presence.person_id != case_person_id:
            raise ValueError(f"case {case_id}: presence {presence.presence_id} is another person's")
        venues = {v.venue_id: v for v in venues_by_complex.get(presence.complex_id, ())}
        own = venues.pop(presence.venue_id, None)
        if own is None:
            raise ValueError(f"venue {presence.venue_id} is missing from its complex {presence.complex_id}")
        for venue in [own, *sorted(venues.values(), key=lambda v: v.venue_id)]:
            task = TracingTask(case_id=case_id, case_person_id=case_person_id, presence=presence, venue=venue)
            tasks.setdefault(task.key, task)
    return list(tasks.values())


def plan_second_generation(
    case_id: str,
    case_person_id: str,
    via: str,
    presences: Sequence[Presence],
    venues_by_complex: Mapping[str, Sequence[VenueToSearch]],
) -> list[TracingTask]:
    """Generation-2 tasks around the close contact ``via``'s own presences (already selected by
    ``tracing.second_generation_window``), one per (presence, venue to search) like
    :func:`plan_tasks`."""
    tasks: dict[str, TracingTask] = {}
    for presence in sorted(presences, key=lambda p: (p.start, p.presence_id)):
        venues = {v.venue_id: v for v in venues_by_complex.get(presence.complex_id, ())}
        own = venues.pop(presence.venue_id, None)
        if own is None:
            raise ValueError(f"venue {presence.venue_id} is missing from its complex {presence.complex_id}")
        for venue in [own, *sorted(venues.values(), key=lambda v: v.venue_id)]:
            task = TracingTask(
                case_id=case_id,
                case_person_id=case_person_id,
                presence=presence,
                venue=venue,
                generation=2,
                via=via,
            )
            tasks.setdefault(task.key, task)
    return list(tasks.values())


def contact_rank(kind: ContactKind, overlap: timedelta, exposure_end: datetime, generation: int = 1) -> str:
    """A text that sorts as ``tracing.strongest_per_person`` ranks exposures: kind (generation 1
    before 2), then overlap, then end (ties: the smaller exposure id wins, compared separately).
    Stored on a contact row so a conditional write keeps the strongest exposure whatever order
    tasks finish in."""
    micros = overlap // timedelta(microseconds=1)
    if micros < 0 or micros >= 10**16:
        raise ValueError("overlap out of range")
    return f"{tracing_strength(kind, generation)}#{micros:016d}#{_instant_text(exposure_end)}"


# -- risk areas --------------------------------------------------------------------------------


def covered_trip_regions(region_code: str) -> list[str]:
    """Codes of trips a risk level on ``region_code`` covers: the code itself and, for a
    prefecture (``xxyy00``) or province (``xx0000``), every GB/T 2260 code ever listed under it.
    Sorted; the area first."""
    if not re.fullmatch(r"[1-9]\d{5}", region_code):
        raise ValueError("region_code must be a six-digit GB/T 2260 code")
    if region_code.endswith("0000"):
        prefix = region_code[:2]
        candidates = (f"{prefix}{n:04d}" for n in range(1, 10000))
    elif region_code.endswith("00"):
        prefix = region_code[:4]
        candidates = (f"{prefix}{n:02d}" for n in range(1, 100))
    else:
        return [region_code]
    return [region_code, *sorted(code for code in candidates if regions.was_region(code))]


#: Key prefix of sweep items (they share the risk areas' table).
SWEEP_PREFIX = "sweep#"


@dataclass(frozen=True, slots=True)
class Sweep:
    """Recompute everyone with a trip covered by ``area`` left after ``cutoff``, from trip
    region ``covered_trip_regions(area)[code_index]`` and key ``after`` on. ``change`` names
    the change of level (the area's version); ``part`` counts continuations."""

    area: str
    change: str
    cutoff: datetime
    part: int = 0
    code_index: int = 0
    after: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{SWEEP_PREFIX}{self.area}#{self.change}#{self.part:05d}"

    def continuation(self, code_index: int, after: Mapping[str, Any] | None) -> Sweep:
        return Sweep(self.area, self.change, self.cutoff, self.part + 1, code_index, after)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "area": self.area,
            "change": self.change,
            "cutoff": _instant_text(self.cutoff),
            "part": self.part,
            "code_index": self.code_index,
            "after": dict(self.after) if self.after is not None else None,
        }

    @classmethod
    def from_json(cls, data: object) -> Sweep:
        """Read a stored sweep; ``ValueError`` for anything malformed (a poison record)."""
        try:
            if not isinstance(data, Mapping) or data.get("v") != 1:
                raise ValueError("not a version-1 sweep")
            after = data.get("after")
            sweep = cls(
                area=str(data["area"]),
                change=str(data["change"]),
                cutoff=datetime.strptime(data["cutoff"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
                part=int(data["part"]),
                code_index=int(data["code_index"]),
                after=after if isinstance(after, Mapping) else None,
            )
            covered_trip_regions(sweep.area)
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed sweep: {error!r}") from error
        return sweep


def travel_cutoff(now: datetime, policy: Policy) -> datetime:
    """Trips left before this instant no longer count (``policy.risk_travel_window_days``)."""
    return _aware_utc(now, "now") - timedelta(days=policy.risk_travel_window_days)


# -- expiry ------------------------------------------------------------------------------------


def change_buckets(now: datetime, lookback_hours: int) -> list[str]:
    """The hour buckets (UTC ``YYYY-MM-DDTHH``) of ``by_next_change`` from ``lookback_hours``
    before ``now`` up to ``now``'s own, oldest first: a run that was missed catches up."""
    if lookback_hours < 0:
        raise ValueError("lookback_hours must not be negative")
    hour = _aware_utc(now, "now").replace(minute=0, second=0, microsecond=0)
    return [(hour - timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(lookback_hours, -1, -1)]
