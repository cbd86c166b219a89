"""Province rules on moto (issue 16): Shanxi's quarantine orders (placed at once, lifted early only
by a second official), buildings of cases, in-province travel, fever contact and whitelist;
Fujian's arrival test and test results on the code; fever rules the same however learned."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules.policy import load_policy
from healthcode.storage import audit, facts, persons, quarantines, residences
from healthcode.storage.models import RiskArea

from tests.codes_forms import adult_id, declaration, form
from tests.handlers import epidemiology as epi
from tests.handlers.harness import Answer, InProcessStack

NOW = epi.BASE + timedelta(hours=1)
TAIYUAN = "140105"


@pytest.fixture
def stack(aws_stack: InProcessStack) -> InProcessStack:
    clock.freeze(NOW)
    return aws_stack


@pytest.fixture
def shanxi(province: Any) -> None:
    province("140000")


@pytest.fixture
def fujian(province: Any) -> None:
    province("350000")


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def apply(stack: InProcessStack, who: tuple[str, list[str]], **changes: Any) -> Answer:
    body = form(adult_id(), region_code=TAIYUAN, **changes)
    return stack.call("POST", "/v1/codes", as_=who, json_body=body)


def applied(stack: InProcessStack, **changes: Any) -> tuple[str, tuple[str, list[str]]]:
    who = citizen()
    answer = apply(stack, who, **changes)
    assert answer.status == 201, answer.body
    return str(answer.json()["person_id"]), who


def stored(person_id: str) -> tuple[str, list[str]]:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return str(person.colour), [str(r["code"]) for r in person.reasons]


def quarantine(
    stack: InProcessStack, person_id: str, body: Any, *, by: Any = epi.OFFICIAL, **kw: Any
) -> Answer:
    return stack.call("PUT", f"/v1/persons/{person_id}/quarantine", as_=by, json_body=body, **kw)


# -- quarantine -------------------------------------------------------------------------------


def test_a_quarantine_is_red_at_once_and_lifting_it_early_needs_a_second_official(
    stack: InProcessStack, shanxi: None
) -> None:
    # GIVEN a person of Taiyuan
    person_id, _ = epi.person(region=TAIYUAN)
    start = clock.show(NOW)
    # WHEN an official of Taiyuan (1401) places a home quarantine without an end
    placed = quarantine(stack, person_id, {"kind": "home", "from": start}, region="140100")
    # THEN red at once for the policy's 14 days, audited
    assert placed.status == 200, placed.body
    body = placed.json()
    assert (body["colour"], body["quarantine"]["kind"]) == ("red", "home")
    assert clock.parse_instant(body["quarantine"]["until"]) == NOW + timedelta(days=14)
    assert stored(person_id) == ("red", ["quarantine"])
    kinds = [e.kind for e in audit.entries(audit.person_subject(person_id))]
    assert kinds.count("quarantine_placed") == 1
    # AND the same order again writes nothing new
    assert quarantine(stack, person_id, {"kind": "home", "from": start}).status == 200
    assert [e.kind for e in audit.entries(audit.person_subject(person_id))].count("quarantine_placed") == 1
    # WHEN the same official ends it early THEN it waits for a second official, still red
    clock.freeze(NOW + timedelta(days=2))
    early = {"kind": "home", "from": start, "until": clock.show(NOW + timedelta(days=2))}
    held = quarantine(stack, person_id, early)
    assert held.status == 202 and held.json()["status"] == "pending_approval", held.body
    assert held.json()["kind"] == "quarantine_lift"
    assert stored(person_id)[0] == "red"
    request_id = held.json()["request_id"]
    own = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.OFFICIAL)
    assert own.status == 403 and own.json()["error"]["code"] == "cannot_approve_own"
    # WHEN a second official approves THEN it ends at the approval, green, audited
    clock.freeze(NOW + timedelta(days=2, hours=1))
    approved = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.SECOND_OFFICIAL)
    assert approved.status == 200, approved.body
    assert stored(person_id) == ("green", [])
    ended = quarantines.get(person_id)
    assert ended is not None and ended.expires_at == NOW + timedelta(days=2, hours=1)
    assert "quarantine_lifted" in [e.kind for e in audit.entries(audit.person_subject(person_id))]
    # AND the first order given again places the quarantine again (a new act, audited again)
    again = quarantine(stack, person_id, {"kind": "home", "from": start})
    assert again.status == 200 and again.json()["colour"] == "red", again.body
    assert [e.kind for e in audit.entries(audit.person_subject(person_id))].count("quarantine_placed") == 2


def test_an_order_decided_on_a_stale_read_is_refused_not_written_over_a_newer_one(
    stack: InProcessStack, shanxi: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN two officials ordering a quarantine for one person at the same moment, a 14-day one
    written first WHEN the other's 1-day order is written, decided on its read from before the
    first (no quarantine yet: nothing to shorten, so no second official) THEN 409
    concurrent_update and the 14-day order stands: a shorter order never replaces a longer one
    unseen."""
    person_id, _ = epi.person(region=TAIYUAN)
    start = clock.show(NOW)
    assert quarantine(stack, person_id, {"kind": "home", "from": start}).status == 200
    monkeypatch.setattr(quarantines, "get", lambda _person_id: None)  # the read before the first
    short = {"kind": "home", "from": start, "until": clock.show(NOW + timedelta(days=1))}
    answer = quarantine(stack, person_id, short)
    assert (answer.status, answer.error_code) == (409, "concurrent_update"), answer.body
    monkeypatch.undo()
    kept = quarantines.get(person_id)
    assert kept is not None and kept.expires_at == NOW + timedelta(days=14)


