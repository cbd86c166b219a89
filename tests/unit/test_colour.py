"""The colour rule (healthcode.rules.colour): defaults, province palettes, labs, overrides, travel, and
the properties the issue asks for (monotone in facts, green without facts, order-independent,
exact next change)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules.colour import (
    SYMPTOMS,
    AreaRisk,
    ColourDecision,
    Declaration,
    Fact,
    LabResult,
    Override,
    Travel,
    decide,
    declaration_facts,
    fact_text,
    travel_facts,
)
from healthcode.rules.policy import DEFAULT_FACT_LEVELS, FactKind, Policy, RiskLevel
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = datetime(2022, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
CST = timezone(timedelta(hours=8))

GUIZHOU = Policy(province="520000", name="贵州")
SHANXI = Policy(province="140000", name="山西")
FUJIAN = Policy(
    province="350000",
    name="福建",
    palette={RiskLevel.GREEN: "green", RiskLevel.YELLOW: "orange", RiskLevel.RED: "orange"},
    verdicts={RiskLevel.GREEN: "pass", RiskLevel.YELLOW: "register", RiskLevel.RED: "register"},
)


def at_hour(hours: int) -> datetime:
    return T0 + hours * HOUR


def fact(
    kind: FactKind,
    start: datetime = T0,
    expires: datetime | None = None,
    fact_id: str | None = None,
    recorded: datetime | None = None,
) -> Fact:
    return Fact(
        fact_id=fact_id or f"{kind}#1",
        kind=kind,
        starts_at=start,
        expires_at=expires,
        recorded_at=recorded,
    )


def outcome(decision: ColourDecision) -> tuple[RiskLevel, tuple[object, ...]]:
    return decision.level, decision.reasons


# -- strategies --------------------------------------------------------------------------------
# Every instant lies on a whole-hour grid over a few days, so boundaries (a fact starting the
# instant another expires, a lab sampled when a fact starts) come up often.

GRID_HOURS = 96
grid_instants = st.integers(0, GRID_HOURS).map(at_hour)
lifetimes = st.integers(1, GRID_HOURS).map(lambda hours: hours * HOUR)

facts_st = st.builds(
    lambda fact_id, kind, start, lifetime, recorded, learned: Fact(
        fact_id=fact_id,
        kind=kind,
        starts_at=start,
        expires_at=None if lifetime is None else start + lifetime,
        recorded_at=recorded,
        learned_at=learned,
    ),
    st.sampled_from(["f1", "f2", "f3", "f4"]),  # few ids: duplicates must not matter either
    st.sampled_from(list(FactKind)),
    grid_instants,
    st.none() | lifetimes,
    st.none() | grid_instants,
    st.none() | grid_instants,  # learned_at: any instant, before or after the fact's start
)
labs_st = st.builds(LabResult, sampled_at=grid_instants, positive=st.booleans())
overrides_st = st.builds(
    lambda override_id, level, start, lifetime, reason_code: Override(
        override_id=override_id,
        level=level,
        starts_at=start,
        until=None if lifetime is None else start + lifetime,
        reason_code=reason_code,
    ),
    st.sampled_from(["o1", "o2", "o3"]),
    st.sampled_from(list(RiskLevel)),
    grid_instants,
    st.none() | lifetimes,
    st.sampled_from(["recovered", "released_from_quarantine", "data_error"]),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The real provinces' palettes and any fact levels / lab clearing a province may choose."""
    base = draw(st.sampled_from([GUIZHOU, SHANXI, FUJIAN]))
    levels = {kind: draw(st.sampled_from(list(RiskLevel))) for kind in FactKind}
    levels[FactKind.CASE] = RiskLevel.RED  # the policy validator insists
    # ... and that a lab result never clears a case, a close contact or a quarantine
    ended_by_review = {FactKind.CASE, FactKind.CLOSE_CONTACT, FactKind.QUARANTINE}
    clearable = [kind for kind in FactKind if kind not in ended_by_review]
    clears = draw(st.frozensets(st.sampled_from(clearable)))
    return dataclasses.replace(base, fact_levels=levels, negative_lab_clears=clears)


any_policy = st.one_of(st.just(GUIZHOU), st.just(FUJIAN), policies())


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    facts=st.lists(facts_st, max_size=6),
    extra=facts_st,
    labs=st.lists(labs_st, max_size=3),
    overrides=st.lists(overrides_st, max_size=3),
    policy=any_policy,
    at=grid_instants,
)
def test_adding_a_fact_never_lowers_the_level(
    facts: list[Fact],
    extra: Fact,
    labs: list[LabResult],
    overrides: list[Override],
    policy: Policy,
    at: datetime,
) -> None:
    """Monotone in *facts*, for any fixed labs, overrides and policy. (Adding a negative lab or an
    override may lower the level: that is their purpose, so they are held fixed here.)"""
    # GIVEN any facts, labs and overrides WHEN one more fact is added
    before = decide(facts, policy=policy, at=at, labs=labs, overrides=overrides)
    after = decide([*facts, extra], policy=policy, at=at, labs=labs, overrides=overrides)
    # THEN the level is at least what it was
    assert after.level >= before.level


