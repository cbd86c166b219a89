"""Venue posters: the QR reads back (a URL, version 10 at most, at a quarter of the size too), text
wraps inside its box, user text is escaped, the font is lazy."""

from __future__ import annotations

import io
import itertools
import random
import string
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
import zxingcpp
from healthcode.codes import poster, qr
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFont

SVG = "{http://www.w3.org/2000/svg}"
BASE64URL = string.ascii_letters + string.digits + "-_"
DATA = Path(str(resources.files("healthcode").joinpath("data")))

FUJIAN = {
    "venue_name": "福州市鼓楼区东街口百货大楼（东街店）",
    "address": "福建省福州市鼓楼区东街街道八一七北路88号",
    "brand": "八闽健康码",
    "venue_type_label": "商场超市",
}
#: The longest code base a stack may have (18 characters) and the longest compact code (184).
LONGEST_BASE = "jkm.fujian.gov.cn" + "x"


def token(length: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(BASE64URL + ".") for _ in range(length))


def url(seed: int = 0, *, base: str = "hc.local", code_chars: int = 180) -> str:
    """A poster URL shaped like a real one: https://<base>/v/<a compact code's length of base64url>."""
    return f"https://{base}/v/{token(code_chars, seed)}"


LONGEST_URL = url(7, base=LONGEST_BASE, code_chars=184)


def read_qr(png: bytes, *, scale: float = 1.0) -> list[str]:
    """Texts of the QR symbols zxing-cpp finds on the page (QR only, as a mini-program scanner),
    the page first scaled by ``scale`` (a poster photographed from a distance)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    if scale != 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return [
        result.text
        for result in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
    ]


def svg_texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


# --- PNG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [url(1), url(2, code_chars=184), LONGEST_URL])
def test_png_poster_is_a4_and_its_qr_reads_back_at_a_quarter_of_its_size(address: str) -> None:
    """GIVEN a poster URL up to the longest a stack makes WHEN the PNG poster is drawn
    THEN it is 1240×1754 px at 150 dpi, its QR is version 10 at most at level M, and zxing-cpp
    reads exactly the URL from the whole page and from the page scaled to 25 %."""
    png = poster.poster_png(url=address, **FUJIAN)

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (poster.PAGE_WIDTH, poster.PAGE_HEIGHT) == (1240, 1754)
    assert image.info["dpi"] == pytest.approx((150, 150), abs=0.1)
    layout = poster.layout_poster(url=address, **FUJIAN)
    assert layout.qr.symbol.version <= poster.MAX_QR_VERSION == 10
    assert layout.qr.symbol.error_correction == "M"
    assert read_qr(png) == [address]
    assert read_qr(png, scale=0.25) == [address]


def test_a_url_beyond_version_10_is_refused() -> None:
    """GIVEN a URL one byte longer than version 10 at level M holds (213 bytes)
    WHEN a poster is asked for THEN ValueError: the stack's code base is too long for posters."""
    assert len(LONGEST_URL.encode()) == 213
    with pytest.raises(ValueError, match="version 11"):
        poster.layout_poster(url=LONGEST_URL + "x", **FUJIAN)


def test_png_poster_with_hostile_and_uncovered_text_still_reads() -> None:
    """GIVEN a name with markup, ampersands, a control character and hanzi outside GB 2312
    WHEN drawn as PNG THEN the poster is produced and its QR still decodes."""
    code = url(9)
    png = poster.poster_png(
        venue_name="<script>alert(1)</script> & 堃喆\x07餐厅",
        address="地址\n第二行\t&amp;",
        url=code,
        brand="贵州省",
        venue_type_label="餐饮",
    )
    assert read_qr(png) == [code]


# --- layout -------------------------------------------------------------------------------------


def assert_fits_the_page(layout: poster.PosterLayout) -> None:
    """Every line within the content width, blocks stacked without overlap, the QR frame clear of all text."""
    qr_box = layout.qr
    frame_top = qr_box.top - poster.QR_FRAME_WIDTH
    frame_bottom = qr_box.top + qr_box.side + poster.QR_FRAME_WIDTH
    blocks = layout.text_blocks()
    for block in blocks:
        for line in block.lines:
            assert poster.text_width(line, block.size, bold=block.bold) <= poster.CONTENT_WIDTH, line
        assert 0 < block.top and block.bottom < poster.PAGE_HEIGHT - poster.FOOTER_HEIGHT
        assert block.bottom <= frame_top or block.top >= frame_bottom, "text runs into the QR"
    for upper, lower in itertools.pairwise(blocks):
        assert upper.bottom <= lower.top, (upper.lines, lower.lines)
    assert layout.title.bottom < layout.header_bottom <= layout.venue_name.top
    assert 0 <= qr_box.left and qr_box.left + qr_box.side <= poster.PAGE_WIDTH


