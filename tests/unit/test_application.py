"""The application form, its review and the rules of who manages a code (pure: no AWS)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from healthcode.edge import specs
from healthcode.errors import Conflict, InvalidInput
from healthcode.rules import colour
from healthcode.rules.idcard import check_character
from healthcode.services import applications as application
from healthcode.services.applications import Admission, LinkCheck
from healthcode.storage import persons
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.codes_forms import declaration as base_declaration
from tests.codes_forms import form as base_form
from tests.codes_forms import id_number

NOW = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)  # 10:00 in China
TODAY = date(2022, 5, 18)


TRIP = {"region_code": "420106", "left_at": "2022-05-10T09:00:00+08:00"}


def declaration(**changes: Any) -> dict[str, Any]:
    return base_declaration(**{"travel": [TRIP], **changes})


def form(**changes: Any) -> dict[str, Any]:
    return base_form(**{"declaration": declaration(), **changes})


def refused(body: dict[str, Any]) -> InvalidInput:
    """The refusal of ``body`` as ``POST /v1/codes`` answers it: its spec, then the rules."""
    with pytest.raises(InvalidInput) as caught:
        specs.check_body("POST /v1/codes", body)
        application.parse_application(body, now=NOW)
    return caught.value


# -- a valid form ----------------------------------------------------------------------------------


def test_a_complete_form_becomes_typed_values() -> None:
    """GIVEN a complete, accurate application WHEN it is parsed
    THEN every value is typed and normalised (ID number, mobile, trips in UTC)."""
    parsed = application.parse_application(
        form(id_number=id_number()[:17] + id_number()[17].lower(), phone="+86 138-0000-0000"), now=NOW
    )
    assert parsed.name == "张三"
    assert parsed.id_number.number == id_number()
    assert parsed.id_number.birth_date == date(1990, 3, 7)
    assert parsed.phone == "13800000000"
    assert parsed.region_code == "520103"
    assert parsed.declaration.temperature == 36.5
    assert parsed.declaration.travel == (
        colour.Travel(region_code="420106", left_at=datetime(2022, 5, 10, 1, 0, tzinfo=UTC)),
    )
    assert parsed.dependant is False and parsed.link_code is None


def test_the_form_repr_shows_no_personal_data() -> None:
    """GIVEN a parsed application WHEN it is printed (a log line, a failing assertion)
    THEN neither the name nor the ID number nor the phone appears."""
    shown = repr(application.parse_application(form(), now=NOW))
    for personal in ("张三", id_number(), "13800000000"):
        assert personal not in shown


def test_temperature_may_be_left_out_and_symptoms_are_deduplicated() -> None:
    """GIVEN a declaration without temperature and a symptom listed twice WHEN parsed
    THEN the temperature is None and the symptom is kept once."""
    body = dict(form(), declaration=declaration(symptoms=["cough", "cough", "fever"]))
    del body["declaration"]["temperature"]
    parsed = application.parse_application(body, now=NOW)
    assert parsed.declaration.temperature is None
    assert parsed.declaration.symptoms == ("cough", "fever")


# -- each validation error names its field -----------------------------------------------------


BAD_FORMS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing name", form(name=None), "name", "missing_field"),
    ("blank name", form(name="   "), "name", "missing_field"),
    ("name with digits", form(name="张3"), "name", "invalid_name"),
    ("name not a string", form(name=12), "name", "invalid_name"),
    ("name too long", form(name="张" * 51), "name", "invalid_name"),
    ("missing ID number", form(id_number=None), "id_number", "missing_field"),
    ("bad check character", form(id_number="52010219900307123" + "0"), "id_number", "invalid_id_number"),
    (
        "impossible birth date",
        form(id_number=id_number("52010219900230123")),
        "id_number",
        "invalid_id_number",
    ),
    ("birth in the future", form(id_number=id_number("52010220300307123")), "id_number", "invalid_id_number"),
    ("no such province", form(id_number=id_number("99010219900307123")), "id_number", "invalid_id_number"),
    ("17 characters", form(id_number="52010219900307123"), "id_number", "invalid_id_number"),
    ("missing phone", form(phone=None), "phone", "missing_field"),
    ("landline", form(phone="085187654321"), "phone", "invalid_phone"),
    ("12-digit mobile", form(phone="138000000001"), "phone", "invalid_phone"),
    ("missing address", form(address=None), "address", "missing_field"),
    ("one-character address", form(address="贵"), "address", "invalid_address"),
    ("address with control characters", form(address="贵阳\x00市"), "address", "invalid_address"),
    ("missing region", form(region_code=None), "region_code", "missing_field"),
    ("region not six digits", form(region_code="5201"), "region_code", "invalid_region_code"),
    ("region not GB/T 2260", form(region_code="520199"), "region_code", "invalid_region_code"),
    ("missing declaration", form(declaration=None), "declaration", "missing_field"),
    ("declaration not an object", form(declaration=[]), "declaration", "invalid_type"),
    (
        "unknown symptom",
        form(declaration=declaration(symptoms=["hiccups"])),
        "declaration.symptoms",
        "unknown_symptom",
    ),
    (
        "symptoms not a list",
        form(declaration=declaration(symptoms="cough")),
        "declaration.symptoms",
        "invalid_type",
    ),
    (
        "symptoms missing",
        form(declaration={k: v for k, v in declaration().items() if k != "symptoms"}),
        "declaration.symptoms",
        "missing_field",
    ),
    (
        "too cold",
        form(declaration=declaration(temperature=33.9)),
        "declaration.temperature",
        "invalid_temperature",
    ),
    (
        "too hot",
        form(declaration=declaration(temperature=43.1)),
        "declaration.temperature",
        "invalid_temperature",
    ),
    (
        "temperature as text",
        form(declaration=declaration(temperature="36.5")),
        "declaration.temperature",
        "invalid_temperature",
    ),
    (
        "temperature as boolean",
        form(declaration=declaration(temperature=True)),
        "declaration.temperature",
        "invalid_temperature",
    ),
    ("travel not a list", form(declaration=declaration(travel={})), "declaration.travel", "invalid_type"),
    (
        "trip not an object",
        form(declaration=declaration(travel=["420106"])),
        "declaration.travel.0",
        "invalid_type",
    ),
    (
        "trip region not GB/T 2260",
        form(
            declaration=declaration(
                travel=[{"region_code": "429999", "left_at": "2022-05-10T09:00:00+08:00"}]
            )
        ),
        "declaration.travel.0.region_code",
        "invalid_region_code",
    ),
    (
        "trip without departure",
        form(declaration=declaration(travel=[{"region_code": "420106"}])),
        "declaration.travel.0.left_at",
        "missing_field",
    ),
    (
        "departure without offset",
        form(declaration=declaration(travel=[{"region_code": "420106", "left_at": "2022-05-10T09:00:00"}])),
        "declaration.travel.0.left_at",
        "invalid_time",
    ),
    (
        "departure not a time",
        form(declaration=declaration(travel=[{"region_code": "420106", "left_at": "last week"}])),
        "declaration.travel.0.left_at",
        "invalid_time",
    ),
    (
        "departure in the future",
        form(
            declaration=declaration(
                travel=[{"region_code": "420106", "left_at": "2022-05-18T11:00:00+08:00"}]
            )
        ),
        "declaration.travel.0.left_at",
        "travel_in_future",
    ),
    (
        "unknown trip field",
        form(
            declaration=declaration(
                travel=[{"region_code": "420106", "left_at": "2022-05-10T09:00:00+08:00", "by": "train"}]
            )
        ),
        "declaration.travel.0.by",
        "unknown_field",
    ),
    (
        "too many trips",
        form(
            declaration=declaration(
                travel=[{"region_code": "420106", "left_at": "2022-05-10T09:00:00+08:00"}] * 31
            )
        ),
        "declaration.travel",
        "too_many_trips",
    ),
    (
        "contact as text",
        form(declaration=declaration(contact_with_case="no")),
        "declaration.contact_with_case",
        "invalid_type",
    ),
    (
        "contact missing",
        form(declaration={k: v for k, v in declaration().items() if k != "contact_with_case"}),
        "declaration.contact_with_case",
        "missing_field",
    ),
    (
        "unknown declaration field",
        form(declaration=declaration(mood="fine")),
        "declaration.mood",
        "unknown_field",
    ),
    ("unknown field", form(nickname="小张"), "nickname", "unknown_field"),
    ("dependant as text", form(dependant="yes"), "dependant", "invalid_type"),
    ("an adult as dependant", form(dependant=True), "dependant_reason", "dependant_reason_required"),
    (
        "a minor's reason for an adult",
        form(dependant=True, dependant_reason="minor"),
        "dependant_reason",
        "not_a_dependant",
    ),
    (
        "an unknown reason",
        form(dependant=True, dependant_reason="tired"),
        "dependant_reason",
        "invalid_dependant_reason",
    ),
    ("link code too short", form(link_code="ABC"), "link_code", "invalid_link_code"),
    ("link code with look-alikes", form(link_code="ABCDE-FGHI0"), "link_code", "invalid_link_code"),
    ("link code not text", form(link_code=12345), "link_code", "invalid_link_code"),
]


@pytest.mark.parametrize(("case", "body", "field", "code"), BAD_FORMS, ids=[row[0] for row in BAD_FORMS])
def test_each_validation_error_names_its_field(
    case: str, body: dict[str, Any], field: str, code: str
) -> None:
    """GIVEN an application with one wrong or missing value WHEN it is parsed
    THEN it is refused (422) naming that field, with a code that says why."""
    error = refused(body)
    assert (error.status, error.field, error.code) == (422, field, code), case


def test_refusals_never_repeat_personal_data() -> None:
    """GIVEN refused ID numbers and phones WHEN the refusal is read THEN it does not quote them."""
    bad_id = "52010219900307123" + ("0" if check_character("52010219900307123") != "0" else "1")
    for body, personal in ((form(id_number=bad_id), bad_id), (form(phone="1380000000"), "1380000000")):
        assert personal not in refused(body).message


@settings(max_examples=200)
@given(st.floats(min_value=20, max_value=50, allow_nan=False))
def test_temperatures_are_accepted_exactly_within_34_to_43(degrees: float) -> None:
    """GIVEN any temperature WHEN declared THEN it is accepted iff 34 <= t <= 43 °C."""
    body = form(declaration=declaration(temperature=degrees))
    if 34.0 <= degrees <= 43.0:
        assert application.parse_application(body, now=NOW).declaration.temperature == degrees
    else:
        assert refused(body).code == "invalid_temperature"


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=60))
def test_a_name_is_letters_and_a_few_marks(text: str) -> None:
    """GIVEN any text as a name WHEN checked THEN it is accepted only if it is 1-50 characters of
    letters, combining marks, spaces and · . - ' starting with a letter, and comes back NFC
    with its runs of whitespace collapsed (the one name checker: tests/unit/test_forms.py)."""
    try:
        name = application.check_name(text)
    except InvalidInput as error:
        assert error.code == "invalid_name"
        return
    assert name == unicodedata.normalize("NFC", " ".join(text.split()))
    assert 1 <= len(name) <= application.NAME_MAX
    assert name[0].isalpha()


# -- dependants ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "dependant_ok"),
    [
        ("52010220120307123", True),  # a child of 10
        ("52010220040518123", False),  # 18 today: an adult
        ("52010220040519123", True),  # 18 tomorrow: still a child
        ("52010219620518123", True),  # 60 today: elderly
        ("52010219620519123", False),  # 60 tomorrow: not yet
        ("52010219400101123", True),  # 82
    ],
)
def test_a_dependant_is_a_child_or_an_elderly_person(first17: str, dependant_ok: bool) -> None:
    """GIVEN ID numbers either side of the 18th and 60th birthdays WHEN applied for as dependants
    THEN only children under 18 and people of 60 or over are accepted without a reason; an adult
    in between needs one (disability), and a reason the birth date contradicts is refused."""
    body = form(id_number=id_number(first17), dependant=True)
    if dependant_ok:
        assert application.parse_application(body, now=NOW).dependant is True
    else:
        assert refused(body).code == "dependant_reason_required"
        cared_for = application.parse_application({**body, "dependant_reason": "disability"}, now=NOW)
        assert cared_for.dependant_reason == "disability"
        assert refused({**body, "dependant_reason": "elderly"}).code == "not_a_dependant"


@settings(max_examples=200)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2022, 5, 18)))
def test_age_counts_whole_years(birth: date) -> None:
    """GIVEN any birth date WHEN the age on a day is computed
    THEN the last birthday is on or before that day and the next one after it."""
    age = application.age_on(birth, TODAY)
    assert age >= 0

    def birthday(year: int) -> date:
        try:
            return birth.replace(year=year)
        except ValueError:  # 29 February in a common year: celebrated on 1 March
            return date(year, 3, 1)

    assert birthday(birth.year + age) <= TODAY < birthday(birth.year + age + 1)


# -- who manages a code ----------------------------------------------------------------------------


def test_admission_rules() -> None:
    """GIVEN the holder of an ID number WHEN an account applies with it
    THEN nobody → new; the same account → renewal; an unclaimed record → takeover;
    another account → refused (409) unless it presents a link code (→ takeover, checked later)."""
    assert application.admit(caller_sub="a", holder_sub=None, link_code=None) is Admission.NEW
    assert application.admit(caller_sub="a", holder_sub="a", link_code=None) is Admission.RENEWAL
    assert application.admit(caller_sub="a", holder_sub="a", link_code="ABCDEFGHJK") is Admission.RENEWAL
    unclaimed = persons.unclaimed_owner("p-1")
    assert application.admit(caller_sub="a", holder_sub=unclaimed, link_code=None) is Admission.TAKEOVER
    assert application.admit(caller_sub="a", holder_sub="b", link_code="ABCDEFGHJK") is Admission.TAKEOVER
    with pytest.raises(Conflict) as caught:
        application.admit(caller_sub="a", holder_sub="b", link_code=None)
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        409,
        "managed_by_another_account",
        "id_number",
    )


def test_an_account_has_one_code_of_its_own_and_a_bounded_number_of_dependants() -> None:
    """GIVEN an account's codes WHEN it applies for another one
    THEN a second own code is refused, its own code may be renewed, and dependants stop at the limit."""
    own = [("p-own", False)]
    application.check_account(own, person_id="p-own", dependant=False)  # renewal of its own code
    application.check_account(own, person_id=None, dependant=True)  # a first dependant
    with pytest.raises(Conflict, match="own") as caught:
        application.check_account(own, person_id=None, dependant=False)
    assert caught.value.code == "own_code_exists"
    full = own + [(f"p-{i}", True) for i in range(application.MAX_DEPENDANTS)]
    with pytest.raises(Conflict) as caught:
        application.check_account(full, person_id=None, dependant=True)
    assert caught.value.code == "too_many_dependants"
    application.check_account(full, person_id="p-0", dependant=True)  # renewing a dependant


def test_link_checks() -> None:
    """GIVEN an open link WHEN codes are presented THEN only its own code before expiry is OK."""
    expires = NOW + timedelta(hours=1)
    check = application.check_link
    assert check(stored_hash="h1:1:abc", expires_at=expires, presented=["h1:1:abc"], now=NOW) is LinkCheck.OK
    assert check(stored_hash="h1:1:abc", expires_at=expires, presented=["h1:2:x", "h1:1:abc"], now=NOW) is (
        LinkCheck.OK
    )
    assert (
        check(stored_hash="h1:1:abc", expires_at=expires, presented=["h1:1:abd"], now=NOW) is LinkCheck.WRONG
    )
    assert check(stored_hash="h1:1:abc", expires_at=expires, presented=["h1:1:abc"], now=expires) is (
        LinkCheck.EXPIRED
    )
    assert check(stored_hash=None, expires_at=None, presented=["h1:1:abc"], now=NOW) is LinkCheck.NONE


@settings(max_examples=200)
@given(st.integers(min_value=0))
def test_link_codes_read_back_however_they_are_typed(seed: int) -> None:
    """GIVEN a new link code WHEN it is shown, then typed in lower case with spaces
    THEN it parses back to itself."""
    code = application.new_link_code()
    assert len(code) == application.LINK_LENGTH and set(code) <= set(application.LINK_ALPHABET)
    shown = application.show_link_code(code)
    typed = " ".join(shown.lower()) if seed % 2 else shown
    assert application.parse_link_code(typed) == code


def test_derived_ids_depend_on_caller_key_and_purpose() -> None:
    """GIVEN Idempotency-Keys WHEN ids are derived
    THEN they are stable and differ by caller, key and purpose."""
    first = application.derived_id("p-", "apply", "sub-1", "key-1")
    assert first == application.derived_id("p-", "apply", "sub-1", "key-1")
    assert first.startswith("p-") and len(first) == 34
    others = {
        application.derived_id("p-", "apply", "sub-2", "key-1"),
        application.derived_id("p-", "apply", "sub-1", "key-2"),
        application.derived_id("p-", "appeal", "sub-1", "key-1"),
    }
    assert first not in others and len(others) == 3