@settings(max_examples=200)
@given(labs=st.lists(labs_st, max_size=4), policy=any_policy, at=grid_instants)
def test_no_facts_and_no_overrides_is_green_without_reasons(
    labs: list[LabResult], policy: Policy, at: datetime
) -> None:
    # GIVEN no facts and no overrides (lab results of any kind) WHEN the colour is decided
    decision = decide([], policy=policy, at=at, labs=labs)
    # THEN it is green, with no reasons, and nothing will ever change it
    assert decision.level is RiskLevel.GREEN
    assert decision.colour == "green"
    assert decision.reasons == ()
    assert decision.next_change_at is None
    assert decision.as_of == at


@settings(max_examples=200)
@given(
    facts=st.lists(facts_st, max_size=6),
    labs=st.lists(labs_st, max_size=3),
    overrides=st.lists(overrides_st, max_size=3),
    policy=any_policy,
    at=grid_instants,
    data=st.data(),
)
def test_decision_is_deterministic_and_independent_of_input_order(
    facts: list[Fact],
    labs: list[LabResult],
    overrides: list[Override],
    policy: Policy,
    at: datetime,
    data: st.DataObject,
) -> None:
    # GIVEN the same inputs, once as given and once shuffled
    first = decide(facts, policy=policy, at=at, labs=labs, overrides=overrides)
    again = decide(facts, policy=policy, at=at, labs=labs, overrides=overrides)
    shuffled = decide(
        data.draw(st.permutations(facts)),
        policy=policy,
        at=at,
        labs=data.draw(st.permutations(labs)),
        overrides=data.draw(st.permutations(overrides)),
    )
    # THEN the decisions are equal, and the reasons are sorted and hold exactly the level
    assert first == again == shuffled
    assert all(reason.level == first.level for reason in first.reasons)
    assert len(set(first.reasons)) == len(first.reasons)
    assert (first.level == RiskLevel.GREEN) == (first.reasons == ())
    assert first.colour == policy.palette[first.level]


@settings(max_examples=100)
@given(
    facts=st.lists(facts_st, max_size=5),
    labs=st.lists(labs_st, max_size=3),
    overrides=st.lists(overrides_st, max_size=2),
    policy=any_policy,
    at=grid_instants,
)
def test_next_change_at_is_the_first_instant_the_outcome_changes(
    facts: list[Fact],
    labs: list[LabResult],
    overrides: list[Override],
    policy: Policy,
    at: datetime,
) -> None:
    # GIVEN inputs on a whole-hour grid (so the outcome can only change on the hour)
    def at_time(instant: datetime) -> ColourDecision:
        return decide(facts, policy=policy, at=instant, labs=labs, overrides=overrides)

    decision = at_time(at)
    # WHEN every later hour is tried by brute force, up to past the last input instant
    first_change = None
    for hours in range(1, 2 * GRID_HOURS + 2):
        instant = at + hours * HOUR
        if outcome(at_time(instant)) != outcome(decision):
            first_change = instant
            break
    # THEN next_change_at is exactly that hour (or None when nothing ever changes) ...
    assert decision.next_change_at == first_change
    if first_change is not None:
        # ... the outcome just before it is still today's, and at it differs
        assert outcome(at_time(first_change - TICK)) == outcome(decision)
        assert outcome(at_time(first_change)) != outcome(decision)


# -- the default rules (Guizhou / Shanxi) ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "level", "colour"),
    [
        (FactKind.CASE, RiskLevel.RED, "red"),
        (FactKind.CLOSE_CONTACT, RiskLevel.RED, "red"),
        (FactKind.HIGH_RISK_TRAVEL, RiskLevel.RED, "red"),
        (FactKind.FEVER, RiskLevel.YELLOW, "yellow"),
        (FactKind.SYMPTOMS, RiskLevel.YELLOW, "yellow"),
        (FactKind.SECONDARY_CONTACT, RiskLevel.YELLOW, "yellow"),
        (FactKind.MEDIUM_RISK_TRAVEL, RiskLevel.YELLOW, "yellow"),
        (FactKind.DECLARED_CONTACT, RiskLevel.YELLOW, "yellow"),
    ],
)
@pytest.mark.parametrize("policy", [GUIZHOU, SHANXI], ids=["guizhou", "shanxi"])
def test_each_default_rule(kind: FactKind, level: RiskLevel, colour: str, policy: Policy) -> None:
    # GIVEN one active fact of this kind
    facts = [fact(kind, start=T0, expires=T0 + 14 * DAY, fact_id="x")]
    # WHEN decided a day later
    decision = decide(facts, policy=policy, at=T0 + DAY)
    # THEN the level and colour, with the fact as the one reason, until its expiry
    assert (decision.level, decision.colour) == (level, colour)
    assert [(r.code, r.fact_id, r.until) for r in decision.reasons] == [(str(kind), "x", T0 + 14 * DAY)]
    assert decision.next_change_at == T0 + 14 * DAY


