"""POST /v1/venues and GET /v1/venues/{id}: registration with every field checked on moto,
complexes, Jiangxi's one venue per phone and green applicants, idempotent retries, masking,
and venue codes that survive key rotation."""

from __future__ import annotations

import uuid

import jwt
from healthcode.codes import keystore
from healthcode.rules import idcard
from healthcode.rules.policy import RiskLevel
from healthcode.storage.models import Venue

from tests.handlers import venue_support
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import (
    OFFICIAL,
    REAL_USCC,
    business_licence,
    citizen,
    make_person,
    manager,
    new_id_number,
    register,
)

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack


def test_a_registered_venue_gets_a_compact_code_naming_only_the_venue_and_its_generation(
    stack: InProcessStack,
) -> None:
    # GIVEN a venue manager WHEN they register a mall with every field
    who = manager()
    answer = register(stack, who)
    # THEN 201 with the venue id and a compact venue code verifiable by the stack
    assert answer.status == 201, answer.body
    created = answer.json()
    venue_id = created["venue_id"]
    assert venue_id.startswith("v-") and created["root_venue_id"] == venue_id
    verified = keystore.verify_venue(created["code"])
    assert (verified.venue_id, verified.generation, verified.compact) == (venue_id, 1, True)
    assert created["code_url"] == "https://hc.local/v/" + created["code"]
    # the header holds the algorithm and key only, the claims the venue and generation only:
    # no name, address, coordinates, type or region, and no personal data
    assert set(jwt.get_unverified_header(created["code"])) == {"alg", "kid"}
    assert set(jwt.decode(created["code"], options={"verify_signature": False})) == {"v", "g"}
    assert len(created["code"]) <= 184
    assert Venue.get(venue_id).code_generation == 1
    # AND the item holds the credential and phone encrypted, masked for display
    item = Venue.get(venue_id)
    assert item.credential_enc and REAL_USCC[0] not in item.credential_enc
    assert item.manager_phone_masked and "****" in item.manager_phone_masked


