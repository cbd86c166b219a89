"""A case's lifecycle over functions/cases (``PATCH /v1/cases/{case_id}``) and tracing from close
contacts (policy ``trace_generations`` 2) over functions/tracing, against moto: upgrades apply at
once even over an override, recovered and excluded wait for a second official and then release
the case person (and, excluded, its contacts), refusals are clear 4xx with nothing written, and
a close contact's later presences find generation-2 contacts once, however often redelivered."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules import colour
from healthcode.rules.policy import FactKind, Policy, load_policy
from healthcode.services import tracing
from healthcode.storage import audit, facts, persons
from healthcode.storage import cases as case_store
from healthcode.storage.base import instant_key
from healthcode.storage.models import CaseItem

from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

T0 = epi.BASE
DIAGNOSED = T0 + timedelta(days=2)
NOW = DIAGNOSED + timedelta(hours=2)
GREEN_AGAIN = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0510-07"}


@pytest.fixture
def stack(aws_stack: InProcessStack) -> Iterator[InProcessStack]:
    clock.freeze(NOW)
    try:
        yield aws_stack
    finally:
        clock.reset()
        settings.reset()


def with_policy(monkeypatch: pytest.MonkeyPatch, province: str = "520000", **change: Any) -> Policy:
    changed = dataclasses.replace(load_policy(province), **change)
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    return changed


def colour_of(person_id: str) -> str:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return str(person.colour)


def report(stack: InProcessStack, person_id: str, status: str = "suspected") -> str:
    body = {"person_id": person_id, "status": status, "diagnosed_at": DIAGNOSED.isoformat()}
    answer = stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body)
    assert answer.status == 202, answer.body
    return str(answer.json()["case_id"])


def patch(stack: InProcessStack, case_id: str, status: Any, *, as_: Any = epi.OFFICIAL, **extra: Any) -> Any:
    return stack.call("PATCH", f"/v1/cases/{case_id}", as_=as_, json_body={"status": status}, **extra)


def approve(stack: InProcessStack, request_id: str, *, as_: Any = epi.SECOND_OFFICIAL) -> Any:
    return stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=as_)


def steps(stack: InProcessStack, case_id: str) -> list[tuple[str, str]]:
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL)
    assert shown.status == 200, shown.body
    return [(step["status"], step["by"]) for step in shown.json()["history"]]


# -- upgrades -------------------------------------------------------------------------------------


def test_an_upgrade_applies_at_once_even_over_an_approved_override(stack: InProcessStack) -> None:
    """GIVEN a suspected case its person reviewed to green by two officials WHEN an official
    upgrades it to confirmed THEN 200 at once, the person red again (the upgrade is learned now,
    after the override), and the history shows both steps with who took them."""
    person_id, _ = epi.person()
    case_id = report(stack, person_id)
    clock.freeze(NOW + timedelta(hours=1))
    asked = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN)
    assert approve(stack, asked.json()["override_id"]).status == 200
    assert colour_of(person_id) == "green"
    clock.freeze(NOW + timedelta(hours=2))
    upgraded = patch(stack, case_id, "confirmed", as_=epi.SECOND_OFFICIAL)
    assert upgraded.status == 200, upgraded.body
    assert (upgraded.json()["status"], upgraded.json()["colour"]) == ("confirmed", "red")
    assert colour_of(person_id) == "red"
    assert steps(stack, case_id) == [("suspected", epi.OFFICIAL[0]), ("confirmed", epi.SECOND_OFFICIAL[0])]
    kinds = [e.kind for e in audit.entries(audit.person_subject(person_id))]
    assert kinds.count("case_updated") == 1


# -- closing a case -------------------------------------------------------------------------------


def test_a_recovered_case_is_green_only_after_the_second_official(stack: InProcessStack) -> None:
    """GIVEN a confirmed case WHEN an official asks for recovered THEN 202 pending_approval and
    the person stays red; its requester cannot approve it; a second official's approval applies
    it: the case is recovered (history), the person green, the step on their audit trail."""
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "confirmed")
    asked = patch(stack, case_id, "recovered")
    assert asked.status == 202, asked.body
    assert (asked.json()["status"], asked.json()["kind"]) == ("pending_approval", "case_status")
    assert colour_of(person_id) == "red"
    assert (
        patch(stack, case_id, "recovered").json()["request_id"] == asked.json()["request_id"]
    )  # asked again
    listed = stack.call("GET", "/v1/overrides", as_=epi.SECOND_OFFICIAL, query="kind=case_status")
    assert asked.json()["request_id"] in [item["request_id"] for item in listed.json()["overrides"]], (
        listed.body
    )
    own = approve(stack, asked.json()["request_id"], as_=epi.OFFICIAL)
    assert (own.status, own.error_code) == (403, "cannot_approve_own")
    assert colour_of(person_id) == "red"
    clock.freeze(NOW + timedelta(minutes=30))
    approved = approve(stack, asked.json()["request_id"])
    assert approved.status == 200, approved.body
    result = approved.json()["result"]
    assert (result["applied"], result["colour"], result["status"]) == (True, "green", "recovered")
    assert colour_of(person_id) == "green"
    assert steps(stack, case_id)[-1] == ("recovered", epi.SECOND_OFFICIAL[0])
    trail = list(audit.entries(audit.person_subject(person_id)))
    assert "case_recovered" in [e.kind for e in trail]
    changes = [e.details for e in trail if e.kind == "colour_change"]
    assert changes[-1]["to"] == "green" and changes[-1]["reason"] == "康复出院", changes
    # AND the closed case takes no further change
    closed = patch(stack, case_id, "confirmed")
    assert (closed.status, closed.error_code) == (409, "case_closed")


def test_recovery_monitoring_keeps_the_person_yellow_for_the_policy_days(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a policy with 7 days of health monitoring after recovery WHEN a recovered case is
    approved THEN the person is yellow until the monitoring ends, then green."""
    with_policy(monkeypatch, recovery_monitoring_days=7)
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "asymptomatic")
    asked = patch(stack, case_id, "recovered")
    approved = approve(stack, asked.json()["request_id"])
    assert approved.json()["result"]["colour"] == "yellow", approved.body
    clock.freeze(NOW + timedelta(days=7, seconds=1))
    shown = stack.call("GET", f"/v1/persons/{person_id}", as_=epi.OFFICIAL)
    assert shown.json()["colour"] == "green"