def test_every_fact_kind_has_a_default_level_and_reason_text() -> None:
    # GIVEN each kind alone WHEN decided THEN it gets the default level and a Chinese text, and
    # the kind has an English one
    for kind in FactKind:
        decision = decide([fact(kind)], policy=GUIZHOU, at=T0)
        assert decision.level == DEFAULT_FACT_LEVELS[kind]
        (reason,) = decision.reasons
        assert any("\u4e00" <= c <= "\u9fff" for c in reason.text)
        assert reason.text == fact_text(kind, GUIZHOU, "zh")
        english = fact_text(kind, GUIZHOU, "en")
        assert not any("\u4e00" <= c <= "\u9fff" for c in english) and any(c.isalpha() for c in english)


def test_only_the_facts_holding_the_level_are_reasons_in_a_fixed_order() -> None:
    # GIVEN a case, a close contact and a fever, given in a scrambled order
    facts = [
        fact(FactKind.FEVER, fact_id="fever"),
        fact(FactKind.CLOSE_CONTACT, fact_id="exp#2"),
        fact(FactKind.CASE, fact_id="case#9"),
        fact(FactKind.CLOSE_CONTACT, fact_id="exp#1"),
    ]
    # WHEN decided
    decision = decide(facts, policy=GUIZHOU, at=T0)
    # THEN red, and only the red facts are reasons: case first, then contacts by id
    assert decision.level is RiskLevel.RED
    assert [r.fact_id for r in decision.reasons] == ["case#9", "exp#1", "exp#2"]
    assert decision.reasons[0].text == "确诊病例、无症状感染者或疑似病例"


def test_worst_fact_expiring_drops_to_the_next_level() -> None:
    # GIVEN a close contact until day 14 and a medium-risk trip until day 20
    facts = [
        fact(FactKind.CLOSE_CONTACT, expires=T0 + 14 * DAY, fact_id="exp"),
        fact(FactKind.MEDIUM_RISK_TRAVEL, expires=T0 + 20 * DAY, fact_id="trip"),
    ]
    # WHEN decided before, at and after the contact's expiry
    red = decide(facts, policy=GUIZHOU, at=T0 + DAY)
    yellow = decide(facts, policy=GUIZHOU, at=T0 + 14 * DAY)
    green = decide(facts, policy=GUIZHOU, at=T0 + 20 * DAY)
    # THEN red → yellow → green, each announcing the next change
    assert (red.colour, red.next_change_at) == ("red", T0 + 14 * DAY)
    assert (yellow.colour, [r.fact_id for r in yellow.reasons]) == ("yellow", ["trip"])
    assert yellow.next_change_at == T0 + 20 * DAY
    assert (green.colour, green.reasons, green.next_change_at) == ("green", (), None)


# -- expiry and start boundaries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "counts"),
    [
        (T0 - TICK, False),  # not started yet
        (T0, True),  # counts from its start
        (T0 + 14 * DAY - TICK, True),  # still counts just before expiry
        (T0 + 14 * DAY, False),  # at expiry: no longer, whether or not TTL has deleted it
        (T0 + 30 * DAY, False),
    ],
)
def test_fact_counts_from_start_until_just_before_expiry(at: datetime, counts: bool) -> None:
    # GIVEN a close contact over [T0, T0 + 14 d)
    facts = [fact(FactKind.CLOSE_CONTACT, start=T0, expires=T0 + 14 * DAY)]
    # WHEN decided at the instant
    decision = decide(facts, policy=GUIZHOU, at=at)
    # THEN it counts exactly inside the half-open interval
    assert decision.level == (RiskLevel.RED if counts else RiskLevel.GREEN)


def test_future_fact_does_not_count_yet_but_is_the_next_change() -> None:
    # GIVEN a fact that starts tomorrow WHEN decided today
    decision = decide([fact(FactKind.FEVER, start=T0 + DAY)], policy=GUIZHOU, at=T0)
    # THEN green now, yellow from tomorrow
    assert decision.level is RiskLevel.GREEN
    assert decision.next_change_at == T0 + DAY


def test_close_contact_from_tracing_with_an_expiry() -> None:
    # GIVEN a close-contact fact as tracing writes it: from the exposure to end + 14 days
    exposure = Fact(
        fact_id="exposure#case-7#venue-3#p-1",
        kind=FactKind.CLOSE_CONTACT,
        starts_at=datetime(2022, 5, 1, 10, 0, tzinfo=CST),
        expires_at=datetime(2022, 5, 15, 11, 0, tzinfo=CST),
        detail="close contact of case case-7 at venue venue-3",
    )
    # WHEN decided during and at the end of quarantine
    during = decide([exposure], policy=GUIZHOU, at=datetime(2022, 5, 10, tzinfo=UTC))
    after = decide([exposure], policy=GUIZHOU, at=datetime(2022, 5, 15, 3, 0, tzinfo=UTC))
    # THEN red with a reason until the expiry (kept in UTC), then green
    assert during.colour == "red"
    assert during.reasons[0].until == datetime(2022, 5, 15, 3, 0, tzinfo=UTC)
    assert during.next_change_at == datetime(2022, 5, 15, 3, 0, tzinfo=UTC)
    assert after.colour == "green"


