"""The contact-tracing rule (healthcode.rules.tracing) against docs/api.md's rule and a brute-force reference.

The reference below is deliberately naive and shares no code with the module: presences start on
whole minutes, each occupies the set of minute cells ``{start, ..., start + dwell − 1}``, and an
overlap is the intersection of two such sets. Hypothesis then compares it with the module on
random presences in a small universe of venues and complexes, so collisions are frequent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from healthcode.rules.colour import Fact, decide
from healthcode.rules.policy import FactKind, Policy, RiskLevel, Tracing
from healthcode.rules.tracing import (
    ContactKind,
    Exposure,
    Presence,
    case_window,
    co_visitor_window,
    exposure_id,
    exposures_for,
    in_case_window,
    strongest_per_person,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

BASE = datetime(2022, 5, 1, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CASE_ID = "case-1"
CASE_PERSON = "p0"
PERSONS = ["p0", "p1", "p2", "p3"]

#: venue -> (complex root, venue type). c1 is a mall complex with three stores, c2 a transit
#: complex; "v5" stands alone and has a type no policy knows.
VENUES: dict[str, tuple[str, str]] = {
    "v1": ("c1", "restaurant"),
    "v2": ("c1", "supermarket"),
    "v3": ("c1", "pharmacy"),
    "v4": ("c2", "public_toilet"),
    "v6": ("c2", "restaurant"),
    "v5": ("v5", "pop_up_stall"),
}
#: docs/api.md's default dwell minutes for the types above, written out independently of policy.py.
API_DWELL = {"restaurant": 90, "supermarket": 45, "pharmacy": 15, "public_toilet": 10}
API_UNKNOWN_DWELL = 60


def default_policy() -> Policy:
    return Policy(province="520000", name="Guizhou")


# -- the brute-force reference ------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The rule's parameters, as plain numbers the reference reads."""

    dwell: dict[str, int]
    unknown_dwell: int
    close_minutes: int
    lookback_minutes: int
    quarantine_days: int = 14
    observation_days: int = 7


API_RULES = Rules(
    dwell=API_DWELL, unknown_dwell=API_UNKNOWN_DWELL, close_minutes=15, lookback_minutes=14 * 1440
)

# A presence for the reference: (presence_id, person_id, venue_id, start minute after BASE).
Row = tuple[str, str, str, int]
# What the reference finds: (case presence, contact presence, person, kind, venue, first minute,
# minute after the last, overlap minutes).
Found = tuple[str, str, str, str, str, int, int, int]


def occupied(row: Row, rules: Rules) -> set[int]:
    _, _, venue, start = row
    venue_type = VENUES[venue][1]
    dwell = rules.dwell.get(venue_type, rules.unknown_dwell)
    return set(range(start, start + dwell))


def reference(case_rows: list[Row], candidates: list[Row], diagnosed_minute: int, rules: Rules) -> set[Found]:
    found: set[Found] = set()
    for case in case_rows:
        if not diagnosed_minute - rules.lookback_minutes <= case[3] <= diagnosed_minute:
            continue
        for other in candidates:
            if other[1] == CASE_PERSON:
                continue
            same_venue = other[2] == case[2]
            same_complex = VENUES[other[2]][0] == VENUES[case[2]][0]
            if not same_complex:
                continue
            shared = occupied(case, rules) & occupied(other, rules)
            if not shared:
                continue
            kind = "close" if same_venue and len(shared) >= rules.close_minutes else "secondary"
            found.add(
                (case[0], other[0], other[1], kind, other[2], min(shared), max(shared) + 1, len(shared))
            )
    return found


# -- bridging rows to the module ----------------------------------------------------------------


def presence(row: Row) -> Presence:
    presence_id, person, venue, start = row
    complex_id, venue_type = VENUES[venue]
    return Presence(presence_id, person, venue, complex_id, venue_type, BASE + start * MINUTE)


def as_found(exposure: Exposure) -> Found:
    def minute(at: datetime) -> int:
        whole, rest = divmod(at - BASE, MINUTE)
        assert rest == timedelta(0), "minute-aligned inputs give minute-aligned exposures"
        return whole

    overlap, rest = divmod(exposure.overlap, MINUTE)
    assert rest == timedelta(0)
    return (
        exposure.case_presence_id,
        exposure.presence_id,
        exposure.person_id,
        exposure.kind.value,
        exposure.venue_id,
        minute(exposure.exposure_start),
        minute(exposure.exposure_end),
        overlap,
    )