def test_an_excluded_case_releases_its_person_and_its_contacts(stack: InProcessStack) -> None:
    """GIVEN a suspected case with a close and a secondary contact, traced and coloured WHEN the
    case is excluded and a second official approves THEN the case person and both contacts are
    green again (their exposure facts of this case ended, kept for the record)."""
    case_person, close, secondary = (epi.person()[0] for _ in range(3))
    mall = epi.venue("mall")
    store = epi.venue("restaurant", root=mall.venue_id)
    epi.presence(case_person, mall, DIAGNOSED - timedelta(hours=5))
    epi.presence(close, mall, DIAGNOSED - timedelta(hours=5) + timedelta(minutes=10))
    epi.presence(secondary, store, DIAGNOSED - timedelta(hours=5) + timedelta(minutes=10))
    case_id = report(stack, case_person)
    pump = epi.pump(stack)
    pump.drain()
    assert (colour_of(case_person), colour_of(close), colour_of(secondary)) == ("red", "red", "yellow")
    asked = patch(stack, case_id, "excluded")
    assert asked.status == 202, asked.body
    clock.freeze(NOW + timedelta(hours=1))
    approved = approve(stack, asked.json()["request_id"])
    assert approved.status == 200, approved.body
    assert approved.json()["result"]["contacts_released"] is True
    pump.drain()
    assert (colour_of(case_person), colour_of(close), colour_of(secondary)) == ("green", "green", "green")
    kept = [f for f in facts.state_of(close).facts if f.fact_id.startswith(f"exposure#{case_id}#")]
    assert kept and all(f.expires_at == NOW + timedelta(hours=1) for f in kept)
    # AND approving again is refused; nothing changes
    again = approve(stack, asked.json()["request_id"], as_=("official-c", ["official"]))
    assert (again.status, again.error_code) == (409, "already_decided")


# -- refusals -------------------------------------------------------------------------------------


