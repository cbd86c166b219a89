"""Finding a person by ID number (``POST /v1/persons/search``) and reading the audit trail
(``GET /v1/audit``) through the handlers: areas, masking, audit of the reads themselves, paging
and cursors, bad input answered 422 with nothing written, per-account limits."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules.policy import Policy, load_policy
from healthcode.storage import audit

from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

shared_stack = epi.shared_stack  # module-scoped fixture
NOW = epi.BASE + timedelta(days=1)
GUIYANG, NANMING, ZUNYI = "520100", "520102", "520300"
OFFICIAL = ("official-search-a", ["official"])
ADMIN = ("admin-search", ["admin"])


@pytest.fixture
def stack(shared_stack: InProcessStack) -> Iterator[InProcessStack]:
    clock.freeze(NOW)
    try:
        yield shared_stack
    finally:
        clock.reset()
        settings.reset()


def with_policy(monkeypatch: pytest.MonkeyPatch, **change: Any) -> Policy:
    changed = dataclasses.replace(load_policy("520000"), **change)
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    return changed


def trail(subject: str) -> list[audit.Entry]:
    return list(audit.entries(subject))


# -- search ----------------------------------------------------------------------------------------


def test_a_search_answers_the_masked_person_inside_the_area_and_is_audited(stack: InProcessStack) -> None:
    """GIVEN a person of Nanming WHEN officials of Guiyang, of the province and an admin search
    their ID number THEN each gets the person masked with colour and region, and each search is
    on the person's trail (never the number); the answer never carries the number or the name."""
    person_id, number = epi.person()
    for who, region in ((OFFICIAL, GUIYANG), (OFFICIAL, None), (ADMIN, NANMING)):
        answer = stack.call(
            "POST", "/v1/persons/search", as_=who, region=region, json_body={"id_number": number}
        )
        assert answer.status == 200, answer.body
        (found,) = answer.json()["persons"]
        assert found["person_id"] == person_id
        assert (found["colour"], found["risk_level"], found["region_code"]) == ("green", 0, NANMING)
        assert found["name_masked"] == "张*" and "*" in found["id_masked"]
        assert number not in answer.body.decode() and "张三" not in answer.body.decode()
    searches = [e for e in trail(audit.person_subject(person_id)) if e.kind == "person_search"]
    assert sorted(e.actor for e in searches) == sorted([OFFICIAL[0], OFFICIAL[0], ADMIN[0]])
    assert all(number not in json.dumps(e.details) for e in searches)


def test_a_search_outside_the_area_looks_like_nobody(stack: InProcessStack) -> None:
    """GIVEN a person of Nanming WHEN an official of Zunyi searches their number, and a number
    nobody holds THEN both answers are the same empty list; nothing lands on the person's trail,
    the misses land on the searching account's."""
    person_id, number = epi.person()
    nobody = epi.id_number()
    who = ("official-zunyi-search", ["official"])
    outside = stack.call("POST", "/v1/persons/search", as_=who, region=ZUNYI, json_body={"id_number": number})
    missing = stack.call("POST", "/v1/persons/search", as_=who, region=ZUNYI, json_body={"id_number": nobody})
    assert (outside.status, outside.body) == (missing.status, missing.body) == (200, b'{"persons":[]}')
    assert "person_search" not in [e.kind for e in trail(audit.person_subject(person_id))]
    misses = trail(audit.account_subject(who[0]))
    assert [(e.kind, e.details["matches"]) for e in misses] == [("person_search", 0)] * 2


