"""The colour rule: facts about a person plus the province policy → a colour, its reasons, and
when it next changes. Pure functions; no storage, no clock, no AWS.

Where the colour is decided
    :func:`decide` takes every *fact* known about one person (case status, close and secondary
    contacts, travel to risk areas, fever, declared symptoms, declared contact), their negative
    *lab results*, approved manual *overrides*, the province :class:`~healthcode.rules.policy.Policy`
    and the instant ``at``, and returns a :class:`ColourDecision`: the canonical
    :class:`~healthcode.rules.policy.RiskLevel` (0 green, 1 yellow, 2 red), the province's colour
    name for it (``policy.palette``: Fujian shows 1 and 2 as ``orange``), the reasons that
    hold the level, and ``next_change_at``. Callers pass the instant explicitly (normally
    ``clock.now()``); this module never reads a clock.

Facts
    A :class:`Fact` counts at ``at`` iff ``starts_at <= at < expires_at`` (``expires_at`` None:
    open-ended). A fact stops counting at its expiry even if DynamoDB's TTL has not deleted it
    yet, and a fact that starts in the future does not count yet. Its level is
    ``policy.fact_levels[kind]``; the defaults follow Guizhou/Shanxi: case (confirmed,
    asymptomatic, suspected), close contact and high-risk travel are red; fever (≥
    ``policy.fever_threshold_c``, 37.3 °C), declared symptoms, declared contact with a case,
    secondary contact and medium-risk travel are yellow; nothing else is green.

Lab results
    A negative nucleic-acid :class:`LabResult` sampled at ``s`` counts from ``s`` on (``s <= at``)
    and clears every fact whose kind is in ``policy.negative_lab_clears`` (default fever and
    symptoms) and which started at or before ``s``. An IgG-antibody result (``test``
    ``igg_antibody``) is shown on the code but clears nothing and opens no case: antibodies say
    nothing about an infection now. Facts that start after the sample still count: a test
    says nothing about a fever measured after it. A *positive* result is ignored here: the
    cases module turns it into a ``case`` fact, so counting it twice would only hide that path.

Overrides
    An approved manual :class:`Override` is active while ``starts_at <= at < until``; its
    ``starts_at`` is the instant it was approved. While active it sets the level to its own
    level and *covers* the facts that were known when it was approved: a fact is covered iff
    it was *learned* at or before the approval (``Fact.learned``: when the system recorded
    it, whatever its epidemiological time). A fact learned later counts even if it starts
    earlier: a case upgraded from suspected to confirmed, a positive lab result, an exposure
    found by tracing after the approval is news the approving official did not weigh. Facts
    not covered count normally, so the level is ``max(override level, their levels)``: an
    official can lower a case to green after review, and a later case turns the person red
    again. Of several active overrides the one that started last wins (ties broken by id).
    Negative lab results still clear uncovered facts.

Reasons
    ``reasons`` lists what holds the level at its current value: every counting fact whose
    level equals the decided level, plus the winning override if its level equals it. Each
    :class:`Reason` has a fixed short Chinese + English text and never personal data. A green
    decision has no reasons (a green override's reason is in the person's audited history,
    not on the code). Reasons are de-duplicated and sorted by rule (override, case, close
    contact, high-risk travel, secondary contact, medium-risk travel, fever, symptoms,
    declared contact), then fact id, then expiry.

When it next changes
    ``next_change_at`` is the earliest instant after ``at`` at which :func:`decide`, given the
    same inputs, returns a different level or different reasons; ``None`` if it never does.
    Every condition above has the form ``t >= x`` or ``t < x`` for an input instant ``x``, so
    the decision is constant between consecutive input instants; :func:`decide` evaluates each
    fact start and expiry, override start and end, and negative lab sample after ``at`` in
    order and returns the first that changes the outcome. A stream consumer schedules its next
    recomputation from it.

Properties (tested in ``tests/unit/test_colour.py``)
    * Adding a fact never lowers the level, whatever the labs and overrides: each fact's
      counting depends only on itself, the labs and the winning override, and the level is a
      maximum over the counting facts. Adding a negative lab result or an override *may* lower
      the level; that is what they are for.
    * No facts and no overrides → green with no reasons and no next change.
    * The result depends only on the inputs as sets: input order never matters.

Declarations and travel
    :func:`declaration_facts` turns a health declaration into fever (lasting
    ``policy.fever_fact_hours``, as a checkpoint fever does), symptoms and declared-contact facts
    (``policy.declaration_fact_days``), and contact with people with fever
    (``policy.fever_contact_days``, when the province counts it). A declaration with a normal
    temperature made at least ``policy.fever_minimum_hours`` after a self-declared fever began
    ends that fever (the fact comes back with ``expires_at`` at the declaration); a checkpoint
    fever is never ended by what the person declares. :func:`travel_facts` turns declared travel
    into high/medium-risk-travel facts against the current risk areas (which change
    independently, so callers recompute travel facts when a risk area changes) and, where the
    policy sets ``arrival_test_days``, a ``no_recent_test`` fact for each such trip not covered
    by a negative nucleic-acid test sampled at most that many days before leaving (or any time
    after). :func:`prefecture_travel_facts` turns travel to another prefecture of the person's
    own province into ``prefecture_travel`` facts. Fact ids are deterministic
    (``decl#<person>#<kind>``, ``travel#<person>#<region>#<yyyymmdd>``), so re-declaring
    overwrites instead of piling up. ``person_key`` is the person's opaque id, never an ID
    number or a phone number.

Quarantine and buildings
    :func:`quarantine_fact` is the fact of a quarantine an official places (red by default;
    ``policy.quarantine_days`` when no end is given). :func:`same_building_fact` is what a case
    or close contact (``policy.same_building_sources``) gives the other people registered in
    the same building (``policy.same_building_days`` from when it is learned).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from healthcode.clock import CHINA
from healthcode.errors import InvalidInput
from healthcode.rules import forms
from healthcode.rules.policy import FactKind, Policy, RiskLevel

__all__ = [
    "DECLARED_PREFIX",
    "IGG_ANTIBODY",
    "NUCLEIC_ACID",
    "OVERRIDE_CODE",
    "QUARANTINE_KINDS",
    "SYMPTOMS",
    "TESTS",
    "AreaRisk",
    "ColourDecision",
    "Declaration",
    "Fact",
    "LabResult",
    "Override",
    "Reason",
    "Travel",
    "decide",
    "declaration_facts",
    "latest_tests",
    "prefecture_travel_facts",
    "quarantine_fact",
    "same_building_fact",
    "travel_facts",
]

#: The fixed vocabulary of declarable symptoms (the declaration form's check boxes).
SYMPTOMS: frozenset[str] = frozenset(
    {
        "fever",
        "cough",
        "sore_throat",
        "shortness_of_breath",
        "fatigue",
        "loss_of_taste_or_smell",
        "diarrhoea",
        "muscle_ache",
        "headache",
        "runny_nose",
    }
)

#: A risk area's level as officials set it (``PUT /v1/risk-areas/{region_code}``).
AreaRisk = Literal["high", "medium", "low"]

#: Reason code of a manual override.
OVERRIDE_CODE = "override"

#: Lab tests: nucleic acid (核酸) and IgG antibody (血清特异性IgG抗体).
NUCLEIC_ACID = "nucleic_acid"
IGG_ANTIBODY = "igg_antibody"
TESTS: tuple[str, ...] = (NUCLEIC_ACID, IGG_ANTIBODY)

#: Kinds of quarantine an official places (集中 / 居家隔离医学观察).
QUARANTINE_KINDS: tuple[str, ...] = ("centralised", "home")

#: Prefix of the ids of facts a person declared themselves (what a later declaration may end).
DECLARED_PREFIX = "decl#"

_REGION_CODE = re.compile(r"[1-9]\d{5}")
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Shapes of an ID number (GB 11643) and a mainland mobile number: never a person key.
_PERSONAL_NUMBER = re.compile(r"\d{17}[\dXx]|1\d{10}")

_TRAVEL_KINDS: dict[str, FactKind | None] = {
    "high": FactKind.HIGH_RISK_TRAVEL,
    "medium": FactKind.MEDIUM_RISK_TRAVEL,
    "low": None,
}

#: Order in which reasons are listed: the override first, then facts from gravest to mildest.
_REASON_ORDER: tuple[str, ...] = (
    OVERRIDE_CODE,
    FactKind.CASE,
    FactKind.QUARANTINE,
    FactKind.CLOSE_CONTACT,
    FactKind.HIGH_RISK_TRAVEL,
    FactKind.SECONDARY_CONTACT,
    FactKind.SAME_BUILDING,
    FactKind.MEDIUM_RISK_TRAVEL,
    FactKind.NO_RECENT_TEST,
    FactKind.PREFECTURE_TRAVEL,
    FactKind.FEVER,
    FactKind.SYMPTOMS,
    FactKind.FEVER_CONTACT,
    FactKind.DECLARED_CONTACT,
)
_REASON_RANK: dict[str, int] = {code: rank for rank, code in enumerate(_REASON_ORDER)}


class FactText(NamedTuple):
    """What a fact kind is called in each language. ``{threshold}`` is the policy's fever
    threshold, ``{days}`` its ``arrival_test_days``."""

    zh: str
    en: str


#: One entry per fact kind: how reasons name the fact, in Simplified Chinese and in English.
_FACT_TEXT: dict[FactKind, FactText] = {
    FactKind.FEVER: FactText("发热（≥ {threshold} °C）", "fever ≥ {threshold} °C"),
    FactKind.QUARANTINE: FactText("集中或居家隔离医学观察中", "under quarantine"),
    FactKind.PREFECTURE_TRAVEL: FactText("跨设区市旅居史", "travel to another prefecture of the province"),
    FactKind.SAME_BUILDING: FactText(
        "同一楼道有确诊病例或密接", "a case or close contact lives in the same building"
    ),
    FactKind.FEVER_CONTACT: FactText(
        "接触发热或呼吸道症状人员", "contact with people with fever or respiratory symptoms"
    ),
    FactKind.NO_RECENT_TEST: FactText(
        "{days}日内无核酸阴性证明", "no negative nucleic-acid test within {days} days"
    ),
    FactKind.CASE: FactText("确诊病例、无症状感染者或疑似病例", "case"),
    FactKind.CLOSE_CONTACT: FactText("与确诊病例密切接触", "close contact of a case"),
    FactKind.SECONDARY_CONTACT: FactText("与密切接触者接触（次密接）", "secondary contact"),
    FactKind.HIGH_RISK_TRAVEL: FactText("高风险地区旅居史", "travel to a high-risk area"),
    FactKind.MEDIUM_RISK_TRAVEL: FactText("中风险地区旅居史", "travel to a medium-risk area"),
    FactKind.SYMPTOMS: FactText("申报有症状", "declared symptoms"),
    FactKind.DECLARED_CONTACT: FactText("申报接触过病例", "declared contact with a case"),
    FactKind.HEALTH_MONITORING: FactText("康复后健康监测", "health monitoring after recovery"),
}


def _aware_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """Something known about a person that may colour their code, over ``[starts_at, expires_at)``.

    ``fact_id`` is deterministic from the fact's source (a declaration, a trip, an exposure, a
    case), so writing the same fact twice is idempotent. ``detail`` is a short non-personal
    note for reviewers (case status, region code, exposure's case id). ``learned_at`` is the
    instant the system learned the fact (a status upgrade or a positive lab result learns a
    case again); it only matters against overrides. Facts stored before ``learned_at`` existed
    carry only ``recorded_at`` and are taken as learned at the later of their start and their
    recording (the rule before). All instants are stored in UTC.
    """

    fact_id: str
    kind: FactKind
    starts_at: datetime
    expires_at: datetime | None
    detail: str = ""
    recorded_at: datetime | None = None
    learned_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.fact_id:
            raise ValueError("fact_id must not be empty")
        object.__setattr__(self, "kind", FactKind(self.kind))
        object.__setattr__(self, "starts_at", _aware_utc(self.starts_at, "starts_at"))
        if self.expires_at is not None:
            expires_at = _aware_utc(self.expires_at, "expires_at")
            if expires_at <= self.starts_at:
                raise ValueError(f"fact {self.fact_id}: expires_at must be after starts_at")
            object.__setattr__(self, "expires_at", expires_at)
        if self.recorded_at is not None:
            object.__setattr__(self, "recorded_at", _aware_utc(self.recorded_at, "recorded_at"))
        if self.learned_at is not None:
            object.__setattr__(self, "learned_at", _aware_utc(self.learned_at, "learned_at"))

    def active(self, at: datetime) -> bool:
        """Whether the fact counts at ``at``: ``starts_at <= at < expires_at``."""
        return self.starts_at <= at and (self.expires_at is None or at < self.expires_at)

    @property
    def learned(self) -> datetime:
        """When the system learned the fact: ``learned_at``; for a fact stored without it, the
        later of its start and its recording. An override approved at or after this instant
        was decided knowing this fact, and covers it."""
        if self.learned_at is not None:
            return self.learned_at
        if self.recorded_at is None:
            return self.starts_at
        return max(self.starts_at, self.recorded_at)


@dataclass(frozen=True, slots=True)
class LabResult:
    """A test result: nucleic acid (the default) or IgG antibody. Only negative nucleic-acid
    results act on facts here (see the module docstring)."""

    sampled_at: datetime
    positive: bool
    test: str = NUCLEIC_ACID

    def __post_init__(self) -> None:
        object.__setattr__(self, "sampled_at", _aware_utc(self.sampled_at, "sampled_at"))
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}")

    @property
    def clears(self) -> bool:
        """Whether the result clears facts: a negative nucleic-acid test."""
        return self.test == NUCLEIC_ACID and not self.positive


@dataclass(frozen=True, slots=True)
class Override:
    """An approved manual colour override, active over ``[starts_at, until)``; ``starts_at`` is
    the instant a second official approved it.

    ``reason_code`` is a snake_case code (e.g. ``recovered``, ``released_from_quarantine``),
    never free text: it is shown on the code. Evidence and notes live in the audit trail.
    """

    override_id: str
    level: RiskLevel
    starts_at: datetime
    until: datetime | None
    reason_code: str

    def __post_init__(self) -> None:
        if not self.override_id:
            raise ValueError("override_id must not be empty")
        if not _REASON_CODE.fullmatch(self.reason_code):
            raise ValueError("reason_code must be a snake_case code")
        object.__setattr__(self, "level", RiskLevel(self.level))
        object.__setattr__(self, "starts_at", _aware_utc(self.starts_at, "starts_at"))
        if self.until is not None:
            until = _aware_utc(self.until, "until")
            if until <= self.starts_at:
                raise ValueError(f"override {self.override_id}: until must be after starts_at")
            object.__setattr__(self, "until", until)

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.until is None or at < self.until)

    def covers(self, fact: Fact) -> bool:
        """Whether this override was decided over ``fact`` (so ``fact`` is ignored while it is
        active): the fact was learned at or before the override was approved (``starts_at``)."""
        return fact.learned <= self.starts_at

    def _precedence(self) -> tuple[datetime, str, int, datetime, str]:
        far = datetime.max.replace(tzinfo=UTC)
        return (self.starts_at, self.override_id, int(self.level), self.until or far, self.reason_code)


# -- outputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a code has its colour: one fact or the override holding the level."""

    code: str
    level: RiskLevel
    fact_id: str
    until: datetime | None
    text: str

    def _sort_key(self) -> tuple[int, str, bool, datetime, int, str]:
        far = datetime.max.replace(tzinfo=UTC)
        return (
            _REASON_RANK.get(self.code, len(_REASON_RANK)),
            self.fact_id,
            self.until is None,
            self.until or far,
            int(self.level),
            self.text,
        )


@dataclass(frozen=True, slots=True)
class ColourDecision:
    """A person's colour at ``as_of`` and the earliest instant it would differ."""

    level: RiskLevel
    colour: str
    reasons: tuple[Reason, ...]
    next_change_at: datetime | None
    as_of: datetime
    #: The latest result of each test sampled by ``as_of`` (shown on the code, ``latest_tests``).
    tests: tuple[LabResult, ...] = ()


# -- the rule ----------------------------------------------------------------------------------


def decide(
    facts: Iterable[Fact],
    *,
    policy: Policy,
    at: datetime,
    labs: Iterable[LabResult] = (),
    overrides: Iterable[Override] = (),
) -> ColourDecision:
    """The colour of a person with these facts, lab results and approved overrides at ``at``.

    Deterministic and independent of the order of every input.
    """
    at = _aware_utc(at, "at")
    all_facts = tuple(facts)
    all_labs = tuple(labs)
    negatives = tuple(lab.sampled_at for lab in all_labs if lab.clears)
    all_overrides = tuple(overrides)

    outcome = _outcome(all_facts, negatives, all_overrides, policy, at)
    next_change_at: datetime | None = None
    for instant in _instants_after(at, all_facts, negatives, all_overrides):
        if _outcome(all_facts, negatives, all_overrides, policy, instant) != outcome:
            next_change_at = instant
            break
    level, reasons = outcome
    return ColourDecision(
        level=level,
        colour=policy.colour(level),
        reasons=reasons,
        next_change_at=next_change_at,
        as_of=at,
        tests=tuple(latest_tests(lab for lab in all_labs if lab.sampled_at <= at)),
    )


def _outcome(
    facts: Sequence[Fact],
    negatives: Sequence[datetime],
    overrides: Sequence[Override],
    policy: Policy,
    at: datetime,
) -> tuple[RiskLevel, tuple[Reason, ...]]:
    """Level and reasons at ``at`` (the part of :func:`decide` that depends on the instant)."""
    latest_negative = max((s for s in negatives if s <= at), default=None)
    active_overrides = [o for o in overrides if o.active(at)]
    override = max(active_overrides, key=Override._precedence, default=None)

    counting: list[Fact] = []
    for fact in facts:
        if not fact.active(at):
            continue
        if (
            latest_negative is not None
            and fact.kind in policy.negative_lab_clears
            and fact.starts_at <= latest_negative
        ):
            continue
        if override is not None and override.covers(fact):
            continue
        counting.append(fact)

    level = max(
        (policy.fact_levels[fact.kind] for fact in counting),
        default=RiskLevel.GREEN,
    )
    if override is not None:
        level = max(level, override.level)
    level = RiskLevel(level)
    if level == RiskLevel.GREEN:
        return level, ()

    reasons = {
        Reason(
            code=str(fact.kind),
            level=level,
            fact_id=fact.fact_id,
            until=fact.expires_at,
            text=_fact_text(fact.kind, policy),
        )
        for fact in counting
        if policy.fact_levels[fact.kind] == level
    }
    if override is not None and override.level == level:
        reasons.add(
            Reason(
                code=OVERRIDE_CODE,
                level=level,
                fact_id=override.override_id,
                until=override.until,
                text=f"人工调整（{override.reason_code}）",
            )
        )
    return level, tuple(sorted(reasons, key=Reason._sort_key))


def _fact_text(kind: FactKind, policy: Policy) -> str:
    return fact_text(kind, policy)


def fact_text(code: str, policy: Policy, language: str = "zh") -> str:
    """How a reason of ``code`` (a fact kind, or ``override``) names its fact in ``language``
    (``zh``, else English)."""
    if code == OVERRIDE_CODE:
        return "人工调整" if language == "zh" else "manual override"
    try:
        known = _FACT_TEXT[FactKind(code)]
    except (ValueError, KeyError):
        return code
    return (known.zh if language == "zh" else known.en).format(
        threshold=f"{policy.fever_threshold_c:.1f}", days=policy.arrival_test_days or 0
    )


def _instants_after(
    at: datetime,
    facts: Sequence[Fact],
    negatives: Sequence[datetime],
    overrides: Sequence[Override],
) -> list[datetime]:
    """Every input instant after ``at`` at which the outcome may change, in order."""
    instants: set[datetime] = set(negatives)
    for fact in facts:
        instants.add(fact.starts_at)
        if fact.expires_at is not None:
            instants.add(fact.expires_at)
    for override in overrides:
        instants.add(override.starts_at)
        if override.until is not None:
            instants.add(override.until)
    return sorted(instant for instant in instants if instant > at)


# -- declarations and travel -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Travel:
    """A declared trip: the GB/T 2260 region visited and when the person left it."""

    region_code: str
    left_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.region_code, str) or not _REGION_CODE.fullmatch(self.region_code):
            raise InvalidInput(
                "region_code must be a 6-digit GB/T 2260 code",
                field="declaration.travel.region_code",
                code="invalid_region_code",
            )
        object.__setattr__(self, "left_at", _aware_utc(self.left_at, "left_at"))