# -- province palettes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "guizhou", "fujian"),
    [
        (None, "green", "green"),
        (FactKind.FEVER, "yellow", "orange"),
        (FactKind.CASE, "red", "orange"),
    ],
)
def test_province_palettes(kind: FactKind | None, guizhou: str, fujian: str) -> None:
    # GIVEN no fact, a yellow fact or a red fact
    facts = [] if kind is None else [fact(kind)]
    # WHEN decided under Guizhou's and Fujian's policies
    in_guizhou = decide(facts, policy=GUIZHOU, at=T0)
    in_fujian = decide(facts, policy=FUJIAN, at=T0)
    # THEN the canonical level is the same; Fujian shows 1 and 2 as orange
    assert in_guizhou.level == in_fujian.level
    assert (in_guizhou.colour, in_fujian.colour) == (guizhou, fujian)


# -- declarations ------------------------------------------------------------------------------


def declaration(
    symptoms: tuple[str, ...] = (),
    temperature: float | None = None,
    contact: bool = False,
) -> Declaration:
    return Declaration(symptoms=symptoms, temperature=temperature, travel=(), contact_with_case=contact)


@pytest.mark.parametrize(
    ("temperature", "colour"),
    [(None, "green"), (36.5, "green"), (37.2, "green"), (37.3, "yellow"), (39.1, "yellow")],
)
def test_declared_temperature_at_or_above_threshold_is_a_fever_fact(
    temperature: float | None, colour: str
) -> None:
    # GIVEN a declaration with this temperature WHEN its facts decide the colour
    facts = declaration_facts("p-1", declaration(temperature=temperature), policy=GUIZHOU, at=T0)
    decision = decide(facts, policy=GUIZHOU, at=T0)
    # THEN 37.3 °C and above is yellow for fever
    assert decision.colour == colour
    if colour == "yellow":
        assert [(f.fact_id, f.kind) for f in facts] == [("decl#p-1#fever", FactKind.FEVER)]
        assert decision.reasons[0].text == "发热（≥ 37.3 °C）"


def test_symptoms_and_declared_contact_are_yellow_facts_for_declaration_days() -> None:
    # GIVEN a declaration with two symptoms and contact with a case
    decl = declaration(symptoms=("cough", "fatigue", "cough"), contact=True)
    # WHEN turned into facts
    facts = declaration_facts("p-1", decl, policy=GUIZHOU, at=T0)
    # THEN one symptoms fact and one declared-contact fact, each for 14 days from the declaration
    assert [(f.fact_id, f.kind, f.detail) for f in facts] == [
        ("decl#p-1#symptoms", FactKind.SYMPTOMS, "cough,fatigue"),
        ("decl#p-1#declared_contact", FactKind.DECLARED_CONTACT, "declared"),
    ]
    assert {(f.starts_at, f.expires_at) for f in facts} == {(T0, T0 + 14 * DAY)}
    assert decide(facts, policy=GUIZHOU, at=T0 + 14 * DAY - TICK).colour == "yellow"
    assert decide(facts, policy=GUIZHOU, at=T0 + 14 * DAY).colour == "green"


def test_healthy_declaration_gives_no_facts_and_ids_are_deterministic() -> None:
    # GIVEN a healthy declaration and a feverish one made twice
    assert declaration_facts("p-1", declaration(temperature=36.6), policy=GUIZHOU, at=T0) == []
    feverish = declaration(symptoms=("fever",), temperature=38.0)
    first = declaration_facts("p-1", feverish, policy=GUIZHOU, at=T0)
    second = declaration_facts("p-1", feverish, policy=GUIZHOU, at=T0 + HOUR)
    # THEN re-declaring gives the same fact ids (the store overwrites, not piles up)
    assert (
        [f.fact_id for f in first] == [f.fact_id for f in second] == ["decl#p-1#fever", "decl#p-1#symptoms"]
    )


def test_declaration_fact_days_comes_from_the_policy() -> None:
    # GIVEN a province whose declarations count 7 days
    policy = dataclasses.replace(GUIZHOU, declaration_fact_days=7)
    # WHEN a symptomatic declaration is turned into facts
    (symptoms,) = declaration_facts("p-1", declaration(symptoms=("cough",)), policy=policy, at=T0)
    # THEN the fact lasts 7 days
    assert symptoms.expires_at == T0 + 7 * DAY


def test_unknown_symptom_is_refused() -> None:
    # GIVEN a symptom outside the fixed vocabulary WHEN declared THEN 422 unknown_symptom
    with pytest.raises(InvalidInput) as caught:
        declaration(symptoms=("cough", "bad_luck"))
    assert (caught.value.code, caught.value.field) == ("unknown_symptom", "declaration.symptoms")
    assert "fever" in SYMPTOMS and len(SYMPTOMS) == 10


@pytest.mark.parametrize("temperature", [3.73, 373.0, float("nan"), float("inf")])
def test_implausible_temperature_is_refused(temperature: float) -> None:
    # GIVEN a temperature no body has WHEN declared THEN 422 invalid_temperature
    with pytest.raises(InvalidInput) as caught:
        declaration(temperature=temperature)
    assert caught.value.code == "invalid_temperature"


@pytest.mark.parametrize("person_key", ["11010519491231002X", "13800138000", "", "a#b"])
def test_person_key_must_be_an_opaque_id(person_key: str) -> None:
    # GIVEN an ID number (valid GB 11643 check character), a phone, or a malformed key
    # WHEN used as a person key THEN refused, so no personal number ends up in a fact id
    with pytest.raises(ValueError, match="person_key"):
        declaration_facts(person_key, declaration(contact=True), policy=GUIZHOU, at=T0)


