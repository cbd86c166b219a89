"""Officials' routes of functions/cases: cases, contacts, lab results, risk areas, the full
record — status codes, error codes and fields as docs/api.md gives them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules import colour
from healthcode.rules.policy import FactKind
from healthcode.storage import audit, facts, persons
from healthcode.storage.models import CaseItem

from infra.local.streams import StreamPump
from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

shared_stack, shared_pump = epi.shared_stack, epi.shared_pump  # module-scoped fixtures
NOW = epi.BASE + timedelta(days=1)


@pytest.fixture
def stack(shared_stack: InProcessStack) -> Iterator[InProcessStack]:
    clock.freeze(NOW)
    try:
        yield shared_stack
    finally:
        clock.reset()
        settings.reset()


def case_body(**change: Any) -> dict[str, Any]:
    body = {"status": "confirmed", "diagnosed_at": "2022-05-11T08:00:00+08:00", **change}
    return {k: v for k, v in body.items() if v is not None}


def audit_kinds(person_id: str) -> list[str]:
    return [entry.kind for entry in audit.entries(audit.person_subject(person_id))]


def test_a_reported_case_is_red_at_once_and_reported_once(stack: InProcessStack) -> None:
    """GIVEN a green person WHEN an official reports them as a suspected case, then again by ID
    number as confirmed THEN the first answer is 202 with the case and red; the second names the
    same case with the new status; one case_reported entry is on the person's trail."""
    person_id, number = epi.person()
    first = stack.call(
        "POST", "/v1/cases", as_=epi.OFFICIAL, json_body=case_body(person_id=person_id, status="suspected")
    )
    assert first.status == 202
    body = first.json()
    assert (body["person_id"], body["status"], body["tracing"]) == (person_id, "suspected", "pending")
    assert (body["colour"], body["risk_level"]) == ("red", 2)
    stored = persons.get(person_id, consistent=True)
    assert stored is not None and (stored.colour, stored.level) == ("red", 2)

    again = stack.call("POST", "/v1/cases", as_=epi.SECOND_OFFICIAL, json_body=case_body(id_number=number))
    assert again.status == 202 and again.json()["case_id"] == body["case_id"]
    shown = stack.call("GET", f"/v1/cases/{body['case_id']}", as_=epi.OFFICIAL).json()
    assert (shown["status"], shown["person_id"], shown["diagnosed_at"]) == (
        "confirmed",
        person_id,
        "2022-05-11T08:00:00+08:00",
    )
    assert audit_kinds(person_id).count("case_reported") == 1
    assert "colour_change" in audit_kinds(person_id)


CASE_REFUSALS = [
    (case_body(person_id="p-nobody"), 404, "person_not_found", "person_id"),
    (case_body(id_number=epi.id_number()), 404, "person_not_found", "id_number"),
    (case_body(person_id="p-1", status="cured"), 422, "invalid_status", "status"),
    (
        case_body(person_id="p-1", diagnosed_at="2022-05-12T08:00:00+08:00"),
        422,
        "diagnosed_in_future",
        "diagnosed_at",
    ),
    (case_body(), 422, "person_required", "person_id"),
    (case_body(person_id=["p-1"]), 422, "invalid_person_id", "person_id"),
]


