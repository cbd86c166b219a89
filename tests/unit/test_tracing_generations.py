"""Second-generation tracing (healthcode.rules.tracing, policy ``trace_generations`` 2) against a
brute-force reference, in the manner of tests/unit/test_tracing.py.

The reference shares no code with the module: presences start on whole minutes and occupy the
minute cells ``{start, ..., start + dwell − 1}``; a close contact's traced presences are its rows
starting between the first minute of its first close exposure and the minute it turned red (or
"now"); anyone else sharing a cell with one of them in the same complex is a secondary contact of
generation 2 found via that close contact.
"""

from __future__ import annotations

from datetime import timedelta

from healthcode.rules import cases
from healthcode.rules.policy import Policy
from healthcode.rules.tracing import (
    ContactKind,
    Exposure,
    Presence,
    exposures_for,
    in_case_window,
    second_generation_exposures,
    second_generation_window,
    strongest_per_person,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.test_tracing import (
    API_RULES,
    BASE,
    CASE_ID,
    CASE_PERSON,
    MINUTE,
    PERSONS,
    VENUES,
    Found,
    Row,
    as_found,
    occupied,
    presence,
    reference,
)

#: The minute "now" stands for (after every presence of the scenes below).
NOW_MINUTE = 400
DIAGNOSED_MINUTE = 250
#: A generation-2 finding of the reference: the generation-1-style tuple and the close contact.
Second = tuple[Found, str]


def default_policy() -> Policy:
    return Policy(province="410000", name="Henan", trace_generations=2)


# -- the reference --------------------------------------------------------------------------------


def reference_second(rows: list[Row], first_found: set[Found], red_at: dict[str, int | None]) -> set[Second]:
    """Generation 2 as the rule says it, minute by minute."""
    first_close: dict[str, int] = {}
    for _, _, person, kind, _, first_minute, _, _ in first_found:
        if kind == "close":
            first_close[person] = min(first_minute, first_close.get(person, first_minute))
    found: set[Second] = set()
    for via, start in first_close.items():
        red = red_at.get(via)
        end = NOW_MINUTE if red is None else max(start, red)
        for own in rows:
            if own[1] != via or not start <= own[3] <= end:
                continue
            for other in rows:
                if other[1] in (CASE_PERSON, via) or VENUES[other[2]][0] != VENUES[own[2]][0]:
                    continue
                shared = occupied(own, API_RULES) & occupied(other, API_RULES)
                if shared:
                    finding = (
                        own[0],
                        other[0],
                        other[1],
                        "secondary",
                        other[2],
                        min(shared),
                        max(shared) + 1,
                    )
                    found.add(((*finding, len(shared)), via))
    return found


# -- the module -----------------------------------------------------------------------------------


def module_second(
    rows: list[Row], red_at: dict[str, int | None], policy: Policy
) -> tuple[list[Exposure], list[Exposure]]:
    everyone = [presence(r) for r in rows]
    own = in_case_window(
        [p for p in everyone if p.person_id == CASE_PERSON], BASE + DIAGNOSED_MINUTE * MINUTE, policy
    )
    first = exposures_for(CASE_ID, CASE_PERSON, own, everyone, policy)
    starts: dict[str, Exposure] = {}
    for exposure in first:
        if exposure.kind is ContactKind.CLOSE:
            held = starts.get(exposure.person_id)
            if held is None or exposure.exposure_start < held.exposure_start:
                starts[exposure.person_id] = exposure
    second: list[Exposure] = []
    now = BASE + NOW_MINUTE * MINUTE
    for via, exposure in starts.items():
        red = red_at.get(via)
        low, high = second_generation_window(
            exposure.exposure_start, None if red is None else BASE + red * MINUTE, now
        )
        theirs = [p for p in everyone if p.person_id == via and low <= p.start <= high]
        second += second_generation_exposures(CASE_ID, CASE_PERSON, via, theirs, everyone, policy)
    return first, second


# -- scenes ---------------------------------------------------------------------------------------

venue_ids = st.sampled_from(sorted(VENUES))
starts = st.integers(min_value=0, max_value=240)


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Row], dict[str, int | None]]:
    """Presences of the case person and others (several each, so close contacts have later
    presences), and when each person turned red (None: not yet)."""
    drawn = draw(st.lists(st.tuples(st.sampled_from(PERSONS), venue_ids, starts), min_size=2, max_size=16))
    rows = [(f"r{i}", person, venue, start) for i, (person, venue, start) in enumerate(drawn)]
    red_at = {
        person: draw(st.one_of(st.none(), st.integers(min_value=-10, max_value=260)), label=f"red {person}")
        for person in PERSONS[1:]
    }
    return rows, red_at