# -- lab results -------------------------------------------------------------------------------


def test_negative_lab_clears_fever_and_symptoms_but_not_a_case() -> None:
    # GIVEN fever, symptoms and a case, then a negative sample a day later
    facts = [
        fact(FactKind.FEVER, fact_id="fever"),
        fact(FactKind.SYMPTOMS, fact_id="symptoms"),
        fact(FactKind.CASE, fact_id="case"),
    ]
    negative = LabResult(sampled_at=T0 + DAY, positive=False)
    # WHEN decided after the sample with and without the case
    with_case = decide(facts, policy=GUIZHOU, at=T0 + 2 * DAY, labs=[negative])
    without_case = decide(facts[:2], policy=GUIZHOU, at=T0 + 2 * DAY, labs=[negative])
    # THEN the case still holds red; fever and symptoms alone are cleared to green
    assert (with_case.colour, [r.fact_id for r in with_case.reasons]) == ("red", ["case"])
    assert (without_case.colour, without_case.reasons) == ("green", ())


def test_negative_lab_counts_from_its_sampling_and_only_for_earlier_facts() -> None:
    # GIVEN a fever on day 0, a negative sample on day 1, new symptoms on day 2
    facts = [fact(FactKind.FEVER, fact_id="fever"), fact(FactKind.SYMPTOMS, start=T0 + 2 * DAY)]
    labs = [LabResult(sampled_at=T0 + DAY, positive=False)]
    # WHEN decided on each day
    day0 = decide(facts, policy=GUIZHOU, at=T0, labs=labs)
    day1 = decide(facts, policy=GUIZHOU, at=T0 + DAY, labs=labs)
    day2 = decide(facts, policy=GUIZHOU, at=T0 + 2 * DAY, labs=labs)
    # THEN yellow until the sample, green from it, yellow again for the later symptoms
    assert (day0.colour, day0.next_change_at) == ("yellow", T0 + DAY)
    assert (day1.colour, day1.next_change_at) == ("green", T0 + 2 * DAY)
    assert [r.code for r in day2.reasons] == ["symptoms"]


def test_fact_starting_at_the_sampling_instant_is_cleared() -> None:
    # GIVEN a fever recorded the same instant the negative sample was taken
    facts = [fact(FactKind.FEVER, start=T0 + DAY)]
    labs = [LabResult(sampled_at=T0 + DAY, positive=False)]
    # WHEN decided THEN the sample covers it (starts_at <= sampled_at)
    assert decide(facts, policy=GUIZHOU, at=T0 + DAY, labs=labs).colour == "green"


def test_positive_lab_result_is_ignored_here() -> None:
    # GIVEN only a positive lab result (the cases module turns it into a case fact)
    labs = [LabResult(sampled_at=T0, positive=True)]
    # WHEN decided THEN it neither colours nor clears anything
    assert decide([], policy=GUIZHOU, at=T0 + DAY, labs=labs).colour == "green"
    fever = [fact(FactKind.FEVER)]
    assert decide(fever, policy=GUIZHOU, at=T0 + DAY, labs=labs).colour == "yellow"


def test_negative_lab_clears_what_the_province_says() -> None:
    # GIVEN a province where a negative test also clears medium-risk travel
    policy = dataclasses.replace(
        GUIZHOU, negative_lab_clears=frozenset({FactKind.FEVER, FactKind.MEDIUM_RISK_TRAVEL})
    )
    facts = [fact(FactKind.MEDIUM_RISK_TRAVEL), fact(FactKind.SYMPTOMS, fact_id="s")]
    labs = [LabResult(sampled_at=T0 + HOUR, positive=False)]
    # WHEN decided after the sample THEN travel is cleared, symptoms are not
    decision = decide(facts, policy=policy, at=T0 + DAY, labs=labs)
    assert [r.fact_id for r in decision.reasons] == ["s"]


# -- overrides ---------------------------------------------------------------------------------


def review(level: RiskLevel, start: datetime, until: datetime | None = None, oid: str = "ov-1") -> Override:
    return Override(override_id=oid, level=level, starts_at=start, until=until, reason_code="recovered")


def test_override_lowers_a_case_to_green_after_review() -> None:
    # GIVEN a case since day 0 and an approved green override on day 20
    facts = [fact(FactKind.CASE, fact_id="case")]
    overrides = [review(RiskLevel.GREEN, T0 + 20 * DAY)]
    # WHEN decided before and after the override
    before = decide(facts, policy=GUIZHOU, at=T0 + DAY, overrides=overrides)
    after = decide(facts, policy=GUIZHOU, at=T0 + 21 * DAY, overrides=overrides)
    # THEN red until the override starts, green after it (no reasons on a green code)
    assert (before.colour, before.next_change_at) == ("red", T0 + 20 * DAY)
    assert (after.colour, after.reasons, after.next_change_at) == ("green", (), None)


