"""A venue code's life on moto: reissue revokes the earlier codes, closing refuses a venue's codes
(a complex's doors and stores too), codes printed before compact codes keep working until the
first reissue, the poster's URL is accepted at check-in, and vehicles skip the distance check
while their presences keep only a rounded device position."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.codes import keystore
from healthcode.rules.geo import Location
from healthcode.rules.venues import VenueCode
from healthcode.storage import audit
from healthcode.storage.models import Venue

from tests.handlers import venue_support
from tests.handlers.harness import Answer, InProcessStack
from tests.handlers.venue_support import citizen, make_person, manager, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack

NEAR = {"lat": 26.5796, "lng": 106.7135}
#: ~6 km from the registered point: a bus or taxi on its way.
FAR = {"lat": 26.6323456, "lng": 106.7135789}
OFFICIAL_GUIYANG = ("official-guiyang", ["official"])


def check_in(stack: InProcessStack, code: str, *, location: dict[str, float] = NEAR) -> Answer:
    who = citizen()
    person = make_person(who[0])
    body = {"venue_code": code, "person_id": person.person_id, "location": location}
    return stack.call("POST", "/v1/checkins", as_=who, json_body=body)


def refused(answer: Answer) -> tuple[int, str | None, str | None]:
    return answer.status, answer.error_code, answer.json()["error"]["field"]


def scans_at(stack: InProcessStack, venue_id: str) -> list[dict[str, Any]]:
    table = stack.template.physical_name("ScansTable")
    items: list[dict[str, Any]] = []
    for shard in range(64):
        items += stack.clients["dynamodb"].query(
            TableName=table,
            KeyConditionExpression="venue_shard = :p",
            ExpressionAttributeValues={":p": {"S": f"{venue_id}#{shard}"}},
        )["Items"]
    return items


def reissue(stack: InProcessStack, venue_id: str, who: tuple[str, list[str]], **kwargs: Any) -> Answer:
    return stack.call("POST", f"/v1/venues/{venue_id}/code", as_=who, **kwargs)


def kinds(subject: str) -> list[str]:
    return [entry.kind for entry in audit.entries(subject)]


# --- reissue ------------------------------------------------------------------------------------


def test_a_reissued_code_revokes_the_earlier_one(stack: InProcessStack) -> None:
    # GIVEN a venue and its first code, which checks in
    who = manager()
    created = register(stack, who).json()
    assert check_in(stack, created["code"]).status == 201
    # WHEN its manager reissues the code (a damaged poster)
    answer = reissue(stack, created["venue_id"], who, json_body={"reason": "damaged"})
    # THEN 201 with a new code of the next generation, its URL, stored on the venue
    assert answer.status == 201, answer.body
    new = answer.json()
    assert new["generation"] == 2 and new["code"] != created["code"]
    assert new["code_url"] == "https://hc.local/v/" + new["code"]
    assert keystore.verify_venue(new["code"]).generation == 2
    assert Venue.get(created["venue_id"]).code == new["code"]
    # AND the earlier code is refused, writing nothing; the new one (bare or as the URL) checks in
    before = len(scans_at(stack, created["venue_id"]))
    assert refused(check_in(stack, created["code"])) == (422, "venue_code_revoked", "venue_code")
    assert len(scans_at(stack, created["venue_id"])) == before
    assert check_in(stack, new["code"]).status == 201
    assert check_in(stack, new["code_url"]).status == 201
    # AND it is audited with its reason
    entries = audit.entries(audit.venue_subject(created["venue_id"]))
    assert [(e.kind, e.actor, e.details["reason"], e.details["generation"]) for e in entries] == [
        ("venue_code_reissued", who[0], "damaged", 2)
    ]
    # AND reading the venue shows the new code (a body is optional: the reason defaults to other)
    shown = stack.call("GET", f"/v1/venues/{created['venue_id']}", as_=who).json()
    assert (shown["code"], shown["code_generation"]) == (new["code"], 2)
    third = reissue(stack, created["venue_id"], who)
    assert third.status == 201 and third.json()["generation"] == 3


def test_reissue_refuses_bad_input_and_other_accounts_changing_nothing(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who).json()
    venue_id = created["venue_id"]
    cases = [
        (
            reissue(stack, venue_id, who, json_body={"reason": "bored"}),
            (422, "invalid_reason_code", "reason"),
        ),
        (reissue(stack, venue_id, who, json_body={"why": "x"}), (422, "unknown_field", "why")),
        (reissue(stack, venue_id, manager()), (403, "not_venue_manager", "venue_id")),
        (reissue(stack, venue_id, OFFICIAL_GUIYANG), (403, "not_venue_manager", "venue_id")),
        (reissue(stack, f"v-{uuid.uuid4().hex}", who), (404, "venue_not_found", "venue_id")),
        (reissue(stack, "not-a-venue", who), (404, "venue_not_found", "venue_id")),
    ]
    for answer, expected in cases:
        assert refused(answer) == expected
    assert reissue(stack, venue_id, citizen()).status == 403
    bad_json = reissue(stack, venue_id, who, raw_body=b"{not json")
    assert (bad_json.status, bad_json.error_code) == (400, "invalid_json")
    # nothing changed: the first code still checks in, no audit entry
    assert Venue.get(venue_id).code_generation == 1
    assert check_in(stack, created["code"]).status == 201
    assert kinds(audit.venue_subject(venue_id)) == []


def test_officials_reissue_and_close_roadside_checkpoints_of_their_area_only(stack: InProcessStack) -> None:
    # GIVEN a roadside checkpoint in Guiyang's Nanming district (520102), registered by an official
    body = {"type": "checkpoint", "name": "贵阳南收费站卡口"}
    created = register(stack, OFFICIAL_GUIYANG, **body).json()
    venue_id = created["venue_id"]
    # WHEN another official of Guiyang reissues it THEN 201; an official of Zunyi gets 403
    colleague = ("official-colleague", ["official"])
    answer = stack.call("POST", f"/v1/venues/{venue_id}/code", as_=colleague, region="520100")
    assert answer.status == 201, answer.body
    outside = stack.call("POST", f"/v1/venues/{venue_id}/code", as_=colleague, region="520300")
    assert (outside.status, outside.error_code) == (403, "outside_area")
    closing = stack.call("DELETE", f"/v1/venues/{venue_id}", as_=colleague, region="520300")
    assert (closing.status, closing.error_code) == (403, "outside_area")
    assert stack.call("DELETE", f"/v1/venues/{venue_id}", as_=colleague, region="520102").status == 204


# --- closing ------------------------------------------------------------------------------------


def test_closing_a_complex_refuses_its_stores_and_doors_codes_and_keeps_records(
    stack: InProcessStack,
) -> None:
    # GIVEN a mall with a store and a door under the store, and a presence at the store
    who = manager()
    mall = register(stack, who).json()
    store = register(
        stack, who, name="一楼奶茶店", type="restaurant", parent_venue_id=mall["venue_id"]
    ).json()
    door = register(
        stack, who, name="奶茶店侧门", type="restaurant", parent_venue_id=store["venue_id"]
    ).json()
    other = register(stack, who, name="另一家店").json()  # not in the complex
    assert check_in(stack, store["code"]).status == 201
    # WHEN the mall's manager closes the mall
    answer = stack.call("DELETE", f"/v1/venues/{mall['venue_id']}", as_=who)
    # THEN 204; every code of the complex is refused as closed, records stay for tracing
    assert answer.status == 204 and answer.body == b""
    for venue in (mall, store, door):
        assert refused(check_in(stack, venue["code"])) == (422, "venue_closed", "venue_code")
        assert Venue.get(venue["venue_id"]).closed_at is not None
        assert kinds(audit.venue_subject(venue["venue_id"])) == ["venue_closed"]
    assert len(scans_at(stack, store["venue_id"])) == 1
    assert check_in(stack, other["code"]).status == 201
    # AND closing again is a no-op; its code is not reissued; nothing registers under it
    assert stack.call("DELETE", f"/v1/venues/{mall['venue_id']}", as_=who).status == 204
    assert kinds(audit.venue_subject(mall["venue_id"])) == ["venue_closed"]
    assert refused(reissue(stack, store["venue_id"], who)) == (409, "venue_closed", "venue_id")
    late = register(stack, who, name="新店", parent_venue_id=mall["venue_id"])
    assert refused(late) == (409, "parent_closed", "parent_venue_id")
    # AND the venue still reads back for its manager, closed, with no poster
    shown = stack.call("GET", f"/v1/venues/{store['venue_id']}", as_=who)
    assert shown.status == 200 and shown.json()["status"] == "closed"
    poster = stack.call("GET", f"/v1/venues/{store['venue_id']}/poster.png", as_=who)
    assert (poster.status, poster.error_code) == (409, "venue_closed")


def test_a_store_read_its_complex_open_just_before_the_close_is_not_written(
    stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a mall closed while a store's registration was under way (its read of the mall, an
    eventually consistent one, still saw it open) WHEN the registration is written THEN 409
    parent_closed and no store: the mall's being open is checked in the registration's own
    transaction, not only on the read before it."""
    from healthcode.storage import venues as venue_store

    who = manager()
    mall = register(stack, who).json()
    before = venue_store.parent(mall["venue_id"])
    assert before is not None and not before.closed
    assert stack.call("DELETE", f"/v1/venues/{mall['venue_id']}", as_=who).status == 204
    monkeypatch.setattr(venue_store, "parent", lambda venue_id: before)  # the stale read
    late = register(stack, who, name="新店", type="restaurant", parent_venue_id=mall["venue_id"])
    assert refused(late) == (409, "parent_closed", "parent_venue_id")
    listed = stack.call("GET", "/v1/venues", as_=who).json()["venues"]
    assert [v["venue_id"] for v in listed] == [mall["venue_id"]]