def module(
    case_rows: list[Row], candidates: list[Row], diagnosed_minute: int, policy: Policy
) -> list[Exposure]:
    selected = in_case_window([presence(r) for r in case_rows], BASE + diagnosed_minute * MINUTE, policy)
    return exposures_for(CASE_ID, CASE_PERSON, selected, [presence(r) for r in candidates], policy)


# -- strategies ---------------------------------------------------------------------------------

venue_ids = st.sampled_from(sorted(VENUES))
starts = st.integers(min_value=0, max_value=240)


@st.composite
def scenes(draw: st.DrawFn, lookback_minutes: int) -> tuple[list[Row], list[Row], int]:
    """Case presences, candidates (with the case person, repeats and strangers), and the
    diagnosis minute, placed so that the case window holds every presence or one of its edges
    cuts through them."""
    case_rows = [
        (f"c{i}", CASE_PERSON, venue, start)
        for i, (venue, start) in enumerate(
            draw(st.lists(st.tuples(venue_ids, starts), min_size=1, max_size=4))
        )
    ]
    others = draw(st.lists(st.tuples(st.sampled_from(PERSONS), venue_ids, starts), min_size=2, max_size=12))
    candidates = [(f"o{i}", person, venue, start) for i, (person, venue, start) in enumerate(others)]
    # The stream consumer's queries overlap: the same presence may come back twice, and the
    # case person's own presences come back from their venues' partitions.
    candidates += draw(st.lists(st.sampled_from(candidates), max_size=3)) if candidates else []
    candidates += case_rows
    # Diagnosis after every presence (all count), or an edge of the window inside the scene.
    edge = draw(st.integers(min_value=-10, max_value=250))
    cut = draw(st.sampled_from(["none", "upper", "lower"]))
    diagnosed = {"none": 250, "upper": edge, "lower": edge + lookback_minutes}[cut]
    return case_rows, candidates, diagnosed


# -- the module agrees with the reference -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(scene=scenes(API_RULES.lookback_minutes))
@example(  # touching: the contact arrives the minute the case's 90-minute stay ends
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v1", 90)], 100),
)
@example(  # exactly 15 minutes at the same venue: close
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v1", 75)], 100),
)
@example(  # one whole stay inside the complex but at another store: only secondary
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v2", 10)], 100),
)
@example(  # same start, different complexes: nothing
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v6", 0), ("o1", "p1", "v5", 0)], 100),
)
@example(  # the case presence starts exactly at the lookback edge: counted
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v1", 0)], 14 * 1440),
)
@example(  # one minute before the lookback edge: not counted
    scene=([("c0", "p0", "v1", 0)], [("o0", "p1", "v1", 0)], 14 * 1440 + 1),
)
@example(  # the case presence starts at diagnosis: counted
    scene=([("c0", "p0", "v1", 50)], [("o0", "p1", "v1", 40)], 50),
)
def test_exposures_match_the_brute_force_reference_under_api_defaults(
    scene: tuple[list[Row], list[Row], int],
) -> None:
    # GIVEN random presences of a case and others in a small venue universe
    case_rows, candidates, diagnosed = scene
    # WHEN the module traces them under the default policy
    found = module(case_rows, candidates, diagnosed, default_policy())
    # THEN it finds exactly what the minute-by-minute reference finds, each exposure once
    assert sorted(as_found(e) for e in found) == sorted(
        reference(case_rows, candidates, diagnosed, API_RULES)
    )
    assert len({e.exposure_id for e in found}) == len(found)


