"""Identity documents other than the mainland ID (rules.documents): valid and invalid vectors per
type, NFKC (full-width input), the 810000/820000/830000 residence permits, masks per type."""

from __future__ import annotations

from datetime import date

import pytest
from healthcode.errors import InvalidInput
from healthcode.protection.masking import mask_document
from healthcode.rules import documents, idcard
from healthcode.rules.documents import IdType, check_document, check_nationality
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 12, 6)


def fpr_2023(province: str = "11", nationality: str = "840", born: str = "19850312", seq: str = "001") -> str:
    """A 2023 permanent-resident card number with its MOD 11-2 check character."""
    body = f"9{province}{nationality}{born}{seq}"
    return body + idcard.check_character(body)


def resident(first17: str) -> str:
    return first17 + idcard.check_character(first17)


VALID: list[tuple[str, str, str | None, str]] = [
    # (id_type, as typed, nationality, normalised)
    ("resident_id", resident("52010219900307123"), None, resident("52010219900307123")),
    ("resident_id", resident("81000019900101001"), None, resident("81000019900101001")),  # Hong Kong
    ("resident_id", resident("82000019900101001"), None, resident("82000019900101001")),  # Macao
    ("resident_id", resident("83000019900101001"), None, resident("83000019900101001")),  # Taiwan
    ("passport", "E12345678", "CHN", "E12345678"),
    ("passport", "EA1234567", "chn", "EA1234567"),
    ("passport", "G12345678", "CHN", "G12345678"),
    ("passport", "SE1234567", "CHN", "SE1234567"),
    ("passport", "ｅ１２３４５６７８", "ＣＨＮ", "E12345678"),  # full-width, as Chinese IMEs type it
    ("passport", "546 215 399", "USA", "546215399"),
    ("passport", "C01X00T47", "DEU", "C01X00T47"),
    ("passport", "TR0123456", "JPN", "TR0123456"),
    ("hk_macao_permit", "H12345678", None, "H12345678"),
    ("hk_macao_permit", "m1234567890", None, "M1234567890"),
    ("hk_macao_permit", "Ｈ１２３４５６７８", None, "H12345678"),
    ("taiwan_permit", "12345678", None, "12345678"),
    ("taiwan_permit", "1234-5678-90", None, "1234567890"),
    ("foreign_permanent_resident", "USA110085031211", None, "USA110085031211"),
    ("foreign_permanent_resident", "can310099123112", None, "CAN310099123112"),
    ("foreign_permanent_resident", fpr_2023(), None, fpr_2023()),
    (
        "foreign_permanent_resident",
        fpr_2023("44", "392", "20000229"),
        None,
        fpr_2023("44", "392", "20000229"),
    ),
]

INVALID: list[tuple[str, str, str | None, str, str]] = [
    # (id_type, value, nationality, field, code)
    ("resident_id", resident("52010219900307123")[:-1] + "0", None, "id_number", "invalid_id_number"),
    ("resident_id", resident("84000019900101001"), None, "id_number", "invalid_id_number"),  # no province 84
    ("passport", "E12345678", None, "nationality", "missing_field"),
    ("passport", "E12345678", "XXX", "nationality", "invalid_nationality"),
    ("passport", "E12345678", "US", "nationality", "invalid_nationality"),
    ("passport", "A12345678", "CHN", "id_number", "invalid_id_number"),  # no Chinese passport starts with A
    ("passport", "ABCDEFGH", "USA", "id_number", "invalid_id_number"),  # no digits
    ("passport", "1234", "USA", "id_number", "invalid_id_number"),  # too short
    ("passport", "E1234567890123", "USA", "id_number", "invalid_id_number"),  # too long
    ("passport", "E1234567*", "USA", "id_number", "invalid_id_number"),
    ("hk_macao_permit", "C12345678", None, "id_number", "invalid_id_number"),  # a mainland resident's permit
    ("hk_macao_permit", "H1234567", None, "id_number", "invalid_id_number"),
    ("hk_macao_permit", "H12345678", "CHN", "nationality", "nationality_not_allowed"),
    ("taiwan_permit", "1234567", None, "id_number", "invalid_id_number"),
    ("taiwan_permit", "T12345678", None, "id_number", "invalid_id_number"),
    ("foreign_permanent_resident", "XXX110085031211", None, "id_number", "invalid_id_number"),
    ("foreign_permanent_resident", "USA110085133211", None, "id_number", "invalid_id_number"),  # month 13
    (
        "foreign_permanent_resident",
        fpr_2023()[:-1] + ("0" if fpr_2023()[-1] != "0" else "1"),
        None,
        "id_number",
        "invalid_id_number",
    ),  # checksum
    ("foreign_permanent_resident", fpr_2023(province="99"), None, "id_number", "invalid_id_number"),
    ("foreign_permanent_resident", fpr_2023(born="20300101"), None, "id_number", "invalid_id_number"),
    ("driving_licence", "E12345678", None, "id_type", "invalid_id_type"),
]