def test_closing_a_store_leaves_its_complex_open(stack: InProcessStack) -> None:
    who = manager()
    mall = register(stack, who).json()
    store = register(stack, who, name="二楼书店", type="other", parent_venue_id=mall["venue_id"]).json()
    assert stack.call("DELETE", f"/v1/venues/{store['venue_id']}", as_=who).status == 204
    assert refused(check_in(stack, store["code"])) == (422, "venue_closed", "venue_code")
    assert check_in(stack, mall["code"]).status == 201


def test_close_refuses_other_accounts_and_unknown_venues(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who).json()
    path = f"/v1/venues/{created['venue_id']}"
    assert refused(stack.call("DELETE", path, as_=manager())) == (403, "not_venue_manager", "venue_id")
    assert refused(stack.call("DELETE", path, as_=OFFICIAL_GUIYANG)) == (403, "not_venue_manager", "venue_id")
    assert stack.call("DELETE", path, as_=citizen()).status == 403
    unknown = stack.call("DELETE", f"/v1/venues/v-{uuid.uuid4().hex}", as_=who)
    assert refused(unknown) == (404, "venue_not_found", "venue_id")
    assert Venue.get(created["venue_id"]).closed_at is None
    assert check_in(stack, created["code"]).status == 201


# --- codes printed before compact codes ----------------------------------------------------------


