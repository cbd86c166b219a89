"""Venue subject credentials: USCC (GB 32100), 工商注册号 (GS 15), licence plates (GA 36)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.rules.credentials import (
    PLATE_PROVINCES,
    USCC_CODE_SET,
    USCC_ORGANISATION_TYPES,
    CredentialType,
    business_licence_check_digit,
    check_business_licence,
    check_credential,
    check_licence_plate,
    check_uscc,
    org_code_check_character,
    uscc_check_character,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc

from tests.unit import stdnum_examples

SETTINGS = settings(max_examples=200, deadline=None)

# Public codes, each checked by hand-computing both check characters (see test below).
REAL_USCC = [
    "91350100M000100Y43",  # the worked example of GB 32100-2015
    "91110000600037341L",
    "91230184MA1BUFLT44",
    "92371000MA3MXH0E3W",
    "91350200776049653A",
    "913502000728319549",
    "123502001549897397",
    "9135021359498494XQ",
    "91350213678251743X",
    "91440101MA5CJQ4N59",
]

DIGITS = "0123456789"
SERIAL = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # letters and digits without I and O
AUTHORITY = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ENERGY = "ABCDEFGHJK"


def _with_checks(head8: str, org_body: str) -> str:
    """A USCC from its first 8 characters and the 8-character organisation-code body."""
    first17 = head8 + org_body + org_code_check_character(org_body)
    return first17 + uscc_check_character(first17)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    authority = draw(st.sampled_from(sorted(USCC_ORGANISATION_TYPES)))
    kind = draw(st.sampled_from(sorted(USCC_ORGANISATION_TYPES[authority])))
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    org_body = draw(st.text(USCC_CODE_SET, min_size=8, max_size=8))
    return _with_checks(authority + kind + region, org_body)


@st.composite
def business_licences(draw: st.DrawFn) -> str:
    first14 = draw(st.text(DIGITS, min_size=14, max_size=14))
    return first14 + business_licence_check_digit(first14)


@st.composite
def plates(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PLATE_PROVINCES))
    authority = draw(st.sampled_from(AUTHORITY))

    def serial(n: int) -> str:
        return draw(st.text(SERIAL, min_size=n, max_size=n))

    def digits(n: int) -> str:
        return draw(st.text(DIGITS, min_size=n, max_size=n))

    return draw(
        st.sampled_from(
            [
                province + authority + serial(5),
                province + authority + draw(st.sampled_from(ENERGY)) + serial(1) + digits(4),
                province + authority + digits(5) + draw(st.sampled_from(ENERGY)),
                province + authority + serial(4) + draw(st.sampled_from("挂学警")),
                "粤Z" + serial(4) + draw(st.sampled_from("港澳")),
                province + authority + digits(4) + "领",
                "使" + digits(6),
            ]
        )
    )


# ----- USCC ---------------------------------------------------------------------------------


def _mod31(first17: str) -> str:
    """Independent restatement of GB 32100's check for the vectors: C18 = 31 - sum mod 31."""
    weights = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, ...: 3^i mod 31
    total = sum(USCC_CODE_SET.index(c) * w for c, w in zip(first17, weights, strict=True))
    return USCC_CODE_SET[(31 - total % 31) % 31]


def _mod11(body: str) -> str:
    """Independent restatement of GB 11714's check: C9 = 11 - sum mod 11, 10 -> X, 11 -> 0."""
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_uscc_vectors_validate(code: str) -> None:
    # GIVEN a published code whose check characters we recompute independently
    assert _mod11(code[8:16]) == code[16]
    assert _mod31(code[:17]) == code[17]
    # WHEN it is checked THEN it comes back unchanged
    assert check_uscc(code) == code


