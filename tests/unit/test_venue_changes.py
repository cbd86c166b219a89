"""Venue changes, join codes and the fields registration gained (healthcode.rules.venues): a PATCH
checked field by field as at registration, one-time join codes that survive being typed, and the
complex rule that lets a store's own manager in with one."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from healthcode.edge import specs
from healthcode.errors import Forbidden, HealthCodeError, InvalidInput
from healthcode.rules import idcard
from healthcode.rules.credentials import CredentialType, check_licence_plate
from healthcode.rules.geo import Location
from healthcode.rules.venues import (
    CHANGEABLE_FIELDS,
    JOIN_CODE_ALPHABET,
    JOIN_CODE_LENGTH,
    ParentVenue,
    check_change,
    check_join_code,
    check_registration,
    complex_root,
    join_code_digest,
    join_code_of,
)
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_credentials import plates
from tests.unit.test_venues import REAL_USCC, body

ID_FIRST17 = "36010219900307123"
VALID_ID = ID_FIRST17 + idcard.check_character(ID_FIRST17)
MALL = "v-" + "a" * 32
STORE = "v-" + "b" * 32


def changed(
    payload: dict[str, Any], *, venue_type: str = "mall", credential_type: str | None = "uscc"
) -> Any:
    """``PATCH /v1/venues/{id}`` with ``payload``: its spec, then the rules."""
    specs.check_body("PATCH /v1/venues/{venue_id}", payload)
    return check_change(payload, venue_type=venue_type, credential_type=credential_type)


def change_refused(payload: dict[str, Any], **kw: Any) -> HealthCodeError:
    with pytest.raises(HealthCodeError) as caught:
        changed(payload, **kw)
    return caught.value


# --- registration: zone, store number, join code ------------------------------------------------


def test_zone_and_store_number_are_optional_and_kept_canonical() -> None:
    # GIVEN a registration with a zone and a store number typed with stray spaces
    registration = check_registration(
        body(zone="  B1  层 ", store_number="A-012", region_code="360102"), province="360000"
    )
    # THEN they are kept, whitespace collapsed; without them both are None
    assert (registration.zone, registration.store_number) == ("B1 层", "A-012")
    plain = check_registration(body(), province="360000")
    assert (plain.zone, plain.store_number, plain.join_code) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"zone": ""}, "zone", "invalid_zone"),
        ({"zone": "x" * 51}, "zone", "invalid_zone"),
        ({"store_number": "1" * 33}, "store_number", "invalid_store_number"),
        ({"store_number": 12}, "store_number", "invalid_store_number"),
        ({"join_code": "ABCD-EFGH", "parent_venue_id": MALL}, "join_code", "invalid_join_code"),
        ({"join_code": "ABCD-EFGH-JKLM-NPQR"}, "parent_venue_id", "missing_field"),
    ],
)
def test_bad_new_registration_fields_are_refused_by_name(
    changes: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(HealthCodeError) as caught:
        payload = body(**changes)
        specs.check_body("POST /v1/venues", payload)
        check_registration(payload, province="360000")
    assert (caught.value.status, caught.value.field, caught.value.code) == (422, field, code)


def test_a_store_number_with_control_characters_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_registration(body(store_number="A\u202e12"), province="360000")
    assert caught.value.code == "invalid_store_number"


# --- changes -------------------------------------------------------------------------------------


def test_a_change_names_only_what_changes_in_canonical_form() -> None:
    change = changed({"name": " 万达广场  2号门 ", "manager_phone": "+86 139-0000-0000", "zone": "北区"})
    assert change.fields == ("name", "manager_phone", "zone")
    assert (change.name, change.manager_phone, change.zone) == ("万达广场 2号门", "13900000000", "北区")
    assert change.address is None and change.location is None and change.credential_type is None
    assert change.shows_on_poster  # the name is on the poster
    assert not changed({"zone": "南区"}).shows_on_poster
    assert changed({"address": "江西省南昌市东湖区八一大道2号"}).shows_on_poster


def test_an_empty_change_is_refused() -> None:
    for payload in ({}, {"name": None, "zone": None}):
        error = change_refused(payload)
        assert (error.status, error.code) == (422, "empty_change")


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"name": ""}, "name", "invalid_name"),
        ({"name": "\u0000bad"}, "name", "invalid_name"),
        ({"address": "短"}, "address", "invalid_address"),
        ({"manager_phone": "1234"}, "manager_phone", "invalid_phone"),
        ({"subject_name": "x" * 101}, "subject_name", "invalid_subject_name"),
        ({"credential_number": "91440300708461136A"}, "credential_number", "invalid_credential"),
        ({"credential_type": "id_number"}, "credential_number", "missing_field"),
        (
            {"credential_type": "passport", "credential_number": "E123"},
            "credential_type",
            "invalid_credential_type",
        ),
        ({"location": {"lat": 0, "lng": 0}}, "location", "invalid_location"),
        ({"location": {"lat": 91, "lng": 0}}, "location", "invalid_location"),
        ({"zone": "x" * 51}, "zone", "invalid_zone"),
        ({"type": "hospital"}, "type", "unknown_field"),
        ({"region_code": "360103"}, "region_code", "unknown_field"),
        ({"parent_venue_id": MALL}, "parent_venue_id", "unknown_field"),
    ],
)
def test_each_bad_change_is_refused_with_its_field(payload: dict[str, Any], field: str, code: str) -> None:
    error = change_refused(payload)
    assert (error.status, error.field, error.code) == (422, field, code)


def test_the_rules_refuse_unknown_fields_even_without_the_spec() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_change({"venue_type": "x"}, venue_type="mall", credential_type="uscc")
    assert (caught.value.field, caught.value.code) == ("venue_type", "unknown_field")


def test_a_new_number_keeps_the_registered_credential_type() -> None:
    change = changed({"credential_number": " " + REAL_USCC[1].lower() + " "})
    assert (change.credential_type, change.credential_number) == (CredentialType.USCC, REAL_USCC[1])
    assert change.fields == ("credential_number",)


def test_a_credential_of_the_other_kind_names_its_subject_again() -> None:
    # GIVEN a shop registered under its owner's ID card completing its credit code (Henan 补全)
    payload = {"credential_type": "uscc", "credential_number": REAL_USCC[0]}
    error = change_refused(payload, venue_type="pharmacy", credential_type="id_number")
    assert (error.field, error.code) == ("subject_name", "missing_field")
    # WHEN it names the company too THEN the change is accepted
    change = changed(
        {**payload, "subject_name": "南昌某某药房有限公司"},
        venue_type="pharmacy",
        credential_type="id_number",
    )
    assert change.credential_type == CredentialType.USCC and change.subject_name == "南昌某某药房有限公司"


def test_a_vehicle_keeps_its_plate_and_nothing_else_takes_one() -> None:
    error = change_refused(
        {"credential_type": "uscc", "credential_number": REAL_USCC[0]}, venue_type="vehicle"
    )
    assert (error.field, error.code) == ("credential_type", "credential_type_mismatch")
    error = change_refused({"credential_type": "licence_plate", "credential_number": "赣A12345"})
    assert error.code == "credential_type_mismatch"
    plate = changed(
        {"credential_number": "赣a·d12345"}, venue_type="vehicle", credential_type="licence_plate"
    )
    assert plate.credential_number == "赣AD12345"


def test_an_id_number_change_is_checked_and_kept_out_of_repr() -> None:
    change = changed(
        {"credential_number": VALID_ID, "manager_phone": "13900000000"},
        venue_type="pharmacy",
        credential_type="id_number",
    )
    assert change.credential_number == VALID_ID
    assert VALID_ID not in repr(change) and "13900000000" not in repr(change)
    wrong = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")
    error = change_refused({"credential_number": wrong}, venue_type="pharmacy", credential_type="id_number")
    assert error.code == "invalid_credential" and wrong not in error.message


def test_a_location_change_is_read_as_wgs84() -> None:
    change = changed({"location": {"lat": 28.7, "lng": 115.9}})
    assert change.location == Location(lat=28.7, lng=115.9)


@given(st.sets(st.sampled_from(CHANGEABLE_FIELDS), min_size=1))
def test_fields_come_in_one_fixed_order_whatever_the_body_order(names: set[str]) -> None:
    values: dict[str, Any] = {
        "name": "新名字",
        "address": "江西省南昌市东湖区八一大道3号",
        "manager_phone": "13900000001",
        "subject_name": "新主体有限公司",
        "credential_type": "uscc",
        "credential_number": REAL_USCC[2],
        "zone": "东区",
        "store_number": "S-1",
        "location": {"lat": 28.6, "lng": 115.8},
    }
    payload = {name: values[name] for name in sorted(names, reverse=True)}
    if "credential_type" in payload and "credential_number" not in payload:
        payload["credential_number"] = REAL_USCC[2]
    change = check_change(payload, venue_type="mall", credential_type="uscc")
    assert change.fields == tuple(name for name in CHANGEABLE_FIELDS if name in payload)


# --- join codes ------------------------------------------------------------------------------------


_symbols = st.lists(
    st.integers(0, len(JOIN_CODE_ALPHABET) - 1), min_size=JOIN_CODE_LENGTH, max_size=JOIN_CODE_LENGTH
)


@given(_symbols, st.booleans(), st.booleans(), st.booleans())
def test_a_join_code_reads_back_however_it_is_typed(
    symbols: list[int], lower: bool, full_width: bool, spaced: bool
) -> None:
    # GIVEN a join code as handed out (groups of four)
    code = join_code_of(symbols)
    assert len(code) == JOIN_CODE_LENGTH + 3 and code.count("-") == 3
    # WHEN typed in lower case, with full-width characters, or with spaces instead of hyphens
    typed = code.lower() if lower else code
    if full_width:
        typed = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in typed)
        assert unicodedata.normalize("NFKC", typed) != typed
    if spaced:
        typed = typed.replace("-", " ").replace("\uff0d", " ")
    # THEN it is the same code, and its digest the same
    canonical = check_join_code(typed)
    assert canonical == code.replace("-", "")
    assert join_code_digest(canonical) == join_code_digest(code.replace("-", ""))


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCD",
        "ABCD-EFGH-JKLM-NPQ",
        "ABCD-EFGH-JKLM-NPQRS",
        "ABCD-EFGH-JKLM-NPQ1",
        "ABCD-EFGH-JKLM-NPQO",
        17,
        None,
    ],
)
def test_anything_else_is_no_join_code(typed: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_join_code(typed)
    assert (caught.value.code, caught.value.field) == ("invalid_join_code", "join_code")


def test_join_code_symbols_are_checked_and_the_digest_hides_the_code() -> None:
    with pytest.raises(ValueError):
        join_code_of([0] * (JOIN_CODE_LENGTH - 1))
    with pytest.raises(ValueError):
        join_code_of([32] * JOIN_CODE_LENGTH)
    digest = join_code_digest("A" * JOIN_CODE_LENGTH)
    assert len(digest) == 64 and "AAAA" not in digest
    assert not {"I", "O", "0", "1"} & set(JOIN_CODE_ALPHABET)


# --- complexes: a store's own manager with a join code -----------------------------------------------


def test_a_store_manager_with_a_join_code_registers_under_another_managers_complex() -> None:
    registration = check_registration(
        body(type="restaurant", parent_venue_id=MALL, join_code="abcd efgh jkmn pqrs"), province="360000"
    )
    assert registration.join_code == "ABCDEFGHJKMNPQRS" and "ABCD" not in repr(registration)
    parent = ParentVenue(venue_id=MALL, root_venue_id=MALL, region_code="360102", manager_sub="mall-manager")
    # WHEN a different account registers without a good join code THEN 403, as before
    with pytest.raises(Forbidden) as caught:
        complex_root(registration, parent, venue_id=STORE, manager_sub="store-manager", province="360000")
    assert caught.value.code == "not_parent_manager"
    # WHEN the join code was found good for this parent THEN the store joins the mall's complex
    root = complex_root(
        registration, parent, venue_id=STORE, manager_sub="store-manager", province="360000", joined=True
    )
    assert root == MALL


# --- vehicles: licence plates ------------------------------------------------------------------------


@given(plates(), st.booleans())
def test_a_plate_typed_full_width_or_lower_case_is_the_same_plate(plate: str, lower: bool) -> None:
    # GIVEN a plate typed on a phone keyboard in full-width form (ＡＢ１２３) or lower case
    typed = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in plate)
    typed = typed.lower() if lower else typed
    # THEN NFKC and upper-casing give back the plate as printed
    assert check_licence_plate(typed) == plate


def test_a_vehicle_registers_its_depot_as_its_location() -> None:
    # GIVEN a taxi registered under its new-energy plate: its location is its depot, required
    registration = check_registration(
        body(type="vehicle", credential_type="licence_plate", credential_number="赣A·D12345"),
        province="360000",
    )
    assert registration.credential_number == "赣AD12345"
    assert registration.location == Location(lat=28.6829, lng=115.8582)
    with pytest.raises(HealthCodeError) as caught:
        payload = body(
            type="vehicle", credential_type="licence_plate", credential_number="赣AD12345", location=...
        )
        specs.check_body("POST /v1/venues", payload)
    assert caught.value.field == "location"