def test_quarantine_orders_outside_the_area_unknown_or_bad_are_refused_and_write_nothing(
    stack: InProcessStack, shanxi: None
) -> None:
    person_id, _ = epi.person(region=TAIYUAN)
    start = clock.show(NOW)
    outside = quarantine(stack, person_id, {"kind": "home", "from": start}, region="140200")
    assert outside.status == 403 and outside.json()["error"]["code"] == "outside_area"
    unknown = quarantine(stack, "p-unknown", {"kind": "home", "from": start})
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "person_not_found"
    citizen_call = quarantine(stack, person_id, {"kind": "home", "from": start}, by=citizen())
    assert citizen_call.status == 403
    for body, code in (
        ({"kind": "hotel", "from": start}, "invalid_quarantine_kind"),
        ({"from": start}, "invalid_quarantine_kind"),
        ({"kind": "home"}, "invalid_from"),
        ({"kind": "home", "from": "tomorrow"}, "invalid_from"),
        ({"kind": "home", "from": clock.show(NOW + timedelta(days=8))}, "invalid_from"),
        ({"kind": "home", "from": start, "until": start}, "invalid_until"),
        ({"kind": "home", "from": start, "until": clock.show(NOW + timedelta(days=61))}, "invalid_until"),
        ({"kind": "home", "from": start, "note": "x"}, "unknown_field"),
    ):
        refused = quarantine(stack, person_id, body)
        assert refused.status == 422, (body, refused.body)
        assert refused.json()["error"]["code"] == code, (body, refused.body)
    assert quarantines.get(person_id) is None
    assert stored(person_id)[0] == "green"


def test_a_quarantine_past_the_officials_limit_waits_for_a_second_official(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = dataclasses.replace(load_policy("140000"), official_coloured_persons_per_hour_limit=1)
    monkeypatch.setattr(settings, "load_policy", lambda _code: rules)
    first, _ = epi.person(region=TAIYUAN)
    second, _ = epi.person(region=TAIYUAN)
    start = clock.show(NOW)
    assert quarantine(stack, first, {"kind": "centralised", "from": start}).status == 200
    held = quarantine(stack, second, {"kind": "centralised", "from": start})
    assert held.status == 202 and held.json()["kind"] == "quarantine", held.body
    assert stored(second)[0] == "green" and quarantines.get(second) is None
    approved = stack.call(
        "POST", f"/v1/overrides/{held.json()['request_id']}/approve", as_=epi.SECOND_OFFICIAL
    )
    assert approved.status == 200, approved.body
    assert stored(second) == ("red", ["quarantine"])


# -- buildings --------------------------------------------------------------------------------


def test_a_case_turns_the_others_of_its_building_yellow(stack: InProcessStack, shanxi: None) -> None:
    # GIVEN three people of one compound, two in building 3, one in building 5
    compound = epi.venue("residential")
    home = {"region_code": TAIYUAN, "venue_id": compound.venue_id, "building": "3号楼2单元"}
    case_person, _ = applied(stack, residence=home)
    neighbour, who = applied(stack, residence={**home, "building": "３号楼２单元"})  # full-width typing
    other, _ = applied(stack, residence={**home, "building": "5号楼"})
    assert sorted(residences.people_of(f"{compound.venue_id}#3号楼2单元")) == sorted([case_person, neighbour])
    # WHEN the first is reported a case and the streams run
    body = {"person_id": case_person, "status": "confirmed", "diagnosed_at": clock.show(NOW)}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).status == 202
    epi.pump(stack).drain()
    # THEN the neighbour of building 3 is yellow for the building, the one of building 5 is not
    assert stored(neighbour) == ("yellow", ["same_building"])
    assert stored(other) == ("green", [])
    shown = stack.call("GET", f"/v1/codes/{neighbour}", as_=who).json()
    assert shown["colour"] == "yellow" and shown["reasons"][0]["code"] == "same_building"