def test_refusals_are_clear_and_write_nothing(stack: InProcessStack) -> None:
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "confirmed")
    before = CaseItem.get(case_id, "CASE", consistent_read=True).attribute_values
    refusals = [
        (patch(stack, case_id, "cured"), 422, "invalid_status"),
        (patch(stack, case_id, None), 422, "missing_field"),
        (stack.call("PATCH", f"/v1/cases/{case_id}", as_=epi.OFFICIAL, json_body={}), 422, None),
        (
            stack.call(
                "PATCH", f"/v1/cases/{case_id}", as_=epi.OFFICIAL, json_body={"status": "recovered", "x": 1}
            ),
            422,
            None,
        ),
        (patch(stack, case_id, "confirmed"), 409, "status_unchanged"),
        (patch(stack, case_id, "suspected"), 409, "invalid_status_change"),
        (patch(stack, "case-000000000000000000000000", "confirmed"), 404, "case_not_found"),
        (patch(stack, "not-a-case", "confirmed"), 404, "case_not_found"),
        (patch(stack, case_id, "excluded", region="520300"), 403, "outside_area"),
        (patch(stack, case_id, "excluded", as_=("manager-1", ["venue_manager"])), 403, "forbidden_role"),
    ]
    for answer, status, code in refusals:
        assert answer.status == status, answer.body
        if code is not None:
            assert answer.error_code == code, answer.body
    assert CaseItem.get(case_id, "CASE", consistent_read=True).attribute_values == before
    # AND an official of the person's own area may act on it
    assert patch(stack, case_id, "excluded", region="520100").status == 202


def test_an_approval_after_the_case_closed_otherwise_changes_nothing(stack: InProcessStack) -> None:
    """GIVEN recovered and excluded both requested for one case WHEN both are approved THEN the
    first applies; the second is carried out as a no-op saying why (the case is closed)."""
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "confirmed")
    recover = patch(stack, case_id, "recovered").json()["request_id"]
    exclude = patch(stack, case_id, "excluded").json()["request_id"]
    assert approve(stack, recover).json()["result"]["applied"] is True
    late = approve(stack, exclude)
    assert late.status == 200, late.body
    assert late.json()["result"] | {} == {
        "case_id": case_id,
        "status": "excluded",
        "applied": False,
        "reason": "case_closed",
        "case_status": "recovered",
    }
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert shown["status"] == "recovered"


def test_an_approval_of_a_request_made_before_an_upgrade_changes_nothing(stack: InProcessStack) -> None:
    """GIVEN exclusion requested for a suspected case, which is then confirmed WHEN a second
    official approves the exclusion THEN nothing is released (the approver decided on a suspected
    case, not on the confirmed one there is): the result says the case changed."""
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "suspected")
    exclude = patch(stack, case_id, "excluded").json()["request_id"]
    assert patch(stack, case_id, "confirmed").status == 200
    late = approve(stack, exclude)
    assert late.status == 200, late.body
    assert late.json()["result"] | {} == {
        "case_id": case_id,
        "status": "excluded",
        "applied": False,
        "reason": "case_changed",
        "case_status": "confirmed",
    }
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert shown["status"] == "confirmed"


# -- tracing from close contacts ------------------------------------------------------------------


def contact_rows(stack: InProcessStack, case_id: str) -> dict[str, tuple[str, int, str | None]]:
    answer = stack.call("GET", f"/v1/cases/{case_id}/contacts", as_=epi.OFFICIAL)
    assert answer.status == 200, answer.body
    return {
        row["person_id"]: (row["kind"], row["generation"], row["via"]) for row in answer.json()["contacts"]
    }


