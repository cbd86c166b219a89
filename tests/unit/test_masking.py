"""Display masks: what a scanner, a venue manager or a citizen's code list may show."""

from __future__ import annotations

import unicodedata

import pytest
from healthcode.protection.masking import MASK, mask_id_number, mask_name, mask_phone
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=200, deadline=None)

# Any text, including CJK, combining marks, stars and whitespace.
any_text = st.text(st.characters(codec="utf-8"), max_size=40)


def _revealed(masked: str, original: str, *, separators: str = "") -> list[int]:
    """Positions where the mask shows the original's character (it must show nothing else).

    Characters in ``separators`` (the spaces between a name's words) are not counted as shown.
    """
    assert len(masked) == len(original)
    for shown, real in zip(masked, original, strict=True):
        assert shown in (MASK, real)
    return [
        i
        for i, (shown, real) in enumerate(zip(masked, original, strict=True))
        if shown == real != MASK and real not in separators
    ]


# ----- ID numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("520102199003071234", "5201**********1234"),  # docs/api.md
        ("11010519491231002X", "1101**********002X"),
        ("110105491231002", "1101*******1002"),  # first-generation 15-digit number
        (" 520102199003071234 ", "5201**********1234"),
        ("5201021990030", "*************"),  # too short to show both ends
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_id_number_mask(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked


@SETTINGS
@given(any_text)
def test_id_mask_shows_at_most_the_first_four_and_last_four(value: str) -> None:
    # GIVEN any text WHEN masked as an ID number THEN only its first and last four may show
    original = value.strip()
    shown = _revealed(mask_id_number(value), original)
    allowed = set(range(4)) | set(range(len(original) - 4, len(original)))
    assert set(shown) <= allowed
    if len(original) < 14:
        assert shown == []


# ----- phones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13800000000", "138****0000"),  # docs/api.md
        ("15912345678", "159****5678"),
        ("059187654321", "059*****4321"),
        ("1380000000", "**********"),  # too short to show both ends
        ("110", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_mask(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@SETTINGS
@given(any_text)
def test_phone_mask_shows_at_most_the_first_three_and_last_four(value: str) -> None:
    original = value.strip()
    shown = _revealed(mask_phone(value), original)
    allowed = set(range(3)) | set(range(len(original) - 4, len(original)))
    assert set(shown) <= allowed
    if len(original) < 11:
        assert shown == []


# ----- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),  # docs/api.md
        ("欧阳娜娜", "欧***"),
        ("王", "*"),
        ("阿卜杜拉·买买提", "阿*******"),  # one name, however it is punctuated
        ("John Smith", "J*** S****"),
        ("  John   Smith ", "J*** S****"),
        ("John A Smith", "J*** * S****"),
        ("Madonna", "M******"),
        ("A", "*"),
        ("李 Lee", "李****"),  # any CJK character: first character only
        ("", ""),
        ("   ", ""),
        (None, ""),
    ],
)
def test_name_mask(value: str | None, masked: str) -> None:
    assert mask_name(value) == masked


@SETTINGS
@given(any_text)
def test_name_mask_shows_at_most_one_character_per_word(value: str) -> None:
    # GIVEN any text WHEN masked as a name THEN each shown character opens a word
    words = value.split()
    original = " ".join(words)
    shown = _revealed(mask_name(value), original, separators=" ")
    assert len(shown) <= len(words)
    assert all(i == 0 or original[i - 1] == " " for i in shown)
    if len(words) == 1 and len(words[0]) == 1:
        assert shown == []
    if any(unicodedata.east_asian_width(c) in ("W", "F") for c in original):
        assert len(shown) <= 1


@SETTINGS
@given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6))
def test_chinese_names_show_only_their_first_character(name: str) -> None:
    masked = mask_name(name)
    assert masked == (name[0] + MASK * (len(name) - 1) if len(name) > 1 else MASK)
