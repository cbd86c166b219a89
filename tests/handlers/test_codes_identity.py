"""Who a code belongs to (issue 13): claiming a person registered before anyone applied needs the
registered name, applications never rename anyone, contact changes are audited by field, and an
account's own code and dependants are held by guards written with the person (on moto)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from healthcode import clock
from healthcode.services import applications
from healthcode.settings import policy
from healthcode.storage import audit, facts, persons

from tests.codes_forms import adult_id, child_id, declaration, elderly_id, form
from tests.handlers.checkpoint_support import module_stack, per_test_stack
from tests.handlers.harness import Answer, InProcessStack

__all__ = ["module_stack", "per_test_stack"]


def account(role: str = "citizen") -> tuple[str, list[str]]:
    return (f"{role}-{uuid.uuid4().hex[:8]}", [role])


def apply(stack: InProcessStack, body: dict[str, Any], as_: tuple[str, list[str]]) -> Answer:
    return stack.call("POST", "/v1/codes", as_=as_, json_body=body)


def unclaimed(number: str, name: str = "李秀英") -> str:
    """A person registered at a checkpoint before anyone applied: no phone, no address."""
    person_id = persons.new_person_id()
    person = persons.build(
        owner_sub=persons.unclaimed_owner(person_id),
        dependant=False,
        name=name,
        id_number=number,
        phone=None,
        address=None,
        region_code="520103",
        birth_year=1985,
        now=clock.now(),
        person_id=person_id,
    )
    persons.create(person)
    return person_id


def trail(person_id: str, kind: str) -> list[audit.Entry]:
    return list(audit.entries(audit.person_subject(person_id), kinds=frozenset({kind})))


# -- claiming ------------------------------------------------------------------------------------


def test_a_claimant_with_another_name_is_refused_and_nothing_is_written(moto_stack: InProcessStack) -> None:
    # GIVEN a person registered at a checkpoint, claimed by nobody
    number = adult_id()
    person_id = unclaimed(number)
    who = account()
    # WHEN an account applies with the ID number and another name (declaring symptoms)
    answer = apply(moto_stack, form(number, name="王小明", declaration=declaration(symptoms=["cough"])), who)
    # THEN 409 identity_mismatch naming the field, never the names
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        409,
        "identity_mismatch",
        "name",
    )
    assert "李秀英" not in answer.body.decode() and "王小明" not in answer.body.decode()
    # AND nothing is written: still unclaimed, no fact, no audit entry, no guard
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and persons.is_unclaimed_owner(stored.owner_sub)
    assert persons.name_of(stored) == "李秀英" and stored.phone_enc is None
    assert facts.state_of(person_id).facts == []
    assert list(audit.entries(audit.person_subject(person_id))) == []
    assert persons.own_code_held(who[0]) is None
    assert moto_stack.call("GET", "/v1/codes", as_=who).json() == {"codes": []}


def test_the_registered_name_claims_the_person_and_contact_changes_are_audited(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a person registered at a checkpoint without phone or address
    number = adult_id()
    person_id = unclaimed(number)
    who = account()
    # WHEN they apply with the name as registered (spaced differently) and their phone and address
    answer = apply(moto_stack, form(number, name=" 李秀英"), who)
    # THEN the code is theirs, the same person, the registered name kept
    assert answer.status == 200, answer.body
    assert answer.json()["person_id"] == person_id
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and stored.owner_sub == who[0]
    assert persons.name_of(stored) == "李秀英" and stored.name_masked == "李**"
    assert persons.identity(stored).phone == "13800000000"
    # AND the claim and each changed contact field are audited, by field name only
    (claimed,) = trail(person_id, "guardian_change")
    assert claimed.details["channel"] == "claim" and claimed.actor == who[0]
    changed = trail(person_id, "contact_changed")
    assert sorted(e.details["field"] for e in changed) == ["address", "phone"]
    assert all(e.details["channel"] == "claim" and e.actor == who[0] for e in changed)
    assert "13800000000" not in str([e.details for e in changed]) and "中华北路" not in str(changed)
    # AND the account's own-code guard names the person
    assert persons.own_code_held(who[0]) == person_id


def test_no_application_renames_a_person_and_renewals_audit_contact_changes(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a citizen's own code
    who, number = account(), adult_id()
    person_id = apply(moto_stack, form(number), who).json()["person_id"]
    # WHEN they apply again under another name THEN 409 identity_mismatch, nothing changes
    renamed = apply(moto_stack, form(number, name="张四"), who)
    assert (renamed.status, renamed.error_code) == (409, "identity_mismatch")
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and persons.name_of(stored) == "张三"
    # WHEN they renew with a new phone THEN it is taken and audited as a phone change only
    renewed = apply(moto_stack, form(number, phone="13900000000"), who)
    assert renewed.status == 200, renewed.body
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and persons.identity(stored).phone == "13900000000"
    (changed,) = trail(person_id, "contact_changed")
    assert changed.details == {"field": "phone", "channel": "renewal"}
    # AND renewing with the same details writes no contact entry
    assert apply(moto_stack, form(number, phone="13900000000"), who).status == 200
    assert len(trail(person_id, "contact_changed")) == 1


def test_a_wrong_link_code_tells_nothing_about_the_name(moto_stack: InProcessStack) -> None:
    # GIVEN a code managed by one account
    number = adult_id()
    apply(moto_stack, form(number), account())
    # WHEN another account presents a wrong link code with a wrong name THEN the link is refused
    answer = apply(moto_stack, form(number, name="王小明", link_code="ABCDE-FGHJK"), account())
    assert (answer.status, answer.error_code) == (422, "invalid_link_code")


# -- one own code, bounded dependants -----------------------------------------------------------


def test_guards_follow_a_code_from_account_to_account(moto_stack: InProcessStack) -> None:
    # GIVEN an account with its own code and an elderly parent as dependant
    first, second, parent_self = account(), account(), account()
    own = apply(moto_stack, form(adult_id()), first).json()["person_id"]
    elder_number = elderly_id()
    elder = apply(moto_stack, form(elder_number, dependant=True), first).json()["person_id"]
    assert persons.own_code_held(first[0]) == own and persons.dependants_counted(first[0]) == 1
    # WHEN a second account takes the parent over as a dependant with a link code
    link = moto_stack.call("POST", f"/v1/codes/{elder}/links", as_=first).json()["link_code"]
    taken = apply(moto_stack, form(elder_number, dependant=True, link_code=link), second)
    assert taken.status == 200, taken.body
    # THEN the place moved: one dependant fewer for the first account, one more for the second
    assert persons.dependants_counted(first[0]) == 0 and persons.dependants_counted(second[0]) == 1
    # WHEN the parent takes their code back as their own
    link = moto_stack.call("POST", f"/v1/codes/{elder}/links", as_=second).json()["link_code"]
    assert apply(moto_stack, form(elder_number, link_code=link), parent_self).status == 200
    # THEN it is that account's own code, and no longer the second account's dependant
    assert persons.own_code_held(parent_self[0]) == elder
    assert persons.dependants_counted(second[0]) == 0
    # AND that account cannot hold a second code of its own
    again = apply(moto_stack, form(adult_id()), parent_self)
    assert (again.status, again.error_code) == (409, "own_code_exists")


@pytest.fixture
def no_quick_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Requests that all passed the quick count before any of them wrote (what concurrency
    does): only the guards written with the person stand between them and the limits."""
    monkeypatch.setattr(applications, "check_account", lambda *args, **kwargs: None)
    small = dataclasses.replace(policy(), max_dependants=2)
    monkeypatch.setattr(applications, "province_policy", lambda: small)
    yield