@dataclass(frozen=True, slots=True)
class Declaration:
    """A health declaration (the ``declaration`` of an application), already parsed at the edge."""

    symptoms: tuple[str, ...]
    temperature: float | None
    travel: tuple[Travel, ...]
    contact_with_case: bool
    contact_with_fever: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "symptoms", tuple(self.symptoms))
        object.__setattr__(self, "travel", tuple(self.travel))
        unknown = sorted(set(self.symptoms) - SYMPTOMS)
        if unknown:
            raise InvalidInput(
                f"unknown symptoms {unknown}; known: {sorted(SYMPTOMS)}",
                field="declaration.symptoms",
                code="unknown_symptom",
            )
        if self.temperature is not None:
            forms.check_temperature(self.temperature, field="declaration.temperature")


def _check_person_key(person_key: str) -> None:
    if not person_key or "#" in person_key:
        raise ValueError("person_key must be a non-empty opaque id without '#'")
    if _PERSONAL_NUMBER.fullmatch(person_key):
        raise ValueError("person_key must be the person's opaque id, not an ID or phone number")


def declaration_facts(
    person_key: str,
    declaration: Declaration,
    *,
    policy: Policy,
    at: datetime,
    previous: Iterable[Fact] = (),
) -> list[Fact]:
    """Fever, symptoms, declared-contact and fever-contact facts from a declaration made at ``at``.

    A declared fever lasts ``policy.fever_fact_hours`` (as a checkpoint fever does); symptoms
    and declared contact ``policy.declaration_fact_days``; contact with people with fever
    ``policy.fever_contact_days`` (nothing when the policy leaves it unset). A normal
    temperature ends a self-declared fever among ``previous`` (the person's facts before this
    declaration) that is still counting and began at least ``policy.fever_minimum_hours``
    before ``at``: the fever fact is given back ending at ``at``. Declared travel is not
    handled here: it depends on the risk areas, see :func:`travel_facts`.
    """
    _check_person_key(person_key)
    at = _aware_utc(at, "at")
    expires_at = at + timedelta(days=policy.declaration_fact_days)

    def fact(kind: FactKind, detail: str, until: datetime = expires_at) -> Fact:
        return Fact(
            fact_id=f"{DECLARED_PREFIX}{person_key}#{kind}",
            kind=kind,
            starts_at=at,
            expires_at=until,
            detail=detail,
        )

    facts: list[Fact] = []
    temperature = declaration.temperature
    if temperature is not None and temperature >= policy.fever_threshold_c:
        facts.append(
            fact(FactKind.FEVER, f"{temperature:.1f} °C", at + timedelta(hours=policy.fever_fact_hours))
        )
    elif temperature is not None:
        ended = ended_fever(person_key, previous, policy=policy, at=at)
        if ended is not None:
            facts.append(ended)
    if declaration.symptoms:
        facts.append(fact(FactKind.SYMPTOMS, ",".join(sorted(set(declaration.symptoms)))))
    if declaration.contact_with_case:
        facts.append(fact(FactKind.DECLARED_CONTACT, "declared"))
    if declaration.contact_with_fever and policy.fever_contact_days is not None:
        until = at + timedelta(days=policy.fever_contact_days)
        facts.append(fact(FactKind.FEVER_CONTACT, "declared", until))
    return facts


