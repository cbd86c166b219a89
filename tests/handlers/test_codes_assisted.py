"""Assisted applications on moto (``POST /v1/codes`` with ``assisted: true``): staff apply for
someone without a phone — a scanner at a checkpoint it is assigned to, or an official of the
area — the answer carries a labelled paper code, the person stays unclaimed until they (or a
guardian) claim the code with the same name; adult dependants with a reason; limits; audit."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from typing import Any

import pytest
from healthcode import settings
from healthcode.codes import keystore
from healthcode.rules.policy import load_policy
from healthcode.storage import audit, persons

from tests.codes_forms import adult_id, form, png_text
from tests.handlers.checkpoint_support import make_venue, module_stack, per_test_stack
from tests.handlers.harness import Answer, InProcessStack

__all__ = ["module_stack", "per_test_stack"]

OFFICIAL = ("official-assist", ["official"])


def scanner() -> tuple[str, list[str]]:
    return (f"scanner-{uuid.uuid4().hex[:8]}", ["scanner"])


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def without_phone(number: str, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in form(number).items() if k != "phone"}
    return {**body, "name": "王奶奶", "assisted": True, **changes}


def apply(stack: InProcessStack, body: dict[str, Any], who: tuple[str, list[str]], **kw: Any) -> Answer:
    return stack.call("POST", "/v1/codes", as_=who, json_body=body, **kw)


def trail(person_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.kind, e.actor, dict(e.details)) for e in audit.entries(audit.person_subject(person_id))]


def test_a_scanner_applies_for_someone_without_a_phone_and_they_claim_it_later(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a scanner assigned to a checkpoint, and a person with no phone
    staff = scanner()
    checkpoint = make_venue("checkpoint", staffed_by=(staff[0],))
    number = adult_id()
    # WHEN the scanner applies for them (assisted, no phone)
    answer = apply(moto_stack, without_phone(number, checkpoint_id=checkpoint.venue_id), staff)
    # THEN 201 with the code and a paper code whose card decodes to a paper token of the person
    assert answer.status == 201, answer.body
    body = answer.json()
    person_id, paper = body["person_id"], body["paper_code"]
    assert set(paper) == {"token", "expires_at", "png_base64"}
    card = base64.b64decode(paper["png_base64"])
    assert png_text(card) == paper["token"]
    assert keystore.verify(paper["token"], kinds=("paper",)).subject == person_id
    # AND the person is held by no account, without a phone, and the application is audited
    person = persons.get(person_id)
    assert person is not None and persons.is_unclaimed_owner(person.owner_sub) and person.phone_hash is None
    kinds = {(kind, actor) for kind, actor, _ in trail(person_id)}
    assert {("assisted_application", staff[0]), ("paper_code_issued", staff[0])} <= kinds
    (details,) = [d for kind, _, d in trail(person_id) if kind == "assisted_application"]
    assert details["checkpoint_id"] == checkpoint.venue_id and details["phone_given"] is False
    assert number not in str(trail(person_id))
    # WHEN someone applies for the code under another name THEN 409 and nothing changes hands
    impostor = apply(moto_stack, form(number, name="李四"), citizen())
    assert (impostor.status, impostor.error_code) == (409, "identity_mismatch")
    # WHEN the person (or their family) applies with the same name THEN they claim the same code
    family = citizen()
    claimed = apply(moto_stack, form(number, name="王奶奶"), family)
    assert (claimed.status, claimed.json()["person_id"]) == (200, person_id)
    assert persons.get(person_id).owner_sub == family[0]  # type: ignore[union-attr]
    assert "paper_code" not in claimed.json()
    # AND staff can no longer apply for them: their code is managed by an account now
    later = apply(moto_stack, without_phone(number, checkpoint_id=checkpoint.venue_id), staff)
    assert (later.status, later.error_code) == (409, "managed_by_another_account")


def test_staff_must_be_assigned_and_only_staff_assist(moto_stack: InProcessStack) -> None:
    # GIVEN a checkpoint and a scanner assigned elsewhere
    checkpoint = make_venue("checkpoint", staffed_by=())
    stranger = scanner()
    number = adult_id()
    cases = [
        (stranger, without_phone(number, checkpoint_id=checkpoint.venue_id), 403, "not_assigned"),
        (stranger, without_phone(number, checkpoint_id="v-nowhere"), 403, "not_assigned"),
        (stranger, without_phone(number), 422, "missing_field"),
        (citizen(), without_phone(number), 403, "forbidden_role"),
        (stranger, form(number), 403, "forbidden_role"),  # staff apply only for others, assisted
        (citizen(), {k: v for k, v in form(number).items() if k != "phone"}, 422, "missing_field"),
    ]
    for who, body, status, code in cases:
        # WHEN each applies THEN refused, and nothing is written
        answer = apply(moto_stack, body, who)
        assert (answer.status, answer.error_code) == (status, code), (who, answer.body)
        assert persons.holder_of(number) is None


def test_an_official_assists_inside_their_area(moto_stack: InProcessStack) -> None:
    # GIVEN a person living in 520103 (Guiyang)
    number = adult_id()
    # WHEN an official of another prefecture applies for them THEN 403 outside_area
    far = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=without_phone(number), region="520300")
    assert (far.status, far.error_code) == (403, "outside_area")
    assert persons.holder_of(number) is None
    # WHEN an official of Guiyang does THEN 201 with a paper code
    near = moto_stack.call(
        "POST", "/v1/codes", as_=OFFICIAL, json_body=without_phone(number), region="520100"
    )
    assert near.status == 201 and "paper_code" in near.json()
    # AND a second assisted application renews the declaration of the same unclaimed person
    again = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=without_phone(number))
    assert (again.status, again.json()["person_id"]) == (200, near.json()["person_id"])
    # AND a wrong name is refused
    other = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=without_phone(number, name="赵六"))
    assert (other.status, other.error_code) == (409, "identity_mismatch")


def test_an_official_cannot_move_a_registered_person_into_their_area(moto_stack: InProcessStack) -> None:
    """GIVEN an unclaimed person registered in Guiyang (520103) WHEN an official of Zunyi applies
    for them typing a Zunyi region THEN 403 outside_area and the person stays where they were (an
    assisted renewal never moved them: the official would then have read their record, coloured
    and printed them as a person of their own area)."""
    number = adult_id()
    registered = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=without_phone(number))
    assert registered.status == 201, registered.body
    moved = without_phone(number, region_code="520302")
    far = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=moved, region="520300")
    assert (far.status, far.error_code) == (403, "outside_area")
    held = persons.holder_of(number)
    assert held is not None and held.region_code == "520103"
    # AND an official of the whole province renewing with another region keeps the registered one
    renewed = moto_stack.call("POST", "/v1/codes", as_=OFFICIAL, json_body=moved)
    assert renewed.status == 200, renewed.body
    kept = persons.holder_of(number)
    assert kept is not None and kept.region_code == "520103"


def test_adult_dependants_need_a_reason(moto_stack: InProcessStack) -> None:
    # GIVEN a guardian applying for an adult of working age
    guardian = citizen()
    own = apply(moto_stack, form(adult_id()), guardian)
    assert own.status == 201
    number = adult_id()
    # WHEN without a reason THEN 422 dependant_reason_required; a wrong reason 422 not_a_dependant
    missing = apply(moto_stack, form(number, dependant=True), guardian)
    wrong = apply(moto_stack, form(number, dependant=True, dependant_reason="minor"), guardian)
    assert (missing.status, missing.error_code, missing.json()["error"]["field"]) == (
        422,
        "dependant_reason_required",
        "dependant_reason",
    )
    assert (wrong.status, wrong.error_code) == (422, "not_a_dependant")
    # WHEN with disability THEN 201, a dependant of the guardian
    cared = apply(moto_stack, form(number, dependant=True, dependant_reason="disability"), guardian)
    assert cared.status == 201 and cared.json()["dependant"] is True


def test_assisted_applications_are_limited_per_account(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a limit of 2 assisted applications an hour
    changed = dataclasses.replace(load_policy("520000"), manual_registrations_per_hour_limit=2)
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    staff = scanner()
    checkpoint = make_venue("checkpoint", staffed_by=(staff[0],))
    answers = [
        apply(moto_stack, without_phone(adult_id(), checkpoint_id=checkpoint.venue_id), staff)
        for _ in range(3)
    ]
    # THEN the third is 429 rate_limited with Retry-After
    assert [a.status for a in answers] == [201, 201, 429]
    assert answers[2].error_code == "rate_limited" and int(answers[2].headers["retry-after"]) > 0


def test_a_retried_assisted_application_answers_like_the_first(moto_stack: InProcessStack) -> None:
    # GIVEN an assisted application sent with an Idempotency-Key
    staff = scanner()
    checkpoint = make_venue("checkpoint", staffed_by=(staff[0],))
    body = without_phone(adult_id(), checkpoint_id=checkpoint.venue_id)
    key = {"Idempotency-Key": f"assist-{uuid.uuid4().hex}"}
    first = apply(moto_stack, body, staff, headers=key)
    # WHEN it is retried THEN the same person and the same paper code (the printed card stays valid)
    again = apply(moto_stack, body, staff, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert again.json()["person_id"] == first.json()["person_id"]
    assert again.json()["paper_code"]["token"] == first.json()["paper_code"]["token"]
    issued = [kind for kind, _, _ in trail(first.json()["person_id"]) if kind == "paper_code_issued"]
    assert len(issued) == 1