@settings(max_examples=200, deadline=None)
@given(scene=scenes())
@example(  # p1 close to the case at v1, later 20 minutes with p2 at the same restaurant: p2 via p1
    scene=(
        [("r0", "p0", "v1", 0), ("r1", "p1", "v1", 10), ("r2", "p1", "v1", 150), ("r3", "p2", "v1", 200)],
        {"p1": None},
    )
)
@example(  # p1 turned red before its later presence: that presence is not traced
    scene=(
        [("r0", "p0", "v1", 0), ("r1", "p1", "v1", 10), ("r2", "p1", "v1", 150), ("r3", "p2", "v1", 200)],
        {"p1": 120},
    )
)
@example(  # a presence starting exactly when p1 turned red is traced (both ends inclusive)
    scene=(
        [("r0", "p0", "v1", 0), ("r1", "p1", "v1", 10), ("r2", "p1", "v1", 150), ("r3", "p2", "v1", 200)],
        {"p1": 150},
    )
)
@example(  # only secondary to the case: nobody is traced from p1
    scene=(
        [("r0", "p0", "v1", 0), ("r1", "p1", "v2", 10), ("r2", "p1", "v1", 150), ("r3", "p2", "v1", 200)],
        {},
    )
)
def test_second_generation_matches_the_brute_force_reference(
    scene: tuple[list[Row], dict[str, int | None]],
) -> None:
    # GIVEN random presences, and when each close contact turned red
    rows, red_at = scene
    policy = default_policy()
    # WHEN the module traces the first generation, then from each close contact
    first, second = module_second(rows, red_at, policy)
    # THEN the first generation is the reference's, and the second is exactly what the reference
    # finds from each close contact's presences in its window, each exposure once
    case_rows = [r for r in rows if r[1] == CASE_PERSON]
    first_found = reference(case_rows, rows, DIAGNOSED_MINUTE, API_RULES)
    assert sorted(as_found(e) for e in first) == sorted(first_found)
    assert sorted((as_found(e), str(e.via)) for e in second) == sorted(
        reference_second(rows, first_found, red_at)
    )
    assert len({e.exposure_id for e in [*first, *second]}) == len(first) + len(second)
    # AND generation 2 is always secondary, never the case person nor its own close contact
    assert all(e.kind is ContactKind.SECONDARY and e.generation == 2 for e in second)
    assert all(e.person_id not in (CASE_PERSON, e.via) for e in second)
    # AND each person's row is of generation 1 whenever the first generation found them
    rows_by_person = {row.person_id: row for row in strongest_per_person([*first, *second])}
    in_first = {e.person_id for e in first}
    for person_id, row in rows_by_person.items():
        if person_id in in_first:
            assert row.generation == 1 and row.via is None
        else:
            best = max(e.overlap for e in second if e.person_id == person_id)
            assert row.generation == 2 and row.kind is ContactKind.SECONDARY
            assert row.via in {e.via for e in second if e.person_id == person_id and e.overlap == best}


def test_generation_two_ranks_below_any_generation_one_exposure() -> None:
    # GIVEN the same overlap and end WHEN ranked THEN close > secondary > secondary of generation 2
    end, overlap = BASE + 2 * MINUTE * 60, timedelta(minutes=90)
    close = cases.contact_rank(ContactKind.CLOSE, overlap, end)
    secondary = cases.contact_rank(ContactKind.SECONDARY, overlap, end)
    second = cases.contact_rank(ContactKind.SECONDARY, overlap * 10, end, 2)
    assert close > secondary > second


def test_the_window_is_empty_at_its_start_when_red_came_first() -> None:
    start = BASE + 10 * MINUTE
    assert second_generation_window(start, BASE, BASE + 99 * MINUTE) == (start, start)
    assert second_generation_window(start, None, BASE + 99 * MINUTE) == (start, BASE + 99 * MINUTE)


def test_a_generation_two_task_survives_its_stored_form() -> None:
    # GIVEN a generation-2 task around a close contact's presence
    own = Presence("s1", "p1", "v1", "c1", "restaurant", BASE)
    venue = cases.VenueToSearch("v1", "restaurant", 2)
    (task,) = cases.plan_second_generation(CASE_ID, CASE_PERSON, "p1", [own], {"c1": [venue]})
    # WHEN stored and read back (and continued) THEN it is the same task, keyed apart from a
    # first-generation task of the same presence and venue
    assert cases.TracingTask.from_json(task.to_json()) == task
    assert task.continuation(1, {"pk": {"S": "x"}}).via == "p1"
    first = cases.TracingTask(
        CASE_ID, CASE_PERSON, Presence("s1", CASE_PERSON, "v1", "c1", "restaurant", BASE), venue
    )
    assert "generation" not in first.to_json() and first.key != task.key


def test_a_generation_two_task_needs_its_close_contact() -> None:
    own = Presence("s1", "p1", "v1", "c1", "restaurant", BASE)
    venue = cases.VenueToSearch("v1", "restaurant", 1)
    try:
        cases.TracingTask(CASE_ID, CASE_PERSON, own, venue, generation=2, via="p9")
    except ValueError:
        pass
    else:
        raise AssertionError("a generation-2 task around someone else's presence was accepted")