def test_a_later_case_re_reds_an_overridden_person() -> None:
    # GIVEN an old case overridden to green on day 20, then a new case on day 30
    facts = [
        fact(FactKind.CASE, fact_id="case#1"),
        fact(FactKind.CASE, start=T0 + 30 * DAY, fact_id="case#2"),
    ]
    overrides = [review(RiskLevel.GREEN, T0 + 20 * DAY)]
    # WHEN decided on day 25 and day 30
    day25 = decide(facts, policy=GUIZHOU, at=T0 + 25 * DAY, overrides=overrides)
    day30 = decide(facts, policy=GUIZHOU, at=T0 + 30 * DAY, overrides=overrides)
    # THEN green, then red again for the new case only
    assert (day25.colour, day25.next_change_at) == ("green", T0 + 30 * DAY)
    assert (day30.colour, [r.fact_id for r in day30.reasons]) == ("red", ["case#2"])


def test_fact_recorded_after_the_override_counts_even_if_it_started_before() -> None:
    # GIVEN a green override on day 20 and a close contact traced on day 22 for an exposure on day 18
    late_news = fact(FactKind.CLOSE_CONTACT, start=T0 + 18 * DAY, recorded=T0 + 22 * DAY, fact_id="exp")
    known = fact(FactKind.CLOSE_CONTACT, start=T0 + 18 * DAY, recorded=T0 + 19 * DAY, fact_id="exp")
    overrides = [review(RiskLevel.GREEN, T0 + 20 * DAY)]
    # WHEN decided on day 23
    news = decide([late_news], policy=GUIZHOU, at=T0 + 23 * DAY, overrides=overrides)
    reviewed = decide([known], policy=GUIZHOU, at=T0 + 23 * DAY, overrides=overrides)
    # THEN the reviewer did not know of the first, so it counts; the second was reviewed
    assert news.colour == "red"
    assert reviewed.colour == "green"


# -- item 5: an override covers only what was known when it was approved ------------------------


@given(
    facts=st.lists(facts_st, max_size=4),
    overrides=st.lists(overrides_st, min_size=1, max_size=3),
    late=facts_st,
    after_hours=st.integers(1, GRID_HOURS),
    policy=any_policy,
    at=grid_instants,
)
@settings(max_examples=300, deadline=None)
def test_an_override_never_hides_a_fact_learned_after_its_approval(
    facts: list[Fact],
    overrides: list[Override],
    late: Fact,
    after_hours: int,
    policy: Policy,
    at: datetime,
) -> None:
    """GIVEN any facts and approved overrides, and a fact the system learned after every approval
    (its epidemiological start may be earlier) WHEN decided while that fact is active THEN the
    level is at least the fact's: no override hides news its approver never saw."""
    approved = max(override.starts_at for override in overrides)
    news = dataclasses.replace(late, fact_id="late", learned_at=approved + after_hours * HOUR)
    decision = decide([*facts, news], policy=policy, at=at, overrides=overrides)
    if news.active(at):
        assert decision.level >= policy.fact_levels[news.kind]


@given(
    facts=st.lists(facts_st, max_size=5),
    override=overrides_st,
    policy=any_policy,
    data=st.data(),
)
@settings(max_examples=300, deadline=None)
def test_an_override_still_hides_the_facts_learned_before_its_approval(
    facts: list[Fact], override: Override, policy: Policy, data: st.DataObject
) -> None:
    """GIVEN facts all learned at or before an override's approval (whatever their start, even
    later) WHEN decided while the override is active THEN its level alone decides, with only the
    override as reason."""
    known = [
        dataclasses.replace(f, learned_at=override.starts_at - data.draw(st.integers(0, 48)) * HOUR)
        for f in facts
    ]
    at = data.draw(st.integers(0, GRID_HOURS).map(at_hour).filter(override.active))
    decision = decide(known, policy=policy, at=at, overrides=[override])
    assert decision.level == override.level
    assert all(reason.code == "override" for reason in decision.reasons)


def test_a_status_upgrade_learned_after_the_override_counts() -> None:
    # GIVEN a suspected case from day 0, reviewed to green on day 20, confirmed (learned) on day 22
    suspected = Fact(fact_id="case#c1", kind=FactKind.CASE, starts_at=T0, expires_at=None, learned_at=T0)
    confirmed = dataclasses.replace(suspected, detail="confirmed", learned_at=T0 + 22 * DAY)
    overrides = [review(RiskLevel.GREEN, T0 + 20 * DAY)]
    # WHEN decided on day 21 (before the upgrade) and day 23 (after)
    before = decide([suspected], policy=GUIZHOU, at=T0 + 21 * DAY, overrides=overrides)
    after = decide([confirmed], policy=GUIZHOU, at=T0 + 23 * DAY, overrides=overrides)
    # THEN green under the override, then red: the upgrade is news
    assert (before.colour, after.colour) == ("green", "red")


