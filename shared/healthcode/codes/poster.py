"""Printable venue posters (场所码): A4 at 150 dpi, as PNG or SVG.

One layout (``layout_poster``) feeds both renderers, so the PNG and the SVG agree. From the
top: a coloured band with the province's brand (八闽健康码, 赣通码 …) and the title 场所码, the
venue's name and address, a large QR symbol of the venue code's URL, the scanning instructions
and the venue type.

The QR symbol holds ``https://<code base>/v/<compact venue code>``, which a phone's own camera,
WeChat or Alipay opens. It is encoded at level M (~15 % damage recovered) and stays at
``MAX_QR_VERSION`` (10: 57×57 modules) or below, so each module is at least 12 pixels on the
page: the poster still decodes when printed or photographed at a quarter of its size.
User text (names, addresses) wraps at the content width: the font size steps down to fit the
preferred number of lines; what still does not fit within the line limit is cut with "…",
so text never leaves its block and never runs into the QR symbol.

Text is drawn in the PNG with the bundled subset of Noto Sans CJK SC (``data/FONTS.md``):
AWS Lambda has no system fonts. The font is read on the first poster, never at import, and
once per container. It covers GB 2312 (all 6,763 hanzi of levels 1 and 2), ASCII and CJK
punctuation; any other character is drawn as "□" (U+25A1), the printer's conventional mark
for a missing character, rather than as the font's blank ``.notdef``. The SVG keeps the text
as ``<text>`` elements with the original characters and a font list ending in the generic
``sans-serif``, so viewers draw it with their own CJK fonts. The SVG is laid out with the same
metrics, which hold for any CJK font (hanzi are one em wide); Latin text may run slightly
narrower or wider in the viewer's font.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

from healthcode.codes.qr import QUIET_ZONE, QrSymbol, encode_at_level

if TYPE_CHECKING:
    from PIL import ImageFont

#: A4 at 150 dpi, in pixels (PNG) and user units (SVG).
PAGE_WIDTH: Final = 1240
PAGE_HEIGHT: Final = 1754
DPI: Final = 150
MARGIN: Final = 90
CONTENT_WIDTH: Final = PAGE_WIDTH - 2 * MARGIN

TITLE: Final = "场所码"
INSTRUCTIONS: Final = "请使用微信/支付宝扫码登记，一人一扫"
VENUE_TYPE_PREFIX: Final = "场所类型："
ADDRESS_PREFIX: Final = "地址："
#: Stands in (PNG only) for characters the bundled font does not cover.
MISSING_GLYPH: Final = "□"
ELLIPSIS: Final = "…"

FONT_FILE: Final = "HealthCodeSansSC-GB2312-Regular.otf"
#: SVG font list: common CJK fonts on Linux, macOS, Windows, then the generic family.
SVG_FONT_FAMILY: Final = (
    "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Hiragino Sans GB', "
    "'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif"
)

BRAND: Final = "#0b7a4b"
INK: Final = "#1a1a1a"
MUTED: Final = "#4a4a4a"
WHITE: Final = "#ffffff"

HEADER_TOP: Final = 56
HEADER_PADDING: Final = 56
FOOTER_HEIGHT: Final = 40
LINE_SPACING: Final = 1.3
#: Baseline below a line's top, as a fraction of the font size (CJK em box: 0.88 above, 0.12 below).
ASCENT: Final = 0.88
QR_MAX_SIDE: Final = 820
#: The largest QR version a poster's URL may take (at level M, 213 bytes).
MAX_QR_VERSION: Final = 10
QR_FRAME_WIDTH: Final = 6
QR_FRAME_RADIUS: Final = 24
#: Longest prefix of a user field considered; more can never fit in three lines.
MAX_FIELD_CHARS: Final = 600
PALETTE_COLOURS: Final = 64

#: The font's characters outside GB 2312, ASCII, U+3000–U+303F and U+FF01–U+FF5E.
_PUNCTUATION_BEYOND_GB2312: Final = frozenset("·‐‑‒–—‚„†‡•‥‧")
_NO_LINE_START: Final = frozenset("，。、；：！？）》」』】〉”’,.;:!?)]}…%·")
_NO_LINE_END: Final = frozenset("（《「『【〈“‘([{")
_TOKEN: Final = re.compile(r"[A-Za-z0-9]+(?:['’.\-][A-Za-z0-9]+)*|\s+|.", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Centred lines of one size; ``top`` is the top of the first line's em box."""

    lines: tuple[str, ...]
    size: int
    top: int
    colour: str
    bold: bool = False

    @property
    def line_height(self) -> int:
        return round(self.size * LINE_SPACING)

    @property
    def bottom(self) -> int:
        return self.top + self.line_height * (len(self.lines) - 1) + self.size

    def baselines(self) -> list[int]:
        first = self.top + round(self.size * ASCENT)
        return [first + i * self.line_height for i in range(len(self.lines))]


