"""Officials' areas through the handlers: an official whose token carries ``region`` acts only on
persons who applied inside it, on venues registered inside it, on cases of such persons, on risk
areas inside it, and reads reports of it; outside: ``403 outside_area`` with nothing written, or
(lists, lab rows) what lies outside left out or rejected row by row. A token without a region
acts on the whole province.

The persons here apply in Nanming (520102) of Guiyang (520100); Zunyi (520300) and Yunyan
(520103) lie outside.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from healthcode import clock, settings
from healthcode.storage import appeals, audit, persons
from healthcode.storage import cases as case_store

from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

shared_stack = epi.shared_stack  # module-scoped fixture
NOW = epi.BASE + timedelta(days=1)
GUIYANG, NANMING, YUNYAN, ZUNYI = "520100", "520102", "520103", "520300"
OFFICIAL = ("official-area-a", ["official"])
SECOND = ("official-area-b", ["official"])
GREEN_AGAIN = {"colour": "green", "reason_code": "recovered", "evidence_ref": "GY-CDC-2022-0511-17"}


@pytest.fixture
def stack(shared_stack: InProcessStack) -> Iterator[InProcessStack]:
    clock.freeze(NOW)
    try:
        yield shared_stack
    finally:
        clock.reset()
        settings.reset()


def kinds(person_id: str) -> list[str]:
    return [entry.kind for entry in audit.entries(audit.person_subject(person_id))]


def refused(answer: object) -> bool:
    return (getattr(answer, "status", None), getattr(answer, "error_code", None)) == (403, "outside_area")


def test_the_full_record_is_read_inside_the_area_only(stack: InProcessStack) -> None:
    """GIVEN a person of Nanming WHEN officials of Zunyi and of Yunyan read the full record THEN
    403 outside_area and no identity read is audited; officials of Guiyang, of Nanming and of
    the whole province read it (each read audited)."""
    person_id, _ = epi.person()
    path = f"/v1/persons/{person_id}"
    for region in (ZUNYI, YUNYAN):
        assert refused(stack.call("GET", path, as_=OFFICIAL, region=region))
    assert "identity_read" not in kinds(person_id)
    for area in (GUIYANG, NANMING, None):
        answer = stack.call("GET", path, as_=OFFICIAL, region=area)
        assert answer.status == 200 and answer.json()["region_code"] == NANMING
    assert kinds(person_id).count("identity_read") == 3


def test_a_case_outside_the_area_is_refused_and_nothing_is_written(stack: InProcessStack) -> None:
    """GIVEN a green person of Nanming WHEN an official of Zunyi reports them as a case (by id
    and by ID number) THEN 403 outside_area by id, and by ID number 404 as if nobody held it (a
    report must not tell where a number is held); the person stays green and no case exists; an
    official of Guiyang reports them and reads the case and its contacts, Zunyi cannot."""
    person_id, number = epi.person()
    body = {"person_id": person_id, "status": "confirmed", "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    assert refused(stack.call("POST", "/v1/cases", as_=OFFICIAL, region=ZUNYI, json_body=body))
    by_number = {**body, "person_id": None, "id_number": number}
    by_number = {k: v for k, v in by_number.items() if v is not None}
    unknown = stack.call("POST", "/v1/cases", as_=OFFICIAL, region=ZUNYI, json_body=by_number)
    assert (unknown.status, unknown.error_code) == (404, "person_not_found")
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and stored.colour == "green"
    assert "case_reported" not in kinds(person_id)

    reported = stack.call("POST", "/v1/cases", as_=OFFICIAL, region=GUIYANG, json_body=body)
    assert reported.status == 202
    case_id = reported.json()["case_id"]
    assert case_store.get(case_id) is not None
    for suffix in ("", "/contacts"):
        assert refused(stack.call("GET", f"/v1/cases/{case_id}{suffix}", as_=SECOND, region=ZUNYI))
        assert stack.call("GET", f"/v1/cases/{case_id}{suffix}", as_=SECOND, region=NANMING).status == 200


def test_lab_rows_of_persons_outside_the_area_are_rejected_one_by_one(stack: InProcessStack) -> None:
    """GIVEN lab rows for a person of Nanming and one of Zunyi WHEN an official of Guiyang imports
    them THEN the Guiyang row is accepted (its person red) and the Zunyi row rejected as
    unknown_person naming id_number (as for a number nobody holds), its person untouched."""
    inside, inside_number = epi.person()
    outside, outside_number = epi.person(region="520302")
    sampled = (NOW - timedelta(hours=3)).isoformat()
    rows = [
        {"id_number": outside_number, "sampled_at": sampled, "result": "positive"},
        {"id_number": inside_number, "sampled_at": sampled, "result": "positive"},
    ]
    answer = stack.call("POST", "/v1/lab-results", as_=OFFICIAL, region=GUIYANG, json_body={"results": rows})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [{"index": 0, "error": "unknown_person", "field": "id_number"}]
    assert [c["index"] for c in body["cases"]] == [1]
    assert persons.get(inside, consistent=True).colour == "red"  # type: ignore[union-attr]
    assert persons.get(outside, consistent=True).colour == "green"  # type: ignore[union-attr]


def test_risk_areas_are_set_inside_the_area_only(stack: InProcessStack) -> None:
    """GIVEN officials of Nanming WHEN they raise Nanming and Yunyan THEN Nanming is set and
    Yunyan is 403 outside_area (and stays low); a prefecture-level change they hold cannot be
    approved by an official of Zunyi, only by one of Guiyang."""
    up = {"level": "medium"}
    assert (
        stack.call("PUT", f"/v1/risk-areas/{NANMING}", as_=OFFICIAL, region=NANMING, json_body=up).status
        == 200
    )
    assert refused(stack.call("PUT", f"/v1/risk-areas/{YUNYAN}", as_=OFFICIAL, region=NANMING, json_body=up))
    assert stack.call("GET", f"/v1/risk-areas/{YUNYAN}", as_=OFFICIAL).json()["level"] == "low"

    held = stack.call("PUT", f"/v1/risk-areas/{GUIYANG}", as_=OFFICIAL, region=GUIYANG, json_body=up)
    assert held.status == 202
    request_id = held.json()["request_id"]
    for step in ("", "/approve", "/reject"):
        method = "GET" if not step else "POST"
        assert refused(stack.call(method, f"/v1/overrides/{request_id}{step}", as_=SECOND, region=ZUNYI))
    approved = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=SECOND, region=GUIYANG)
    assert approved.status == 200 and approved.json()["status"] == "applied"


def test_overrides_and_their_decisions_stay_inside_the_area(stack: InProcessStack) -> None:
    """GIVEN a red person of Nanming WHEN an official of Zunyi asks to turn them green THEN 403
    and no request; an official of Guiyang asks; Zunyi neither sees it in the pending list nor
    reads, approves or rejects it; a second Guiyang official approves it."""
    person_id, _ = epi.person()
    case = {"person_id": person_id, "status": "confirmed", "diagnosed_at": "2022-05-10T08:00:00+08:00"}
    assert stack.call("POST", "/v1/cases", as_=OFFICIAL, json_body=case).status == 202
    path = f"/v1/persons/{person_id}/colour"
    assert refused(stack.call("PUT", path, as_=OFFICIAL, region=ZUNYI, json_body=GREEN_AGAIN))
    assert "override_requested" not in kinds(person_id)
    requested = stack.call("PUT", path, as_=OFFICIAL, region=GUIYANG, json_body=GREEN_AGAIN)
    assert requested.status == 202
    override_id = requested.json()["override_id"]

    def pending(region: str | None) -> set[str]:
        listed = stack.call("GET", "/v1/overrides", as_=SECOND, region=region, query="limit=1000")
        assert listed.status == 200
        return {o["override_id"] for o in listed.json()["overrides"]}

    assert override_id not in pending(ZUNYI)
    assert override_id in pending(GUIYANG) and override_id in pending(None)
    assert refused(stack.call("GET", f"/v1/overrides/{override_id}", as_=SECOND, region=ZUNYI))
    for step in ("/approve", "/reject"):
        assert refused(stack.call("POST", f"/v1/overrides/{override_id}{step}", as_=SECOND, region=ZUNYI))
    assert stack.call("GET", f"/v1/overrides/{override_id}", as_=SECOND, region=NANMING).status == 200
    approved = stack.call("POST", f"/v1/overrides/{override_id}/approve", as_=SECOND, region=GUIYANG)
    assert approved.status == 200 and approved.json()["status"] == "applied"


def test_appeals_are_listed_and_answered_inside_the_area(stack: InProcessStack) -> None:
    """GIVEN an open appeal of a person of Nanming WHEN officials of Zunyi list and answer it THEN
    it is not listed and the answer is 403 (the appeal stays open); Guiyang lists and answers it."""
    person_id, _ = epi.person()
    appeal = appeals.file(
        appeal_id=appeals.new_appeal_id(),
        person_id=person_id,
        requested_by="citizen-area",
        level=1,
        colour="yellow",
        reason="我没有去过该场所",
        now=clock.now(),
    ).appeal
    appeal_id = appeal.request_id

    def listed(region: str) -> set[str]:
        answer = stack.call("GET", "/v1/appeals", as_=OFFICIAL, region=region, query="limit=1000")
        return {a["appeal_id"] for a in answer.json()["appeals"]}

    assert appeal_id not in listed(ZUNYI) and appeal_id in listed(GUIYANG)
    body = {"outcome": "dismissed", "answer": "扫码记录显示到访"}
    assert refused(
        stack.call("POST", f"/v1/appeals/{appeal_id}/answer", as_=OFFICIAL, region=ZUNYI, json_body=body)
    )
    assert appeal_id in listed(GUIYANG)
    done = stack.call("POST", f"/v1/appeals/{appeal_id}/answer", as_=OFFICIAL, region=NANMING, json_body=body)
    assert done.status == 200 and done.json()["status"] == "dismissed"


def test_reports_default_to_the_callers_area_and_refuse_others(stack: InProcessStack) -> None:
    """GIVEN officials and admins with an area WHEN they ask for reports THEN without region_code
    the report is of their area; a region outside it is 403 outside_area; admins read reports
    too; a caller without an area reads the province."""
    for route in ("/v1/reports/daily-scans", "/v1/reports/coverage"):
        for role in ("official", "admin"):
            who = (f"{role}-reports", [role])
            mine = stack.call("GET", route, as_=who, region=GUIYANG, query="format=json")
            assert mine.status == 200, mine.body
            assert mine.json()["region_code"] == GUIYANG
            county = stack.call("GET", route, as_=who, region=GUIYANG, query=f"region_code={NANMING}")
            assert county.status == 200 and county.json()["region_code"] == NANMING
            for outside in (ZUNYI, "520000"):
                assert refused(
                    stack.call("GET", route, as_=who, region=GUIYANG, query=f"region_code={outside}")
                )
        whole = stack.call("GET", route, as_=("official-province", ["official"]))
        assert whole.status == 200 and whole.json()["region_code"] == "520000"


def test_venues_and_their_staff_are_an_officials_of_their_area(stack: InProcessStack) -> None:
    """GIVEN a venue of Nanming WHEN officials of Zunyi read it, print its poster or manage its
    staff THEN 403 outside_area; officials of Guiyang do."""
    venue_id = epi.venue().venue_id
    for method, suffix in (
        ("GET", ""),
        ("GET", "/poster.svg"),
        ("GET", "/staff"),
        ("PUT", "/staff/scanner-area-1"),
        ("DELETE", "/staff/scanner-area-1"),
    ):
        path = f"/v1/venues/{venue_id}{suffix}"
        assert refused(stack.call(method, path, as_=OFFICIAL, region=ZUNYI)), path
        assert stack.call(method, path, as_=OFFICIAL, region=GUIYANG).status in (200, 204), path


def test_paper_codes_by_officials_stay_inside_the_area(stack: InProcessStack) -> None:
    """GIVEN a person of Nanming WHEN an official of Zunyi issues their paper code (with a reason)
    THEN 403 outside_area and nothing is issued; an official of Nanming issues it."""
    person_id, _ = epi.person()
    body = {"reason": "社区网格员上门协助老人打印"}
    path = f"/v1/codes/{person_id}/paper"
    assert refused(stack.call("POST", path, as_=OFFICIAL, region=ZUNYI, json_body=body))
    assert "paper_code_issued" not in kinds(person_id)
    assert stack.call("POST", path, as_=OFFICIAL, region=NANMING, json_body=body).status == 201
    assert "paper_code_issued" in kinds(person_id)


@pytest.mark.parametrize("region", ["52010", "5201000", "abcdef", "５２０１００", ""])
def test_a_malformed_area_claim_is_refused_never_widened(stack: InProcessStack, region: str) -> None:
    """GIVEN a token whose region is not six ASCII digits WHEN it calls an official route THEN
    401: a broken area never becomes the whole province."""
    person_id, _ = epi.person()
    assert stack.call("GET", f"/v1/persons/{person_id}", as_=OFFICIAL, region=region).status == 401