def test_a_stored_fact_without_learned_at_keeps_the_old_rule() -> None:
    # GIVEN facts stored before learned_at existed: recorded before / after a day-20 override
    overrides = [review(RiskLevel.GREEN, T0 + 20 * DAY)]
    old = fact(FactKind.CASE, start=T0, recorded=T0 + DAY, fact_id="old")
    late = fact(FactKind.CASE, start=T0, recorded=T0 + 21 * DAY, fact_id="late")
    # THEN learned at the later of start and recording
    assert (old.learned, late.learned) == (T0 + DAY, T0 + 21 * DAY)
    assert decide([old], policy=GUIZHOU, at=T0 + 22 * DAY, overrides=overrides).colour == "green"
    assert decide([late], policy=GUIZHOU, at=T0 + 22 * DAY, overrides=overrides).colour == "red"


def test_override_ending_restores_the_facts_it_covered() -> None:
    # GIVEN a case and a green override for days 5-10
    facts = [fact(FactKind.CASE, fact_id="case")]
    overrides = [review(RiskLevel.GREEN, T0 + 5 * DAY, until=T0 + 10 * DAY)]
    # WHEN decided during the override
    during = decide(facts, policy=GUIZHOU, at=T0 + 6 * DAY, overrides=overrides)
    after = decide(facts, policy=GUIZHOU, at=T0 + 10 * DAY, overrides=overrides)
    # THEN green until the override ends, red from then on
    assert (during.colour, during.next_change_at) == ("green", T0 + 10 * DAY)
    assert after.colour == "red"


def test_override_can_raise_and_is_a_reason_when_it_holds_the_level() -> None:
    # GIVEN a fever and a red override started after it
    facts = [fact(FactKind.FEVER, fact_id="fever")]
    overrides = [review(RiskLevel.RED, T0 + HOUR, until=T0 + DAY)]
    # WHEN decided during the override
    decision = decide(facts, policy=GUIZHOU, at=T0 + 2 * HOUR, overrides=overrides)
    # THEN red, held by the override alone
    assert decision.colour == "red"
    assert [(r.code, r.fact_id, r.until) for r in decision.reasons] == [("override", "ov-1", T0 + DAY)]
    assert decision.reasons[0].text == "人工调整（recovered）"


def test_override_and_later_facts_of_the_same_level_are_all_reasons() -> None:
    # GIVEN a yellow override and a later yellow fact
    facts = [fact(FactKind.SYMPTOMS, start=T0 + DAY, fact_id="s")]
    overrides = [review(RiskLevel.YELLOW, T0)]
    # WHEN decided after both THEN yellow with the override listed first
    decision = decide(facts, policy=GUIZHOU, at=T0 + 2 * DAY, overrides=overrides)
    assert [r.code for r in decision.reasons] == ["override", "symptoms"]


def test_latest_started_override_wins() -> None:
    # GIVEN a case, a green override on day 5 and a yellow one on day 7 (both open-ended)
    facts = [fact(FactKind.CASE)]
    overrides = [review(RiskLevel.YELLOW, T0 + 7 * DAY, oid="ov-2"), review(RiskLevel.GREEN, T0 + 5 * DAY)]
    # WHEN decided on day 6 and day 8
    day6 = decide(facts, policy=GUIZHOU, at=T0 + 6 * DAY, overrides=overrides)
    day8 = decide(facts, policy=GUIZHOU, at=T0 + 8 * DAY, overrides=overrides)
    # THEN the later override governs from its start
    assert (day6.colour, day6.next_change_at) == ("green", T0 + 7 * DAY)
    assert (day8.colour, [r.fact_id for r in day8.reasons]) == ("yellow", ["ov-2"])


def test_override_reason_code_is_a_code_not_free_text() -> None:
    # GIVEN free text with a name in it WHEN used as a reason code THEN refused
    with pytest.raises(ValueError, match="reason_code"):
        Override(
            override_id="o", level=RiskLevel.GREEN, starts_at=T0, until=None, reason_code="张三 recovered"
        )


# -- travel ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "risk_levels", "expected"),
    [
        ("520102", {"520102": "high"}, FactKind.HIGH_RISK_TRAVEL),  # the district itself
        ("520102", {"520100": "high"}, FactKind.HIGH_RISK_TRAVEL),  # its prefecture (Guiyang)
        ("522301", {"520000": "medium"}, FactKind.MEDIUM_RISK_TRAVEL),  # its province (Guizhou)
        ("520103", {"520102": "high"}, None),  # a sibling district
        ("520100", {"520102": "high"}, None),  # a district does not cover its prefecture
        ("530102", {"520100": "high"}, None),  # another province
        ("520102", {"520100": "high", "520102": "low"}, None),  # most specific wins
        ("520102", {"520000": "medium", "520102": "high"}, FactKind.HIGH_RISK_TRAVEL),
        ("520102", {"520000": "high", "520100": "medium"}, FactKind.MEDIUM_RISK_TRAVEL),
        ("520102", {"520102": "low"}, None),
        ("520102", {}, None),
    ],
)
def test_travel_matches_risk_areas_by_gbt2260_prefix(
    region: str, risk_levels: dict[str, AreaRisk], expected: FactKind | None
) -> None:
    # GIVEN a trip left yesterday and these risk areas
    trip = Travel(region_code=region, left_at=T0 - DAY)
    # WHEN turned into facts
    facts = travel_facts("p-1", [trip], risk_levels, policy=GUIZHOU, at=T0)
    # THEN a fact of the expected kind, or none
    assert [f.kind for f in facts] == ([] if expected is None else [expected])