@pytest.mark.usefixtures("no_quick_check")
def test_the_own_code_guard_holds_without_the_quick_check(moto_stack: InProcessStack) -> None:
    who = account()
    first = apply(moto_stack, form(adult_id()), who)
    assert first.status == 201
    number = adult_id()
    second = apply(moto_stack, form(number), who)
    assert (second.status, second.error_code) == (409, "own_code_exists")
    assert persons.holder_of(number) is None  # no second person, no claim on its ID number
    assert [p.person_id for p in persons.of_owner(who[0])] == [first.json()["person_id"]]


@pytest.mark.usefixtures("no_quick_check")
def test_the_dependants_counter_holds_without_the_quick_check(moto_stack: InProcessStack) -> None:
    who = account()
    for _ in range(2):
        assert apply(moto_stack, form(child_id(), dependant=True), who).status == 201
    number = child_id()
    over = apply(moto_stack, form(number, dependant=True), who)
    assert (over.status, over.error_code) == (409, "too_many_dependants")
    assert persons.holder_of(number) is None
    assert persons.dependants_counted(who[0]) == 2
    # AND an unclaimed child claimed as a third dependant is refused the same way, left unclaimed
    claimed_number = child_id()
    person_id = unclaimed(claimed_number, name="张三")
    refused = apply(moto_stack, form(claimed_number, dependant=True), who)
    assert (refused.status, refused.error_code) == (409, "too_many_dependants")
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and persons.is_unclaimed_owner(stored.owner_sub)


def test_the_dependants_limit_is_policy() -> None:
    assert policy().max_dependants == 10