def test_short_name_takes_one_large_line() -> None:
    """GIVEN a short venue name WHEN laid out THEN it is one line at the largest size and nothing is cut."""
    layout = poster.layout_poster(url=url(), **(FUJIAN | {"venue_name": "东街口百货"}))
    assert layout.venue_name.lines == ("东街口百货",)
    assert layout.venue_name.size == 84
    assert layout.title.lines == ("场所码",)
    assert layout.province.lines == ("八闽健康码",)
    assert layout.instructions.lines == ("请使用微信/支付宝扫码登记，一人一扫",)
    assert layout.venue_type is not None and layout.venue_type.lines == ("场所类型：商场超市",)
    assert layout.address is not None and layout.address.lines == (
        "地址：福建省福州市鼓楼区东街街道八一七北路88号",
    )
    assert_fits_the_page(layout)


def test_two_line_name_is_balanced() -> None:
    """GIVEN an 18-character name that needs two lines WHEN laid out THEN the lines are of even length."""
    layout = poster.layout_poster(url=url(), **FUJIAN)
    lengths = [len(line) for line in layout.venue_name.lines]
    assert len(lengths) == 2 and max(lengths) - min(lengths) <= 2, layout.venue_name.lines
    assert "".join(layout.venue_name.lines) == FUJIAN["venue_name"]
    assert_fits_the_page(layout)


def test_overlong_name_and_address_shrink_then_are_cut_with_an_ellipsis() -> None:
    """GIVEN a name and an address far longer than three lines can hold
    WHEN laid out THEN each takes three lines at its smallest size, the last ending in "…", and all fits."""
    layout = poster.layout_poster(
        url=LONGEST_URL,
        venue_name="贵阳国际会议展览中心" * 20,
        address="观山湖区长岭南路与林城西路交叉口" * 20,
        brand="新疆维吾尔自治区",
        venue_type_label="会展中心",
    )
    assert layout.venue_name.size == 52 and len(layout.venue_name.lines) == 3
    assert layout.venue_name.lines[-1].endswith("…")
    assert layout.address is not None and layout.address.size == 30 and len(layout.address.lines) == 3
    assert layout.address.lines[-1].endswith("…")
    assert layout.qr.module_px >= 4
    assert_fits_the_page(layout)


def test_unbreakable_latin_word_is_split_rather_than_overflowing() -> None:
    """GIVEN a name that is one 300-letter word WHEN laid out THEN it is split across lines that all fit."""
    layout = poster.layout_poster(url=url(), **(FUJIAN | {"venue_name": "W" * 300}))
    assert len(layout.venue_name.lines) == 3
    assert_fits_the_page(layout)


def test_png_ink_stays_inside_the_content_box() -> None:
    """GIVEN the widest inputs (a 300-letter word, a long address and type label)
    WHEN the PNG is drawn THEN below the header every dark pixel lies within the page margins."""
    arguments = {
        "venue_name": "W" * 300,
        "address": "Wuyi Road " * 40,
        "url": LONGEST_URL,
        "brand": "福建省",
        "venue_type_label": "大型商业综合体（含地下停车场及配套餐饮娱乐场所）" * 3,
    }
    layout = poster.layout_poster(**arguments)
    page = Image.open(io.BytesIO(poster.poster_png(**arguments))).convert("L")
    body = page.crop((0, layout.header_bottom, poster.PAGE_WIDTH, poster.PAGE_HEIGHT - poster.FOOTER_HEIGHT))
    ink = body.point(lambda value: 255 if value < 250 else 0).getbbox()
    assert ink is not None
    left, _, right, _ = ink
    assert poster.MARGIN <= left and right <= poster.PAGE_WIDTH - poster.MARGIN, ink


def test_blank_address_and_type_label_are_left_out() -> None:
    """GIVEN a blank address and type label WHEN laid out THEN neither block is drawn."""
    layout = poster.layout_poster(url=url(), **(FUJIAN | {"address": "  ", "venue_type_label": ""}))
    assert layout.address is None and layout.venue_type is None
    assert len(layout.text_blocks()) == 4
    assert_fits_the_page(layout)


@pytest.mark.parametrize("field", ["venue_name", "brand", "url"])
def test_blank_name_or_url_is_refused(field: str) -> None:
    """GIVEN a blank venue name, brand or URL WHEN a poster is asked for
    THEN ValueError (a caller bug, not a poster)."""
    arguments = FUJIAN | {"url": url(), field: " \n "}
    with pytest.raises(ValueError, match=field):
        poster.layout_poster(**arguments)