def test_a_residence_must_name_a_registered_residential_venue(stack: InProcessStack, shanxi: None) -> None:
    restaurant = epi.venue("restaurant")
    for residence, code in (
        ({"region_code": TAIYUAN, "venue_id": restaurant.venue_id, "building": "1"}, "unknown_venue"),
        ({"region_code": TAIYUAN, "venue_id": "v-nowhere", "building": "1"}, "unknown_venue"),
        ({"region_code": TAIYUAN, "building": "1"}, "missing_field"),
        ({"region_code": "000000"}, "invalid_region_code"),
    ):
        who = citizen()
        refused = apply(stack, who, residence=residence)
        assert refused.status == 422, refused.body
        assert refused.json()["error"]["code"] == code, refused.body
        assert list(persons.of_owner(who[0])) == []


def test_buildings_colour_nobody_where_the_policy_does_not_count_them(stack: InProcessStack) -> None:
    compound = epi.venue("residential")
    home = {"region_code": "520103", "venue_id": compound.venue_id, "building": "1"}
    who = citizen()
    case_person = stack.call("POST", "/v1/codes", as_=who, json_body=form(adult_id(), residence=home)).json()
    neighbour = stack.call(
        "POST", "/v1/codes", as_=citizen(), json_body=form(adult_id(), residence=home)
    ).json()
    body = {"person_id": case_person["person_id"], "status": "confirmed", "diagnosed_at": clock.show(NOW)}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).status == 202
    epi.pump(stack).drain()
    assert stored(neighbour["person_id"]) == ("green", [])


# -- declarations: travel inside the province, fever contact, fever ----------------------------


def test_shanxi_declarations_colour_travel_to_another_prefecture_and_fever_contact(
    stack: InProcessStack, shanxi: None
) -> None:
    left = clock.show(NOW - timedelta(days=2))
    travelled, _ = applied(
        stack, declaration=declaration(travel=[{"region_code": "140213", "left_at": left}])
    )
    assert stored(travelled) == ("yellow", ["prefecture_travel"])
    at_home, _ = applied(stack, declaration=declaration(travel=[{"region_code": "140106", "left_at": left}]))
    assert stored(at_home) == ("green", [])
    contact, _ = applied(stack, declaration=declaration(contact_with_fever=True))
    assert stored(contact) == ("yellow", ["fever_contact"])


def test_a_normal_temperature_after_the_minimum_ends_a_declared_fever_and_history_says_so(
    stack: InProcessStack,
) -> None:
    # GIVEN a fever declared at NOW: yellow for the policy's 24 hours
    who = citizen()
    number = adult_id()
    body = form(number, declaration=declaration(temperature=38.4))
    person_id = stack.call("POST", "/v1/codes", as_=who, json_body=body).json()["person_id"]
    (fever,) = [f for f in facts.state_of(person_id).facts if f.kind == "fever"]
    assert fever.expires_at == NOW + timedelta(hours=24)
    # WHEN 36.6 °C is declared 6 hours later THEN still yellow (the policy's minimum is 12 hours)
    clock.freeze(NOW + timedelta(hours=6))
    normal = form(number, declaration=declaration(temperature=36.6))
    assert stack.call("POST", "/v1/codes", as_=who, json_body=normal).json()["colour"] == "yellow"
    # WHEN declared again 13 hours after the fever THEN green, and the history names the cause
    clock.freeze(NOW + timedelta(hours=13))
    assert stack.call("POST", "/v1/codes", as_=who, json_body=normal).json()["colour"] == "green"
    changes = stack.call("GET", f"/v1/codes/{person_id}/history", as_=who).json()["changes"]
    assert changes[-1]["to"] == "green" and changes[-1]["cause"] == "normal_temperature"