def test_uscc_is_normalised_from_lower_case_full_width_and_spaces() -> None:
    # GIVEN the GB 32100 example typed in lower case, with spaces and full-width characters
    raw = " 9135 0100ｍ000100y43 "
    # WHEN checked THEN the canonical upper-case form is returned
    assert check_uscc(raw) == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4A", "check character"),  # wrong 18th character
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("", "18 characters"),
        ("91350100I000100Y43", "capital letters other than"),  # I is not in the code set
        ("91350100M000100O43", "capital letters other than"),  # O neither
        ("91350100M0001-0Y43", "18 characters"),  # the hyphen is dropped: 17 characters left
    ],
)
def test_malformed_uscc_is_rejected_with_reason(code: str, reason: str) -> None:
    # GIVEN a malformed code WHEN checked THEN invalid_credential says why, on the field
    with pytest.raises(InvalidInput) as caught:
        check_uscc(code, field="credential_number")
    assert caught.value.code == "invalid_credential"
    assert caught.value.field == "credential_number"
    assert reason in caught.value.message


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        ("B1350100", "registration-authority"),  # B is no registration authority
        ("Z1350100", "capital letters other than"),  # Z is not even in the code set
        ("94350100", "organisation type"),  # 工商 has types 1, 2, 3 only
        ("99350100", "organisation type"),
        ("Y2350100", "organisation type"),  # 其他 has type 1 only
        ("A2350100", "organisation type"),
        ("N4350100", "organisation type"),
        ("913501A0", "region code"),
    ],
)
def test_structure_is_checked_even_when_check_characters_match(head: str, reason: str) -> None:
    # GIVEN a code with correct check characters but an impossible structure
    code = _with_checks(head, "M000100Y") if "Z" not in head else head + "M000100Y43"
    # WHEN checked THEN the structural reason is given
    with pytest.raises(InvalidInput) as caught:
        check_uscc(code)
    assert reason in caught.value.message


def test_every_registration_authority_and_type_of_the_table_is_accepted() -> None:
    # GIVEN every (authority, type) pair of GB 32100 table A.1 with its amendments
    pairs = {a + t for a, types in USCC_ORGANISATION_TYPES.items() for t in types}
    assert pairs == {
        *("11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49"),
        *("51", "52", "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92"),
        *("93", "A1", "A9", "N1", "N2", "N3", "N9", "Y1"),
    }
    # WHEN a code is built for each THEN it validates
    for pair in pairs:
        code = _with_checks(pair + "350100", "M000100Y")
        assert check_uscc(code) == code


def test_organisation_code_check_is_enforced() -> None:
    # GIVEN a code whose 18th character is right but whose organisation code check is wrong
    first17 = "91350100M000100Y" + "5"  # the right organisation-code check is 4
    code = first17 + uscc_check_character(first17)
    # WHEN checked THEN the GB 11714 check is named
    with pytest.raises(InvalidInput) as caught:
        check_uscc(code)
    assert "GB 11714" in caught.value.message


def test_org_code_check_character_vectors() -> None:
    # GB 11714-1997's example D2143569-X; a zero-sum body gives 11, written 0
    assert org_code_check_character("D2143569") == "X"
    assert org_code_check_character("00000000") == "0"
    assert org_code_check_character("M000100Y") == "4"


@pytest.mark.parametrize("bad", ["", "1234567", "123456789", "d2143569", "D214356-"])
def test_org_code_check_character_refuses_bad_bodies(bad: str) -> None:
    with pytest.raises(ValueError):
        org_code_check_character(bad)


@pytest.mark.parametrize(
    "bad", ["", "9135010", "91350100M000100Y", "91350100M000100Y43", "91350100I000100Y4"]
)
def test_uscc_check_character_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_character(bad)


@SETTINGS
@given(usccs())
def test_computed_uscc_always_validates(code: str) -> None:
    # GIVEN a code built from the table with computed check characters WHEN checked THEN valid
    assert check_uscc(code) == code
    assert org_code_check_character(code[8:16]) in "0123456789X"


@SETTINGS
@given(usccs(), st.integers(0, 17), st.sampled_from(USCC_CODE_SET))
def test_any_single_character_change_is_rejected(code: str, position: int, replacement: str) -> None:
    # GIVEN a valid code with one character replaced by a different one of the code set
    if code[position] == replacement:
        replacement = USCC_CODE_SET[(USCC_CODE_SET.index(replacement) + 1) % len(USCC_CODE_SET)]
    altered = code[:position] + replacement + code[position + 1 :]
    # WHEN checked THEN it is rejected
    with pytest.raises(InvalidInput):
        check_uscc(altered)


# ----- 工商注册号 ----------------------------------------------------------------------------