names = st.text(
    alphabet=st.sampled_from(
        list("福州市鼓楼区东街口百货大楼店一二三号路（）《》，。、：；！？“”·")
        + list(string.ascii_letters + string.digits + " -&<>'\"\n\t")
        + ["堃", "喆", "\u200b", "\u202e", "😀"]
    ),
    max_size=160,
)


@settings(max_examples=30, deadline=None)
@given(name=names, address=names)
def test_any_name_and_address_fit_their_boxes(name: str, address: str) -> None:
    """GIVEN any mix of hanzi, Latin, punctuation, spaces, controls and characters outside the font
    WHEN laid out THEN every line fits the content width and no block overlaps another or the QR."""
    layout = poster.layout_poster(
        venue_name="场所" + name,
        address=address,
        url=url(),
        brand="福建省",
        venue_type_label="其他",
    )
    assert_fits_the_page(layout)


# --- wrapping -----------------------------------------------------------------------------------


def by_chars(text: str) -> int:
    return len(text)


def test_wrap_keeps_closing_punctuation_off_the_line_start() -> None:
    """GIVEN a comma that would start the second line WHEN wrapped at 5 characters
    THEN the character before it moves down with it."""
    assert poster.wrap("一二三四五，六七", by_chars, 5) == ["一二三四", "五，六七"]


def test_wrap_keeps_opening_punctuation_off_the_line_end() -> None:
    """GIVEN an opening bracket that would end the first line WHEN wrapped THEN it moves to the next line."""
    assert poster.wrap("一二三四（五六）", by_chars, 5) == ["一二三四", "（五六）"]


def test_wrap_breaks_between_latin_words() -> None:
    """GIVEN Latin words WHEN wrapped THEN breaks fall at spaces, which are dropped at line ends."""
    assert poster.wrap("Gulou Plaza Mall", by_chars, 12) == ["Gulou Plaza", "Mall"]