def printed_before(stack: InProcessStack, venue_id: str) -> str:
    """Make ``venue_id`` a venue registered before compact codes: its item holds a code of the
    older form (name, place and coordinates in the claims) and no generation. The code."""
    claims = VenueCode(
        venue_id=venue_id,
        name="东街口百货大楼（东门）",
        venue_type="mall",
        province="520000",
        region_code="520102",
        root_venue_id=venue_id,
        location=Location(26.5783, 106.7135),
        shards=8,
        address="贵州省贵阳市南明区中华南路1号",
    ).claims()
    code, _ = keystore.sign("venue", subject=venue_id, claims=claims, lifetime=timedelta(days=3650))
    stack.clients["dynamodb"].update_item(
        TableName=stack.template.physical_name("VenuesTable"),
        Key={"venue_id": {"S": venue_id}},
        UpdateExpression="SET code = :code REMOVE code_generation",
        ExpressionAttributeValues={":code": {"S": code}},
    )
    return code


def test_a_code_printed_before_compact_codes_works_until_the_first_reissue(stack: InProcessStack) -> None:
    # GIVEN a venue registered before compact codes, its long code on a printed poster
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    printed = printed_before(stack, venue_id)
    assert len(printed) > 400
    # THEN the printed code checks in (generation 0), also as a URL
    assert check_in(stack, printed).status == 201
    assert check_in(stack, "https://hc.local/v/" + printed).status == 201
    # WHEN its manager reads the venue THEN it shows a compact code of generation 0 (nothing revoked)
    shown = stack.call("GET", f"/v1/venues/{venue_id}", as_=who).json()
    assert shown["code"] != printed and keystore.verify_venue(shown["code"]).generation == 0
    assert check_in(stack, printed).status == 201
    assert check_in(stack, shown["code"]).status == 201
    # WHEN the code is reissued THEN both generation-0 codes are refused, the new one works
    new = reissue(stack, venue_id, who, json_body={"reason": "forwarded"}).json()
    assert new["generation"] == 1
    for old in (printed, shown["code"]):
        assert refused(check_in(stack, old)) == (422, "venue_code_revoked", "venue_code")
    assert check_in(stack, new["code"]).status == 201