def test_case_reports_refused(stack: InProcessStack) -> None:
    """GIVEN reports naming nobody, a bad status, a future diagnosis, no one or a non-id
    WHEN posted THEN each is refused with its status, code and field, and nothing is stored."""
    for body, status, code, field in CASE_REFUSALS:
        answer = stack.call("POST", "/v1/cases", as_=epi.OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (status, code, field)


def test_only_officials_reach_these_routes(stack: InProcessStack) -> None:
    """GIVEN a citizen token, and no token WHEN calling officials' routes THEN 403, and 401."""
    person_id, _ = epi.person()
    for method, path in (
        ("POST", "/v1/cases"),
        ("GET", "/v1/cases/case-x"),
        ("POST", "/v1/lab-results"),
        ("PUT", "/v1/risk-areas/520102"),
        ("GET", f"/v1/persons/{person_id}"),
        ("PUT", f"/v1/persons/{person_id}/colour"),
        ("GET", "/v1/appeals"),
    ):
        citizen = stack.call(method, path, as_=("c-1", ["citizen", "scanner"]), json_body={})
        assert (citizen.status, citizen.error_code) == (403, "forbidden_role"), path
        assert stack.call(method, path, json_body={}).status == 401


def test_unknown_case_and_contact_pages(stack: InProcessStack) -> None:
    """GIVEN contact rows of a case WHEN read one per page THEN the pages chain through ``next``;
    an unknown case is 404 and a bad limit 422."""
    person_id, _ = epi.person()
    case_id = stack.call(
        "POST", "/v1/cases", as_=epi.OFFICIAL, json_body=case_body(person_id=person_id)
    ).json()["case_id"]
    for other in ("p-a", "p-b", "p-c"):
        CaseItem(
            case_id,
            f"CONTACT#{other}",
            person_id=other,
            kind="close",
            venue_id="v-1",
            exposure_at=epi.BASE,
            overlap_minutes=20,
        ).save()
    seen, after = [], None
    while True:
        query = "limit=1" + (f"&after={after}" if after else "")
        page = stack.call("GET", f"/v1/cases/{case_id}/contacts", as_=epi.OFFICIAL, query=query).json()
        seen += [row["person_id"] for row in page["contacts"]]
        after = page["next"]
        if not after:
            break
    assert seen == ["p-a", "p-b", "p-c"]
    assert stack.call("GET", "/v1/cases/case-0000", as_=epi.OFFICIAL).error_code == "case_not_found"
    bad = stack.call("GET", f"/v1/cases/{case_id}/contacts", as_=epi.OFFICIAL, query="limit=0")
    assert (bad.status, bad.error_code) == (422, "invalid_limit")


# -- lab results ---------------------------------------------------------------------------------


def test_lab_results_row_by_row(stack: InProcessStack, shared_pump: StreamPump) -> None:
    """GIVEN a feverish (yellow) person, a green one and an unregistered ID number WHEN a batch
    has a negative for the first, a positive for the second, the stranger, a bad row and a
    repeat THEN good rows are accepted, each bad row is rejected at its index, the positive
    opens a case (red, tracing) and the negative clears the fever."""
    feverish, feverish_id = epi.person()
    positive, positive_id = epi.person()
    fever = colour.Fact("decl#fever", FactKind.FEVER, NOW - timedelta(hours=30), NOW + timedelta(days=5))
    facts.save([facts.item_for(feverish, fever, recorded_at=NOW - timedelta(hours=30))])
    pump = shared_pump
    pump.drain()
    assert persons.get(feverish, consistent=True).colour == "yellow"  # type: ignore[union-attr]

    sampled = "2022-05-11T07:00:00+08:00"
    rows = [
        {"id_number": feverish_id, "sampled_at": sampled, "result": "negative"},
        {"id_number": positive_id, "sampled_at": sampled, "result": "positive"},
        {"id_number": epi.id_number(), "sampled_at": sampled, "result": "negative"},
        {"id_number": feverish_id, "sampled_at": "yesterday", "result": "negative"},
        {"id_number": feverish_id, "sampled_at": sampled, "result": "negative"},
    ]
    answer = stack.call("POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": rows})
    assert answer.status == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert body["rejected"] == [
        {"index": 2, "error": "unknown_person", "field": "id_number"},
        {"index": 3, "error": "invalid_sampled_at", "field": "sampled_at"},
    ]
    (opened,) = body["cases"]
    assert opened["index"] == 1
    pump.drain()
    assert persons.get(feverish, consistent=True).colour == "green"  # type: ignore[union-attr]
    assert persons.get(positive, consistent=True).colour == "red"  # type: ignore[union-attr]
    case = stack.call("GET", f"/v1/cases/{opened['case_id']}", as_=epi.OFFICIAL).json()
    assert (case["person_id"], case["tracing"], case["diagnosed_at"]) == (positive, "done", sampled)

    again = stack.call("POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body={"results": rows[1:2]}).json()
    assert again["cases"] == [{"index": 0, "case_id": opened["case_id"]}]


LAB_REFUSALS = [
    ({"results": []}, "invalid_results", "results"),
    ({"results": "all negative"}, "invalid_results", "results"),
    ({"results": [{}] * 1001}, "too_many_results", "results"),
    ({"results": [], "lab": "x"}, "unknown_field", "lab"),
]


def test_lab_batches_refused_whole(stack: InProcessStack) -> None:
    """GIVEN an empty batch, a non-list, 1,001 rows or an unknown field THEN 422 for the batch."""
    for body, code, field in LAB_REFUSALS:
        answer = stack.call("POST", "/v1/lab-results", as_=epi.OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field)


# -- risk areas ----------------------------------------------------------------------------------


def test_risk_area_levels(stack: InProcessStack) -> None:
    """GIVEN a region never set WHEN read, set, raised and lowered THEN each answer shows the
    level; bad codes and levels are 422."""
    assert stack.call("GET", "/v1/risk-areas/520102", as_=epi.OFFICIAL).json()["level"] == "low"
    for level in ("medium", "high"):
        answer = stack.call("PUT", "/v1/risk-areas/520102", as_=epi.OFFICIAL, json_body={"level": level})
        assert answer.status == 200 and answer.json()["level"] == level
        assert stack.call("GET", "/v1/risk-areas/520102", as_=epi.OFFICIAL).json()["level"] == level
    # lowering waits for a second official
    held = stack.call("PUT", "/v1/risk-areas/520102", as_=epi.OFFICIAL, json_body={"level": "low"})
    assert held.status == 202 and held.json()["status"] == "pending_approval"
    assert stack.call("GET", "/v1/risk-areas/520102", as_=epi.OFFICIAL).json()["level"] == "high"
    approved = stack.call(
        "POST", f"/v1/overrides/{held.json()['request_id']}/approve", as_=epi.SECOND_OFFICIAL
    )
    assert approved.status == 200 and approved.json()["status"] == "applied", approved.body
    assert stack.call("GET", "/v1/risk-areas/520102", as_=epi.OFFICIAL).json()["level"] == "low"
    for path, body, code in (
        ("/v1/risk-areas/529999", {"level": "high"}, "invalid_region_code"),
        ("/v1/risk-areas/52010", {"level": "high"}, "invalid_region_code"),
        ("/v1/risk-areas/520102", {"level": "severe"}, "invalid_level"),
        ("/v1/risk-areas/520102", {"level": "high", "since": "now"}, "unknown_field"),
    ):
        answer = stack.call("PUT", path, as_=epi.OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code) == (422, code)


# -- the full record -----------------------------------------------------------------------------


def test_full_record_shows_identity_and_audits_the_read(stack: InProcessStack) -> None:
    """GIVEN a person WHEN an official reads the full record THEN name and ID number are shown
    in clear, the colour and facts with them, and an identity_read entry names the official."""
    person_id, number = epi.person()
    answer = stack.call("GET", f"/v1/persons/{person_id}", as_=epi.OFFICIAL)
    assert answer.status == 200
    body = answer.json()
    assert (body["name"], body["id_number"], body["phone"]) == ("张三", number, "13800000000")
    assert (body["colour"], body["risk_level"], body["facts"]) == ("green", 0, [])
    (read,) = [e for e in audit.entries(audit.person_subject(person_id)) if e.kind == "identity_read"]
    assert read.actor == epi.OFFICIAL[0] and number not in str(read.details)
    assert stack.call("GET", "/v1/persons/p-nobody", as_=epi.OFFICIAL).status == 404
