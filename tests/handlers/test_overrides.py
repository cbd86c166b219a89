"""Manual colour overrides under the two-official rule, their audit trail and rate limit, and
officials answering appeals (functions/cases, services/overrides)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules.policy import Policy, PolicyError, load_policy
from healthcode.storage import appeals, audit, persons

from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

shared_stack, shared_pump = epi.shared_stack, epi.shared_pump  # module-scoped fixtures
NOW = epi.BASE + timedelta(days=1)
GREEN_AGAIN = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0511-17"}


@pytest.fixture
def stack(shared_stack: InProcessStack) -> Iterator[InProcessStack]:
    clock.freeze(NOW)
    try:
        yield shared_stack
    finally:
        clock.reset()
        settings.reset()


def with_policy(monkeypatch: pytest.MonkeyPatch, **change: Any) -> Policy:
    """The province policy with ``change`` applied, for every function of the stack."""
    changed = dataclasses.replace(load_policy("520000"), **change)
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    return changed


def red_case(stack: InProcessStack) -> str:
    person_id, _ = epi.person()
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).status == 202
    return person_id


def stored_colour(person_id: str) -> str:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return str(person.colour)


def trail(person_id: str) -> list[tuple[str, str]]:
    return [(entry.kind, entry.actor) for entry in audit.entries(audit.person_subject(person_id))]


def test_override_needs_a_second_official(stack: InProcessStack) -> None:
    """GIVEN a red case WHEN one official asks for green THEN nothing changes until a different
    official approves: the requester cannot, the second can; then the person is green and the
    request, the approval and the colour change are on the person's trail."""
    person_id = red_case(stack)
    asked = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN)
    assert asked.status == 202
    request = asked.json()
    assert (request["status"], request["colour"], request["requested_by"]) == (
        "pending_approval",
        "green",
        epi.OFFICIAL[0],
    )
    override_id = request["override_id"]
    assert stored_colour(person_id) == "red"
    pending = stack.call("GET", "/v1/overrides", as_=epi.SECOND_OFFICIAL, query="limit=1000").json()[
        "overrides"
    ]
    assert override_id in [o["override_id"] for o in pending]

    own = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.OFFICIAL)
    assert (own.status, own.error_code) == (403, "cannot_approve_own")
    assert stored_colour(person_id) == "red"

    clock.advance(600)
    approved = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert approved.status == 200
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("applied", epi.SECOND_OFFICIAL[0])
    assert stored_colour(person_id) == "green"
    retried = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert (retried.status, retried.json()) == (200, approved.json())  # a retry: the first answer
    third = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=("official-c", ["official"]))
    assert (third.status, third.error_code) == (409, "already_decided")
    pending = stack.call("GET", "/v1/overrides", as_=epi.OFFICIAL, query="limit=1000").json()["overrides"]
    assert override_id not in [o["override_id"] for o in pending]

    kinds = trail(person_id)
    assert ("override_requested", epi.OFFICIAL[0]) in kinds
    assert ("override_approved", epi.SECOND_OFFICIAL[0]) in kinds
    assert kinds.index(("override_requested", epi.OFFICIAL[0])) < kinds.index(
        ("override_approved", epi.SECOND_OFFICIAL[0])
    )
    changes = [e for e in audit.entries(audit.person_subject(person_id)) if e.kind == "colour_change"]
    assert changes[-1].details["to"] == "green" and changes[-1].details["cause"] == "override"
    approval = next(
        e for e in audit.entries(audit.person_subject(person_id)) if e.kind == "override_approved"
    )
    assert approval.details["evidence_ref"] == GREEN_AGAIN["evidence_ref"]


