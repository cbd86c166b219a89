"""Cursors of paged lists (healthcode.storage.cursors): what one list gave reads back; anything
else is 422 invalid_cursor."""

from __future__ import annotations

import pytest
from healthcode.errors import InvalidInput
from healthcode.storage import cursors
from hypothesis import given
from hypothesis import strategies as st

NAMES = frozenset({"p", "k"})


@given(st.text(min_size=1), st.text(min_size=1))
def test_a_cursor_reads_back_as_it_was_given(partition: str, key: str) -> None:
    assert cursors.decode(cursors.encode({"p": partition, "k": key}), NAMES) == {"p": partition, "k": key}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        cursors.encode({"p": "x"}),  # a part missing
        cursors.encode({"p": "x", "k": "y", "extra": "z"}),  # a part too many
        cursors.encode({"p": "x", "k": ""}),  # an empty part
        "W10",  # a JSON list
    ],
)
def test_anything_else_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        cursors.decode(cursor, NAMES)
    assert (refused.value.code, refused.value.field) == ("invalid_cursor", "cursor")
