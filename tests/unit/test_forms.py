"""The one checker for names, mobile numbers, temperatures, addresses and page sizes
(healthcode.rules.forms)."""

from __future__ import annotations

import math
import unicodedata

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules import forms
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("张三", "张三"),
        ("  欧阳  娜娜 ", "欧阳 娜娜"),
        ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),
        ("买买提•艾力", "买买提•艾力"),
        ("ア・イ", "ア・イ"),
        ("O'Neil", "O'Neil"),
        ("O’Neil", "O’Neil"),
        ("Jean-Luc Picard", "Jean-Luc Picard"),
        ("J. R. Smith", "J. R. Smith"),
        ("Zoe\u0308", "Zoë"),  # NFC: the combining diaeresis joins its letter
        ("张" * 50, "张" * 50),
    ],
)
def test_names_of_every_people_are_accepted(typed: str, kept: str) -> None:
    assert forms.check_name(typed) == kept


@pytest.mark.parametrize(
    "typed", ["", "   ", "张" * 51, "张3", "<script>", "·张三", "-Ann", "张\u202e三", "张\x00三", 12, None]
)
def test_other_names_are_refused(typed: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        forms.check_name(typed, field="applicant.name")
    assert (caught.value.code, caught.value.field) == ("invalid_name", "applicant.name")
    if isinstance(typed, str) and typed.strip():
        assert typed.strip() not in caught.value.message


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_a_name_is_letters_and_the_name_marks_starting_with_a_letter(text: str) -> None:
    # GIVEN any text WHEN checked as a name THEN it is accepted exactly when, NFC with whitespace
    # collapsed, it is 1-50 letters, combining marks and name punctuation starting with a letter
    canonical = unicodedata.normalize("NFC", " ".join(text.split()))
    fits = (
        1 <= len(canonical) <= forms.NAME_MAX
        and unicodedata.category(canonical[0]).startswith("L")
        and all(unicodedata.category(c)[0] in "LM" or c in forms.NAME_PUNCTUATION for c in canonical)
    )
    try:
        assert forms.check_name(text) == canonical and fits
    except InvalidInput as error:
        assert error.code == "invalid_name" and not fits


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("13800138000", "13800138000"), ("+86 138-0013-8000", "13800138000"), ("8613800138000", "13800138000")],
)
def test_mobile_numbers_are_read_as_11_digits(typed: str, digits: str) -> None:
    assert forms.check_mobile(typed) == digits


@pytest.mark.parametrize("typed", ["12800138000", "1380013800", "085187654321", "138001380001", 13800138000])
def test_other_numbers_are_refused(typed: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        forms.check_mobile(typed, field="manager_phone")
    assert (caught.value.code, caught.value.field) == ("invalid_phone", "manager_phone")
    assert str(typed) not in caught.value.message


@settings(max_examples=300)
@given(
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.booleans()
    | st.text(max_size=5)
    | st.none()
)
def test_a_temperature_is_a_number_from_34_to_43(value: object) -> None:
    # GIVEN anything as a temperature WHEN checked THEN it is accepted exactly when it is a
    # finite number (never a boolean) within 34-43 °C; any other is invalid_temperature
    fits = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
        and forms.TEMPERATURE_MIN <= value <= forms.TEMPERATURE_MAX
    )
    try:
        assert forms.check_temperature(value) == float(value) and fits  # type: ignore[arg-type]
    except InvalidInput as error:
        assert error.code == "invalid_temperature" and not fits


def test_temperature_bounds_are_inclusive() -> None:
    assert forms.check_temperature(34) == 34.0 and forms.check_temperature(43.0) == 43.0


@pytest.mark.parametrize(
    ("typed", "kept"), [("贵阳市 南明区", "贵阳市 南明区"), ("  贵阳市\t南明区  ", "贵阳市 南明区")]
)
def test_an_address_is_printable_text_with_whitespace_collapsed(typed: str, kept: str) -> None:
    assert forms.check_address(typed) == kept


@pytest.mark.parametrize("typed", ["贵", "贵阳\x00市", "贵阳\u202e市", "路" * 201, 5])
def test_other_addresses_are_refused(typed: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        forms.check_address(typed)
    assert (caught.value.code, caught.value.field) == ("invalid_address", "address")


def test_an_address_may_have_bounds_of_its_own() -> None:
    assert forms.check_address("南昌市东湖区", min_chars=4, max_chars=120) == "南昌市东湖区"
    with pytest.raises(InvalidInput):
        forms.check_address("南昌", min_chars=4, max_chars=120)


@pytest.mark.parametrize(("raw", "expected"), [(None, 100), ("", 100), ("1", 1), ("500", 500), ("042", 42)])
def test_a_page_size_in_ascii_digits_within_bounds_is_read(raw: str | None, expected: int) -> None:
    assert forms.check_page_size(raw) == expected


@pytest.mark.parametrize("raw", ["0", "501", "-1", "1.5", " 5", "²", "١٢", "１２", "ten", "1e2"])
def test_any_other_page_size_is_invalid_limit(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        forms.check_page_size(raw)
    assert (refused.value.code, refused.value.field) == ("invalid_limit", "limit")


def test_a_list_sets_its_own_bounds() -> None:
    assert forms.check_page_size(None, default=500, maximum=1000) == 500
    assert forms.check_page_size("1000", default=500, maximum=1000) == 1000
