"""Issue 13, items 5-8 (functions/cases): an override covers only what was known when it was
approved; positive lab results recolour at once and a case is written with its red fact in one
transaction; one official cannot red-code many (per-official limits, acts held for a second
official and carried out once on approval); concurrent decisions answer 409 already_decided,
never 500."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules import colour
from healthcode.rules.policy import FactKind, Policy, load_policy
from healthcode.services import overrides, recolour
from healthcode.storage import audit, facts, persons
from healthcode.storage import overrides as request_store

from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

NOW = epi.BASE + timedelta(hours=1)
THIRD_OFFICIAL = ("official-c", ["official"])
LAB_SYSTEM = ("lab-system-1", ["lab"])
GREEN_AGAIN = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0510-07"}


@pytest.fixture
def stack(aws_stack: InProcessStack) -> InProcessStack:
    clock.freeze(NOW)
    return aws_stack


def with_policy(monkeypatch: pytest.MonkeyPatch, **change: Any) -> Policy:
    changed = dataclasses.replace(load_policy("520000"), **change)
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    return changed


def stored_colour(person_id: str) -> str:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return str(person.colour)


def report(
    stack: InProcessStack, person_id: str, *, status: str = "confirmed", by: Any = epi.OFFICIAL
) -> Any:
    body = {"person_id": person_id, "status": status, "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    return stack.call("POST", "/v1/cases", as_=by, json_body=body)


def overridden_green(stack: InProcessStack, person_id: str) -> None:
    """A green override on the person, requested by one official and approved by another."""
    asked = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN)
    assert asked.status == 202, asked.body
    approved = stack.call(
        "POST", f"/v1/overrides/{asked.json()['override_id']}/approve", as_=epi.SECOND_OFFICIAL
    )
    assert approved.status == 200, approved.body
    assert stored_colour(person_id) == "green"


def lab_row(number: str, result: str, sampled: str = "2022-05-10T08:00:00+08:00") -> dict[str, str]:
    return {"id_number": number, "sampled_at": sampled, "result": result}


def emitted_metrics(output: str) -> Iterator[dict[str, Any]]:
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


# -- item 5: an override covers only what was known when it was approved -----------------------


def test_a_status_upgrade_after_an_override_turns_the_person_red(stack: InProcessStack) -> None:
    """GIVEN a suspected case reviewed to green by two officials WHEN the same case is confirmed
    later (its diagnosis still earlier than the override) THEN the person is red again: the
    upgrade is news the approvers never saw; a repeated report of it changes nothing more."""
    person_id, _ = epi.person()
    assert report(stack, person_id, status="suspected").status == 202
    clock.freeze(NOW + timedelta(hours=1))
    overridden_green(stack, person_id)
    clock.freeze(NOW + timedelta(hours=2))
    upgraded = report(stack, person_id, status="confirmed")
    assert upgraded.status == 202 and upgraded.json()["colour"] == "red", upgraded.body
    assert stored_colour(person_id) == "red"
    kinds = [entry.kind for entry in audit.entries(audit.person_subject(person_id))]
    assert kinds.count("case_reported") == 1 and kinds.count("case_updated") == 1


def test_a_positive_lab_for_the_same_case_after_an_override_turns_the_person_red(
    stack: InProcessStack,
) -> None:
    """GIVEN a confirmed case reviewed to green WHEN a positive lab result for the same case
    (sampled at the diagnosis) is imported later THEN the person is red again, at once."""
    person_id, number = epi.person()
    assert report(stack, person_id).status == 202
    clock.freeze(NOW + timedelta(hours=1))
    overridden_green(stack, person_id)
    clock.freeze(NOW + timedelta(hours=2))
    answer = stack.call(
        "POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": [lab_row(number, "positive")]}
    )
    assert answer.status == 200 and len(answer.json()["cases"]) == 1, answer.body
    assert stored_colour(person_id) == "red"
    # the same import again is no news: still one lab fact, one update on the trail
    again = stack.call(
        "POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": [lab_row(number, "positive")]}
    )
    assert again.status == 200
    kinds = [entry.kind for entry in audit.entries(audit.person_subject(person_id))]
    assert kinds.count("case_updated") == 1


def test_an_exposure_traced_after_an_override_counts_though_its_case_is_older(stack: InProcessStack) -> None:
    """GIVEN a person overridden to green at NOW+1h WHEN tracing (a case reported at NOW) writes a
    close contact for an exposure before the override, at NOW+2h THEN it is learned at NOW+2h and
    the person turns red."""
    person_id, _ = epi.person()
    clock.freeze(NOW + timedelta(hours=1))
    overridden_green(stack, person_id)
    clock.freeze(NOW + timedelta(hours=2))
    exposure = colour.Fact(
        fact_id="exp#case-x#1",
        kind=FactKind.CLOSE_CONTACT,
        starts_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=13),
        detail="case-x",
    )
    facts.add_in_batches([(person_id, exposure)], recorded_at=NOW, source="case-x")  # recorded_at: the case's
    stored = facts.state_of(person_id).facts
    assert [fact.learned for fact in stored] == [NOW + timedelta(hours=2)]
    recolour.recompute(person_id, cause="exposure")
    assert stored_colour(person_id) == "red"


# -- item 6: positive lab results recolour at once; the case and its fact in one transaction ----


def test_a_positive_lab_row_recolours_at_once_and_is_written_with_its_case(stack: InProcessStack) -> None:
    """GIVEN a green person WHEN a laboratory system imports a positive row THEN the answer comes
    after the person is red (no stream needed); the lab fact, the case and its fact exist."""
    person_id, number = epi.person()
    negative_id, negative_number = epi.person()
    rows = [lab_row(number, "positive"), lab_row(negative_number, "negative")]
    answer = stack.call("POST", "/v1/lab-results", as_=LAB_SYSTEM, json_body={"results": rows})
    assert answer.status == 200, answer.body
    assert answer.json()["accepted"] == 2 and [c["index"] for c in answer.json()["cases"]] == [0]
    assert stored_colour(person_id) == "red" and stored_colour(negative_id) == "green"
    state = facts.state_of(person_id)
    assert [lab.positive for lab in state.labs] == [True]
    assert [fact.kind for fact in state.facts] == [FactKind.CASE]


def test_lab_results_need_the_lab_or_official_role(stack: InProcessStack) -> None:
    _, number = epi.person()
    body = {"results": [lab_row(number, "positive")]}
    for who in (("citizen-1", ["citizen"]), ("scanner-1", ["scanner"]), ("admin-1", ["admin"])):
        answer = stack.call("POST", "/v1/lab-results", as_=who, json_body=body)
        assert (answer.status, answer.error_code) == (403, "forbidden_role")


# -- item 7: one person cannot red-code many ---------------------------------------------------


def test_an_official_past_the_limit_waits_for_a_second_official(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a limit of 2 persons coloured per official and hour WHEN one official reports 3 new
    cases THEN the third answers 202 pending_approval, the metric is emitted and its person stays
    green; the requester cannot approve it; a second official's approval carries it out once
    (a third official then gets 409 already_decided); a status upgrade of a known case is not
    limited; another official still has a budget of their own."""
    with_policy(monkeypatch, official_coloured_persons_per_hour_limit=2)
    people = [epi.person()[0] for _ in range(3)]
    assert [report(stack, p).status for p in people[:2]] == [202, 202]
    capsys.readouterr()
    held = report(stack, people[2])
    assert held.status == 202 and held.json()["status"] == "pending_approval", held.body
    request_id = held.json()["request_id"]
    assert "case_id" not in held.json()
    assert stored_colour(people[2]) == "green"
    assert any("OfficialActsOverLimit" in m for m in emitted_metrics(capsys.readouterr().out))
    # asking again while it waits: the same request
    assert report(stack, people[2]).json()["request_id"] == request_id
    listed = stack.call("GET", "/v1/overrides", as_=epi.SECOND_OFFICIAL, query="kind=case").json()[
        "overrides"
    ]
    assert [r["request_id"] for r in listed] == [request_id]
    own = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.OFFICIAL)
    assert (own.status, own.error_code) == (403, "cannot_approve_own")
    approved = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert approved.status == 200 and approved.json()["status"] == "applied", approved.body
    assert approved.json()["result"]["colour"] == "red"
    assert stored_colour(people[2]) == "red"
    retried = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert retried.status == 200 and retried.json() == approved.json()
    late = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=THIRD_OFFICIAL)
    assert (late.status, late.error_code) == (409, "already_decided")
    # an upgrade of a known case is not a new person coloured
    assert report(stack, people[0], status="confirmed").status == 202
    upgrade = report(stack, people[0], status="asymptomatic")
    assert upgrade.status == 202 and "case_id" in upgrade.json()
    # another official has a budget of their own
    other = report(stack, epi.person()[0], by=THIRD_OFFICIAL)
    assert other.status == 202 and "case_id" in other.json()