@st.composite
def province_rules(draw: st.DrawFn) -> tuple[Policy, Rules]:
    dwell = {
        t: draw(st.integers(min_value=1, max_value=120)) for t in sorted(API_DWELL) if draw(st.booleans())
    }
    unknown = draw(st.integers(min_value=1, max_value=120))
    close = draw(st.integers(min_value=1, max_value=60))
    lookback_days = draw(st.integers(min_value=1, max_value=3))
    policy = Policy(
        province="350000",
        name="Province under test",
        dwell_minutes=dwell,
        tracing=Tracing(
            lookback_days=lookback_days, close_contact_minutes=close, default_dwell_minutes=unknown
        ),
    )
    # A type the policy leaves out of dwell_minutes uses its default dwell, like an unknown type.
    return policy, Rules(
        dwell=dwell, unknown_dwell=unknown, close_minutes=close, lookback_minutes=lookback_days * 1440
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rules=province_rules())
def test_exposures_match_the_reference_under_any_province_policy(
    data: st.DataObject, rules: tuple[Policy, Rules]
) -> None:
    # GIVEN a province with its own dwell times, close-contact threshold and lookback
    policy, plain = rules
    case_rows, candidates, diagnosed = data.draw(scenes(plain.lookback_minutes))
    # WHEN the module traces random presences under it
    found = module(case_rows, candidates, diagnosed, policy)
    # THEN it agrees with the reference reading the same numbers
    assert sorted(as_found(e) for e in found) == sorted(reference(case_rows, candidates, diagnosed, plain))


@settings(max_examples=200, deadline=None)
@given(scene=scenes(API_RULES.lookback_minutes))
def test_every_exposure_starts_inside_the_co_visitor_window(scene: tuple[list[Row], list[Row], int]) -> None:
    # GIVEN the exposures of a random scene
    case_rows, candidates, diagnosed = scene
    policy = default_policy()
    by_id = {r[0]: presence(r) for r in case_rows + candidates}
    for exposure in module(case_rows, candidates, diagnosed, policy):
        contact = by_id[exposure.presence_id]
        # WHEN the consumer would query the contact's venue for co-visitors of the case presence
        low, high = co_visitor_window(by_id[exposure.case_presence_id], policy, contact.venue_type)
        # THEN the contact's start lies strictly inside that window, so the query finds it
        assert low < contact.start < high


@settings(max_examples=200, deadline=None)
@given(
    venue=venue_ids,
    other_venue=venue_ids,
    start=st.integers(min_value=0, max_value=10**6),
    seconds=st.integers(min_value=0, max_value=59),
)
def test_co_visitor_window_is_exactly_the_starts_that_overlap(
    venue: str, other_venue: str, start: int, seconds: int
) -> None:
    # GIVEN a case presence and another venue of its complex (or the same venue)
    policy = default_policy()
    complex_id, venue_type = VENUES[venue]
    case = Presence(
        "c0", CASE_PERSON, venue, complex_id, venue_type, BASE + start * MINUTE + timedelta(seconds=seconds)
    )
    other_type = VENUES[other_venue][1]
    low, high = co_visitor_window(case, policy, other_type)

    def exposed(at: datetime) -> bool:
        contact = Presence("o0", "p1", other_venue, complex_id, other_type, at)
        return bool(exposures_for(CASE_ID, CASE_PERSON, [case], [contact], policy))

    # THEN a start one second inside either end overlaps, and a start on either end only touches
    assert exposed(low + timedelta(seconds=1))
    assert exposed(high - timedelta(seconds=1))
    assert not exposed(low)
    assert not exposed(high)


# -- explicit boundaries ------------------------------------------------------------------------


def trace(case: Presence, *others: Presence, policy: Policy | None = None) -> list[Exposure]:
    return exposures_for(CASE_ID, CASE_PERSON, [case], list(others), policy or default_policy())


def at(venue: str, person: str, start: datetime, presence_id: str | None = None) -> Presence:
    complex_id, venue_type = VENUES[venue]
    return Presence(
        presence_id or f"{person}@{venue}@{start.isoformat()}", person, venue, complex_id, venue_type, start
    )


def test_overlap_of_exactly_fifteen_minutes_is_close() -> None:
    # GIVEN a case in a restaurant (90 min) from 08:00 and a diner arriving at 09:15
    case = at("v1", CASE_PERSON, BASE)
    diner = at("v1", "p1", BASE + 75 * MINUTE)
    # WHEN traced
    [exposure] = trace(case, diner)
    # THEN they shared exactly 15 minutes, 09:15–09:30: a close contact
    assert exposure.kind is ContactKind.CLOSE
    assert exposure.overlap == timedelta(minutes=15)
    assert exposure.overlap_minutes == 15.0
    assert (exposure.exposure_start, exposure.exposure_end) == (BASE + 75 * MINUTE, BASE + 90 * MINUTE)