def ended_fever(person_key: str, previous: Iterable[Fact], *, policy: Policy, at: datetime) -> Fact | None:
    """The person's self-declared fever ended at ``at`` by a normal temperature declared then,
    if one still counts and began at least ``policy.fever_minimum_hours`` earlier; else None."""
    fact_id = f"{DECLARED_PREFIX}{person_key}#{FactKind.FEVER}"
    minimum = timedelta(hours=policy.fever_minimum_hours)
    for fact in previous:
        if fact.fact_id == fact_id and fact.kind is FactKind.FEVER and fact.active(at):
            if fact.starts_at + minimum <= at:
                return Fact(
                    fact_id=fact.fact_id,
                    kind=fact.kind,
                    starts_at=fact.starts_at,
                    expires_at=at,
                    detail=f"{fact.detail}; normal temperature declared".lstrip("; "),
                    recorded_at=fact.recorded_at,
                    learned_at=fact.learned_at,
                )
    return None


def _area_risk(region_code: str, risk_levels: Mapping[str, AreaRisk]) -> tuple[str, AreaRisk] | None:
    """The risk set on the most specific area covering ``region_code`` (the county itself, then
    its prefecture ``xxyy00``, then its province ``xx0000``), with the code it was set on."""
    for code in (region_code, f"{region_code[:4]}00", f"{region_code[:2]}0000"):
        risk = risk_levels.get(code)
        if risk is not None:
            return code, risk
    return None