# -- Fujian: the arrival test, tests on the code ----------------------------------------------


def test_fujian_arrivals_without_a_recent_negative_test_are_orange_until_one_is_recorded(
    stack: InProcessStack, fujian: None
) -> None:
    area = RiskArea("420106", level="medium", updated_at=NOW, updated_by="official-1")
    area.save()
    who = citizen()
    number = adult_id()
    left = NOW - timedelta(days=1)
    trip = {"region_code": "420106", "left_at": clock.show(left)}
    body = form(number, declaration=declaration(travel=[trip]))
    answer = stack.call("POST", "/v1/codes", as_=who, json_body=body).json()
    person_id = answer["person_id"]
    assert answer["colour"] == "orange"
    assert [r["code"] for r in answer["reasons"]] == ["medium_risk_travel", "no_recent_test"]
    assert "7日内无核酸阴性证明" in [r["text"] for r in answer["reasons"]]
    # WHEN a lab posts an old negative test (8 days before leaving) and an IgG-positive result
    rows = [
        {"id_number": number, "sampled_at": clock.show(left - timedelta(days=8)), "result": "negative"},
        {"id_number": number, "sampled_at": clock.show(NOW), "result": "positive", "test": "igg_antibody"},
    ]
    imported = stack.call("POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": rows})
    assert imported.status == 200 and imported.json()["cases"] == [], imported.body
    epi.pump(stack).drain()
    # THEN still without a recent test; the antibody result opened no case, and both are shown
    assert stored(person_id)[1] == ["medium_risk_travel", "no_recent_test"]
    shown = stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    assert [(t["test"], t["result"]) for t in shown["tests"]] == [
        ("nucleic_acid", "negative"),
        ("igg_antibody", "positive"),
    ]
    # WHEN a negative test sampled 6 days before leaving is recorded THEN that reason goes
    recent = {"id_number": number, "sampled_at": clock.show(left - timedelta(days=6)), "result": "negative"}
    assert (
        stack.call("POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": [recent]}).status == 200
    )
    epi.pump(stack).drain()
    assert stored(person_id) == ("orange", ["medium_risk_travel"])
    shown = stack.call("GET", f"/v1/codes/{person_id}", as_=who).json()
    assert clock.parse_instant(shown["tests"][0]["sampled_at"]) == left - timedelta(days=6)


# -- Shanxi: whitelist ------------------------------------------------------------------------


def test_a_whitelist_entry_is_green_until_it_ends_and_never_hides_a_later_case(
    stack: InProcessStack, shanxi: None
) -> None:
    person_id, _ = epi.person(region=TAIYUAN)
    until = clock.show(NOW + timedelta(days=7))
    ask = {"colour": "green", "reason_code": "whitelist", "evidence_ref": "SX-WL-2022-01"}
    missing = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=ask)
    assert missing.status == 422 and missing.json()["error"]["code"] == "missing_field"
    # GIVEN a quarantine, then a whitelist entry approved by a second official
    assert quarantine(stack, person_id, {"kind": "home", "from": clock.show(NOW)}).status == 200
    asked = stack.call(
        "PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body={**ask, "until": until}
    )
    assert asked.status == 202, asked.body
    clock.freeze(NOW + timedelta(minutes=5))
    approve = f"/v1/overrides/{asked.json()['override_id']}/approve"
    assert stack.call("POST", approve, as_=epi.SECOND_OFFICIAL).status == 200
    assert stored(person_id)[0] == "green"
    # WHEN a case is reported after the approval THEN red again
    clock.freeze(NOW + timedelta(hours=1))
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": clock.show(NOW)}
    assert stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body).status == 202
    assert stored(person_id)[0] == "red"


def test_a_whitelist_is_refused_where_the_province_keeps_none(stack: InProcessStack) -> None:
    person_id, _ = epi.person()
    ask = {
        "colour": "green",
        "reason_code": "whitelist",
        "evidence_ref": "GZ-1",
        "until": clock.show(NOW + timedelta(days=3)),
    }
    refused = stack.call("PUT", f"/v1/persons/{person_id}/colour", as_=epi.OFFICIAL, json_body=ask)
    assert refused.status == 422 and refused.json()["error"]["code"] == "whitelist_not_in_policy"