SEARCH_REFUSALS = [
    ({}, 422, "missing_field", "id_number"),
    ({"id_number": "52010219900307001"}, 422, "invalid_id_number", "id_number"),
    ({"id_number": "520102199003070011"}, 422, "invalid_id_number", "id_number"),
    ({"id_number": 520102199003070011}, 422, "invalid_id_number", "id_number"),
    ({"id_number": "E12345678", "id_type": "passport"}, 422, "missing_field", "nationality"),
    (
        {"id_number": "E1234", "id_type": "passport", "nationality": "CHN"},
        422,
        "invalid_id_number",
        "id_number",
    ),
    ({"id_number": "E12345678", "nationality": "CHN"}, 422, "nationality_not_allowed", "nationality"),
    ({"id_number": "E12345678", "id_type": "driving_licence"}, 422, "invalid_id_type", "id_type"),
    ({"id_number": "x", "name": "张三"}, 422, "unknown_field", "name"),
]


def test_bad_searches_are_refused_and_leave_no_trail(stack: InProcessStack) -> None:
    """GIVEN malformed search bodies WHEN posted THEN 422 naming the field and code, and no
    search entry is written."""
    who = ("official-bad-search", ["official"])
    for body, status, code, field in SEARCH_REFUSALS:
        answer = stack.call("POST", "/v1/persons/search", as_=who, json_body=body)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (status, code, field), (
            body
        )
    assert trail(audit.account_subject(who[0])) == []