@pytest.mark.parametrize(("id_type", "typed", "nationality", "normalised"), VALID)
def test_valid_numbers_of_each_type_are_accepted_normalised(
    id_type: str, typed: str, nationality: str | None, normalised: str
) -> None:
    # GIVEN a valid number of a type WHEN checked THEN accepted, normalised, typed as given
    document = check_document(typed, id_type, today=TODAY, nationality=nationality)
    assert (document.id_type.value, document.number) == (id_type, normalised)
    if id_type == "passport":
        assert document.nationality == check_nationality(nationality)


@pytest.mark.parametrize(("id_type", "value", "nationality", "field", "code"), INVALID)
def test_invalid_numbers_are_refused_naming_field_and_code_never_the_value(
    id_type: str, value: str, nationality: str | None, field: str, code: str
) -> None:
    # GIVEN an invalid number (or nationality, or type) WHEN checked THEN 422 with field and code
    with pytest.raises(InvalidInput) as caught:
        check_document(value, id_type, today=TODAY, nationality=nationality)
    assert (caught.value.status, caught.value.field, caught.value.code) == (422, field, code)
    assert value not in caught.value.message


def test_the_default_type_is_the_resident_id() -> None:
    # GIVEN no id_type WHEN checked THEN a resident ID, with its birth date
    document = check_document(resident("52010219900307123"), None, today=TODAY)
    assert document.id_type is IdType.RESIDENT_ID and document.birth_date == date(1990, 3, 7)


def test_the_shipped_nationality_list_is_iso_3166_alpha_3() -> None:
    # GIVEN the shipped list THEN 249 three-letter codes, the common ones present
    codes = documents.nationalities()
    assert len(codes) == 249 and all(len(code) == 3 and code.isupper() for code in codes)
    assert {"CHN", "USA", "GBR", "DEU", "JPN", "KOR", "HKG", "MAC"} <= codes


@given(st.text(max_size=30), st.sampled_from(documents.ID_TYPES), st.one_of(st.none(), st.text(max_size=5)))
def test_any_input_is_accepted_or_refused_with_a_422(
    value: str, id_type: str, nationality: str | None
) -> None:
    # GIVEN any text WHEN checked as any type THEN a document or a 422, never another error
    try:
        document = check_document(value, id_type, today=TODAY, nationality=nationality)
    except InvalidInput as refused:
        assert refused.status == 422
    else:
        assert document.number == documents._compact(document.number)


@given(st.from_regex(r"[0-9]{8}", fullmatch=True))
def test_full_width_digits_read_as_ascii(digits: str) -> None:
    # GIVEN a Taiwan permit typed in full-width digits WHEN checked THEN the ASCII number
    full_width = "".join(chr(ord(d) - ord("0") + ord("０")) for d in digits)
    assert check_document(full_width, "taiwan_permit", today=TODAY).number == digits


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_full_width_resident_ids_read_as_ascii(born: date, sequence: int) -> None:
    # GIVEN a resident ID number typed in full-width characters WHEN checked THEN accepted as ASCII
    number = resident(f"520102{born:%Y%m%d}{sequence:03d}")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert check_document(full_width, None, today=TODAY).number == number


@pytest.mark.parametrize(
    ("id_type", "number", "masked"),
    [
        ("resident_id", "520102199003071234", "5201**********1234"),
        ("passport", "E12345678", "E******78"),
        ("hk_macao_permit", "H1234567890", "H********90"),
        ("taiwan_permit", "12345678", "1*****78"),
        ("foreign_permanent_resident", "USA110085031211", "USA*********211"),
        ("foreign_permanent_resident", "91184019850312001X", "911************01X"),
        ("passport", "AB123", "*****"),  # too short to show anything
    ],
)
def test_masks_per_document_type(id_type: str, number: str, masked: str) -> None:
    # GIVEN a number of a type WHEN masked THEN the type's visible ends, the length kept
    assert mask_document(number, id_type) == masked


@pytest.mark.parametrize(
    "typed",
    [
        "91440300-708461136T",
        "9144 0300 7084 6113 6T",
        "９１４４０３００－７０８４６１１３６Ｔ",
        "914403-00708461136t",
    ],
)
def test_credit_codes_typed_in_groups_or_full_width_are_read(typed: str) -> None:
    # GIVEN a credit code with hyphens, spaces or full-width characters WHEN checked THEN the code
    from healthcode.rules.credentials import check_uscc

    assert check_uscc(typed) == "91440300708461136T"