def test_a_stored_code_is_re_signed_after_the_venue_key_rotates(stack: InProcessStack) -> None:
    # GIVEN a venue, then a venue key rotation (the new key signs after its activation delay)
    who = manager()
    created = register(stack, who).json()
    keystore.rotate("venue")
    clock.set_now(clock.now() + keystore.ACTIVATION_DELAY + timedelta(minutes=1))
    # WHEN its manager reads it THEN its code is signed by the new key at the same generation
    shown = stack.call("GET", f"/v1/venues/{created['venue_id']}", as_=who).json()
    assert shown["code"] != created["code"] and shown["code_generation"] == 1
    assert keystore.verify_venue(shown["code"]).kid == keystore.venue_signing_kid()
    # AND both codes check in (the same generation; the old key is still published)
    assert check_in(stack, created["code"]).status == 201
    assert check_in(stack, shown["code"]).status == 201


# --- mobile venues --------------------------------------------------------------------------------


@pytest.mark.parametrize("plate", ["贵A·D12345"])
def test_a_vehicle_checks_in_far_from_its_registration_point_with_a_rounded_position(
    stack: InProcessStack, plate: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a taxi registered under its plate, and a fixed venue
    who = manager()
    taxi = register(
        stack,
        who,
        type="vehicle",
        name="贵A·D12345 出租车",
        credential_type="licence_plate",
        credential_number=plate,
    ).json()
    mall = register(stack, who).json()
    # WHEN a passenger checks in 6 km away THEN the taxi accepts, the mall refuses
    capsys.readouterr()
    assert check_in(stack, taxi["code"], location=FAR).status == 201
    # (and no log line holds the device's position)
    logged = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert "checked in" in logged and "26.632" not in logged and "106.71" not in logged
    assert refused(check_in(stack, mall["code"], location=FAR)) == (422, "location_mismatch", "location")
    # AND the taxi's presence keeps the device's position rounded to 3 decimals (about 100 m)
    (item,) = scans_at(stack, taxi["venue_id"])
    assert item["device_location"] == {"M": {"lat": {"N": "26.632"}, "lng": {"N": "106.714"}}}
    assert "26.6323456" not in str(item) and "106.7135789" not in str(item)
    # AND a fixed venue's presence keeps none
    assert check_in(stack, mall["code"]).status == 201
    assert all("device_location" not in scan for scan in scans_at(stack, mall["venue_id"]))
