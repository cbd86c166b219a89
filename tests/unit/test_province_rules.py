"""Province rules as policy data (healthcode.rules.colour, .policy, .cases): Shanxi's quarantine,
in-province travel, buildings, fever contact and whitelist; Fujian's arrival test and IgG
results; fever rules that are the same however the fever was learned. Edges with hypothesis."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules import cases
from healthcode.rules.applications import Residence, check_residence
from healthcode.rules.colour import (
    IGG_ANTIBODY,
    NUCLEIC_ACID,
    Declaration,
    Fact,
    LabResult,
    Travel,
    decide,
    declaration_facts,
    latest_tests,
    prefecture_travel_facts,
    quarantine_fact,
    same_building_fact,
    travel_facts,
)
from healthcode.rules.policy import FactKind, Policy, PolicyError, RiskLevel, load_policy
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = datetime(2022, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)

GUIZHOU = load_policy("520000")
SHANXI = load_policy("140000")
FUJIAN = load_policy("350000")


def declaration(
    *,
    temperature: float | None = None,
    contact_with_fever: bool = False,
    travel: tuple[Travel, ...] = (),
) -> Declaration:
    return Declaration(
        symptoms=(),
        temperature=temperature,
        travel=travel,
        contact_with_case=False,
        contact_with_fever=contact_with_fever,
    )


# -- the policy files -------------------------------------------------------------------------


def test_shanxi_and_fujian_files_set_their_rules_and_others_keep_them_off() -> None:
    # GIVEN the province files WHEN loaded THEN Shanxi and Fujian name their rules, others none
    assert (SHANXI.prefecture_travel_days, SHANXI.same_building_days, SHANXI.fever_contact_days) == (
        14,
        14,
        14,
    )
    assert SHANXI.whitelist_max_days == 14 and SHANXI.quarantine_days == 14
    assert FUJIAN.arrival_test_days == 7
    for other in (GUIZHOU, load_policy("410000"), load_policy("360000")):
        assert other.prefecture_travel_days is None and other.same_building_days is None
        assert other.fever_contact_days is None and other.arrival_test_days is None
        assert other.whitelist_max_days is None
    assert SHANXI.arrival_test_days is None and FUJIAN.same_building_days is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"same_building_sources": ["fever"]}, "same_building_sources"),
        ({"negative_lab_clears": ["quarantine"]}, "negative_lab_clears"),
        ({"prefecture_travel_days": 0}, "prefecture_travel_days"),
        ({"arrival_test_days": "7"}, "arrival_test_days"),
        ({"whitelist_max_days": -1}, "whitelist_max_days"),
        ({"fever_minimum_hours": 0}, "fever_minimum_hours"),
        ({"quarantine_days": True}, "quarantine_days"),
    ],
)
def test_bad_province_rule_fields_are_refused_when_the_policy_loads(
    changes: dict[str, object], problem: str
) -> None:
    # GIVEN a policy document with a bad rule field WHEN it loads THEN the field is named
    with pytest.raises(PolicyError) as refused:
        Policy.from_document({"province": "140000", "name": "山西", **changes})
    assert any(p.startswith(problem) for p in refused.value.problems)


def test_new_rule_fields_round_trip_through_a_document() -> None:
    # GIVEN Shanxi's and Fujian's policies WHEN written and read back THEN they are equal
    for rules in (SHANXI, FUJIAN):
        assert Policy.from_document(rules.to_document()) == rules


# -- Shanxi: quarantine -----------------------------------------------------------------------


def test_a_quarantine_is_red_for_the_policy_days_by_default_and_ends_when_it_ends() -> None:
    # GIVEN a home quarantine placed without an end
    fact = quarantine_fact("p-1", "home", starts_at=T0, until=None, policy=SHANXI)
    # THEN it lasts 14 days, red while it lasts, with its reason
    assert (fact.fact_id, fact.kind, fact.expires_at) == (
        "quarantine#p-1",
        FactKind.QUARANTINE,
        T0 + 14 * DAY,
    )
    during = decide([fact], policy=SHANXI, at=T0 + 14 * DAY - TICK)
    assert during.colour == "red" and during.reasons[0].code == "quarantine"
    assert during.next_change_at == T0 + 14 * DAY
    assert decide([fact], policy=SHANXI, at=T0 + 14 * DAY).colour == "green"


def test_a_negative_test_never_clears_a_quarantine() -> None:
    fact = quarantine_fact("p-1", "centralised", starts_at=T0, until=T0 + 3 * DAY, policy=SHANXI)
    negative = LabResult(sampled_at=T0 + DAY, positive=False)
    assert decide([fact], policy=SHANXI, at=T0 + 2 * DAY, labs=[negative]).colour == "red"


@pytest.mark.parametrize(
    ("kind", "until", "code"),
    [
        ("hotel", None, "invalid_quarantine_kind"),
        ("home", T0, "invalid_until"),
        ("home", T0 - DAY, "invalid_until"),
    ],
)
def test_a_bad_quarantine_is_refused(kind: str, until: datetime | None, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        quarantine_fact("p-1", kind, starts_at=T0, until=until, policy=SHANXI)
    assert refused.value.code == code


# -- Shanxi: travel to another prefecture -----------------------------------------------------


def test_travel_to_another_prefecture_of_the_province_is_yellow_for_the_policy_days() -> None:
    # GIVEN someone of Taiyuan (140105) who left Datong (140202) a day ago
    trip = Travel(region_code="140202", left_at=T0 - DAY)
    facts = prefecture_travel_facts("p-1", [trip], home_region="140105", policy=SHANXI, at=T0)
    # THEN yellow for 14 days after leaving, with its reason
    assert [(f.kind, f.expires_at) for f in facts] == [(FactKind.PREFECTURE_TRAVEL, T0 + 13 * DAY)]
    decision = decide(facts, policy=SHANXI, at=T0)
    assert decision.colour == "yellow" and decision.reasons[0].code == "prefecture_travel"
    # AND Guizhou, whose file leaves the rule off, gives nothing
    assert prefecture_travel_facts("p-1", [trip], home_region="140105", policy=GUIZHOU, at=T0) == []


@settings(max_examples=200, deadline=None)
@given(
    home=st.sampled_from(["140105", "140202", "140421", "520102"]),
    visited=st.sampled_from(["140106", "140105", "140202", "140211", "140421", "520102", "110101"]),
    days_ago=st.integers(min_value=0, max_value=20),
    extra=st.integers(min_value=-1, max_value=1),
)
def test_prefecture_travel_counts_only_for_other_prefectures_inside_the_window(
    home: str, visited: str, days_ago: int, extra: int
) -> None:
    # GIVEN a trip that ended some days (± a microsecond) before the declaration
    left = T0 - days_ago * DAY + extra * TICK
    at = T0
    if left > at:
        return
    facts = prefecture_travel_facts(
        "p-1", [Travel(region_code=visited, left_at=left)], home_region=home, policy=SHANXI, at=at
    )
    # THEN a fact iff same province, other prefecture, and left less than 14 days ago
    counts = visited[:2] == home[:2] and visited[:4] != home[:4] and left + 14 * DAY > at
    assert bool(facts) == counts


# -- Shanxi: buildings and fever contact ------------------------------------------------------


def test_a_building_fact_lasts_the_policy_days_from_when_it_is_learned() -> None:
    fact = same_building_fact("p-case", policy=SHANXI, at=T0)
    assert fact is not None
    assert (fact.fact_id, fact.kind, fact.expires_at, fact.learned_at) == (
        "building#p-case",
        FactKind.SAME_BUILDING,
        T0 + 14 * DAY,
        T0,
    )
    assert decide([fact], policy=SHANXI, at=T0).colour == "yellow"
    assert same_building_fact("p-case", policy=GUIZHOU, at=T0) is None


def test_declared_contact_with_fever_is_yellow_only_where_the_policy_counts_it() -> None:
    decl = declaration(contact_with_fever=True)
    (fact,) = declaration_facts("p-1", decl, policy=SHANXI, at=T0)
    assert (fact.kind, fact.expires_at) == (FactKind.FEVER_CONTACT, T0 + 14 * DAY)
    assert decide([fact], policy=SHANXI, at=T0).reasons[0].code == "fever_contact"
    assert declaration_facts("p-1", decl, policy=GUIZHOU, at=T0) == []


def test_a_residence_is_checked_and_keyed_by_its_building() -> None:
    residence = check_residence({"region_code": "140105", "venue_id": "v-1", "building": " ３号楼  2单元 "})
    assert residence == Residence("140105", "v-1", "3号楼 2单元")
    assert residence.key == "v-1#3号楼 2单元"
    assert check_residence({"region_code": "140105"}).key is None
    for bad, code in (
        ({"region_code": "140105", "building": "3"}, "missing_field"),
        ({"region_code": "140105", "venue_id": "v#1"}, "invalid_venue_id"),
        ({"region_code": "140105", "venue_id": "v-1", "building": "  "}, "invalid_building"),
        ({"region_code": "999999"}, "invalid_region_code"),
    ):
        with pytest.raises(InvalidInput) as refused:
            check_residence(bad)
        assert refused.value.code == code


# -- Shanxi: whitelist ------------------------------------------------------------------------


def test_a_whitelist_entry_is_green_expiring_and_only_where_the_province_keeps_one() -> None:
    def ask(rules: Policy, colour: str, until: datetime | None) -> cases.OverrideRequest:
        return cases.check_override(
            colour=colour,
            reason_code="whitelist",
            evidence_ref="list 2022-05",
            until=until,
            policy=rules,
            now=T0,
        )

    granted = ask(SHANXI, "green", T0 + 14 * DAY)
    assert (granted.level, granted.until) == (RiskLevel.GREEN, T0 + 14 * DAY)
    for rules, colour, until, code in (
        (SHANXI, "green", T0 + 14 * DAY + TICK, "invalid_until"),
        (SHANXI, "green", None, "missing_field"),
        (SHANXI, "yellow", T0 + DAY, "invalid_colour"),
        (GUIZHOU, "green", T0 + DAY, "whitelist_not_in_policy"),
    ):
        with pytest.raises(InvalidInput) as refused:
            ask(rules, colour, until)
        assert refused.value.code == code


# -- Fujian: tests ----------------------------------------------------------------------------


def _arrival(sampled: datetime | None, *, test: str = NUCLEIC_ACID, positive: bool = False) -> list[Fact]:
    trip = Travel(region_code="310101", left_at=T0 - DAY)
    labs = [] if sampled is None else [LabResult(sampled_at=sampled, positive=positive, test=test)]
    return travel_facts("p-1", [trip], {"310101": "medium"}, policy=FUJIAN, at=T0, labs=labs)


def test_arriving_from_a_risk_area_without_a_recent_negative_test_is_orange_with_that_reason() -> None:
    facts = _arrival(None)
    assert sorted(f.kind for f in facts) == [FactKind.MEDIUM_RISK_TRAVEL, FactKind.NO_RECENT_TEST]
    decision = decide(facts, policy=FUJIAN, at=T0)
    assert decision.colour == "orange"
    assert ("no_recent_test", "7日内无核酸阴性证明") in [(r.code, r.text) for r in decision.reasons]
    # AND a negative test sampled 7 days before leaving removes that reason
    assert [f.kind for f in _arrival(T0 - 8 * DAY)] == [FactKind.MEDIUM_RISK_TRAVEL]


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(min_value=-10 * 24 * 3600, max_value=24 * 3600),
    test=st.sampled_from([NUCLEIC_ACID, IGG_ANTIBODY]),
    positive=st.booleans(),
)
def test_only_a_negative_nucleic_acid_test_from_7_days_before_leaving_on_counts(
    offset: int, test: str, positive: bool
) -> None:
    # GIVEN a trip left at T0 - 1 day and one test sampled ``offset`` seconds from leaving
    left = T0 - DAY
    sampled = left + timedelta(seconds=offset)
    facts = _arrival(sampled, test=test, positive=positive)
    missing = any(f.kind is FactKind.NO_RECENT_TEST for f in facts)
    # THEN the test counts iff negative nucleic acid, sampled at or after left - 7 days, by T0
    counts = test == NUCLEIC_ACID and not positive and left - 7 * DAY <= sampled <= T0
    assert missing is not counts


def test_the_arrival_rule_is_off_where_the_policy_leaves_it_unset() -> None:
    trip = Travel(region_code="310101", left_at=T0 - DAY)
    facts = travel_facts("p-1", [trip], {"310101": "high"}, policy=GUIZHOU, at=T0)
    assert [f.kind for f in facts] == [FactKind.HIGH_RISK_TRAVEL]


def test_an_antibody_result_clears_no_fever_and_the_latest_of_each_test_is_shown() -> None:
    fever = Fact(fact_id="fever#1", kind=FactKind.FEVER, starts_at=T0, expires_at=T0 + DAY)
    igg = LabResult(sampled_at=T0 + HOUR, positive=False, test=IGG_ANTIBODY)
    assert decide([fever], policy=FUJIAN, at=T0 + 2 * HOUR, labs=[igg]).colour == "orange"
    nucleic = LabResult(sampled_at=T0 + HOUR, positive=False)
    assert decide([fever], policy=FUJIAN, at=T0 + 2 * HOUR, labs=[nucleic]).colour == "green"
    older = LabResult(sampled_at=T0, positive=True, test=IGG_ANTIBODY)
    assert latest_tests([older, igg, nucleic]) == [nucleic, igg]
    with pytest.raises(ValueError):
        LabResult(sampled_at=T0, positive=False, test="antigen")


def test_lab_rows_take_a_test_and_antibody_rows_never_open_a_case() -> None:
    rows = [
        {"id_number": "11010519491231002X", "sampled_at": "2022-05-01T08:00:00+08:00", "result": "positive"},
        {
            "id_number": "11010519491231002X",
            "sampled_at": "2022-05-01T08:00:00+08:00",
            "result": "negative",
            "test": "igg_antibody",
        },
        {
            "id_number": "11010519491231002X",
            "sampled_at": "2022-05-01T08:00:00+08:00",
            "result": "x",
            "test": "pcr",
        },
        {
            "id_number": "11010519491231002X",
            "sampled_at": "2022-05-02T08:00:00+08:00",
            "result": "positive",
            "test": "antigen",
        },
    ]
    accepted, rejected = cases.check_lab_rows(rows, now=T0 + 3 * DAY)
    assert [(r.test, r.positive, r.opens_case) for r in accepted] == [
        ("nucleic_acid", True, True),
        ("igg_antibody", False, False),
    ]
    assert accepted[0].lab_id != accepted[1].lab_id
    assert [(r.index, r.error) for r in rejected] == [(2, "invalid_result"), (3, "invalid_test")]


# -- fever: the same however learned ----------------------------------------------------------


def test_a_declared_fever_lasts_as_long_as_a_checkpoint_fever() -> None:
    (fever,) = declaration_facts("p-1", declaration(temperature=38.0), policy=GUIZHOU, at=T0)
    assert fever.expires_at == T0 + timedelta(hours=GUIZHOU.fever_fact_hours)
    longer = dataclasses.replace(GUIZHOU, fever_fact_hours=72)
    (fever,) = declaration_facts("p-1", declaration(temperature=38.0), policy=longer, at=T0)
    assert fever.expires_at == T0 + 72 * HOUR


@settings(max_examples=200, deadline=None)
@given(
    minutes_later=st.integers(min_value=0, max_value=30 * 60),
    temperature=st.sampled_from([36.2, 37.2, 37.3, 38.5]),
    declared=st.booleans(),
)
def test_a_normal_temperature_after_the_minimum_ends_only_a_self_declared_fever(
    minutes_later: int, temperature: float, declared: bool
) -> None:
    # GIVEN a fever (self-declared or from a checkpoint) and a later declaration
    rules = dataclasses.replace(GUIZHOU, fever_fact_hours=48, fever_minimum_hours=12)
    fever_id = "decl#p-1#fever" if declared else "fever#checkpoint#s-1"
    fever = Fact(fact_id=fever_id, kind=FactKind.FEVER, starts_at=T0, expires_at=T0 + 48 * HOUR)
    at = T0 + timedelta(minutes=minutes_later)
    facts = declaration_facts(
        "p-1", declaration(temperature=temperature), policy=rules, at=at, previous=[fever]
    )
    ended = [f for f in facts if f.fact_id == fever_id and f.expires_at == at]
    # THEN it is ended iff self-declared, the new temperature is normal, and 12 h have passed
    assert bool(ended) == (declared and temperature < 37.3 and minutes_later >= 12 * 60)
    if ended:
        stored = {fever.fact_id: fever, **{f.fact_id: f for f in facts}}
        assert decide(stored.values(), policy=rules, at=at).colour == "green"