def test_the_venue_reads_back_as_registered_for_its_manager_and_officials(stack: InProcessStack) -> None:
    who = manager()
    number = new_id_number()
    created = register(
        stack, who, type="express_point", credential_type="id_number", credential_number=number
    )
    venue_id = created.json()["venue_id"]
    # WHEN the manager reads it THEN every field comes back, the ID number and phone masked
    shown = stack.call("GET", f"/v1/venues/{venue_id}", as_=who)
    assert shown.status == 200
    venue = shown.json()
    assert venue["type"] == "express_point" and venue["type_label"] == "快递网点"
    assert venue["credential_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert number not in shown.body.decode()
    assert venue["code"] == created.json()["code"]
    assert venue["location"] == {"lat": 26.5783, "lng": 106.7135}
    # officials may read it too; another manager may not; an unknown id is 404
    assert stack.call("GET", f"/v1/venues/{venue_id}", as_=OFFICIAL).status == 200
    other = stack.call("GET", f"/v1/venues/{venue_id}", as_=manager())
    assert (other.status, other.error_code) == (403, "not_venue_manager")
    missing = stack.call("GET", f"/v1/venues/v-{uuid.uuid4().hex}", as_=who)
    assert (missing.status, missing.error_code) == (404, "venue_not_found")
    garbage = stack.call("GET", "/v1/venues/" + "x" * 3000, as_=who)
    assert garbage.status == 404


def test_roles_are_enforced(stack: InProcessStack) -> None:
    answer = register(stack, citizen())
    assert (answer.status, answer.error_code) == (403, "forbidden_role")


#: A business registration number with a wrong 15th (check) digit.
BAD_LICENCE = (lambda good: good[:-1] + str((int(good[-1]) + 1) % 10))(business_licence("52010220000123"))
BAD_INPUT: list[tuple[dict[str, object], str, str]] = [
        ({"credential_number": REAL_USCC[0][:-1] + "0"}, "credential_number", "invalid_credential"),
        ({"credential_type": "business_licence", "credential_number": BAD_LICENCE}, "credential_number",
         "invalid_credential"),
        ({"credential_type": "id_number", "credential_number": "520102198506121235"}, "credential_number",
         "invalid_credential"),
        ({"type": "vehicle", "credential_type": "licence_plate", "credential_number": "贵O12345"},
         "credential_number", "invalid_credential"),
        ({"type": "ship"}, "type", "invalid_venue_type"),
        ({"region_code": "360102"}, "region_code", "region_outside_province"),
        ({"region_code": "520100"}, "region_code", "region_too_coarse"),
        ({"location": {"lat": 26.5, "lng": 200}}, "location", "invalid_location"),
        ({"location": ...}, "location", "missing_field"),
        ({"address": 5}, "address", "invalid_address"),
        ({"manager_phone": "10086"}, "manager_phone", "invalid_phone"),
        ({"name": None}, "name", "missing_field"),
]  # fmt: skip


def test_bad_input_is_422_with_the_field_and_writes_nothing(stack: InProcessStack) -> None:
    # GIVEN registrations each wrong in one field WHEN sent THEN 422 names the field and nothing is stored
    for changes, field, code in BAD_INPUT:
        who = manager()
        answer = register(stack, who, **changes)
        refused = (answer.status, answer.json()["error"]["field"], answer.error_code)
        assert refused == (422, field, code), changes
        assert list(Venue.by_manager.query(who[0])) == []


def test_valid_credentials_of_every_kind_register(stack: InProcessStack) -> None:
    who = manager()
    valid = [
        {"credential_number": REAL_USCC[1]},
        {"type": "restaurant", "credential_type": "business_licence",
         "credential_number": business_licence("52010220000123")},
        {"type": "pharmacy", "credential_type": "id_number", "credential_number": new_id_number()},
        {"type": "vehicle", "credential_type": "licence_plate", "credential_number": "贵A·D12345"},
    ]  # fmt: skip
    for changes in valid:
        answer = register(stack, who, **changes)
        assert answer.status == 201, (changes, answer.body)
    assert idcard.check_character("52010219850612123") in "0123456789X"


def test_bodies_that_are_not_json_objects_are_400(stack: InProcessStack) -> None:
    who = manager()
    for raw in (b"", b"[]", b"{", b'{"name": NaN}'):
        answer = stack.call("POST", "/v1/venues", as_=who, raw_body=raw)
        assert (answer.status, answer.error_code) == (400, "invalid_json"), raw


# --- complexes -------------------------------------------------------------------------------


def test_stores_and_doors_chain_to_the_complex_root(stack: InProcessStack) -> None:
    # GIVEN a mall, a store under it, and a door under the store, all by the mall's manager
    who = manager()
    mall = register(stack, who).json()["venue_id"]
    store = register(stack, who, name="一楼奶茶店", type="restaurant", parent_venue_id=mall).json()
    door = register(
        stack, who, name="奶茶店侧门", type="restaurant", parent_venue_id=store["venue_id"]
    ).json()
    # THEN every one of them has the mall as its root, in the item and in its venue code
    assert store["root_venue_id"] == mall and door["root_venue_id"] == mall
    assert keystore.verify_venue(door["code"]).venue_id == door["venue_id"]
    members = {v.venue_id for v in Venue.by_root.query(mall)}
    assert members == {mall, store["venue_id"], door["venue_id"]}
    assert Venue.get(door["venue_id"]).parent_venue_id == store["venue_id"]


def test_unknown_parent_is_404_and_someone_elses_complex_is_403(stack: InProcessStack) -> None:
    owner = manager()
    mall = register(stack, owner).json()["venue_id"]
    unknown = register(stack, owner, parent_venue_id=f"v-{uuid.uuid4().hex}")
    assert (unknown.status, unknown.error_code, unknown.json()["error"]["field"]) == (
        404,
        "parent_not_found",
        "parent_venue_id",
    )
    malformed = register(stack, owner, parent_venue_id="not-a-venue")
    assert (malformed.status, malformed.error_code) == (404, "parent_not_found")
    stranger = register(stack, manager(), parent_venue_id=mall)
    assert (stranger.status, stranger.error_code) == (403, "not_parent_manager")


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_registration_answers_the_same_and_creates_one_venue(stack: InProcessStack) -> None:
    who, key = manager(), str(uuid.uuid4())
    body_phone = "13912345678"
    first = register(stack, who, key=key, manager_phone=body_phone)
    again = register(stack, who, key=key, manager_phone=body_phone)
    assert first.status == again.status == 201
    assert first.json() == again.json()
    assert len(list(Venue.by_manager.query(who[0]))) == 1
    # the same key with a different body is refused
    reused = register(stack, who, key=key, manager_phone="13912345679")
    assert (reused.status, reused.error_code) == (422, "idempotency_key_reused")


def test_a_retry_whose_record_was_lost_finds_the_venue_its_first_attempt_made(
    stack: InProcessStack,
) -> None:
    # GIVEN a registration that created its venue but whose idempotency record is gone
    who, key = manager(), str(uuid.uuid4())
    first = register(stack, who, key=key, manager_phone="13912345670").json()
    table = stack.template.physical_name("IdempotencyTable")
    from healthcode.storage import idempotency

    stack.clients["dynamodb"].delete_item(TableName=table, Key=idempotency.record_key(who[0], key))
    # WHEN the client retries THEN it gets the same venue, and there is still only one
    again = register(stack, who, key=key, manager_phone="13912345670")
    assert (again.status, again.json()["venue_id"], again.json()["code"]) == (
        201,
        first["venue_id"],
        first["code"],
    )
    assert len(list(Venue.by_manager.query(who[0]))) == 1


# --- Jiangxi ----------------------------------------------------------------------------------


def test_jiangxi_allows_one_venue_per_phone(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("360000")
    who = manager()
    make_person(who[0], level=RiskLevel.GREEN)
    first = register(stack, who, manager_phone="13700001111")
    assert first.status == 201, first.body
    # WHEN the same phone applies again (even typed differently, even by another green account)
    again = register(stack, who, manager_phone="+86 137-0000-1111", name="二号门")
    assert (again.status, again.error_code, again.json()["error"]["field"]) == (
        409,
        "phone_has_venue",
        "manager_phone",
    )
    other = manager()
    make_person(other[0])
    assert register(stack, other, manager_phone="13700001111").status == 409
    # a different phone is fine
    assert register(stack, who, manager_phone="13700002222", name="二号门").status == 201


def test_other_provinces_allow_several_venues_per_phone(stack: InProcessStack) -> None:
    who = manager()
    assert register(stack, who, manager_phone="13700003333").status == 201
    assert register(stack, who, manager_phone="13700003333", name="二号门").status == 201


def test_jiangxi_applicants_need_a_green_code_of_their_own(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("360000")
    # no code at all
    nobody = manager()
    answer = register(stack, nobody)
    assert (answer.status, answer.error_code) == (403, "applicant_code_required")
    # only a dependant's code (a child's) does not count
    guardian = manager()
    make_person(guardian[0], dependant=True)
    assert register(stack, guardian).error_code == "applicant_code_required"
    # a yellow code
    yellow = manager()
    make_person(yellow[0], level=RiskLevel.YELLOW)
    assert register(stack, yellow).error_code == "applicant_not_green"
    # green
    green = manager()
    make_person(green[0], level=RiskLevel.GREEN)
    assert register(stack, green).status == 201