def test_overlap_of_fourteen_minutes_fifty_nine_seconds_is_secondary() -> None:
    # GIVEN a diner arriving one second later than in the close case
    case = at("v1", CASE_PERSON, BASE)
    diner = at("v1", "p1", BASE + 75 * MINUTE + timedelta(seconds=1))
    # WHEN traced
    [exposure] = trace(case, diner)
    # THEN the 14 min 59 s overlap is only secondary
    assert exposure.kind is ContactKind.SECONDARY
    assert exposure.overlap == timedelta(minutes=14, seconds=59)


def test_touching_stays_are_no_exposure() -> None:
    # GIVEN one diner arriving the instant the case's stay ends and one leaving the instant it starts
    case = at("v1", CASE_PERSON, BASE)
    after = at("v1", "p1", BASE + 90 * MINUTE)
    before = at("v1", "p2", BASE - 90 * MINUTE)
    # WHEN traced / THEN zero overlap is nothing, while one second more is a (secondary) exposure
    assert trace(case, after, before) == []
    [one_second] = trace(case, at("v1", "p1", BASE + 90 * MINUTE - timedelta(seconds=1)))
    assert one_second.kind is ContactKind.SECONDARY
    assert one_second.overlap == timedelta(seconds=1)


def test_same_complex_other_venue_is_secondary_however_long() -> None:
    # GIVEN the case eating in the mall's restaurant and a shopper in its supermarket all along
    case = at("v1", CASE_PERSON, BASE)
    shopper = at("v2", "p1", BASE)
    # WHEN traced
    [exposure] = trace(case, shopper)
    # THEN 45 minutes together in the complex is still only secondary, recorded at the contact's venue
    assert exposure.kind is ContactKind.SECONDARY
    assert exposure.overlap == timedelta(minutes=45)
    assert exposure.venue_id == "v2"


def test_different_complexes_are_no_exposure() -> None:
    # GIVEN people at the same moment in restaurants of other complexes (same type, other roots)
    case = at("v1", CASE_PERSON, BASE)
    elsewhere = [at("v6", "p1", BASE), at("v5", "p2", BASE), at("v4", "p3", BASE)]
    # WHEN traced / THEN nobody is a contact
    assert trace(case, *elsewhere) == []


def test_the_case_person_is_never_their_own_contact() -> None:
    # GIVEN the case's own second check-in at the same venue overlapping the first
    case = at("v1", CASE_PERSON, BASE, "c0")
    again = at("v1", CASE_PERSON, BASE + 10 * MINUTE, "c1")
    # WHEN traced with both as case presences and as candidates
    found = exposures_for(CASE_ID, CASE_PERSON, [case, again], [case, again], default_policy())
    # THEN no exposure names the case person
    assert found == []


def test_unknown_venue_type_dwells_sixty_minutes() -> None:
    # GIVEN a stall of a type no policy lists, the case there from 08:00
    case = at("v5", CASE_PERSON, BASE)
    policy = default_policy()
    # THEN its presence ends at 09:00
    assert case.end(policy) == BASE + 60 * MINUTE
    # AND a visitor arriving at 08:45 is close (15 min), one arriving at 09:00 is nothing
    [close] = trace(case, at("v5", "p1", BASE + 45 * MINUTE))
    assert close.kind is ContactKind.CLOSE
    assert close.overlap == timedelta(minutes=15)
    assert trace(case, at("v5", "p1", BASE + 60 * MINUTE)) == []


def test_policy_dwell_overrides_the_default() -> None:
    # GIVEN a province where a restaurant stay counts as 30 minutes
    policy = Policy(province="350000", name="Fujian", dwell_minutes={"restaurant": 30})
    case = at("v1", CASE_PERSON, BASE)
    # THEN a diner arriving 30 minutes after the case no longer overlaps
    assert case.end(policy) == BASE + 30 * MINUTE
    assert trace(case, at("v1", "p1", BASE + 30 * MINUTE), policy=policy) == []