@dataclass(frozen=True, slots=True)
class QrPlacement:
    """The QR symbol and where it goes: top-left corner of its quiet zone, pixels per module."""

    symbol: QrSymbol
    left: int
    top: int
    module_px: int

    @property
    def side(self) -> int:
        """Side in pixels, quiet zone included."""
        return (self.symbol.size + 2 * QUIET_ZONE) * self.module_px


@dataclass(frozen=True, slots=True)
class PosterLayout:
    """Everything on a poster, in page pixels."""

    header_bottom: int
    province: TextBlock
    title: TextBlock
    venue_name: TextBlock
    address: TextBlock | None
    qr: QrPlacement
    instructions: TextBlock
    venue_type: TextBlock | None

    def text_blocks(self) -> list[TextBlock]:
        blocks = (
            self.province,
            self.title,
            self.venue_name,
            self.address,
            self.instructions,
            self.venue_type,
        )
        return [block for block in blocks if block is not None]


def poster_png(*, venue_name: str, address: str, url: str, brand: str, venue_type_label: str) -> bytes:
    """The poster as a PNG of 1240×1754 pixels (64-colour palette) tagged 150 dpi: A4 when printed."""
    from PIL import Image, ImageDraw

    layout = layout_poster(
        venue_name=venue_name,
        address=address,
        url=url,
        brand=brand,
        venue_type_label=venue_type_label,
    )
    page = Image.new("RGB", (PAGE_WIDTH, PAGE_HEIGHT), WHITE)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, PAGE_WIDTH - 1, layout.header_bottom - 1), fill=BRAND)
    draw.rectangle((0, PAGE_HEIGHT - FOOTER_HEIGHT, PAGE_WIDTH - 1, PAGE_HEIGHT - 1), fill=BRAND)
    for block in layout.text_blocks():
        font = _font(block.size)
        stroke = _stroke(block)
        for line, baseline in zip(block.lines, block.baselines(), strict=True):
            draw.text(
                (PAGE_WIDTH // 2, baseline),
                _drawable(line),
                font=font,
                fill=block.colour,
                anchor="ms",
                stroke_width=stroke,
                stroke_fill=block.colour,
            )
    qr = layout.qr
    page.paste(qr.symbol.image(box_size=qr.module_px, border=QUIET_ZONE), (qr.left, qr.top))
    inset = QR_FRAME_WIDTH
    draw.rounded_rectangle(
        (qr.left - inset, qr.top - inset, qr.left + qr.side + inset - 1, qr.top + qr.side + inset - 1),
        radius=QR_FRAME_RADIUS,
        outline=BRAND,
        width=QR_FRAME_WIDTH,
    )
    out = io.BytesIO()
    # A 64-colour palette keeps the anti-aliased text and halves the file against RGB.
    page.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE).save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def poster_svg(*, venue_name: str, address: str, url: str, brand: str, venue_type_label: str) -> bytes:
    """The poster as a standalone SVG, 210×297 mm, text as ``<text>`` (escaped), QR as one path."""
    layout = layout_poster(
        venue_name=venue_name,
        address=address,
        url=url,
        brand=brand,
        venue_type_label=venue_type_label,
    )
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "version": "1.1",
            "width": "210mm",
            "height": "297mm",
            "viewBox": f"0 0 {PAGE_WIDTH} {PAGE_HEIGHT}",
            "{http://www.w3.org/XML/1998/namespace}lang": "zh-CN",
        },
    )
    ET.SubElement(svg, "rect", {"width": str(PAGE_WIDTH), "height": str(PAGE_HEIGHT), "fill": WHITE})
    ET.SubElement(svg, "rect", {"width": str(PAGE_WIDTH), "height": str(layout.header_bottom), "fill": BRAND})
    ET.SubElement(
        svg,
        "rect",
        {
            "y": str(PAGE_HEIGHT - FOOTER_HEIGHT),
            "width": str(PAGE_WIDTH),
            "height": str(FOOTER_HEIGHT),
            "fill": BRAND,
        },
    )
    text_group = ET.SubElement(svg, "g", {"font-family": SVG_FONT_FAMILY, "text-anchor": "middle"})
    for block in layout.text_blocks():
        for line, baseline in zip(block.lines, block.baselines(), strict=True):
            attributes = {
                "x": str(PAGE_WIDTH // 2),
                "y": str(baseline),
                "font-size": str(block.size),
                "fill": block.colour,
            }
            if block.bold:
                attributes["font-weight"] = "bold"
            ET.SubElement(text_group, "text", attributes).text = line
    qr = layout.qr
    inset = QR_FRAME_WIDTH / 2
    ET.SubElement(
        svg,
        "rect",
        {
            "x": _number(qr.left - inset),
            "y": _number(qr.top - inset),
            "width": _number(qr.side + 2 * inset),
            "height": _number(qr.side + 2 * inset),
            "rx": str(QR_FRAME_RADIUS),
            "fill": WHITE,
            "stroke": BRAND,
            "stroke-width": str(QR_FRAME_WIDTH),
        },
    )
    ET.SubElement(
        svg,
        "path",
        {
            "transform": f"translate({qr.left} {qr.top}) scale({qr.module_px})",
            "fill": "#000000",
            "shape-rendering": "crispEdges",
            "d": qr.symbol.path_data(offset=QUIET_ZONE),
        },
    )
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode").encode("utf-8")


def layout_poster(
    *, venue_name: str, address: str, url: str, brand: str, venue_type_label: str
) -> PosterLayout:
    """Place every element of the poster. Reads the font (once) to measure text.

    ``venue_name``, ``brand`` and ``url`` must not be blank, and ``url`` must fit a QR symbol
    of ``MAX_QR_VERSION`` at level M (``ValueError``); a blank
    address or type label leaves its line out.
    """
    name = _clean(venue_name)
    brand_text = _clean(brand)
    for field, value in (("venue_name", name), ("brand", brand_text), ("url", url.strip())):
        if not value:
            raise ValueError(f"{field} is blank")
    symbol = encode_at_level(url.strip(), "M")
    if symbol.version > MAX_QR_VERSION:
        raise ValueError(f"the poster's URL needs QR version {symbol.version}, more than {MAX_QR_VERSION}")

    province = _fit(brand_text, (60, 52, 44, 36), top=HEADER_TOP, colour=WHITE, max_lines=1)
    title = _fit(TITLE, (150,), top=province.bottom + 28, colour=WHITE, bold=True, max_lines=1)
    header_bottom = title.bottom + HEADER_PADDING

    name_block = _fit(
        name,
        tuple(range(84, 51, -4)),
        top=header_bottom + 56,
        colour=INK,
        bold=True,
        max_lines=3,
        preferred=2,
        balance=True,
    )
    cursor = name_block.bottom
    address_text = _clean(address)
    address_block = None
    if address_text:
        address_block = _fit(
            ADDRESS_PREFIX + address_text,
            (40, 36, 32, 30),
            top=cursor + 26,
            colour=MUTED,
            max_lines=3,
            preferred=2,
        )
        cursor = address_block.bottom

    label = _clean(venue_type_label)
    bottom = PAGE_HEIGHT - FOOTER_HEIGHT - 56
    type_block = None
    if label:
        type_block = _fit(VENUE_TYPE_PREFIX + label, (36, 32, 28), top=0, colour=MUTED, max_lines=1)
        type_block = _moved(type_block, bottom - type_block.bottom)
        bottom = type_block.top - 24
    instructions = _fit(INSTRUCTIONS, (46,), top=0, colour=BRAND, bold=True, max_lines=2)
    instructions = _moved(instructions, bottom - instructions.bottom)

    qr_space_top = cursor + 40 + QR_FRAME_WIDTH
    qr_space_bottom = instructions.top - 40 - QR_FRAME_WIDTH
    available = min(QR_MAX_SIDE, qr_space_bottom - qr_space_top, CONTENT_WIDTH)
    modules = symbol.size + 2 * QUIET_ZONE
    module_px = available // modules
    if module_px < 2:  # cannot happen below version 40 with the limits above; guard the invariant
        raise ValueError(f"no room for a {symbol.size}-module QR symbol on the poster")
    side = modules * module_px
    placement = QrPlacement(
        symbol=symbol,
        left=(PAGE_WIDTH - side) // 2,
        top=qr_space_top + (qr_space_bottom - qr_space_top - side) // 2,
        module_px=module_px,
    )
    return PosterLayout(
        header_bottom=header_bottom,
        province=province,
        title=title,
        venue_name=name_block,
        address=address_block,
        qr=placement,
        instructions=instructions,
        venue_type=type_block,
    )


def text_width(text: str, size: int, *, bold: bool = False) -> int:
    """Width in pixels of one line as the PNG draws it (missing characters as "□", bold stroke included)."""
    stroke = _stroke_for(size) if bold else 0
    return math.ceil(_font(size).getlength(_drawable(text))) + 2 * stroke


def in_font(char: str) -> bool:
    """Whether the bundled font has a glyph for ``char`` (the character set in ``data/FONTS.md``)."""
    point = ord(char)
    if point < 0x80:
        return 0x20 <= point < 0x7F  # ASCII controls have no glyph (the gb2312 codec takes them)
    if 0x3000 <= point < 0x3040 or 0xFF01 <= point < 0xFF5F:
        return True
    if char in _PUNCTUATION_BEYOND_GB2312:
        return True
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def wrap(text: str, measure: Callable[[str], int], width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` by ``measure``.

    Breaks anywhere between hanzi, between Latin words (a word longer than a line is split),
    never before closing punctuation (，。）…) and never after opening punctuation (（《“).
    Spaces at line ends are dropped.
    """
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        if token.isspace():
            if current:
                current += " "
            continue
        if measure(current + token) <= width:
            current += token
            continue
        if token[0] in _NO_LINE_START and current.strip() and measure(current.rstrip() + token) <= width:
            current = current.rstrip() + token  # a space before closing punctuation is dropped, not wrapped
            continue
        if current.strip():
            head, carried = _kinsoku(current.rstrip(), token)
            lines.append(head)
            current = carried
        else:
            current = ""
        if measure(current + token) <= width:
            current += token
            continue
        for char in token:
            if current and measure(current + char) > width:
                lines.append(current)
                current = ""
            current += char
    if current.strip():
        lines.append(current.rstrip())
    return lines


def _kinsoku(line: str, next_token: str) -> tuple[str, str]:
    """Split ``line`` so the next line neither starts with closing nor the line ends with opening punctuation.

    Returns the line to keep and the text carried to the next line.
    """
    carried = ""
    if next_token[0] in _NO_LINE_START and len(line) > 1:
        carried, line = line[-1], line[:-1]
    while len(line) > 1 and line[-1] in _NO_LINE_END:
        carried, line = line[-1] + carried, line[:-1]
    return line.rstrip(), carried


def _fit(
    text: str,
    sizes: tuple[int, ...],
    *,
    top: int,
    colour: str,
    max_lines: int,
    preferred: int | None = None,
    bold: bool = False,
    balance: bool = False,
) -> TextBlock:
    """The largest size at which ``text`` takes at most ``preferred`` lines (default ``max_lines``).

    ``balance`` evens out the lengths of those lines (a heading should not leave one word alone).

    At the smallest size, more than ``max_lines`` lines are cut to ``max_lines`` ending in "…".
    """
    text = text[:MAX_FIELD_CHARS]
    target = preferred or max_lines
    lines: list[str] = []
    for size in sizes:

        def measure(line: str, size: int = size) -> int:
            return text_width(line, size, bold=bold)

        lines = wrap(text, measure, CONTENT_WIDTH)
        if len(lines) <= target:
            if balance and len(lines) > 1:
                lines = _balanced(text, measure, len(lines))
            return TextBlock(lines=tuple(lines), size=size, top=top, colour=colour, bold=bold)
    size = sizes[-1]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + ELLIPSIS, size, bold=bold) > CONTENT_WIDTH:
            last = last[:-1]
        lines[-1] = last.rstrip() + ELLIPSIS
    return TextBlock(lines=tuple(lines), size=size, top=top, colour=colour, bold=bold)


def _balanced(text: str, measure: Callable[[str], int], count: int) -> list[str]:
    """``text`` wrapped into ``count`` lines at the narrowest width that still needs only ``count`` lines."""
    narrow, wide = CONTENT_WIDTH // count, CONTENT_WIDTH  # wide always gives ``count`` lines
    while wide - narrow > 1:
        middle = (narrow + wide) // 2
        if len(wrap(text, measure, middle)) <= count:
            wide = middle
        else:
            narrow = middle
    return wrap(text, measure, wide)


def _moved(block: TextBlock, dy: int) -> TextBlock:
    return TextBlock(
        lines=block.lines, size=block.size, top=block.top + dy, colour=block.colour, bold=block.bold
    )


def _clean(text: str) -> str:
    """User text made safe to lay out and to put in XML.

    Control characters (newlines, tabs, C0/C1) become spaces, runs of white space collapse;
    invisible format characters (zero-width, bidirectional overrides) are dropped; lone
    surrogates and the non-characters U+FFFE/U+FFFF, which XML forbids, become U+FFFD.
    """
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            kept.append(" ")
        elif category == "Cf":
            continue
        elif category == "Cs" or char in "\ufffe\uffff":
            kept.append("\ufffd")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def _drawable(text: str) -> str:
    return "".join(char if in_font(char) else MISSING_GLYPH for char in text)


def _stroke_for(size: int) -> int:
    """Stroke width that makes the regular face read as bold at ``size``."""
    return max(1, round(size / 36))


def _stroke(block: TextBlock) -> int:
    return _stroke_for(block.size) if block.bold else 0


def _number(value: float) -> str:
    return f"{value:g}"


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(_font_path()), size, layout_engine=ImageFont.Layout.BASIC)


@cache
def _font_path() -> Path:
    resource = resources.files("healthcode").joinpath("data", FONT_FILE)
    if not isinstance(resource, Path):  # the package is always installed as files (layer, venv)
        raise RuntimeError(f"font {FONT_FILE} is not on the file system: {resource}")
    return resource