def test_only_officials_and_admins_search_and_each_account_is_limited(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the hourly search limit at 2 WHEN an official searches three times THEN the third is
    429 rate_limited with Retry-After; citizens, scanners, managers and labs get 403."""
    with_policy(monkeypatch, person_searches_per_hour_limit=2)
    _, number = epi.person()
    who = ("official-limited-search", ["official"])
    for _ in range(2):
        assert (
            stack.call("POST", "/v1/persons/search", as_=who, json_body={"id_number": number}).status == 200
        )
    third = stack.call("POST", "/v1/persons/search", as_=who, json_body={"id_number": number})
    assert (third.status, third.error_code) == (429, "rate_limited") and "retry-after" in third.headers
    for role in ("citizen", "scanner", "venue_manager", "lab"):
        answer = stack.call(
            "POST", "/v1/persons/search", as_=(f"{role}-x", [role]), json_body={"id_number": number}
        )
        assert (answer.status, answer.error_code) == (403, "forbidden_role")


# -- the audit trail -------------------------------------------------------------------------------


def read(stack: InProcessStack, who: tuple[str, list[str]], query: str, region: str | None = None) -> Any:
    return stack.call("GET", "/v1/audit", as_=who, region=region, query=query)


def test_a_persons_trail_newest_first_in_pages_with_the_read_audited(stack: InProcessStack) -> None:
    """GIVEN a person whose full record was read three times, a minute apart WHEN an official of
    Guiyang reads their trail two entries a page THEN the pages chain newest first through
    next_cursor to the end, every read shows up (the trail's own read first), and the entries
    carry at, actor, action, subject and detail."""
    person_id, _ = epi.person()
    for _ in range(3):
        clock.advance(60)
        assert stack.call("GET", f"/v1/persons/{person_id}", as_=OFFICIAL).status == 200
    clock.advance(60)
    seen: list[dict[str, Any]] = []
    query = f"subject={person_id}&limit=2"
    page = read(stack, OFFICIAL, query, GUIYANG)
    assert page.status == 200, page.body
    while True:
        body = page.json()
        assert len(body["entries"]) <= 2
        seen.extend(body["entries"])
        if body["next_cursor"] is None:
            break
        page = read(stack, OFFICIAL, f"{query}&cursor={body['next_cursor']}", GUIYANG)
        assert page.status == 200
    times = [e["at"] for e in seen]
    assert times == sorted(times, reverse=True)
    actions = [e["action"] for e in seen]
    assert actions[0] == "audit_read"
    assert actions.count("identity_read") == 3
    assert {e["subject"] for e in seen} == {f"person#{person_id}"}
    assert set(seen[0]) == {"at", "actor", "action", "subject", "detail"}
    # each page read is itself on the trail: one first page, then the following ones
    reads = [e for e in trail(audit.person_subject(person_id)) if e.kind == "audit_read"]
    assert len(reads) >= 2 and {e.actor for e in reads} == {OFFICIAL[0]}


def test_areas_bind_officials_but_not_admins(stack: InProcessStack) -> None:
    """GIVEN a person and a venue of Nanming WHEN an official of Zunyi reads their trails THEN
    403 outside_area and no read is written; an official of Guiyang and an admin of Zunyi read
    them (admins oversee every area)."""
    person_id, _ = epi.person()
    venue_id = epi.venue().venue_id
    for subject in (person_id, f"person#{person_id}", venue_id, f"venue#{venue_id}"):
        refused = read(stack, OFFICIAL, f"subject={subject.replace('#', '%23')}", ZUNYI)
        assert (refused.status, refused.error_code) == (403, "outside_area"), subject
    assert trail(audit.person_subject(person_id)) == []
    for who, region in ((OFFICIAL, GUIYANG), (ADMIN, ZUNYI), (ADMIN, None)):
        for subject in (person_id, venue_id):
            assert read(stack, who, f"subject={subject}", region).status == 200


def test_an_actors_acts_are_their_own_or_an_admins_to_read(stack: InProcessStack) -> None:
    """GIVEN an official who read a record WHEN they read their own acts THEN the read is there;
    another official's acts are 403 own_acts_only; an admin reads anyone's."""
    person_id, _ = epi.person()
    me = ("official-actor-a", ["official"])
    assert stack.call("GET", f"/v1/persons/{person_id}", as_=me).status == 200
    clock.advance(1)
    mine = read(stack, me, f"actor={me[0]}")
    assert mine.status == 200
    acts = [(e["action"], e["subject"]) for e in mine.json()["entries"]]
    assert acts[0] == ("audit_read", f"account#{me[0]}")
    assert ("identity_read", f"person#{person_id}") in acts
    other = read(stack, ("official-actor-b", ["official"]), f"actor={me[0]}")
    assert (other.status, other.error_code) == (403, "own_acts_only")
    account = read(stack, ("official-actor-b", ["official"]), f"subject=account%23{me[0]}")
    assert (account.status, account.error_code) == (403, "own_acts_only")
    by_admin = read(stack, ADMIN, f"actor={me[0]}")
    assert by_admin.status == 200 and ("identity_read", f"person#{person_id}") in [
        (e["action"], e["subject"]) for e in by_admin.json()["entries"]
    ]


def _tampered(cursor: str) -> list[str]:
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload = json.loads(document["p"])
    changed = {**payload, "e": "0000"}
    forged = {"p": json.dumps(changed, sort_keys=True), "m": document["m"]}
    encoded = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    return [encoded, cursor[:-2], "not-a-cursor", "e30"]


def test_bad_audit_queries_are_422_and_write_nothing(stack: InProcessStack) -> None:
    """GIVEN a trail with a second page WHEN read with a forged, cut or foreign cursor, both or
    neither of subject and actor, a malformed subject or actor, or a bad limit THEN 422 with the
    code and field, and no read entry is added."""
    person_id, _ = epi.person()
    other_id, _ = epi.person()
    for _ in range(3):
        stack.call("GET", f"/v1/persons/{person_id}", as_=OFFICIAL)
        stack.call("GET", f"/v1/persons/{other_id}", as_=OFFICIAL)
    cursor = read(stack, ADMIN, f"subject={person_id}&limit=1").json()["next_cursor"]
    assert cursor
    before = len(trail(audit.person_subject(person_id))), len(trail(audit.person_subject(other_id)))
    cases = [(f"subject={person_id}&cursor={bad}", "invalid_cursor", "cursor") for bad in _tampered(cursor)]
    cases += [
        (f"subject={other_id}&cursor={cursor}", "invalid_cursor", "cursor"),  # another subject's cursor
        (f"actor={OFFICIAL[0]}&cursor={cursor}", "invalid_cursor", "cursor"),
        (f"subject={person_id}&actor={OFFICIAL[0]}", "invalid_query", "subject"),
        ("", "invalid_query", "subject"),
        ("subject=nobody", "invalid_subject", "subject"),
        ("subject=person%23", "invalid_subject", "subject"),
        ("subject=case%23c-1", "invalid_subject", "subject"),
        ("actor=a%23b", "invalid_actor", "actor"),
        (f"subject={person_id}&limit=0", "invalid_limit", "limit"),
        (f"subject={person_id}&limit=501", "invalid_limit", "limit"),
        (f"subject={person_id}&limit=²", "invalid_limit", "limit"),
    ]
    for query, code, field in cases:
        answer = read(stack, ADMIN, query)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field), (
            query
        )
    after = len(trail(audit.person_subject(person_id))), len(trail(audit.person_subject(other_id)))
    assert after == before


def test_only_officials_and_admins_read_the_audit(stack: InProcessStack) -> None:
    person_id, _ = epi.person()
    for role in ("citizen", "scanner", "venue_manager", "lab"):
        answer = read(stack, (f"{role}-audit", [role]), f"subject={person_id}")
        assert (answer.status, answer.error_code) == (403, "forbidden_role")
    assert stack.call("GET", "/v1/audit", query=f"subject={person_id}").status == 401


def test_the_steps_of_a_held_act_on_no_person_are_read_inside_its_area(stack: InProcessStack) -> None:
    """GIVEN a prefecture-level risk area held for a second official, then rejected WHEN officials
    read the request's trail (req-… or request#req-…) THEN Guiyang sees its steps; Zunyi is 403."""
    held = stack.call("PUT", f"/v1/risk-areas/{GUIYANG}", as_=OFFICIAL, json_body={"level": "high"})
    assert held.status == 202
    request_id = held.json()["request_id"]
    second = ("official-search-b", ["official"])
    rejected = stack.call(
        "POST", f"/v1/overrides/{request_id}/reject", as_=second, json_body={"reason": "证据不足"}
    )
    assert rejected.status == 200
    clock.advance(1)
    for subject in (request_id, f"request%23{request_id}"):
        outside = read(stack, OFFICIAL, f"subject={subject}", ZUNYI)
        assert (outside.status, outside.error_code) == (403, "outside_area")
        inside = read(stack, OFFICIAL, f"subject={subject}", GUIYANG)
        assert inside.status == 200, inside.body
        actions = [e["action"] for e in inside.json()["entries"]]
        assert actions[0] == "audit_read" and len(actions) >= 2


def test_a_person_who_applied_with_a_passport_is_found_by_it(stack: InProcessStack) -> None:
    """GIVEN a person who applied with a Chinese passport WHEN an official searches the number
    (typed in full-width digits, as Chinese input methods give them) THEN they are found, masked;
    the same digits as a Hong Kong and Macao permit find nobody (types never meet)."""
    number = f"E{uuid.uuid4().int % 10**8:08d}"
    citizen = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    applied = stack.call(
        "POST",
        "/v1/codes",
        as_=citizen,
        json_body={
            "name": "王小明",
            "id_type": "passport",
            "id_number": number,
            "nationality": "CHN",
            "phone": "13800000000",
            "address": "贵州省贵阳市南明区中华南路1号",
            "region_code": NANMING,
            "declaration": {"symptoms": [], "travel": [], "contact_with_case": False},
        },
    )
    assert applied.status == 201, applied.body
    typed = number[0] + "".join(chr(ord(d) + 0xFEE0) for d in number[1:])  # full-width digits
    body = {"id_number": typed, "id_type": "passport", "nationality": "CHN"}
    found = stack.call("POST", "/v1/persons/search", as_=OFFICIAL, json_body=body)
    assert found.status == 200, found.body
    (person,) = found.json()["persons"]
    assert person["person_id"] == applied.json()["person_id"] and number not in found.body.decode()
    other = {"id_number": f"H{number[1:]}", "id_type": "hk_macao_permit"}
    assert stack.call("POST", "/v1/persons/search", as_=OFFICIAL, json_body=other).json() == {"persons": []}