def test_case_window_includes_both_edges_and_nothing_beyond() -> None:
    # GIVEN a diagnosis at 2022-05-15 10:00 +08:00 under the 14-day lookback
    policy = default_policy()
    diagnosed = datetime(2022, 5, 15, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    first, last = case_window(diagnosed, policy)
    # THEN the window is [diagnosed − 14 days, diagnosed]
    assert (first, last) == (diagnosed - timedelta(days=14), diagnosed)
    stays = {
        "edge": at("v1", CASE_PERSON, diagnosed - timedelta(days=14), "edge"),
        "too_early": at("v1", CASE_PERSON, diagnosed - timedelta(days=14, seconds=1), "too_early"),
        "at_diagnosis": at("v1", CASE_PERSON, diagnosed, "at_diagnosis"),
        "after": at("v1", CASE_PERSON, diagnosed + timedelta(seconds=1), "after"),
    }
    # WHEN the case's presences are selected / THEN both edges are in, a second beyond either is out
    chosen = in_case_window(stays.values(), diagnosed, policy)
    assert [p.presence_id for p in chosen] == ["edge", "at_diagnosis"]


def test_presences_need_aware_times_and_are_kept_in_utc() -> None:
    # GIVEN a naive start / THEN it is refused
    with pytest.raises(ValueError, match="timezone-aware"):
        Presence("x", "p1", "v1", "c1", "restaurant", datetime(2022, 5, 1, 8, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        case_window(datetime(2022, 5, 1, 8, 0), default_policy())
    # AND a +08:00 start is the same instant in UTC
    local = Presence(
        "x", "p1", "v1", "c1", "restaurant", datetime(2022, 5, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    )
    assert local.start == BASE and local.start.tzinfo is UTC


def test_case_presences_of_another_person_are_refused() -> None:
    # GIVEN a case presence that belongs to someone else (a caller's bug)
    stranger = at("v1", "p1", BASE)
    # THEN tracing refuses rather than tracing the wrong person
    with pytest.raises(ValueError, match="another person"):
        exposures_for(CASE_ID, CASE_PERSON, [stranger], [], default_policy())


def test_exposure_ids_are_deterministic_and_distinct() -> None:
    # GIVEN the same scene traced twice, candidates in another order
    case = at("v1", CASE_PERSON, BASE, "c0")
    others = [at("v1", "p1", BASE, "o1"), at("v2", "p2", BASE, "o2"), at("v1", "p1", BASE + MINUTE, "o3")]
    first = exposures_for(CASE_ID, CASE_PERSON, [case], others, default_policy())
    second = exposures_for(CASE_ID, CASE_PERSON, [case], list(reversed(others)), default_policy())
    # THEN the results, ids included, are equal and ids differ between exposures and cases
    assert first == second
    assert first[0].exposure_id == exposure_id(CASE_ID, "c0", first[0].presence_id)
    assert len({e.exposure_id for e in first}) == 3
    assert exposure_id("case-2", "c0", "o1") != exposure_id(CASE_ID, "c0", "o1")
    # AND ids cannot collide by shifting a separator between parts
    assert exposure_id("a#b", "c", "d") != exposure_id("a", "b#c", "d")


# -- one row per person -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(scene=scenes(API_RULES.lookback_minutes), seed=st.integers(min_value=0, max_value=2**32))
def test_strongest_per_person_keeps_each_persons_strongest_exposure(
    scene: tuple[list[Row], list[Row], int], seed: int
) -> None:
    # GIVEN the exposures of a random scene
    case_rows, candidates, diagnosed = scene
    found = module(case_rows, candidates, diagnosed, default_policy())
    # WHEN summarised per person, from the list in any order
    rows = strongest_per_person(found)
    shuffled = list(found)
    random.Random(seed).shuffle(shuffled)
    # THEN the answer does not depend on the order
    assert strongest_per_person(shuffled) == rows
    # AND there is one row per exposed person, close contacts first
    assert sorted(r.person_id for r in rows) == sorted({e.person_id for e in found})
    assert [r.kind for r in rows] == sorted((r.kind for r in rows), key=lambda k: k is not ContactKind.CLOSE)
    for row in rows:
        mine = [e for e in found if e.person_id == row.person_id]
        # AND the row is one of the person's exposures, of their strongest kind, longest overlap
        [source] = [e for e in mine if e.exposure_id == row.exposure_id]
        assert (row.kind, row.venue_id, row.exposure_at, row.overlap) == (
            source.kind,
            source.venue_id,
            source.exposure_start,
            source.overlap,
        )
        strongest = (
            ContactKind.CLOSE if any(e.kind is ContactKind.CLOSE for e in mine) else ContactKind.SECONDARY
        )
        assert row.kind is strongest
        assert row.overlap == max(e.overlap for e in mine if e.kind is strongest)


def test_strongest_prefers_close_over_a_longer_secondary() -> None:
    # GIVEN one person 15 minutes in the case's restaurant and, another day, 45 minutes next door
    case_day_one = at("v1", CASE_PERSON, BASE, "c0")
    case_day_two = at("v1", CASE_PERSON, BASE + timedelta(days=1), "c1")
    close = at("v1", "p1", BASE + 75 * MINUTE, "o1")
    next_door = at("v2", "p1", BASE + timedelta(days=1), "o2")
    found = exposures_for(
        CASE_ID, CASE_PERSON, [case_day_one, case_day_two], [close, next_door], default_policy()
    )
    # WHEN summarised
    [row] = strongest_per_person(found)
    # THEN the row is the close exposure, with its own venue, time and overlap
    assert (row.person_id, row.kind, row.venue_id) == ("p1", ContactKind.CLOSE, "v1")
    assert row.exposure_at == BASE + 75 * MINUTE
    assert row.overlap_minutes == 15.0


def test_equal_exposures_tie_break_on_the_later_end() -> None:
    # GIVEN two close exposures of 20 minutes each, on different days
    cases = [at("v1", CASE_PERSON, BASE, "c0"), at("v1", CASE_PERSON, BASE + timedelta(days=2), "c1")]
    visits = [
        at("v1", "p1", BASE + 70 * MINUTE, "o1"),
        at("v1", "p1", BASE + timedelta(days=2, minutes=70), "o2"),
    ]
    found = exposures_for(CASE_ID, CASE_PERSON, cases, visits, default_policy())
    # WHEN summarised / THEN the later one is shown (it keeps the person red longest)
    [row] = strongest_per_person(found)
    assert row.exposure_at == BASE + timedelta(days=2, minutes=70)


# -- colour consequences ------------------------------------------------------------------------


def test_close_exposure_counts_for_fourteen_days_from_its_end() -> None:
    # GIVEN a close exposure ending at 09:30
    [exposure] = trace(at("v1", CASE_PERSON, BASE), at("v1", "p1", BASE + 60 * MINUTE))
    assert exposure.kind is ContactKind.CLOSE
    # THEN it counts until exactly 14 days after 09:30 (not after the contact's own stay ends)
    assert exposure.expires_at(default_policy()) == BASE + 90 * MINUTE + timedelta(days=14)


def test_secondary_exposure_counts_for_seven_days_from_its_end() -> None:
    # GIVEN a secondary (complex) exposure whose overlap ends when the supermarket stay ends, 08:45
    [exposure] = trace(at("v1", CASE_PERSON, BASE), at("v2", "p1", BASE))
    assert exposure.kind is ContactKind.SECONDARY
    # THEN it counts until exactly 7 days after 08:45
    assert exposure.expires_at(default_policy()) == BASE + 45 * MINUTE + timedelta(days=7)


def test_province_durations_set_the_expiry() -> None:
    # GIVEN a province quarantining 21 days and observing 10
    policy = Policy(
        province="360000", name="Jiangxi", tracing=Tracing(quarantine_days=21, observation_days=10)
    )
    case = at("v1", CASE_PERSON, BASE)
    [close] = trace(case, at("v1", "p1", BASE), policy=policy)
    [secondary] = trace(case, at("v2", "p2", BASE), policy=policy)
    # THEN each exposure expires after the province's number of days
    assert close.expires_at(policy) == close.exposure_end + timedelta(days=21)
    assert secondary.expires_at(policy) == secondary.exposure_end + timedelta(days=10)


def test_exposure_facts_carry_kind_start_and_expiry() -> None:
    # GIVEN one close and one secondary exposure
    policy = default_policy()
    case = at("v1", CASE_PERSON, BASE)
    [close] = trace(case, at("v1", "p1", BASE + 30 * MINUTE))
    [secondary] = trace(case, at("v3", "p2", BASE))
    # WHEN turned into colour facts
    close_fact, secondary_fact = close.fact(policy), secondary.fact(policy)
    # THEN they are contact facts from the exposure's start, expiring at end + 14 / + 7 days
    assert isinstance(close_fact, Fact)
    assert (close_fact.fact_id, close_fact.kind) == (close.exposure_id, FactKind.CLOSE_CONTACT)
    assert close_fact.starts_at == BASE + 30 * MINUTE
    assert close_fact.expires_at == BASE + 90 * MINUTE + timedelta(days=14)
    assert (secondary_fact.kind, secondary_fact.starts_at) == (FactKind.SECONDARY_CONTACT, BASE)
    assert secondary_fact.expires_at == BASE + 15 * MINUTE + timedelta(days=7)
    # AND the detail names the case and venue, never the person
    assert CASE_ID in close_fact.detail and "p1" not in close_fact.detail


def level(exposures: list[Exposure], instant: datetime) -> RiskLevel:
    policy = default_policy()
    return decide([e.fact(policy) for e in exposures], policy=policy, at=instant).level


def test_close_contact_is_red_until_fourteen_days_after_the_overlap_ends() -> None:
    # GIVEN a diner sharing the case's restaurant stay, overlap 08:30–09:30
    [close] = trace(at("v1", CASE_PERSON, BASE), at("v1", "p1", BASE + 30 * MINUTE))
    expiry = BASE + 90 * MINUTE + timedelta(days=14)
    # THEN they are red from the exposure on, up to the last instant before end + 14 days
    assert level([close], BASE + 30 * MINUTE) is RiskLevel.RED
    assert level([close], expiry - timedelta(microseconds=1)) is RiskLevel.RED
    # AND from that instant on the exposure changes no colour
    assert level([close], expiry) is RiskLevel.GREEN
    # AND the next colour change is announced at exactly that instant
    policy = default_policy()
    decision = decide([close.fact(policy)], policy=policy, at=BASE + timedelta(days=3))
    assert decision.next_change_at == expiry


def test_secondary_contact_is_yellow_until_seven_days_after_the_overlap_ends() -> None:
    # GIVEN a shopper next door to the case, overlap 08:00–08:45
    [secondary] = trace(at("v1", CASE_PERSON, BASE), at("v2", "p1", BASE))
    expiry = BASE + 45 * MINUTE + timedelta(days=7)
    # THEN yellow up to the last instant before end + 7 days, green from it
    assert level([secondary], expiry - timedelta(microseconds=1)) is RiskLevel.YELLOW
    assert level([secondary], expiry) is RiskLevel.GREEN


def test_each_exposure_counts_on_its_own() -> None:
    # GIVEN a person close to the case on day 0 and next door to it on day 10
    cases = [at("v1", CASE_PERSON, BASE, "c0"), at("v1", CASE_PERSON, BASE + timedelta(days=10), "c1")]
    visits = [at("v1", "p1", BASE, "o1"), at("v2", "p1", BASE + timedelta(days=10), "o2")]
    found = exposures_for(CASE_ID, CASE_PERSON, cases, visits, default_policy())
    close_end = BASE + 90 * MINUTE
    secondary_end = BASE + timedelta(days=10, minutes=45)
    # THEN red until the close one expires (the later secondary does not lower it) ...
    assert level(found, close_end + timedelta(days=14) - timedelta(seconds=1)) is RiskLevel.RED
    # ... then yellow until the secondary one expires, then green
    assert level(found, close_end + timedelta(days=14)) is RiskLevel.YELLOW
    assert level(found, secondary_end + timedelta(days=7)) is RiskLevel.GREEN


def test_an_exposure_older_than_observation_is_listed_but_changes_no_colour() -> None:
    # GIVEN a case diagnosed 8 days after being next door to a shopper (overlap ended 08:45)
    policy = default_policy()
    diagnosed = BASE + timedelta(days=8)
    selected = in_case_window([at("v1", CASE_PERSON, BASE, "c0")], diagnosed, policy)
    found = exposures_for(CASE_ID, CASE_PERSON, selected, [at("v2", "p1", BASE, "o1")], policy)
    # THEN the shopper is still a contact of the case ...
    assert [(r.person_id, r.kind) for r in strongest_per_person(found)] == [("p1", ContactKind.SECONDARY)]
    # ... but the exposure is more than 7 days old at diagnosis and leaves them green
    assert level(found, diagnosed) is RiskLevel.GREEN
