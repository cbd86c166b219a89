"""Venue registration, complexes, venue-code claims, managers' views, coverage and check-in
validation (healthcode.rules.venues): pure rules, real check characters, valid and invalid vectors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from healthcode.edge import specs
from healthcode.errors import Forbidden, HealthCodeError, InvalidInput, NotFound
from healthcode.rules import credentials, idcard
from healthcode.rules.geo import Location
from healthcode.rules.policy import RiskLevel, load_policy
from healthcode.rules.venues import (
    MAX_COMPANIONS,
    VENUE_TYPE_LABELS,
    ParentVenue,
    VenueCode,
    VenueRegistration,
    check_applicant,
    check_checkin,
    check_distance,
    check_registration,
    child_region,
    complex_root,
    coverage,
    coverage_levels,
    has_counties,
    manager_sees_identity,
    report_day,
    requirement,
)
from hypothesis import given, settings
from hypothesis import strategies as st

JIANGXI = "360000"
ID_FIRST17 = "36010219900307123"  # 南昌市东湖区, born 1990-03-07
VALID_ID = ID_FIRST17 + idcard.check_character(ID_FIRST17)
#: Real organisations' unified social credit codes (published on their licences).
REAL_USCC = ("91440300708461136T", "91330100799655058B", "91110000600037341L", "9144030071526726XG")


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "万达广场1号门",
        "type": "mall",
        "subject_name": "南昌万达广场商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": REAL_USCC[0],
        "region_code": "360102",
        "location": {"lat": 28.6829, "lng": 115.8582},
        "address": "江西省南昌市东湖区八一大道1号",
        "manager_phone": "13800000000",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def refused(payload: dict[str, Any], province: str = JIANGXI) -> HealthCodeError:
    """The refusal of ``POST /v1/venues`` with ``payload``: its spec, then the rules."""
    with pytest.raises(HealthCodeError) as caught:
        specs.check_body("POST /v1/venues", payload)
        check_registration(payload, province=province)
    return caught.value


def business_licence(first14: str) -> str:
    return first14 + credentials.business_licence_check_digit(first14)


def uscc(authority_type: str, region: str, org8: str) -> str:
    body17 = authority_type + region + org8 + credentials.org_code_check_character(org8)
    return body17 + credentials.uscc_check_character(body17)


# --- registration: valid --------------------------------------------------------------------------


def test_a_complete_registration_is_accepted_in_canonical_form() -> None:
    # GIVEN a registration with every field the guides ask for, some typed loosely
    payload = body(
        name="  万达广场   1号门 ", credential_number=REAL_USCC[0].lower(), manager_phone="+86 138-0000-0000"
    )
    # WHEN it is checked THEN every field comes back canonical
    registration = check_registration(payload, province=JIANGXI)
    assert registration == VenueRegistration(
        name="万达广场 1号门",
        venue_type="mall",
        subject_name="南昌万达广场商业管理有限公司",
        credential_type=credentials.CredentialType.USCC,
        credential_number=REAL_USCC[0],
        region_code="360102",
        location=Location(28.6829, 115.8582),
        address="江西省南昌市东湖区八一大道1号",
        manager_phone="13800000000",
        parent_venue_id=None,
    )
    assert "13800000000" not in repr(registration) and REAL_USCC[0] not in repr(registration)


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_unified_social_credit_codes_pass(code: str) -> None:
    assert check_registration(body(credential_number=code), province=JIANGXI).credential_number == code


def test_computed_credentials_of_every_kind_pass() -> None:
    # GIVEN credentials whose check characters are computed (GB 32100 + GB 11714, GS 15, GB 11643)
    cases = [
        ("uscc", uscc("92", "360102", "MA35F2Q1"), "restaurant"),
        ("uscc", uscc("N2", "360124", "55A00301"), "village"),
        ("business_licence", business_licence("36010220000123"), "restaurant"),
        ("id_number", VALID_ID, "express_point"),
        ("licence_plate", "赣A·D12345", "vehicle"),
    ]
    for credential_type, number, venue_type in cases:
        # WHEN registered THEN accepted
        registration = check_registration(
            body(type=venue_type, credential_type=credential_type, credential_number=number), province=JIANGXI
        )
        assert registration.credential_type == credential_type


def test_a_prefecture_city_without_counties_is_specific_enough() -> None:
    # GIVEN 东莞市 (441900): a prefecture-level city with no counties under it
    assert not has_counties("441900") and has_counties("360100")
    registration = check_registration(body(region_code="441900"), province="440000")
    assert registration.region_code == "441900"


def test_a_parent_venue_id_is_kept() -> None:
    parent = "v-" + "a" * 32
    assert check_registration(body(parent_venue_id=parent), province=JIANGXI).parent_venue_id == parent


# --- registration: refused, field by field -------------------------------------------------------

OTHER_CHECK = {c: next(x for x in credentials.USCC_CODE_SET if x != c) for c in credentials.USCC_CODE_SET}


def _flip_last(value: str, alphabet: str) -> str:
    return value[:-1] + next(x for x in alphabet if x != value[-1])


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": ...}, "name", "missing_field"),
        ({"name": ""}, "name", "invalid_name"),
        ({"name": "   "}, "name", "invalid_name"),
        ({"name": "店" * 51}, "name", "invalid_name"),
        ({"name": "商场\u202e门"}, "name", "invalid_name"),  # right-to-left override
        ({"name": "商场\x00"}, "name", "invalid_name"),
        ({"name": 12}, "name", "invalid_name"),
        ({"type": "casino"}, "type", "invalid_venue_type"),
        ({"type": ["mall"]}, "type", "invalid_venue_type"),
        ({"subject_name": "公" * 101}, "subject_name", "invalid_subject_name"),
        ({"credential_type": "passport"}, "credential_type", "invalid_credential_type"),
        ({"credential_number": _flip_last(REAL_USCC[0], credentials.USCC_CODE_SET)}, "credential_number",
         "invalid_credential"),
        # organisation code (characters 9-17) broken, the 18th recomputed to match: still refused
        ({"credential_number": (lambda b: b + credentials.uscc_check_character(b))("9144030070846113" + "0")},
         "credential_number", "invalid_credential"),
        ({"credential_number": "91440300708461136"}, "credential_number", "invalid_credential"),
        ({"credential_number": 91440300708461136}, "credential_number", "invalid_credential"),
        ({"credential_type": "business_licence", "credential_number": _flip_last(business_licence(
            "36010220000123"), "0123456789")}, "credential_number", "invalid_credential"),
        ({"credential_type": "id_number", "credential_number": _flip_last(VALID_ID, "0123456789X")},
         "credential_number", "invalid_credential"),
        ({"credential_type": "licence_plate", "credential_number": "赣A12345"}, "credential_type",
         "credential_type_mismatch"),
        ({"type": "vehicle"}, "credential_type", "credential_type_mismatch"),
        ({"type": "vehicle", "credential_type": "licence_plate", "credential_number": "赣I12345"},
         "credential_number", "invalid_credential"),
        ({"region_code": "350102"}, "region_code", "region_outside_province"),
        ({"region_code": "360000"}, "region_code", "region_too_coarse"),
        ({"region_code": "360100"}, "region_code", "region_too_coarse"),
        ({"region_code": "369999"}, "region_code", "invalid_region_code"),
        ({"region_code": 360102}, "region_code", "invalid_region_code"),
        ({"location": ...}, "location", "missing_field"),
        ({"location": {"lat": 91, "lng": 115}}, "location", "invalid_location"),
        ({"location": {"lat": 28.6, "lng": -180.5}}, "location", "invalid_location"),
        ({"location": {"lat": "28.6", "lng": 115.8}}, "location", "invalid_location"),
        ({"location": {"lat": 0, "lng": 0}}, "location", "invalid_location"),
        ({"location": [28.6, 115.8]}, "location", "invalid_location"),
        ({"address": "南昌"}, "address", "invalid_address"),
        ({"address": "路" * 121}, "address", "invalid_address"),
        ({"manager_phone": "12800000000"}, "manager_phone", "invalid_phone"),
        ({"manager_phone": "1380000000"}, "manager_phone", "invalid_phone"),
        ({"parent_venue_id": 7}, "parent_venue_id", "invalid_venue_id"),
        ({"parent_id": "v-1"}, "parent_id", "unknown_field"),
    ],
)  # fmt: skip
def test_each_bad_field_is_refused_with_its_name(changes: dict[str, Any], field: str, code: str) -> None:
    # GIVEN an otherwise valid registration WHEN one field is wrong THEN 422 names that field
    error = refused(body(**changes))
    assert (error.status, error.field, error.code) == (422, field, code)


def test_messages_never_repeat_personal_numbers() -> None:
    for changes in (
        {"credential_type": "id_number", "credential_number": _flip_last(VALID_ID, "0123456789X")},
        {"manager_phone": "12800000000"},
    ):
        error = refused(body(**changes))
        assert VALID_ID[:17] not in error.message and "12800000000" not in error.message


@settings(max_examples=200, deadline=None)
@given(
    authority=st.sampled_from(sorted(credentials.USCC_ORGANISATION_TYPES)),
    data=st.data(),
    region=st.from_regex(r"[0-9]{6}", fullmatch=True),
    org8=st.from_regex(r"[0-9A-HJ-NP-RTUW-Y]{8}", fullmatch=True),
)
def test_any_uscc_with_computed_checks_passes_and_any_other_last_character_fails(
    authority: str, data: st.DataObject, region: str, org8: str
) -> None:
    # GIVEN a code built from a valid authority/type pair and computed GB 11714 and GB 32100 checks
    organisation_type = data.draw(st.sampled_from(sorted(credentials.USCC_ORGANISATION_TYPES[authority])))
    org_check = credentials.org_code_check_character(org8)
    if org_check not in credentials.USCC_CODE_SET:
        return  # an organisation code whose check is not in the USCC code set cannot be embedded
    code = uscc(authority + organisation_type, region, org8)
    # WHEN checked THEN it passes; with any other 18th character it is refused
    assert check_registration(body(credential_number=code), province=JIANGXI).credential_number == code
    wrong = code[:17] + data.draw(st.sampled_from([c for c in credentials.USCC_CODE_SET if c != code[17]]))
    assert refused(body(credential_number=wrong)).code == "invalid_credential"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_accepted_names_hold_no_control_characters_and_fit(text: str) -> None:
    import unicodedata

    # GIVEN any text as a venue name WHEN checked THEN either refused with the field, or accepted
    # without control/format characters, trimmed, within 50 characters
    try:
        name = check_registration(body(name=text), province=JIANGXI).name
    except InvalidInput as error:
        assert error.field == "name"
        return
    assert 1 <= len(name) <= 50 and name == name.strip()
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} for c in name)


# --- complexes -----------------------------------------------------------------------------------

MALL = "v-" + "1" * 32
STORE = "v-" + "2" * 32
NEW = "v-" + "3" * 32


def test_a_venue_without_parent_is_its_own_complex_root() -> None:
    registration = check_registration(body(), province=JIANGXI)
    assert complex_root(registration, None, venue_id=NEW, manager_sub="m-1", province=JIANGXI) == NEW


def test_a_door_under_a_store_under_a_mall_has_the_mall_as_root() -> None:
    # GIVEN a store registered under a mall (root: the mall)
    store = ParentVenue(venue_id=STORE, root_venue_id=MALL, region_code="360102", manager_sub="m-1")
    registration = check_registration(body(parent_venue_id=STORE), province=JIANGXI)
    # WHEN a door is registered under the store THEN its root is the mall, not the store
    assert complex_root(registration, store, venue_id=NEW, manager_sub="m-1", province=JIANGXI) == MALL


def test_parent_rules() -> None:
    registration = check_registration(body(parent_venue_id=MALL), province=JIANGXI)
    mall = ParentVenue(venue_id=MALL, root_venue_id=MALL, region_code="360102", manager_sub="m-1")
    with pytest.raises(NotFound) as unknown:
        complex_root(registration, None, venue_id=NEW, manager_sub="m-1", province=JIANGXI)
    assert (unknown.value.field, unknown.value.code) == ("parent_venue_id", "parent_not_found")
    with pytest.raises(Forbidden) as other:
        complex_root(registration, mall, venue_id=NEW, manager_sub="m-2", province=JIANGXI)
    assert other.value.code == "not_parent_manager"
    elsewhere = ParentVenue(venue_id=MALL, root_venue_id=MALL, region_code="350102", manager_sub="m-1")
    with pytest.raises(InvalidInput) as outside:
        complex_root(registration, elsewhere, venue_id=NEW, manager_sub="m-1", province=JIANGXI)
    assert outside.value.code == "parent_outside_province"


# --- venue codes ---------------------------------------------------------------------------------

venue_codes = st.builds(
    VenueCode,
    venue_id=st.from_regex(r"v-[0-9a-f]{32}", fullmatch=True),
    name=st.text(min_size=1, max_size=50),
    venue_type=st.sampled_from(sorted(VENUE_TYPE_LABELS)),
    province=st.sampled_from(["350000", "360000", "520000"]),
    region_code=st.from_regex(r"[1-8][0-9]{5}", fullmatch=True),
    root_venue_id=st.from_regex(r"v-[0-9a-f]{32}", fullmatch=True),
    location=st.builds(
        Location,
        lat=st.floats(-90, 90).map(lambda x: round(x, 6)),
        lng=st.floats(-180, 180).map(lambda x: round(x, 6)),
    ),
    shards=st.integers(1, 64),
    address=st.text(min_size=1, max_size=120),
)


@settings(max_examples=100, deadline=None)
@given(venue_codes)
def test_claims_read_back_to_the_same_venue(code: VenueCode) -> None:
    # GIVEN any venue WHEN its claims are written and read back THEN nothing is lost
    assert VenueCode.from_claims(code.venue_id, code.claims()) == code


def test_claims_hold_no_personal_data_and_missing_claims_are_refused() -> None:
    code = VenueCode(MALL, "店", "mall", JIANGXI, "360102", MALL, Location(28.1, 115.2), 8, "八一大道1号")
    claims = code.claims()
    assert set(claims) == {"name", "vtype", "prv", "rgn", "root", "lat", "lng", "shd", "addr"}
    for missing in claims:
        broken = {k: v for k, v in claims.items() if k != missing}
        with pytest.raises(InvalidInput) as caught:
            VenueCode.from_claims(MALL, broken)
        assert (caught.value.code, caught.value.field) == ("invalid_venue_code", "venue_code")
    with pytest.raises(InvalidInput):
        VenueCode.from_claims("p-1", claims)  # a subject that is no venue id


# --- applicants, managers' views ------------------------------------------------------------------


def test_jiangxi_requires_an_own_green_code_others_do_not() -> None:
    jiangxi, guizhou = load_policy("360000"), load_policy("520000")
    check_applicant(jiangxi, [RiskLevel.GREEN])
    check_applicant(guizhou, [])
    check_applicant(guizhou, [RiskLevel.RED])
    with pytest.raises(Forbidden) as none:
        check_applicant(jiangxi, [])
    assert none.value.code == "applicant_code_required"
    with pytest.raises(Forbidden) as yellow:
        check_applicant(jiangxi, [RiskLevel.YELLOW])
    assert yellow.value.code == "applicant_not_green"


@pytest.mark.parametrize(
    ("province", "green", "non_green"),
    [("360000", False, False), ("350000", False, True), ("520000", False, False)],
)
def test_identity_visibility_follows_the_province(province: str, green: bool, non_green: bool) -> None:
    policy = load_policy(province)
    assert manager_sees_identity(policy, RiskLevel.GREEN) is green
    assert manager_sees_identity(policy, RiskLevel.YELLOW) is non_green
    assert manager_sees_identity(policy, RiskLevel.RED) is non_green
    always = dataclasses.replace(policy, manager_sees_identities="always")
    assert manager_sees_identity(always, RiskLevel.GREEN)


def test_report_days_are_china_local_and_never_in_the_future() -> None:
    # GIVEN 2022-05-18 17:30 UTC, already the 19th in China
    now = datetime(2022, 5, 18, 17, 30, tzinfo=UTC)
    assert report_day(None, now=now) == "2022-05-19"
    assert report_day("2022-05-01", now=now) == "2022-05-01"
    for bad in ("2022-05-20", "2022-02-30", "2022/05/01", "20220501", 20220501):
        with pytest.raises(InvalidInput) as caught:
            report_day(bad, now=now)
        assert (caught.value.field, caught.value.code) == ("date", "invalid_date")


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_levels_and_child_regions() -> None:
    assert coverage_levels("360102") == ("360102", "360100", "360000")
    assert coverage_levels("441900") == ("441900", "440000")  # no counties: its own county
    assert child_region("360000", "360102") == "360100"
    assert child_region("360100", "360102") == "360102"
    assert child_region("360102", "360102") is None
    assert child_region("350000", "360102") is None


def test_coverage_counts_mandatory_types_with_a_venue() -> None:
    # GIVEN Fujian's mandatory list and a region with a hospital, a clinic and two malls
    fujian = load_policy("350000")
    result = coverage("350102", {"hospital": 1, "clinic": 2, "mall": 2, "park": 0}, {}, fujian)
    # THEN venues are counted by type and the mandatory types without a venue are listed
    assert result.venues == 5
    assert result.by_type == {"clinic": 2, "hospital": 1, "mall": 2}
    assert result.mandatory_covered == ("clinic", "hospital")
    assert set(result.mandatory_missing) == set(fujian.mandatory_venue_types) - {"clinic", "hospital"}
    assert requirement(fujian, "hospital") == "mandatory"
    assert requirement(fujian, "mall") == "encouraged"
    assert requirement(fujian, "pharmacy") == "none"


def test_every_type_has_a_poster_label_the_font_covers() -> None:
    from healthcode.codes.poster import in_font
    from healthcode.rules.policy import VENUE_TYPES

    assert set(VENUE_TYPE_LABELS) == VENUE_TYPES
    assert all(in_font(c) for label in VENUE_TYPE_LABELS.values() for c in label)


# --- check-ins -----------------------------------------------------------------------------------

P1, P2, P3 = "p-" + "1" * 32, "p-" + "2" * 32, "p-" + "3" * 32


def checkin(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"venue_code": "a.b.c", "person_id": P1, "location": {"lat": 28.68, "lng": 115.85}}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_a_checkin_lists_each_person_with_the_field_that_named_them() -> None:
    request = check_checkin(checkin(companions=[P2, P3]))
    assert request.people == ((P1, "person_id"), (P2, "companions[0]"), (P3, "companions[1]"))
    assert check_checkin(checkin()).person_ids == (P1,)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"venue_code": ...}, "venue_code", "missing_field"),
        ({"venue_code": 5}, "venue_code", "missing_field"),
        ({"person_id": ...}, "person_id", "invalid_person_id"),
        ({"person_id": "p 1"}, "person_id", "invalid_person_id"),
        ({"companions": P2}, "companions", "invalid_companions"),
        ({"companions": [P2, 3]}, "companions[1]", "invalid_person_id"),
        ({"companions": [P1]}, "companions[0]", "duplicate_person"),
        ({"companions": [P2, P2]}, "companions[1]", "duplicate_person"),
        (
            {"companions": [f"p-{i}" for i in range(MAX_COMPANIONS + 1)]},
            "companions",
            "too_many_companions",
        ),
        ({"location": ...}, "location", "missing_field"),
        ({"location": {"lat": 28.6}}, "location", "invalid_location"),
        ({"seat": "A1"}, "seat", "unknown_field"),
    ],
)
def test_bad_checkins_are_refused_with_the_field(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_checkin(checkin(**changes))
    assert (caught.value.field, caught.value.code) == (field, code)


def test_a_device_beyond_the_limit_is_a_location_mismatch() -> None:
    # GIVEN a venue in Nanchang
    venue = Location(28.6829, 115.8582)
    # WHEN the device is ~1.1 km away THEN accepted; ~2.2 km THEN refused (limit 2000 m)
    assert check_distance(Location(28.6929, 115.8582), venue, max_distance_m=2000) == pytest.approx(
        1112, abs=5
    )
    with pytest.raises(InvalidInput) as caught:
        check_distance(Location(28.7029, 115.8582), venue, max_distance_m=2000)
    assert (caught.value.field, caught.value.code) == ("location", "location_mismatch")