def travel_facts(
    person_key: str,
    travel: Iterable[Travel],
    risk_levels: Mapping[str, AreaRisk],
    *,
    policy: Policy,
    at: datetime,
    labs: Iterable[LabResult] = (),
) -> list[Fact]:
    """High/medium-risk-travel facts for declared ``travel`` against the risk areas at ``at``.

    A trip counts if the region it visited is covered by a high or medium risk area: a level
    set on a province (``xx0000``) or prefecture (``xxyy00``) covers every code under it, and
    the most specific level set wins (a district set to ``low`` inside a high-risk prefecture
    is not at risk). The fact starts at ``at`` and lasts until ``left_at +
    policy.risk_travel_window_days``; a trip already older than that gives nothing. Trips to
    the same region on the same day (China time) share one fact, the latest departure's.
    A departure after ``at`` is refused (``422 travel_in_future``).

    Where ``policy.arrival_test_days`` is set, each such trip also gives a ``no_recent_test``
    fact (same start and end, id ``test#…``) unless ``labs`` hold a negative nucleic-acid test
    sampled no earlier than that many days before leaving and no later than ``at``.
    """
    _check_person_key(person_key)
    at = _aware_utc(at, "at")
    window = timedelta(days=policy.risk_travel_window_days)
    negatives = sorted(lab.sampled_at for lab in labs if lab.clears and lab.sampled_at <= at)
    by_id: dict[str, Fact] = {}
    for trip in travel:
        if trip.left_at > at:
            raise InvalidInput(
                "a trip cannot end after the declaration",
                field="declaration.travel.left_at",
                code="travel_in_future",
            )
        expires_at = trip.left_at + window
        if expires_at <= at:
            continue
        found = _area_risk(trip.region_code, risk_levels)
        if found is None:
            continue
        area, risk = found
        if risk not in _TRAVEL_KINDS:
            raise ValueError(f"risk area {area}: unknown level {risk!r}")
        kind = _TRAVEL_KINDS[risk]
        if kind is None:
            continue
        fact_id = f"travel#{person_key}#{trip.region_code}#{trip.left_at.astimezone(CHINA):%Y%m%d}"
        previous = by_id.get(fact_id)
        if previous is not None and previous.expires_at is not None and previous.expires_at >= expires_at:
            continue
        by_id[fact_id] = Fact(
            fact_id=fact_id,
            kind=kind,
            starts_at=at,
            expires_at=expires_at,
            detail=f"{trip.region_code} in {risk}-risk area {area}",
        )
        if policy.arrival_test_days is not None:
            earliest = trip.left_at - timedelta(days=policy.arrival_test_days)
            if not any(earliest <= sampled for sampled in negatives):
                test_id = "test#" + fact_id.removeprefix("travel#")
                by_id[test_id] = Fact(
                    fact_id=test_id,
                    kind=FactKind.NO_RECENT_TEST,
                    starts_at=at,
                    expires_at=expires_at,
                    detail=f"left {trip.region_code} without a recent negative test",
                )
            else:
                by_id.pop("test#" + fact_id.removeprefix("travel#"), None)
    return [by_id[fact_id] for fact_id in sorted(by_id)]