def test_a_held_act_rejected_never_takes_effect(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_policy(monkeypatch, official_coloured_persons_per_hour_limit=1)
    first, second = epi.person()[0], epi.person()[0]
    assert "case_id" in report(stack, first).json()
    request_id = report(stack, second).json()["request_id"]
    rejected = stack.call(
        "POST",
        f"/v1/overrides/{request_id}/reject",
        as_=epi.SECOND_OFFICIAL,
        json_body={"reason": "证据不足"},
    )
    assert rejected.status == 200 and rejected.json()["status"] == "rejected"
    late = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=THIRD_OFFICIAL)
    assert (late.status, late.error_code) == (409, "already_decided")
    assert stored_colour(second) == "green"
    shown = stack.call("GET", f"/v1/overrides/{request_id}", as_=THIRD_OFFICIAL)
    assert shown.status == 200 and shown.json()["kind"] == "case"


def test_positive_lab_rows_past_the_limit_wait_and_negatives_do_not(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a laboratory limit of 2 persons an hour WHEN a laboratory imports positives for 3
    persons and a negative THEN 202 pending_approval: nobody is red, the negative is stored; a
    second official's approval opens the 3 cases and recolours them at once."""
    with_policy(monkeypatch, lab_coloured_persons_per_hour_limit=2)
    people = [epi.person() for _ in range(3)]
    negative_id, negative_number = epi.person()
    rows = [lab_row(number, "positive") for _, number in people] + [lab_row(negative_number, "negative")]
    answer = stack.call("POST", "/v1/lab-results", as_=LAB_SYSTEM, json_body={"results": rows})
    assert answer.status == 202, answer.body
    body = answer.json()
    assert (body["status"], body["accepted"], body["cases"]) == ("pending_approval", 4, [])
    assert [stored_colour(p) for p, _ in people] == ["green"] * 3
    assert [lab.positive for lab in facts.state_of(negative_id).labs] == [False]
    stored = request_store.get(body["request_id"])
    assert stored is not None and stored.action is not None
    assert not any(number in json.dumps(stored.action) for _, number in people), "no ID number is stored"
    approved = stack.call("POST", f"/v1/overrides/{body['request_id']}/approve", as_=epi.SECOND_OFFICIAL)
    assert approved.status == 200 and len(approved.json()["result"]["cases"]) == 3, approved.body
    assert [stored_colour(p) for p, _ in people] == ["red"] * 3


def test_risk_areas_one_official_may_and_may_not_set(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN one official WHEN they raise a county THEN it is set (200); a prefecture or a province
    level, and lowering the county, wait for a second official (202); past the hourly limit of
    raises, a county raise waits too."""
    with_policy(monkeypatch, risk_area_changes_per_hour_limit=2)
    assert (
        stack.call("PUT", "/v1/risk-areas/520102", as_=epi.OFFICIAL, json_body={"level": "high"}).status
        == 200
    )
    for code, level in (("520100", "medium"), ("520000", "high"), ("520102", "medium"), ("520102", "low")):
        answer = stack.call("PUT", f"/v1/risk-areas/{code}", as_=epi.OFFICIAL, json_body={"level": level})
        assert answer.status == 202 and answer.json()["status"] == "pending_approval", (
            code,
            level,
            answer.body,
        )
    assert stack.call("GET", "/v1/risk-areas/520000", as_=epi.OFFICIAL).json()["level"] == "low"
    assert stack.call("GET", "/v1/risk-areas/520102", as_=epi.OFFICIAL).json()["level"] == "high"
    assert (
        stack.call("PUT", "/v1/risk-areas/520103", as_=epi.OFFICIAL, json_body={"level": "medium"}).status
        == 200
    )
    over = stack.call("PUT", "/v1/risk-areas/520111", as_=epi.OFFICIAL, json_body={"level": "medium"})
    assert over.status == 202
    approved = stack.call(
        "POST", f"/v1/overrides/{over.json()['request_id']}/approve", as_=epi.SECOND_OFFICIAL
    )
    assert approved.status == 200 and approved.json()["result"]["level"] == "medium"
    assert stack.call("GET", "/v1/risk-areas/520111", as_=epi.OFFICIAL).json()["level"] == "medium"
    # the same level again is no change and needs nobody
    again = stack.call("PUT", "/v1/risk-areas/520111", as_=epi.OFFICIAL, json_body={"level": "medium"})
    assert again.status == 200


def test_unknown_request_ids_and_kinds_are_404(stack: InProcessStack) -> None:
    for path in ("/v1/overrides/req-0000/approve", "/v1/overrides/req-0000/reject"):
        answer = stack.call("POST", path, as_=epi.SECOND_OFFICIAL)
        assert (answer.status, answer.error_code) == (404, "request_not_found")
    listed = stack.call("GET", "/v1/overrides", as_=epi.SECOND_OFFICIAL, query="kind=nothing")
    assert (listed.status, listed.error_code) == (404, "request_not_found")


# -- item 8: concurrent decisions: one 200, the rest 409 already_decided -------------------------


def test_a_decision_that_lost_the_race_is_409_not_500(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an override a second official reads as pending WHEN a third official approves it
    first THEN the loser's transaction is refused by the request's condition (pynamodb sends the
    audit entry's put before the request's update) and answers 409 already_decided; the same for
    an appeal answered twice at once."""
    person_id, _ = epi.person()
    override_id = stack.call(
        "PUT",
        f"/v1/persons/{person_id}/colour",
        as_=epi.OFFICIAL,
        json_body={**GREEN_AGAIN, "colour": "yellow"},
    ).json()["override_id"]
    stale = request_store.get(override_id)
    assert stale is not None
    assert stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=THIRD_OFFICIAL).status == 200
    monkeypatch.setattr(overrides, "_pending", lambda _id: stale)
    lost = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert (lost.status, lost.error_code) == (409, "already_decided")
    rejected = stack.call("POST", f"/v1/overrides/{override_id}/reject", as_=epi.SECOND_OFFICIAL)
    assert (rejected.status, rejected.error_code) == (409, "already_decided")