@settings(max_examples=200)
@given(
    prefecture=st.integers(1, 99),
    county=st.integers(1, 99),
    other=st.integers(1, 99),
    province=st.sampled_from(["11", "35", "36", "41", "52"]),
)
def test_a_prefecture_risk_covers_every_county_under_it(
    province: str, prefecture: int, county: int, other: int
) -> None:
    # GIVEN a high-risk prefecture and a county code under it (and one under another prefecture)
    area = f"{province}{prefecture:02d}00"
    inside = Travel(region_code=f"{province}{prefecture:02d}{county:02d}", left_at=T0)
    outside = Travel(region_code=f"{province}{other:02d}{county:02d}", left_at=T0)
    # WHEN each trip is matched
    got_inside = travel_facts("p-1", [inside], {area: "high"}, policy=GUIZHOU, at=T0)
    got_outside = travel_facts("p-1", [outside], {area: "high"}, policy=GUIZHOU, at=T0)
    # THEN only the county inside is at risk
    assert [f.kind for f in got_inside] == [FactKind.HIGH_RISK_TRAVEL]
    assert len(got_outside) == (1 if other == prefecture else 0)


def test_travel_fact_lasts_until_the_window_after_leaving() -> None:
    # GIVEN trips left 13 days ago and exactly 14 days ago to a high-risk district
    recent = Travel(region_code="520102", left_at=T0 - 13 * DAY)
    old = Travel(region_code="520103", left_at=T0 - 14 * DAY)
    # WHEN turned into facts today
    facts = travel_facts("p-1", [old, recent], {"520100": "high"}, policy=GUIZHOU, at=T0)
    # THEN only the recent trip counts, from now until 14 days after leaving
    (only,) = facts
    assert (only.kind, only.starts_at, only.expires_at) == (FactKind.HIGH_RISK_TRAVEL, T0, T0 + DAY)
    assert only.fact_id == "travel#p-1#520102#20220418"
    assert decide(facts, policy=GUIZHOU, at=T0).next_change_at == T0 + DAY


def test_trips_to_one_region_on_one_china_day_share_a_fact() -> None:
    # GIVEN two departures from one district on 2022-04-30 China time (one is still 04-29 in UTC)
    early = Travel(region_code="520102", left_at=datetime(2022, 4, 30, 1, 0, tzinfo=CST))
    late = Travel(region_code="520102", left_at=datetime(2022, 4, 30, 20, 0, tzinfo=CST))
    # WHEN turned into facts, in either order
    one = travel_facts("p-1", [early, late], {"520102": "medium"}, policy=GUIZHOU, at=T0)
    two = travel_facts("p-1", [late, early], {"520102": "medium"}, policy=GUIZHOU, at=T0)
    # THEN one fact, dated by the China day, lasting from the later departure
    assert one == two
    (shared,) = one
    assert shared.fact_id == "travel#p-1#520102#20220430"
    assert shared.expires_at == datetime(2022, 5, 14, 20, 0, tzinfo=CST)


def test_travel_after_the_declaration_is_refused() -> None:
    # GIVEN a departure after the declaration instant WHEN matched THEN 422 travel_in_future
    trip = Travel(region_code="520102", left_at=T0 + HOUR)
    with pytest.raises(InvalidInput) as caught:
        travel_facts("p-1", [trip], {}, policy=GUIZHOU, at=T0)
    assert (caught.value.code, caught.value.field) == ("travel_in_future", "declaration.travel.left_at")


@pytest.mark.parametrize("region", ["52010", "5201022", "052010", "abcdef", "52O102"])
def test_travel_region_code_must_be_gbt2260(region: str) -> None:
    # GIVEN a malformed region code WHEN a trip is built THEN 422 invalid_region_code
    with pytest.raises(InvalidInput) as caught:
        Travel(region_code=region, left_at=T0)
    assert caught.value.code == "invalid_region_code"


# -- input validation --------------------------------------------------------------------------


def test_naive_instants_are_refused() -> None:
    # GIVEN instants without an offset WHEN used anywhere THEN refused (no silent local time)
    naive = datetime(2022, 5, 1, 8, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Fact(fact_id="f", kind=FactKind.CASE, starts_at=naive, expires_at=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        LabResult(sampled_at=naive, positive=False)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide([], policy=GUIZHOU, at=naive)


def test_fact_must_expire_after_it_starts() -> None:
    # GIVEN an expiry at the start instant WHEN a fact is built THEN refused
    with pytest.raises(ValueError, match="expires_at must be after starts_at"):
        Fact(fact_id="f", kind=FactKind.FEVER, starts_at=T0, expires_at=T0)


def test_stored_strings_become_enums_and_instants_utc() -> None:
    # GIVEN a fact as read back from storage (kind as text, time at +08:00)
    stored = Fact(fact_id="f", kind="case", starts_at=datetime(2022, 5, 1, 8, tzinfo=CST), expires_at=None)  # type: ignore[arg-type]
    # THEN it is the same fact as one built from enums in UTC
    assert stored == Fact(fact_id="f", kind=FactKind.CASE, starts_at=T0, expires_at=None)
    assert stored.kind is FactKind.CASE and stored.starts_at.tzinfo is UTC