def prefecture_travel_facts(
    person_key: str, travel: Iterable[Travel], *, home_region: str, policy: Policy, at: datetime
) -> list[Fact]:
    """Travel to another prefecture (``xxyy``) of the person's own province (``xx``, from
    ``home_region``) declared at ``at``: one ``prefecture_travel`` fact per region and day,
    from ``at`` until ``left_at + policy.prefecture_travel_days``. Nothing when the policy
    leaves that unset, for trips older than it, or for trips in the person's own prefecture
    or outside the province."""
    _check_person_key(person_key)
    at = _aware_utc(at, "at")
    if policy.prefecture_travel_days is None:
        return []
    if not isinstance(home_region, str) or not _REGION_CODE.fullmatch(home_region):
        raise ValueError("home_region must be a 6-digit GB/T 2260 code")
    window = timedelta(days=policy.prefecture_travel_days)
    by_id: dict[str, Fact] = {}
    for trip in travel:
        code = trip.region_code
        if code[:2] != home_region[:2] or code[:4] == home_region[:4] or code[2:4] == "00":
            continue
        expires_at = trip.left_at + window
        if trip.left_at > at or expires_at <= at:
            continue
        fact_id = f"xpref#{person_key}#{code}#{trip.left_at.astimezone(CHINA):%Y%m%d}"
        previous = by_id.get(fact_id)
        if previous is not None and previous.expires_at is not None and previous.expires_at >= expires_at:
            continue
        by_id[fact_id] = Fact(
            fact_id=fact_id,
            kind=FactKind.PREFECTURE_TRAVEL,
            starts_at=at,
            expires_at=expires_at,
            detail=f"{code} outside home prefecture {home_region[:4]}00",
        )
    return [by_id[fact_id] for fact_id in sorted(by_id)]