def test_a_later_case_outranks_an_earlier_override(stack: InProcessStack) -> None:
    """GIVEN a person made green by an approved override WHEN their case is reported again THEN
    they stay green; WHEN a new case is reported for them THEN they are red again (the override
    only covers what it was decided over)."""
    person_id = red_case(stack)
    override_id = stack.call(
        "PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN
    ).json()["override_id"]
    stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert stored_colour(person_id) == "green"
    clock.advance(3600)
    # the same report sent again is no news: the override still holds
    repeat = {"person_id": person_id, "status": "confirmed", "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=repeat).json()["colour"] == "green"
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": clock.show(clock.now())}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).json()["colour"] == "red"


def test_rejected_override_never_applies(stack: InProcessStack) -> None:
    """GIVEN a pending override WHEN rejected with a reason THEN it is closed, the colour stays
    and the rejection is on the trail; it can no longer be approved."""
    person_id = red_case(stack)
    override_id = stack.call(
        "PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN
    ).json()["override_id"]
    rejected = stack.call(
        "POST",
        f"/v1/overrides/{override_id}/reject",
        as_=epi.SECOND_OFFICIAL,
        json_body={"reason": "evidence does not show recovery"},
    )
    assert rejected.status == 200 and rejected.json()["status"] == "rejected"
    assert stored_colour(person_id) == "red"
    assert ("override_rejected", epi.SECOND_OFFICIAL[0]) in trail(person_id)
    late = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert (late.status, late.error_code) == (409, "already_decided")
    unknown = stack.call("POST", "/v1/overrides/ovr-0/approve", as_=epi.SECOND_OFFICIAL)
    assert (unknown.status, unknown.error_code) == (404, "override_not_found")


def test_retried_request_with_the_same_key_is_one_request(stack: InProcessStack) -> None:
    """GIVEN an Idempotency-Key WHEN the same request is sent twice THEN one override, one
    audit entry, the same answer."""
    person_id = red_case(stack)
    path, headers = f"/v1/persons/{person_id}/colour", {"Idempotency-Key": "7d3c1e9a-retry"}
    first = stack.call("PUT", path, as_=epi.OFFICIAL, json_body=GREEN_AGAIN, headers=headers).json()
    again = stack.call("PUT", path, as_=epi.OFFICIAL, json_body=GREEN_AGAIN, headers=headers).json()
    assert first["override_id"] == again["override_id"]
    assert [k for k, _ in trail(person_id)].count("override_requested") == 1


def test_a_policy_cannot_waive_the_second_official() -> None:
    """GIVEN a policy saying ``override_requires_second_official: false`` WHEN it loads THEN it
    is refused, naming the field: lowering a colour ahead of the rules is never one official's act."""
    with pytest.raises(PolicyError, match="override_requires_second_official: cannot be false"):
        dataclasses.replace(load_policy("520000"), override_requires_second_official=False)


def emitted_metrics(output: str) -> Iterator[dict[str, Any]]:
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


def test_an_official_over_the_hourly_limit_is_refused_and_alarmed(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a limit of 3 requests an hour WHEN one official sends a 4th within the hour THEN it
    is refused with 429 rate_limited (Retry-After) and the OverrideRequestsOverLimit metric is
    emitted for the province; another official, or the same one an hour later, may go on."""
    with_policy(monkeypatch, override_requests_per_hour_limit=3)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    busy = (f"official-{uuid.uuid4().hex[:8]}", ["official"])
    people = [epi.person()[0] for _ in range(5)]
    for person_id in people[:3]:
        assert (
            stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=busy, json_body=GREEN_AGAIN).status
            == 202
        )
        clock.advance(60)
    capsys.readouterr()
    refused = stack.call("PUT", f"/v1/persons/{people[3]}/colour", as_=busy, json_body=GREEN_AGAIN)
    assert (refused.status, refused.error_code) == (429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    (metric,) = [m for m in emitted_metrics(capsys.readouterr().out) if "OverrideRequestsOverLimit" in m]
    (directive,) = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "HealthCode"
    assert any("province" in dimension_set for dimension_set in directive["Dimensions"])
    assert metric["province"] == "520000" and metric["OverrideRequestsOverLimit"] in (1.0, [1.0])
    assert "override_requested" not in {k for k, _ in trail(people[3])}

    assert (
        stack.call(
            "PUT", f"/v1/persons/{people[3]}/colour", as_=epi.SECOND_OFFICIAL, json_body=GREEN_AGAIN
        ).status
        == 202
    )
    clock.advance(3600)
    assert stack.call("PUT", f"/v1/persons/{people[4]}/colour", as_=busy, json_body=GREEN_AGAIN).status == 202


def test_override_requests_refused(stack: InProcessStack, province: Any) -> None:
    """GIVEN bad requests THEN 422 with the field; an unknown person 404; Fujian's orange needs
    a level."""
    person_id, _ = epi.person()
    for body, code, field in (
        ({**GREEN_AGAIN, "colour": "blue"}, "invalid_colour", "colour"),
        (
            {**GREEN_AGAIN, "evidence_ref": "身份证 " + epi.id_number()},
            "personal_data_in_text",
            "evidence_ref",
        ),
        ({**GREEN_AGAIN, "until": "2022-05-01T00:00:00+08:00"}, "invalid_until", "until"),
        ({k: v for k, v in GREEN_AGAIN.items() if k != "reason_code"}, "invalid_reason_code", "reason_code"),
    ):
        answer = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field)
    missing = stack.call("PUT", "/v1/persons/p-nobody/colour", as_=epi.OFFICIAL, json_body=GREEN_AGAIN)
    assert (missing.status, missing.error_code) == (404, "person_not_found")
    province("350000")
    orange = {**GREEN_AGAIN, "colour": "orange"}
    answer = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=orange)
    assert (answer.status, answer.error_code) == (422, "ambiguous_colour")
    answer = stack.call(
        "PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body={**orange, "risk_level": 1}
    )
    assert answer.status == 202 and (answer.json()["colour"], answer.json()["risk_level"]) == ("orange", 1)


# -- appeals -------------------------------------------------------------------------------------


def test_officials_see_and_answer_appeals(stack: InProcessStack) -> None:
    """GIVEN two appeals filed by citizens WHEN officials list the open ones and answer one THEN
    the list is oldest first, the answered one leaves it with its outcome and answer, the answer
    is on the person's trail, and answering twice is 409."""
    person_id = red_case(stack)
    other = red_case(stack)
    first = appeals.file(
        appeal_id=appeals.new_appeal_id(),
        person_id=person_id,
        requested_by="citizen-1",
        level=2,
        colour="red",
        reason="我没有去过该场所",
        now=clock.now(),
    ).appeal
    clock.advance(60)
    second = appeals.file(
        appeal_id=appeals.new_appeal_id(),
        person_id=other,
        requested_by="citizen-2",
        level=2,
        colour="red",
        reason="已经康复",
        now=clock.now(),
    ).appeal
    mine = {first.request_id, second.request_id}
    listed = stack.call("GET", "/v1/appeals", as_=epi.OFFICIAL, query="status=open").json()["appeals"]
    listed = [a for a in listed if a["appeal_id"] in mine]
    assert [a["appeal_id"] for a in listed] == [first.request_id, second.request_id]
    assert listed[0]["reason"] == "我没有去过该场所"

    answer = {"outcome": "dismissed", "answer": "场所码扫码记录显示到访"}
    done = stack.call(
        "POST", f"/v1/appeals/{first.request_id}/answer", as_=epi.SECOND_OFFICIAL, json_body=answer
    )
    assert done.status == 200
    assert (done.json()["status"], done.json()["answer"], done.json()["answered_by"]) == (
        "dismissed",
        answer["answer"],
        epi.SECOND_OFFICIAL[0],
    )
    listed = stack.call("GET", "/v1/appeals", as_=epi.OFFICIAL).json()["appeals"]
    assert [a["appeal_id"] for a in listed if a["appeal_id"] in mine] == [second.request_id]
    assert ("appeal_answered", epi.SECOND_OFFICIAL[0]) in trail(person_id)
    again = stack.call("POST", f"/v1/appeals/{first.request_id}/answer", as_=epi.OFFICIAL, json_body=answer)
    assert (again.status, again.error_code) == (409, "already_decided")
    bad = stack.call(
        "POST",
        f"/v1/appeals/{second.request_id}/answer",
        as_=epi.OFFICIAL,
        json_body={"outcome": "maybe", "answer": "x"},
    )
    assert (bad.status, bad.error_code) == (422, "invalid_outcome")
    assert (
        stack.call("GET", "/v1/appeals", as_=epi.OFFICIAL, query="status=closed").error_code
        == "invalid_status"
    )


def test_the_person_sees_every_override_step_in_their_history_without_the_evidence(
    stack: InProcessStack,
) -> None:
    """GIVEN a case overridden to green by two officials WHEN the person reads their history THEN
    the request and the approval are there beside the colour changes, and neither the evidence
    reference, the note nor the officials' accounts are shown."""
    owner = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    person_id, _ = epi.person(owner=owner[0])
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).status == 202
    asked = stack.call(
        "PUT",
        f"/v1/persons/{person_id}/colour",
        as_=epi.OFFICIAL,
        json_body={**GREEN_AGAIN, "note": "复查阴性"},
    )
    override_id = asked.json()["override_id"]
    clock.advance(600)
    assert stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=epi.SECOND_OFFICIAL).status == 200

    answer = stack.call("GET", f"/v1/codes/{person_id}/history", as_=owner)
    assert answer.status == 200
    history = answer.json()
    assert [(s["kind"], s["override_id"], s["colour"]) for s in history["steps"]] == [
        ("override_requested", override_id, "green"),
        ("override_approved", override_id, "green"),
    ]
    assert [c["to"] for c in history["changes"]][-2:] == ["red", "green"]
    shown = json.dumps(history, ensure_ascii=False)
    for secret in (GREEN_AGAIN["evidence_ref"], "复查阴性", epi.OFFICIAL[0], epi.SECOND_OFFICIAL[0]):
        assert secret not in shown