def test_business_licence_vectors() -> None:
    # GIVEN GS 15-2006's example 110108000000016 WHEN checked THEN valid; its neighbours are not
    assert business_licence_check_digit("11010800000001") == "6"
    assert check_business_licence(" 110108000000016 ") == "110108000000016"
    for wrong in "012345789":
        with pytest.raises(InvalidInput, match="check digit"):
            check_business_licence("11010800000001" + wrong)


@pytest.mark.parametrize(
    "bad", ["", "11010800000001", "1101080000000160", "11010800000001X", "1101O8000000016"]
)
def test_malformed_business_licence_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput, match="15 digits") as caught:
        check_business_licence(bad, field="number")
    assert caught.value.field == "number"
    assert caught.value.code == "invalid_credential"


@pytest.mark.parametrize("bad", ["", "1101080000000", "110108000000016", "1101080000000a", "١١٠١٠٨٠٠٠٠٠٠٠١"])
def test_business_licence_check_digit_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        business_licence_check_digit(bad)


@SETTINGS
@given(business_licences())
def test_computed_business_licence_always_validates(number: str) -> None:
    assert check_business_licence(number) == number


@SETTINGS
@given(business_licences(), st.integers(0, 14), st.integers(1, 9))
def test_any_single_digit_change_of_a_business_licence_is_rejected(
    number: str, position: int, shift: int
) -> None:
    # GIVEN a valid number with one digit replaced by another digit WHEN checked THEN rejected
    digit = str((int(number[position]) + shift) % 10)
    with pytest.raises(InvalidInput):
        check_business_licence(number[:position] + digit + number[position + 1 :])


# ----- licence plates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("京A12345", "京A12345"),
        ("京A·12345", "京A12345"),
        ("  沪 b·a 12 3c ", "沪BA123C"),
        ("京Ａ１２３４５", "京A12345"),  # full-width input
        ("粤B-D12345", "粤BD12345"),  # small new-energy, battery electric
        ("粤BFA1234", "粤BFA1234"),  # small new-energy, not battery electric, second a letter
        ("粤BAA1234", "粤BAA1234"),  # small new-energy after the widening (A = battery electric)
        ("粤B12345D", "粤B12345D"),  # large new-energy
        ("闽A12345K", "闽A12345K"),
        ("苏A1234挂", "苏A1234挂"),
        ("赣AB123学", "赣AB123学"),
        ("豫A0001警", "豫A0001警"),
        ("粤Z1234港", "粤Z1234港"),
        ("粤ZA123澳", "粤ZA123澳"),
        ("沪A1234领", "沪A1234领"),
        ("使224·009", "使224009"),
    ],
)
def test_valid_plates_are_normalised(raw: str, canonical: str) -> None:
    assert check_licence_plate(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "京A1234",  # too short
        "京A123456",  # six characters without an energy letter
        "京I12345",  # I is no issuing authority
        "京O12345",
        "京A1234O",  # O in the serial
        "京AI2345",
        "京112345",  # the authority must be a letter
        "港A12345",  # not a province abbreviation
        "台A12345",
        "AA12345",
        "粤BL12345",  # L is no energy letter
        "粤BI12345",
        "粤BD1234A",  # small new-energy: the last four are digits
        "粤BDA12A4",
        "粤B1234AD",  # large new-energy: the first five are digits
        "粤B12345L",
        "粤A1234港",  # cross-border plates are 粤Z only
        "京Z1234澳",
        "沪A123A领",  # consulate serials are digits
        "领A12345",  # 领 closes a plate, it never opens one
        "使22400",
        "使22400A",
        "使A12345",
        "京A12345挂",  # suffix plates have four serial characters
        "京A1234军",
    ],
)
def test_invalid_plates_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_licence_plate(raw, field="plate")
    assert caught.value.code == "invalid_credential"
    assert caught.value.field == "plate"
    assert "licence plate" in caught.value.message


@SETTINGS
@given(plates(), st.booleans())
def test_generated_plates_validate_with_or_without_a_middle_dot(plate: str, dotted: bool) -> None:
    # GIVEN a plate of any GA 36 format, as printed (dot after the authority) or typed
    raw = f"{plate[:2]}·{plate[2:]}" if dotted else f" {plate.lower()} "
    # WHEN checked THEN the canonical form comes back
    assert check_licence_plate(raw) == plate


