"""Finding a person and reading the audit trail over HTTP, as an officials' console would: the ID
number only in a body, answers that never tell whether a person exists outside the caller's
area, audit pages chained by cursors, forged cursors and bad input refused with nothing written."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.security.http.world import SecurityStack, World, account, unique_id_number

GUIYANG, ZUNYI = "520100", "520300"


@pytest.fixture(scope="module")
def world(guizhou_stack: SecurityStack) -> World:
    return World(guizhou_stack.stack)


def call(
    world: World, method: str, path: str, who: str, role: str, region: str | None, body: Any = None
) -> Any:
    token = world.token(who, [role], region)
    return world.stack.http.request(
        method,
        f"{world.stack.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def test_a_search_inside_finds_the_person_and_outside_answers_as_for_nobody(world: World) -> None:
    # GIVEN a citizen's code in Guiyang (Yunyan district)
    person = world.apply(account("citizen"))
    official = account("official")
    # WHEN officials of Guiyang and of Zunyi search its number, and Zunyi a number nobody holds
    inside = call(
        world, "POST", "/v1/persons/search", official, "official", GUIYANG, {"id_number": person.id_number}
    )
    outside = call(
        world, "POST", "/v1/persons/search", official, "official", ZUNYI, {"id_number": person.id_number}
    )
    nobody = {"id_number": unique_id_number()}  # valid, and never applied with
    missing = call(world, "POST", "/v1/persons/search", official, "official", ZUNYI, nobody)
    # THEN Guiyang finds it masked; Zunyi's answer is byte for byte the answer for an unheld number
    assert inside.status_code == 200
    (found,) = inside.json()["persons"]
    assert found["person_id"] == person.person_id and person.id_number not in inside.text
    assert outside.status_code == missing.status_code == 200
    assert outside.content == missing.content == b'{"persons":[]}'


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "missing_field", "id_number"),
        ({"id_number": "520103198001010011"}, "invalid_id_number", "id_number"),
        ({"id_number": "G12345678", "id_type": "passport"}, "missing_field", "nationality"),
        ({"id_number": "G12345678", "id_type": "visa"}, "invalid_id_type", "id_type"),
    ],
)
def test_bad_searches_are_422(world: World, body: dict[str, Any], code: str, field: str) -> None:
    answer = call(world, "POST", "/v1/persons/search", account("official"), "official", None, body)
    assert answer.status_code == 422, answer.text
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (code, field)


def test_the_trail_pages_newest_first_and_a_forged_cursor_is_refused(world: World) -> None:
    # GIVEN a person whose record officials read five times
    person = world.apply(account("citizen"))
    reader = account("official")
    for _ in range(5):
        assert (
            call(world, "GET", f"/v1/persons/{person.person_id}", reader, "official", None).status_code == 200
        )
    admin = account("admin")
    # WHEN an admin reads the trail two entries a page
    seen: list[dict[str, Any]] = []
    cursors: list[str] = []
    while True:
        query = f"subject={person.person_id}&limit=2" + (f"&cursor={quote(cursors[-1])}" if cursors else "")
        page = call(world, "GET", f"/v1/audit?{query}", admin, "admin", None)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["entries"]) <= 2
        seen.extend(body["entries"])
        if body["next_cursor"] is None:
            break
        cursors.append(body["next_cursor"])
    # THEN the pages chain to the end, newest first, with every read on them
    times = [e["at"] for e in seen]
    assert times == sorted(times, reverse=True) and len(cursors) >= 2
    first_cursor = cursors[0]
    assert sum(e["action"] == "identity_read" for e in seen) == 5
    # AND a cursor changed by one character, or given for another subject, is 422 invalid_cursor
    forged = first_cursor[:-1] + ("A" if first_cursor[-1] != "A" else "B")
    other = world.apply(account("citizen"))
    for subject, bad in ((person.person_id, forged), (other.person_id, first_cursor)):
        answer = call(world, "GET", f"/v1/audit?subject={subject}&cursor={quote(bad)}", admin, "admin", None)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_cursor")


def test_officials_read_their_own_acts_and_nobody_elses(world: World) -> None:
    official, other = account("official"), account("official")
    answer = call(world, "GET", f"/v1/audit?actor={official}", official, "official", GUIYANG)
    assert answer.status_code == 200 and answer.json()["entries"][0]["action"] == "audit_read"
    refused = call(world, "GET", f"/v1/audit?actor={official}", other, "official", None)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "own_acts_only")