@settings(max_examples=200)
@given(
    text=st.text(alphabet=st.sampled_from(list("一二三四五六七八，。（）《》 abcXYZ019-")), max_size=80),
    width=st.integers(min_value=2, max_value=20),
)
def test_wrap_properties(text: str, width: int) -> None:
    """GIVEN any text and a width of at least 2 characters WHEN wrapped by character count
    THEN each line fits, no line has outer spaces, no line but the first starts with closing punctuation,
    and the lines hold the text's characters in order (spaces aside)."""
    lines = poster.wrap(text, by_chars, width)
    assert all(0 < len(line) <= width for line in lines)
    assert all(line == line.strip() for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines[1:]:
        if line[0] in "，。）》":
            assert len(line) == 1 or line[1] in "，。）》", lines  # only a run of closers can force it


# --- SVG ----------------------------------------------------------------------------------------


def test_svg_poster_structure_and_fonts() -> None:
    """GIVEN a venue WHEN the SVG poster is made
    THEN it is A4 (210×297 mm, viewBox 1240×1754), the texts are all there, every text element sits under a
    font-family list ending in the generic sans-serif, and nothing refers outside the file."""
    root = ET.fromstring(poster.poster_svg(url=url(2), **FUJIAN))

    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    assert root.get("viewBox") == "0 0 1240 1754"
    texts = svg_texts(root)
    assert texts[:2] == ["八闽健康码", "场所码"]
    assert "".join(texts[2:4]) == FUJIAN["venue_name"]
    assert "地址：" + FUJIAN["address"] in texts
    assert "请使用微信/支付宝扫码登记，一人一扫" in texts
    assert texts[-1] == "场所类型：商场超市"
    groups = [group for group in root.iter(f"{SVG}g") if group.find(f"{SVG}text") is not None]
    assert len(groups) == 1
    assert groups[0].get("font-family", "").endswith(", sans-serif")
    assert len(list(root.iter(f"{SVG}text"))) == len(list(groups[0].iter(f"{SVG}text")))
    for element in root.iter():
        assert element.tag.removeprefix(SVG) in {"svg", "rect", "g", "text", "path"}
        assert not any("href" in name for name in element.attrib)


def test_svg_poster_escapes_user_text() -> None:
    """GIVEN a venue name and address holding markup and ampersands
    WHEN the SVG poster is made THEN they are escaped in the bytes, parse back as the same text,
    and add no element."""
    name = '<script>alert("x")</script> & Co'
    address = "A&B <b>路</b> ]]> &amp;"
    svg = poster.poster_svg(
        venue_name=name,
        address=address,
        url=url(),
        brand="福建省",
        venue_type_label="<i>餐饮</i>",
    )

    assert b"<script" not in svg and b"<b>" not in svg and b"<i>" not in svg
    assert b"&lt;script&gt;" in svg and b"&amp; Co" in svg and b"&amp;amp;" in svg
    root = ET.fromstring(svg)
    assert not list(root.iter(f"{SVG}script"))
    texts = svg_texts(root)
    assert " ".join(texts[2:]).count("&") == 3
    assert any("alert(" in text for text in texts)
    assert "场所类型：<i>餐饮</i>" in texts


def test_svg_poster_survives_characters_xml_forbids() -> None:
    """GIVEN a name with NUL, bell, a lone surrogate and U+FFFF WHEN the SVG poster is made
    THEN it is well-formed XML, controls became spaces and the unencodable ones U+FFFD."""
    svg = poster.poster_svg(
        venue_name="东街\x00口\x07百货\ud800店\uffff",
        address="",
        url=url(),
        brand="福建省",
        venue_type_label="",
    )
    texts = svg_texts(ET.fromstring(svg))
    assert texts[2] == "东街 口 百货\ufffd店\ufffd"


def test_svg_poster_qr_has_the_codes_modules() -> None:
    """GIVEN a code WHEN the SVG poster is made THEN its QR path draws exactly the symbol of that code,
    scaled by the layout's module size."""
    code = url(5)
    root = ET.fromstring(poster.poster_svg(url=code, **FUJIAN))
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == 1
    layout = poster.layout_poster(url=code, **FUJIAN)
    placement = layout.qr
    assert (
        paths[0].get("transform")
        == f"translate({placement.left} {placement.top}) scale({placement.module_px})"
    )
    symbol = qr.encode_at_level(code, "M")
    assert placement.symbol == symbol
    assert paths[0].get("d") == symbol.path_data(offset=qr.QUIET_ZONE)
    assert symbol.size == 17 + 4 * symbol.version and symbol.version <= 10


# --- the font -----------------------------------------------------------------------------------


def test_font_and_its_licence_ship_in_the_package() -> None:
    """GIVEN the package data WHEN listed
    THEN the subset font is under 3 MB and the OFL and build notes are beside it."""
    font = DATA / poster.FONT_FILE
    assert 500_000 < font.stat().st_size < 3_000_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (DATA / "OFL.txt").read_text(encoding="utf-8")
    assert "fontTools.subset" in (DATA / "FONTS.md").read_text(encoding="utf-8")


def test_font_covers_all_of_gb2312_and_in_font_claims_no_more() -> None:
    """GIVEN every character in_font accepts in the Basic Multilingual Plane (all of GB 2312 among them)
    WHEN each is drawn with the bundled font THEN each has ink (spaces aside);
    outside the set (rare hanzi, emoji, bidi controls, U+FFFD) have none, hence the "□" stand-in."""
    font = ImageFont.truetype(str(DATA / poster.FONT_FILE), 16, layout_engine=ImageFont.Layout.BASIC)
    gb2312 = {
        bytes([hi, lo]).decode("gb2312", "ignore") for hi in range(0xA1, 0xF8) for lo in range(0xA1, 0xFF)
    }
    gb2312.discard("")
    assert len(gb2312) == 7445
    assert sum("\u4e00" <= char <= "\u9fff" for char in gb2312) == 6763
    claimed = {
        chr(point)
        for point in range(0x20, 0x10000)
        if not 0xD800 <= point < 0xE000 and poster.in_font(chr(point))
    }
    assert gb2312 <= claimed
    inkless = [char for char in claimed if not char.isspace() and not font.getmask(char).getbbox()]
    assert inkless == []
    for rare in ("堃", "喆", "😀", "\u202e", "\ufffd"):
        assert not poster.in_font(rare)
        assert font.getmask(rare).getbbox() is None
    assert poster.text_width("堃", 40) == poster.text_width("□", 40) == 40


def test_importing_poster_reads_no_font() -> None:
    """GIVEN a fresh interpreter WHEN healthcode.codes.poster is imported THEN no font is loaded or read;
    WHEN two posters are laid out THEN the bundled font is loaded, once per size, from the package's data."""
    script = """
import sys
from PIL import ImageFont
loads = []
real_truetype = ImageFont.truetype
def recording_truetype(font, size, **kwargs):
    loads.append((str(font), size))
    return real_truetype(font, size, **kwargs)
ImageFont.truetype = recording_truetype
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
import healthcode.codes.poster as poster
print(len(loads), sum(path.endswith((".otf", ".ttf", ".ttc")) for path in opened))
for _ in range(2):
    poster.layout_poster(venue_name="店", address="路", url="x", brand="省", venue_type_label="")
print(len(loads), len(set(loads)), all(path.endswith("/data/" + poster.FONT_FILE) for path, _ in loads))
"""
    shared = Path(__file__).resolve().parents[2] / "shared"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(shared), "PATH": "/usr/bin:/bin"},
    )
    at_import, after = result.stdout.splitlines()
    assert at_import == "0 0"
    loads, distinct, from_package = after.split()
    assert int(loads) > 0 and loads == distinct and from_package == "True"
