"""Dependants, guardian links, records registered before anyone applied, and paper codes, on moto."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.codes import keystore
from healthcode.rules import colour
from healthcode.rules.policy import FactKind
from healthcode.services import applications as application
from healthcode.services import codes as codes_service
from healthcode.services import recolour
from healthcode.storage import audit, facts, persons

from tests.codes_forms import adult_id, child_id, declaration, elderly_id, form, png_text
from tests.handlers.checkpoint_support import module_stack, per_test_stack
from tests.handlers.harness import Answer, InProcessStack

# One moto stack per module (``moto_stack``): every test writes under fresh accounts and ID numbers.
__all__ = ["module_stack", "per_test_stack"]


def account(role: str = "citizen") -> tuple[str, list[str]]:
    return (f"{role}-{uuid.uuid4().hex[:8]}", [role])


def apply(stack: InProcessStack, body: dict[str, Any], as_: tuple[str, list[str]]) -> Answer:
    return stack.call("POST", "/v1/codes", as_=as_, json_body=body)


def person_id_of(stack: InProcessStack, body: dict[str, Any], as_: tuple[str, list[str]]) -> str:
    answer = apply(stack, body, as_)
    assert answer.status in (200, 201), answer.body
    return str(answer.json()["person_id"])


def open_link(stack: InProcessStack, person_id: str, as_: tuple[str, list[str]]) -> str:
    answer = stack.call("POST", f"/v1/codes/{person_id}/links", as_=as_)
    assert answer.status == 201, answer.body
    return str(answer.json()["link_code"])


def listed(stack: InProcessStack, as_: tuple[str, list[str]]) -> dict[str, bool]:
    codes = stack.call("GET", "/v1/codes", as_=as_).json()["codes"]
    return {code["person_id"]: code["dependant"] for code in codes}


def start_clock() -> datetime:
    t0 = (clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    clock.freeze(t0)
    return t0


# -- dependants ----------------------------------------------------------------------------------


def test_a_guardian_manages_a_child_and_an_elderly_parent(moto_stack: InProcessStack) -> None:
    # GIVEN a citizen with their own code
    guardian = account()
    own = person_id_of(moto_stack, form(adult_id()), guardian)
    # WHEN they apply for a child and an elderly parent as dependants
    child = apply(moto_stack, form(child_id(), name="张小明", dependant=True), guardian)
    parent = apply(moto_stack, form(elderly_id(), name="张老汉", dependant=True), guardian)
    # THEN both are new codes the guardian manages, listed with their own
    assert (child.status, parent.status) == (201, 201)
    assert child.json()["dependant"] is True and child.json()["name_masked"] == "张**"
    assert listed(moto_stack, guardian) == {
        own: False,
        child.json()["person_id"]: True,
        parent.json()["person_id"]: True,
    }
    # AND the guardian refreshes the child's code; another account cannot
    child_id_ = child.json()["person_id"]
    assert moto_stack.call("GET", f"/v1/codes/{child_id_}", as_=guardian).status == 200
    assert moto_stack.call("GET", f"/v1/codes/{child_id_}", as_=account()).status == 404


def test_one_code_of_ones_own_and_at_most_ten_dependants(moto_stack: InProcessStack) -> None:
    # GIVEN an account with its own code
    who = account()
    person_id_of(moto_stack, form(adult_id()), who)
    # WHEN it applies for a second adult as its own code THEN 409 own_code_exists
    second = apply(moto_stack, form(adult_id()), who)
    assert (second.status, second.error_code) == (409, "own_code_exists")
    # WHEN it adds dependants THEN ten are accepted and the eleventh refused
    statuses = [apply(moto_stack, form(child_id(), dependant=True), who).status for _ in range(11)]
    assert statuses == [201] * 10 + [409]
    assert apply(moto_stack, form(child_id(), dependant=True), who).error_code == "too_many_dependants"


# -- guardian links --------------------------------------------------------------------------------


def test_a_second_parent_takes_over_a_childs_code_with_a_link(moto_stack: InProcessStack) -> None:
    # GIVEN a child's code managed by one parent, who has declared a fever for the child
    start_clock()
    first_parent, second_parent = account(), account()
    number = child_id()
    person_id = person_id_of(
        moto_stack, form(number, dependant=True, declaration=declaration(temperature=38.0)), first_parent
    )
    # WHEN the first parent opens a link and hands the code over
    answer = moto_stack.call("POST", f"/v1/codes/{person_id}/links", as_=first_parent)
    assert answer.status == 201
    link = answer.json()
    assert link["link_code"][5] == "-" and len(link["link_code"]) == 11
    assert clock.parse_instant(link["expires_at"]) == clock.now() + application.LINK_LIFETIME
    taken = apply(
        moto_stack, form(number, dependant=True, link_code=link["link_code"].lower()), second_parent
    )
    # THEN the same code (200, same person) now belongs to the second parent, still yellow
    assert taken.status == 200, taken.body
    assert taken.json()["person_id"] == person_id and taken.json()["colour"] == "yellow"
    assert listed(moto_stack, second_parent) == {person_id: True}
    assert listed(moto_stack, first_parent) == {}
    assert moto_stack.call("GET", f"/v1/codes/{person_id}", as_=first_parent).status == 404
    # AND the handover is in the person's audit trail, and the link is used up
    changes = list(audit.entries(audit.person_subject(person_id), kinds=frozenset({"guardian_change"})))
    assert [(e.actor, e.details["from_owner"]) for e in changes] == [(second_parent[0], first_parent[0])]
    again = apply(moto_stack, form(number, dependant=True, link_code=link["link_code"]), account())
    assert (again.status, again.error_code) == (422, "invalid_link_code")


def test_a_parent_takes_their_own_code_back_from_the_child_who_registered_them(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN an elderly parent registered as a dependant by their child
    child_account, parent_account = account(), account()
    number = elderly_id()
    person_id = person_id_of(moto_stack, form(number, dependant=True), child_account)
    code = open_link(moto_stack, person_id, child_account)
    # WHEN the parent, with a smartphone now, applies for themselves with the link code
    taken = apply(moto_stack, form(number, link_code=code), parent_account)
    # THEN it is their own code now, no longer a dependant
    assert taken.status == 200 and taken.json()["person_id"] == person_id
    assert listed(moto_stack, parent_account) == {person_id: False}


def test_wrong_link_codes_write_nothing_and_close_the_link_after_five(moto_stack: InProcessStack) -> None:
    # GIVEN a green code with an open link
    owner, intruder = account(), account()
    number = adult_id()
    person_id = person_id_of(moto_stack, form(number), owner)
    code = open_link(moto_stack, person_id, owner)
    wrong = "".join(reversed(code.replace("-", "")))
    wrong = wrong if wrong != code.replace("-", "") else "ABCDEFGHJK"
    # WHEN another account presents a wrong code with a declaration of symptoms
    answers = [
        apply(
            moto_stack, form(number, link_code=wrong, declaration=declaration(symptoms=["cough"])), intruder
        )
        for _ in range(application.LINK_MAX_FAILURES)
    ]
    # THEN each is refused (422) and nothing is written on the person
    assert {(a.status, a.error_code) for a in answers} == {(422, "invalid_link_code")}
    assert facts.state_of(person_id).facts == []
    stored = persons.get(person_id)
    assert stored is not None and stored.owner_sub == owner[0] and stored.colour == "green"
    # AND after five wrong tries the link is closed: even the right code is refused
    late = apply(moto_stack, form(number, link_code=code), intruder)
    assert (late.status, late.error_code) == (422, "invalid_link_code")
    assert stored.link_hash is None


def test_a_link_expires_after_a_day(moto_stack: InProcessStack) -> None:
    # GIVEN a link opened at T0
    start_clock()
    owner = account()
    number = child_id()
    person_id = person_id_of(moto_stack, form(number, dependant=True), owner)
    code = open_link(moto_stack, person_id, owner)
    # WHEN it is presented a day later THEN it has expired
    clock.advance(application.LINK_LIFETIME.total_seconds())
    late = apply(moto_stack, form(number, dependant=True, link_code=code), account())
    assert (late.status, late.error_code) == (422, "link_code_expired")
    # AND a new link works
    taken = apply(
        moto_stack, form(number, dependant=True, link_code=open_link(moto_stack, person_id, owner)), account()
    )
    assert taken.status == 200


def test_an_official_opens_a_link_after_checking_identity_in_person(moto_stack: InProcessStack) -> None:
    # GIVEN an adult registered (wrongly) as someone else's dependant... as the elderly are
    holder, rightful = account(), account()
    number = elderly_id()
    person_id = person_id_of(moto_stack, form(number, dependant=True), holder)
    # WHEN an official opens a link for them (scanners may not)
    assert moto_stack.call("POST", f"/v1/codes/{person_id}/links", as_=account("scanner")).status == 403
    code = open_link(moto_stack, person_id, account("official"))
    # THEN the rightful account takes the code over
    assert apply(moto_stack, form(number, link_code=code), rightful).status == 200
    assert listed(moto_stack, rightful) == {person_id: False}


def test_a_record_registered_before_anyone_applied_is_taken_by_the_first_applicant(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a person officials registered as a case before they ever applied (no managing account)
    number, now = adult_id(), clock.now()
    person_id = persons.new_person_id()
    person = persons.build(
        owner_sub=persons.unclaimed_owner(person_id),
        dependant=False,
        name="张三",
        id_number=number,
        phone=None,
        address=None,
        region_code="520103",
        birth_year=1985,
        now=now,
        person_id=person_id,
    )
    persons.create(person)
    case = colour.Fact(fact_id="case#c-1", kind=FactKind.CASE, starts_at=now, expires_at=None)
    facts.save([facts.item_for(person_id, case, recorded_at=now)])
    recolour.recompute(person_id, cause="case")
    # WHEN the person applies, declaring nothing
    who = account()
    answer = apply(moto_stack, form(number), who)
    # THEN they get that record (200, same id), red as the case it is
    assert answer.status == 200, answer.body
    assert (answer.json()["person_id"], answer.json()["colour"]) == (person_id, "red")
    assert listed(moto_stack, who) == {person_id: False}


# -- paper codes ---------------------------------------------------------------------------------


def test_a_guardian_prints_a_paper_code_and_reissuing_revokes_the_old_one(moto_stack: InProcessStack) -> None:
    # GIVEN an elderly parent's code managed by their child
    start_clock()
    guardian = account()
    person_id = person_id_of(moto_stack, form(elderly_id(), dependant=True), guardian)
    # WHEN the guardian issues a paper code
    first = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=guardian)
    # THEN it is a long-lived paper code bound to the person, without a colour (checked online)
    assert first.status == 201, first.body
    paper = keystore.verify(first.json()["token"], kinds=("paper",))
    assert paper.subject == person_id and paper.claims["prv"] == "520000"
    assert "lvl" not in paper.claims and "col" not in paper.claims
    assert paper.expires_at - paper.issued_at == timedelta(days=365)
    stored = persons.get(person_id)
    assert stored is not None and stored.paper_code_id == paper.claims["jti"]
    # AND a dynamic-code verifier refuses it
    with pytest.raises(Exception) as caught:
        keystore.verify(first.json()["token"], kinds=("code",))
    assert getattr(caught.value, "code", None) == "invalid_code"
    # AND its printable PNG decodes to it
    png = moto_stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=guardian)
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png_text(png.body) == first.json()["token"]
    # WHEN it is issued again a minute later THEN the first one is revoked (its jti is no longer the person's)
    clock.advance(60)
    second = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=guardian).json()["token"]
    stored = persons.get(person_id)
    assert stored is not None
    assert (
        stored.paper_code_id == keystore.verify(second, kinds=("paper",)).claims["jti"] != paper.claims["jti"]
    )
    assert png_text(moto_stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=guardian).body) == second
    # AND both issuances are audited
    issued = list(audit.entries(audit.person_subject(person_id), kinds=frozenset({"paper_code_issued"})))
    assert [e.details["revoked"] for e in issued] == [None, paper.claims["jti"]]


def test_only_the_managing_account_or_an_official_with_a_reason_issues_paper_codes(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN someone's code
    person_id = person_id_of(moto_stack, form(adult_id()), account())
    # WHEN checkpoint staff try to issue or print it THEN the role is refused (403), and with a
    # citizen role too they are a stranger (404): staff get a paper code only with a registration
    for path, method in (
        (f"/v1/codes/{person_id}/paper", "POST"),
        (f"/v1/codes/{person_id}/paper.png", "GET"),
    ):
        refused = moto_stack.call(method, path, as_=account("scanner"))
        assert (refused.status, refused.error_code) == (403, "forbidden_role")
        both = (f"scanner-{uuid.uuid4().hex[:8]}", ["scanner", "citizen"])
        assert moto_stack.call(method, path, as_=both).status == 404
    # AND an official without a reason is refused, nothing issued
    official = account("official")
    missing = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=official)
    assert (missing.status, missing.error_code, missing.json()["error"]["field"]) == (
        422,
        "missing_field",
        "reason",
    )
    blank = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=official, json_body={"reason": "  "})
    assert (blank.status, blank.error_code) == (422, "missing_field")
    stored = persons.get(person_id)
    assert stored is not None and stored.paper_code_id is None
    # WHEN the official gives a reason THEN the code is issued and the reason audited
    issued = moto_stack.call(
        "POST", f"/v1/codes/{person_id}/paper", as_=official, json_body={"reason": "社区走访，老人无手机"}
    )
    assert issued.status == 201, issued.body
    assert png_text(base64.b64decode(issued.json()["png_base64"])) == issued.json()["token"]
    entries = list(audit.entries(audit.person_subject(person_id), kinds=frozenset({"paper_code_issued"})))
    assert [(e.actor, e.details["by"], e.details["reason"]) for e in entries] == [
        (official[0], "official", "社区走访，老人无手机")
    ]
    # AND printing needs a reason too, audited per print
    path = f"/v1/codes/{person_id}/paper.png"
    assert moto_stack.call("GET", path, as_=official).error_code == "missing_field"
    printed = moto_stack.call("GET", path, as_=official, query="reason=reprint")
    assert printed.status == 200 and png_text(printed.body) == issued.json()["token"]
    prints = list(audit.entries(audit.person_subject(person_id), kinds=frozenset({"paper_code_printed"})))
    assert [(e.actor, e.details["reason"]) for e in prints] == [(official[0], "reprint")]
    # AND another citizen gets 404; a venue manager has not the role; an unknown id is 404
    assert moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=account()).status == 404
    assert moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=account("venue_manager")).status == 403
    unknown = moto_stack.call("POST", "/v1/codes/p-unknown/paper", as_=official, json_body={"reason": "x"})
    assert unknown.status == 404


def test_a_paper_reason_is_checked(moto_stack: InProcessStack) -> None:
    person_id = person_id_of(moto_stack, form(adult_id()), account())
    official = account("official")
    for body, code in (
        ({"reason": 7}, "invalid_reason"),
        ({"reason": "x" * 501}, "invalid_reason"),
        ({"reason": "bad\x00byte"}, "invalid_reason"),
        ({"reason": "ok", "colour": "green"}, "unknown_field"),
    ):
        answer = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=official, json_body=body)
        assert (answer.status, answer.error_code) == (422, code), (body, answer.body)
    not_json = moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=official, raw_body=b"{")
    assert (not_json.status, not_json.error_code) == (400, "invalid_json")
    stored = persons.get(person_id)
    assert stored is not None and stored.paper_code_id is None


def test_staff_get_a_paper_code_only_through_the_registration_service(moto_stack: InProcessStack) -> None:
    # GIVEN a person registered at a checkpoint
    person_id = person_id_of(moto_stack, form(adult_id()), account())
    now = clock.now()
    # WHEN the registration service issues their paper code for the staff member
    paper = codes_service.issue_paper_for_registration(person_id, "scanner-x", "v-checkpoint", now)
    # THEN it is the person's one valid paper code, with its labelled card, audited with the checkpoint
    assert set(paper) == {"token", "expires_at", "png_base64"}
    assert png_text(base64.b64decode(paper["png_base64"])) == paper["token"]
    verified = keystore.verify(paper["token"], kinds=("paper",))
    stored = persons.get(person_id)
    assert stored is not None and stored.paper_code_id == verified.claims["jti"]
    (entry,) = audit.entries(audit.person_subject(person_id), kinds=frozenset({"paper_code_issued"}))
    assert (entry.actor, entry.details["by"], entry.details["checkpoint_id"]) == (
        "scanner-x",
        "checkpoint_staff",
        "v-checkpoint",
    )


def test_no_paper_code_to_print_before_one_is_issued_or_after_it_expired(moto_stack: InProcessStack) -> None:
    start_clock()
    owner = account()
    person_id = person_id_of(moto_stack, form(adult_id()), owner)
    before = moto_stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=owner)
    assert (before.status, before.error_code) == (404, "no_paper_code")
    assert moto_stack.call("POST", f"/v1/codes/{person_id}/paper", as_=owner).status == 201
    clock.advance(365 * 86400)
    after = moto_stack.call("GET", f"/v1/codes/{person_id}/paper.png", as_=owner)
    assert (after.status, after.error_code) == (404, "no_paper_code")