# -- quarantine, buildings, tests --------------------------------------------------------------


def quarantine_fact(
    person_key: str, kind: str, *, starts_at: datetime, until: datetime | None, policy: Policy
) -> Fact:
    """The fact of a quarantine (``centralised`` or ``home``) from ``starts_at`` until ``until``
    (default ``starts_at + policy.quarantine_days``). One per person (id ``quarantine#<person>``):
    placing a new one replaces it."""
    _check_person_key(person_key)
    if kind not in QUARANTINE_KINDS:
        raise InvalidInput(
            f"kind must be one of {list(QUARANTINE_KINDS)}", field="kind", code="invalid_quarantine_kind"
        )
    starts_at = _aware_utc(starts_at, "from")
    end = starts_at + timedelta(days=policy.quarantine_days) if until is None else _aware_utc(until, "until")
    if end <= starts_at:
        raise InvalidInput("until must be after from", field="until", code="invalid_until")
    return Fact(
        fact_id=f"quarantine#{person_key}",
        kind=FactKind.QUARANTINE,
        starts_at=starts_at,
        expires_at=end,
        detail=kind,
    )


def same_building_fact(source_key: str, *, policy: Policy, at: datetime) -> Fact | None:
    """What a person in the building of ``source_key`` (a person holding one of
    ``policy.same_building_sources``, learned at ``at``) holds: a ``same_building`` fact from
    ``at`` for ``policy.same_building_days`` (id ``building#<source>``: one per source person).
    None when the policy leaves it unset."""
    _check_person_key(source_key)
    if policy.same_building_days is None:
        return None
    at = _aware_utc(at, "at")
    return Fact(
        fact_id=f"building#{source_key}",
        kind=FactKind.SAME_BUILDING,
        starts_at=at,
        expires_at=at + timedelta(days=policy.same_building_days),
        detail="same building",
        learned_at=at,
    )


def latest_tests(labs: Iterable[LabResult]) -> list[LabResult]:
    """The latest result of each test (by sampling instant; at one instant a positive wins), in
    the order of :data:`TESTS`."""
    latest: dict[str, LabResult] = {}
    for lab in labs:
        held = latest.get(lab.test)
        if held is None or (lab.sampled_at, lab.positive) > (held.sampled_at, held.positive):
            latest[lab.test] = lab
    return [latest[test] for test in TESTS if test in latest]
