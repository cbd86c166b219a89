"""POST /v1/manual-registrations on moto: people without a phone, looked up by ID number or
registered with staff help, verified like a scanned code; validation of every field;
idempotent retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules.policy import RiskLevel
from healthcode.storage import audit, persons, scans
from healthcode.storage.models import Scan

from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    SCANNER,
    id_number,
    make_person,
    make_venue,
    module_stack,
    new_id_number,
    per_test_stack,
)
from tests.handlers.harness import InProcessStack

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def register(stack: InProcessStack, body: dict[str, Any], *, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return stack.call("POST", "/v1/manual-registrations", as_=SCANNER, json_body=body, headers=headers)


def form(checkpoint_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "王小明",
        "id_number": new_id_number(),
        "phone": "13912345678",
        "temperature": 36.6,
        "checkpoint_id": checkpoint_id,
    }
    body.update(changes)
    return body


def scans_of(person_id: str) -> list[Scan]:
    return list(scans.of_person(person_id, EPOCH, clock.now() + timedelta(days=1)))


def test_a_person_without_a_code_is_registered_and_verified(moto_stack: InProcessStack) -> None:
    # GIVEN someone with no phone and no code at a checkpoint
    venue = make_venue("farmers_market")
    body = form(venue.venue_id)
    # WHEN staff register them by name, ID number, phone and temperature
    answer = register(moto_stack, body)
    # THEN 201 with the verdict for a new (green) person
    assert answer.status == 201, answer.body
    result = answer.json()
    assert (result["verdict"], result["colour"], result["risk_level"], result["abnormal"]) == (
        "pass",
        "green",
        0,
        False,
    )
    # AND the person exists, found by ID number, held by no account yet (they may claim it later)
    person = persons.holder_of(body["id_number"])
    assert person is not None and "person_id" not in result
    assert person.person_id not in answer.body.decode()
    assert persons.is_unclaimed_owner(person.owner_sub)
    assert person.name_masked == "王**" and person.region_code == venue.region_code
    assert persons.identity(person).phone == "13912345678"
    # AND the registration is audited under the person, naming the staff account
    (entry,) = audit.entries(
        audit.person_subject(person.person_id), kinds=frozenset({"registered_at_checkpoint"})
    )
    assert entry.actor == "scanner-1" and entry.details["checkpoint_id"] == venue.venue_id
    # AND the scan is a manual one, with the reading, masked identity and a TTL
    (scan,) = scans_of(person.person_id)
    assert (scan.kind, scan.presented, scan.temperature, scan.verdict) == (
        "manual",
        "id_number",
        36.6,
        "pass",
    )
    assert scan.id_masked == person.id_masked
    assert scan.expires_ttl == int(
        (clock.parse_instant(result["scanned_at"]) + timedelta(days=28)).timestamp()
    )


def test_an_id_card_lookup_finds_the_existing_person_and_their_colour(moto_stack: InProcessStack) -> None:
    # GIVEN a red person who has a code but no phone with them today
    venue, number = make_venue(), id_number("52010219721103456")
    red = make_person(RiskLevel.RED, number=number)
    # WHEN staff enter their ID number (lower-case x and spaces tolerated where they apply)
    answer = register(moto_stack, form(venue.venue_id, name="张三", id_number=number, temperature=36.8))
    # THEN the same person, isolated, and no second person was created
    assert answer.status == 201
    assert "person_id" not in answer.json()
    assert (answer.json()["verdict"], answer.json()["abnormal"]) == ("isolate", True)
    assert len(scans_of(red.person_id)) == 1


def test_a_fever_at_manual_registration_is_abnormal(moto_stack: InProcessStack, province: Any) -> None:
    province("350000")
    venue = make_venue()
    result = register(moto_stack, form(venue.venue_id, temperature=37.5)).json()
    assert (result["verdict"], result["colour"], result["abnormal"]) == ("register", "green", True)


def test_an_unknown_checkpoint_registers_nobody(moto_stack: InProcessStack) -> None:
    body = form("v-nowhere")
    answer = register(moto_stack, body)
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        404,
        "not_found",
        "checkpoint_id",
    )
    assert persons.holder_of(body["id_number"]) is None


BAD_ID = "520102198506120011"  # a wrong check character (the right one is not 1)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"id_number": BAD_ID}, "id_number", "invalid_id_number"),
        ({"id_number": "52010219850612001"}, "id_number", "invalid_id_number"),
        ({"id_number": 520102198506120011}, "id_number", "invalid_id_number"),
        ({"phone": "12345"}, "phone", "invalid_phone"),
        ({"phone": 13912345678}, "phone", "invalid_phone"),
        ({"name": ""}, "name", "invalid_name"),
        ({"name": "张三1"}, "name", "invalid_name"),
        ({"name": "<script>"}, "name", "invalid_name"),
        ({"name": "x" * 51}, "name", "invalid_name"),
        ({"temperature": 33.0}, "temperature", "invalid_temperature"),
        ({"temperature": "36.5"}, "temperature", "invalid_temperature"),
        ({"temperature": None}, "temperature", "missing_field"),
        ({"checkpoint_id": 7}, "checkpoint_id", "invalid_input"),
        ({"address": "somewhere"}, "address", "unknown_field"),
    ],
)
def test_every_field_is_validated(
    moto_stack: InProcessStack, change: dict[str, Any], field: str, code: str
) -> None:
    venue = make_venue()
    body = {**form(venue.venue_id), **change}
    answer = register(moto_stack, body)
    assert answer.status == 422, answer.body
    assert (answer.error_code, answer.json()["error"]["field"]) == (code, field)
    # the message never repeats a personal value
    assert BAD_ID not in answer.body.decode() and "13912345678" not in answer.body.decode()


def test_names_with_middle_dots_and_latin_letters_are_accepted(moto_stack: InProcessStack) -> None:
    venue = make_venue()
    for name in ("买买提·艾力", "Anna-Lena O'Neil", "欧阳娜娜"):
        assert register(moto_stack, form(venue.venue_id, name=name)).status == 201, name


def test_a_retried_registration_creates_one_person_and_one_scan(moto_stack: InProcessStack) -> None:
    # GIVEN a registration sent twice with the same Idempotency-Key
    venue, key = make_venue(), str(uuid.uuid4())
    body = form(venue.venue_id)
    first = register(moto_stack, body, key=key)
    again = register(moto_stack, body, key=key)
    # THEN the same answer, one person, one scan
    assert (first.status, again.status) == (201, 201)
    assert first.json() == again.json()
    person = persons.holder_of(body["id_number"])
    assert person is not None
    assert len(scans_of(person.person_id)) == 1


def test_only_checkpoint_staff_register(moto_stack: InProcessStack) -> None:
    venue = make_venue()
    answer = moto_stack.call(
        "POST", "/v1/manual-registrations", as_=("mgr", ["venue_manager"]), json_body=form(venue.venue_id)
    )
    assert (answer.status, answer.error_code) == (403, "forbidden_role")