def test_henan_traces_a_close_contacts_later_presences(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN Henan's policy (two generations): a case person and a close contact at a restaurant;
    the close contact later at a supermarket with a third person (and, before the exposure, with
    a fourth) WHEN tracing runs, twice over (redelivery) THEN the third person is a secondary
    contact of generation 2 via the close contact, yellow; the fourth is nobody's contact; the
    case is done once, with three contacts."""
    with_policy(monkeypatch, "410000")
    case_person, close, later, earlier = (epi.person(region="410102")[0] for _ in range(4))
    restaurant, supermarket = epi.venue("restaurant"), epi.venue("supermarket")
    met = DIAGNOSED - timedelta(days=1)
    epi.presence(case_person, restaurant, met)
    epi.presence(close, restaurant, met + timedelta(minutes=5))
    epi.presence(close, supermarket, met + timedelta(hours=6))
    epi.presence(later, supermarket, met + timedelta(hours=6, minutes=20))
    epi.presence(close, supermarket, met - timedelta(hours=6))
    epi.presence(earlier, supermarket, met - timedelta(hours=6))
    case_id = report(stack, case_person, "confirmed")
    epi.pump(stack).drain()
    epi.pump(stack).drain()  # a second pump delivers everything again
    assert contact_rows(stack, case_id) == {
        close: ("close", 1, None),
        later: ("secondary", 2, close),
    }
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert (shown["tracing"], shown["contacts_found"], shown["generations"]) == ("done", 2, 2)
    assert (colour_of(close), colour_of(later), colour_of(earlier)) == ("red", "yellow", "green")
    stored = case_store.get(case_id, consistent=True)
    assert stored is not None and stored.second_total == stored.second_done == 2  # two venues' tasks


def test_one_generation_by_default(stack: InProcessStack) -> None:
    """GIVEN Guizhou's policy (one generation) and the same scene WHEN traced THEN only the
    close contact is found."""
    case_person, close, later = (epi.person()[0] for _ in range(3))
    restaurant, supermarket = epi.venue("restaurant"), epi.venue("supermarket")
    met = DIAGNOSED - timedelta(days=1)
    epi.presence(case_person, restaurant, met)
    epi.presence(close, restaurant, met + timedelta(minutes=5))
    epi.presence(close, supermarket, met + timedelta(hours=6))
    epi.presence(later, supermarket, met + timedelta(hours=6, minutes=20))
    case_id = report(stack, case_person, "confirmed")
    epi.pump(stack).drain()
    assert contact_rows(stack, case_id) == {close: ("close", 1, None)}
    assert colour_of(later) == "green"


def test_a_case_excluded_before_its_tracing_ran_makes_no_contacts(stack: InProcessStack) -> None:
    """GIVEN a case with a co-visitor, excluded (and approved) before the tracing stream ran WHEN
    tracing runs THEN its tasks close without searching: no contact, nobody coloured by it, and
    the case's tracing is done."""
    case_person, visitor = epi.person()[0], epi.person()[0]
    restaurant = epi.venue("restaurant")
    epi.presence(case_person, restaurant, DIAGNOSED - timedelta(hours=3))
    epi.presence(visitor, restaurant, DIAGNOSED - timedelta(hours=3))
    case_id = report(stack, case_person)
    asked = patch(stack, case_id, "excluded")
    assert approve(stack, asked.json()["request_id"]).status == 200
    epi.pump(stack).drain()
    assert contact_rows(stack, case_id) == {}
    assert colour_of(visitor) == "green"
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert (shown["status"], shown["tracing"], shown["contacts_found"]) == ("excluded", "done", 0)


def test_a_case_excluded_while_its_task_runs_leaves_no_exposure(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a case's task that has read the case as open WHEN the exclusion is approved and its
    release has run (finding no contact yet) before the task writes its page THEN the task, once
    written, ends that page's exposures itself, as of the approval: no exposure of the excluded
    case is left counting, its visitor is green again, and the task closes."""
    case_person, visitor = epi.person()[0], epi.person()[0]
    restaurant = epi.venue("restaurant")
    epi.presence(case_person, restaurant, DIAGNOSED - timedelta(hours=3))
    epi.presence(visitor, restaurant, DIAGNOSED - timedelta(hours=3))
    case_id = report(stack, case_person, "confirmed")
    request_id = patch(stack, case_id, "excluded").json()["request_id"]
    approved_at = NOW + timedelta(minutes=30)
    released: list[int] = []
    record_page = tracing._record_exposures

    def exclusion_between_read_and_write(*args: Any, **kwargs: Any) -> None:
        if not released:  # the task read the case as confirmed: now it is excluded and released
            clock.freeze(approved_at)
            assert approve(stack, request_id).json()["result"]["contacts_released"] is True
            item = CaseItem.get(case_id, "RELEASE#00000", consistent_read=True)
            image = {"pk": case_id, "sk": item.sk, "traced_at": instant_key(item.traced_at)}
            ended, _ = tracing.release(
                image, remaining_seconds=lambda: 60.0, margin_seconds=1.0, first_page_always=True
            )
            released.append(ended)
        record_page(*args, **kwargs)

    def deliver_once(function: str, event: dict[str, Any]) -> Any:
        """The release's record was processed above, before the task wrote: not again."""
        if function == "TracingFunction":
            event = event | {
                "Records": [
                    r
                    for r in event["Records"]
                    if not str(r["dynamodb"]["Keys"]["sk"]["S"]).startswith(case_store.RELEASE_PREFIX)
                ]
            }
            if not event["Records"]:
                return {"batchItemFailures": []}
        return stack.invoke(function, event)

    monkeypatch.setattr(tracing, "_record_exposures", exclusion_between_read_and_write)
    epi.pump(stack, deliver_once).drain()
    assert released == [0]  # the release ran before the task's contact row existed
    assert set(contact_rows(stack, case_id)) == {visitor}
    exposures = [f for f in facts.state_of(visitor).facts if f.fact_id.startswith(f"exposure#{case_id}#")]
    assert exposures and all(f.expires_at == approved_at for f in exposures)
    assert colour_of(visitor) == "green"
    shown = stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert (shown["status"], shown["tracing"]) == ("excluded", "done")


def test_two_generations_without_presences_finish_at_once(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN Henan's policy and a case person with no presence WHEN traced THEN both generations
    are planned empty and the case is done with no contacts."""
    with_policy(monkeypatch, "410000")
    case_person, _ = epi.person(region="410102")
    case_id = report(stack, case_person, "confirmed")
    epi.pump(stack).drain()
    stored = case_store.get(case_id, consistent=True)
    assert stored is not None
    assert (stored.tracing, stored.contacts_found, stored.tasks_total, stored.second_total) == (
        "done",
        0,
        0,
        0,
    )


def test_reporting_a_case_again_never_downgrades_or_reopens_it(stack: InProcessStack) -> None:
    """GIVEN a confirmed case WHEN it is reported again as suspected THEN it stays confirmed,
    nothing written; once recovered, reporting it again is 409 case_closed."""
    person_id, _ = epi.person()
    case_id = report(stack, person_id, "confirmed")
    before = CaseItem.get(case_id, "CASE", consistent_read=True).attribute_values
    assert report(stack, person_id, "suspected") == case_id
    assert CaseItem.get(case_id, "CASE", consistent_read=True).attribute_values == before
    asked = patch(stack, case_id, "recovered")
    assert approve(stack, asked.json()["request_id"]).status == 200
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": DIAGNOSED.isoformat()}
    again = stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body)
    assert (again.status, again.error_code) == (409, "case_closed")
    assert colour_of(person_id) == "green"


def test_a_release_hands_over_when_time_runs_short_and_ends_each_exposure_once(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an excluded case's three contacts with an exposure fact each WHEN its release runs a
    page of one contact with no time left THEN it ends one exposure and writes the next part, which
    ends the other two; running a part again ends nothing more."""
    monkeypatch.setattr(tracing, "RELEASE_PAGE", 1)
    case_id = report(stack, epi.person()[0])
    contacts = sorted(epi.person()[0] for _ in range(3))
    for n, person_id in enumerate(contacts):
        CaseItem(case_id, f"{case_store.CONTACT_PREFIX}{person_id}", person_id=person_id).save()
        exposure = colour.Fact(
            fact_id=f"exposure#{case_id}#{n}",
            kind=FactKind.CLOSE_CONTACT,
            starts_at=DIAGNOSED - timedelta(days=1),
            expires_at=DIAGNOSED + timedelta(days=13),
        )
        facts.add_in_batches([(person_id, exposure)], recorded_at=NOW)
    released = NOW + timedelta(minutes=5)
    first = {"pk": case_id, "sk": "RELEASE#00000", "traced_at": instant_key(released)}
    assert tracing.release(
        first, remaining_seconds=lambda: 0.0, margin_seconds=1.0, first_page_always=True
    ) == (
        1,
        True,
    )
    following = CaseItem.get(case_id, "RELEASE#00001", consistent_read=True)
    assert following.via == contacts[0]
    image = {"pk": case_id, "sk": "RELEASE#00001", "traced_at": instant_key(released), "via": contacts[0]}
    run = {"remaining_seconds": lambda: 60.0, "margin_seconds": 1.0, "first_page_always": False}
    assert tracing.release(image, **run) == (2, False)
    assert tracing.release(first, **run) == (0, False)
    for person_id in contacts:
        (ended,) = facts.state_of(person_id).facts
        assert ended.expires_at == released
