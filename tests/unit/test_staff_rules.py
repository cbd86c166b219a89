"""The pure checks behind checkpoint staff and manual registrations (issue 13): account ids that
may be assigned, names compared on normalised text, roadside checkpoints' credentials."""

from __future__ import annotations

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules.forms import name_key, same_name
from healthcode.rules.idcard import check_character
from healthcode.rules.policy import DEFAULT_DWELL_MINUTES, VENUE_TYPES
from healthcode.rules.venues import VENUE_TYPE_LABELS, _check_credential
from healthcode.services.staff import check_page_size, check_sub


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("张三", "张三"),
        ("  张三 ", "张三"),
        ("ＺＨＡＮＧ　San", "Zhang San"),  # full-width letters and space
        ("zhang   SAN", "Zhang San"),
        ("买买提・艾力", "买买提·艾力"),  # another middle dot
        ("O'NEIL", "o'neil"),
    ],
)
def test_spellings_of_one_name_are_the_same_name(typed: str, stored: str) -> None:
    assert same_name(typed, stored) and name_key(typed) == name_key(stored)


@pytest.mark.parametrize(
    ("typed", "stored"), [("张三", "张四"), ("张三", "张三丰"), ("Zhang San", "Zhang Shan")]
)
def test_other_names_are_not(typed: str, stored: str) -> None:
    assert not same_name(typed, stored)


@pytest.mark.parametrize(
    "sub", ["scanner-1", "a" * 128, "5f0c2e4a-8b7d-4a1e-9f3c-2d6b8e1a7c90", "工作人员甲"]
)
def test_account_ids_that_may_be_assigned(sub: str) -> None:
    assert check_sub(sub) == sub


@pytest.mark.parametrize(
    "sub",
    ["", "a" * 129, "unclaimed#p-1", "id#abc", "a b", " a", "a\tb", "a\x00", "a\u200bb", "a\u202eb", 7, None],
)
def test_account_ids_that_may_not(sub: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_sub(sub)
    assert (refused.value.code, refused.value.field) == ("invalid_sub", "sub")


@pytest.mark.parametrize(("raw", "size"), [(None, 100), ("", 100), ("1", 1), ("500", 500)])
def test_page_sizes(raw: str | None, size: int) -> None:
    assert check_page_size(raw) == size


@pytest.mark.parametrize("raw", ["0", "501", "-1", "1e2", "²", "ten"])
def test_bad_page_sizes(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_page_size(raw)
    assert refused.value.code == "invalid_limit"


def test_a_checkpoint_is_a_venue_type_of_ten_minutes() -> None:
    assert "checkpoint" in VENUE_TYPES and DEFAULT_DWELL_MINUTES["checkpoint"] == 10
    assert VENUE_TYPE_LABELS["checkpoint"] == "卡口"


@pytest.mark.parametrize("credential_type", ["id_number", "licence_plate"])
def test_a_checkpoint_registers_under_an_organisation_credential(credential_type: str) -> None:
    number = (
        "52010219850612001" + check_character("52010219850612001")
        if credential_type == "id_number"
        else "贵A12345"
    )
    with pytest.raises(InvalidInput) as refused:
        _check_credential(credential_type, number, "checkpoint")
    assert (refused.value.code, refused.value.field) == ("credential_type_mismatch", "credential_type")
    kind, _ = _check_credential("uscc", "91440300708461136T", "checkpoint")
    assert kind.value == "uscc"