@SETTINGS
@given(plates(), st.integers(0, 7), st.sampled_from("IO"))
def test_plates_with_i_or_o_are_rejected(plate: str, position: int, letter: str) -> None:
    # GIVEN a valid plate with I or O put in place of one character WHEN checked THEN rejected
    position = min(position, len(plate) - 1)
    with pytest.raises(InvalidInput):
        check_licence_plate(plate[:position] + letter + plate[position + 1 :])


# ----- dispatch ------------------------------------------------------------------------------


def test_check_credential_dispatches_on_type() -> None:
    assert check_credential("uscc", "91350100m000100y43") == "91350100M000100Y43"
    assert check_credential(CredentialType.BUSINESS_LICENCE, "110108000000016") == "110108000000016"
    assert check_credential("licence_plate", "京A·12345") == "京A12345"
    with pytest.raises(InvalidInput) as caught:
        check_credential("business_licence", "91350100M000100Y43", field="credential_number")
    assert (caught.value.code, caught.value.field) == ("invalid_credential", "credential_number")


@pytest.mark.parametrize("credential_type", ["", "USCC", "passport", "id", None, 3])
def test_unknown_credential_type_is_rejected(credential_type: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_credential(credential_type, "91350100M000100Y43")  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.field) == ("invalid_credential_type", "credential_type")
    assert "uscc" in caught.value.message


@pytest.mark.parametrize("credential_type", [t.value for t in CredentialType])
def test_a_non_string_value_is_rejected_for_every_type(credential_type: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_credential(credential_type, 913501000001004)  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.field) == ("invalid_credential", "credential_number")


@SETTINGS
@given(usccs(), st.integers(0, 17))
def test_messages_never_repeat_the_value(code: str, position: int) -> None:
    # GIVEN an invalid code (one character swapped for one outside the code set)
    altered = code[:position] + "I" + code[position + 1 :]
    # WHEN rejected THEN the message says why without echoing the number
    with pytest.raises(InvalidInput) as caught:
        check_credential("uscc", altered)
    assert altered not in caught.value.message


def test_id_number_branch_uses_the_id_card_check() -> None:
    idcard = pytest.importorskip("healthcode.rules.idcard")
    # GIVEN GB 11643's example number and a fixed clock
    clock.freeze(datetime(2022, 5, 18, 2, 0, tzinfo=UTC))
    try:
        number = "11010519491231002X"
        expected = idcard.check_id_number(number, today=clock.now().date(), field="credential_number").number
        # WHEN checked as a venue credential THEN the ID checker's canonical number comes back
        assert check_credential("id_number", number) == expected
        # AND a wrong check digit is an invalid credential on the given field
        with pytest.raises(InvalidInput) as caught:
            check_credential("id_number", "110105194912310021", field="subject_id")
        assert (caught.value.code, caught.value.field) == ("invalid_credential", "subject_id")
    finally:
        clock.reset()


# -- python-stdnum's published examples (tests/unit/stdnum_examples.py) ---------------------------


@pytest.mark.parametrize("code", stdnum_examples.USCC_VALID)
def test_stdnums_valid_usccs_pass_our_stricter_check(code: str) -> None:
    # GIVEN a credit code python-stdnum documents as valid (its check: length, alphabet, MOD 31)
    assert uscc.is_valid(code)
    # WHEN checked by ours, which also checks the registration authority and organisation type
    # (GB 32100's table) and the GB 11714 check character inside the code
    # THEN it passes too, in stdnum's canonical form
    assert check_uscc(code) == uscc.compact(code)
    assert _mod11(uscc.compact(code)[8:16]) == uscc.compact(code)[16]


@pytest.mark.parametrize(("code", "reason"), stdnum_examples.USCC_INVALID)
def test_stdnums_invalid_usccs_are_refused(code: str, reason: str) -> None:
    # GIVEN a credit code python-stdnum documents as invalid WHEN checked THEN refused, saying why
    assert not uscc.is_valid(code)
    with pytest.raises(InvalidInput) as caught:
        check_uscc(code, field="credential_number")
    assert (caught.value.code, caught.value.field) == ("invalid_credential", "credential_number")
    assert reason in caught.value.message
