"""QR symbols of signed tokens (personal codes and venue codes), as PNG and SVG.

A payload is a JWT: ASCII, typically 250–600 bytes. It is encoded as one byte-mode segment
(base64url is mostly lower case, so alphanumeric mode would rarely apply) with no ECI header;
a non-ASCII payload is encoded as UTF-8, which common readers assume.

Error correction (``encode``; personal codes always M, below):
    Q (recovers ~25 % damage) while the symbol stays at version ``MAX_VERSION_AT_Q`` (15, i.e.
    77×77 modules, up to 292 bytes) or smaller; M (~15 %) beyond that. Short venue codes end
    up on posters that get scuffed, wet and photographed at an angle, so they get the
    stronger level. For longer tokens Q would cost 3–4 more versions (12–16 more modules a
    side) than M, and at a given print or screen size larger modules help a phone camera more
    than the extra redundancy does.

Speed: ``qrcode``'s defaults search the version (``best_fit``) and try all eight masks,
scoring each with the ISO 18004 penalty rules; that is most of the time spent per symbol.
Here the version comes from the byte-mode capacity tables below and the mask is fixed to
``MASK_PATTERN``. Readers learn the mask from the symbol's format information, so any mask
decodes; the penalty only steers away from patterns that are harder to read. Pattern 4 had
the lowest penalty on average over random base64url payloads of 200–1200 bytes (4 % above
the best mask of each payload on average, 17 % at worst; mask 0 averaged 20 %). The tests
decode JWT-shaped tokens and degenerate payloads ("." × 1100, "A" × 500) with it. Rendering
uses the module matrix directly (one Pillow resize for PNG, one run-length path for SVG)
rather than drawing module by module.

Personal codes (:func:`personal_png`, :func:`personal_svg`) are encoded at level M
(``PERSONAL_LEVEL``): a compact personal code (about 200 characters) then takes version 10
(57×57 modules) or less, where Q would need version 13; on a phone screen, which is not
scuffed like a poster, larger modules help old cameras and worn screens more than Q's extra
redundancy (``PERSONAL_MAX_VERSION``, checked by the tests and reported by ``make bench``).

They show their colour as people know
from their phones: the modules are drawn in the colour of the code, darkened where needed until
they stand against the white quiet zone with a contrast ratio of at least ``MIN_CONTRAST``
(WCAG 2's relative luminance; 4.5:1 keeps even a yellow code far on the dark side of a
scanner's binarisation threshold), above the QR the province's brand, beneath it the masked
name and the time the code was issued (China Standard Time).
"""

from __future__ import annotations

import io
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from PIL import Image

ErrorCorrection = Literal["M", "Q"]

#: Byte-mode capacity in bytes for versions 1..40 (ISO/IEC 18004:2015, table 7).
BYTE_CAPACITY: Final[dict[ErrorCorrection, tuple[int, ...]]] = {
    "M": (
        14, 26, 42, 62, 84, 106, 122, 152, 180, 213,
        251, 287, 331, 362, 412, 450, 504, 560, 624, 666,
        711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370,
        1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
    ),
    "Q": (
        11, 20, 32, 46, 60, 74, 86, 108, 130, 151,
        177, 203, 241, 258, 292, 322, 364, 394, 442, 482,
        509, 565, 611, 661, 715, 751, 805, 868, 908, 982,
        1030, 1112, 1168, 1228, 1283, 1351, 1423, 1499, 1579, 1663,
    ),
}  # fmt: skip

#: Largest version at which level Q is used; larger payloads switch to M.
MAX_VERSION_AT_Q: Final = 15
#: The mask every symbol uses (see the module docstring).
MASK_PATTERN: Final = 4
#: Error correction of a personal code's symbol, and the largest version one may take.
PERSONAL_LEVEL: Final[ErrorCorrection] = "M"
PERSONAL_MAX_VERSION: Final = 10
#: Quiet zone required by ISO 18004, in modules.
QUIET_ZONE: Final = 4
#: Longest payload a symbol can hold (version 40 at level M), in UTF-8 bytes.
MAX_PAYLOAD_BYTES: Final = BYTE_CAPACITY["M"][-1]

#: qrcode's constants ERROR_CORRECT_M and _Q (qrcode itself, with Pillow, is imported only when a
#: symbol is drawn: the functions that only read a colour from here do not pay for it).
_QRCODE_LEVEL: Final[dict[ErrorCorrection, int]] = {"M": 0, "Q": 3}
_SVG_NS: Final = "http://www.w3.org/2000/svg"


class PayloadTooLarge(ValueError):
    """The payload does not fit in the largest QR symbol."""


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """An encoded QR symbol: its version, error correction level and dark modules (no quiet zone)."""

    version: int
    error_correction: ErrorCorrection
    modules: tuple[tuple[bool, ...], ...] = field(repr=False)

    @property
    def size(self) -> int:
        """Modules per side: 17 + 4 × version."""
        return len(self.modules)

    def path_data(self, *, offset: int = 0) -> str:
        """SVG path data drawing the dark modules as unit squares, shifted by ``offset`` modules.

        Each horizontal run of dark modules is one rectangle, so the path stays a few KB.
        """
        parts: list[str] = []
        for y, row in enumerate(self.modules):
            x = 0
            while x < self.size:
                if not row[x]:
                    x += 1
                    continue
                start = x
                while x < self.size and row[x]:
                    x += 1
                run = x - start
                parts.append(f"M{start + offset} {y + offset}h{run}v1h-{run}z")
        return "".join(parts)

    def image(self, *, box_size: int, border: int) -> Image.Image:
        """A 1-bit Pillow image: ``box_size`` pixels per module and a ``border``-module quiet zone."""
        from PIL import Image

        _check_geometry(box_size=box_size, border=border)
        side = self.size + 2 * border
        blank = b"\xff" * side
        margin = b"\xff" * border
        rows = [blank] * border
        rows.extend(margin + bytes(0 if dark else 255 for dark in row) + margin for row in self.modules)
        rows.extend([blank] * border)
        small = Image.frombytes("L", (side, side), b"".join(rows))
        return small.resize((side * box_size, side * box_size), Image.Resampling.NEAREST).convert(
            "1", dither=Image.Dither.NONE
        )


def choose_symbol(payload_bytes: int) -> tuple[ErrorCorrection, int]:
    """The error correction level and smallest version for a byte-mode payload of this length.

    Raises ``PayloadTooLarge`` beyond ``MAX_PAYLOAD_BYTES``.
    """
    if payload_bytes < 0:
        raise ValueError("payload length cannot be negative")
    version_at_q = bisect_left(BYTE_CAPACITY["Q"], payload_bytes) + 1
    if version_at_q <= MAX_VERSION_AT_Q:
        return "Q", version_at_q
    version_at_m = bisect_left(BYTE_CAPACITY["M"], payload_bytes) + 1
    if version_at_m > len(BYTE_CAPACITY["M"]):
        raise PayloadTooLarge(
            f"payload of {payload_bytes} bytes exceeds the QR maximum of {MAX_PAYLOAD_BYTES} bytes"
        )
    return "M", version_at_m


def encode(payload: str) -> QrSymbol:
    """Encode ``payload`` with the level and version from ``choose_symbol`` and mask ``MASK_PATTERN``."""
    data = payload.encode("utf-8")
    level, version = choose_symbol(len(data))
    import qrcode.util

    builder = qrcode.QRCode(
        version=version, error_correction=_QRCODE_LEVEL[level], border=0, mask_pattern=MASK_PATTERN
    )
    builder.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE, check_data=False))
    builder.make(fit=False)
    modules = tuple(tuple(bool(dark) for dark in row) for row in builder.modules)
    return QrSymbol(version=version, error_correction=level, modules=modules)


def encode_at_level(payload: str, level: ErrorCorrection) -> QrSymbol:
    """Encode ``payload`` at error correction ``level`` in the smallest version that holds it
    (a poster's URL: level M keeps it within version 10). Raises ``PayloadTooLarge``."""
    data = payload.encode("utf-8")
    version = bisect_left(BYTE_CAPACITY[level], len(data)) + 1
    if version > len(BYTE_CAPACITY[level]):
        raise PayloadTooLarge(f"payload of {len(data)} bytes does not fit a QR symbol at level {level}")
    import qrcode.util

    builder = qrcode.QRCode(
        version=version, error_correction=_QRCODE_LEVEL[level], border=0, mask_pattern=MASK_PATTERN
    )
    builder.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE, check_data=False))
    builder.make(fit=False)
    modules = tuple(tuple(bool(dark) for dark in row) for row in builder.modules)
    return QrSymbol(version=version, error_correction=level, modules=modules)


def qr_png(payload: str, *, box_size: int = 8, border: int = QUIET_ZONE) -> bytes:
    """A 1-bit PNG of ``payload``'s QR symbol: ``box_size`` px per module, ``border`` modules of margin."""
    _check_geometry(box_size=box_size, border=border)
    out = io.BytesIO()
    encode(payload).image(box_size=box_size, border=border).save(out, format="PNG")
    return out.getvalue()


def qr_svg(payload: str) -> bytes:
    """A standalone SVG of ``payload``'s QR symbol: one path, user units of one module, 4-module quiet zone.

    Nominal size is 8 px per module (the PNG default); it scales freely through ``viewBox``.
    """
    symbol = encode(payload)
    side = symbol.size + 2 * QUIET_ZONE
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="{_SVG_NS}" version="1.1" width="{side * 8}" height="{side * 8}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{symbol.path_data(offset=QUIET_ZONE)}"/>'
        "</svg>\n"
    )
    return svg.encode("utf-8")


def _check_geometry(*, box_size: int, border: int) -> None:
    if box_size < 1:
        raise ValueError(f"box_size must be at least 1 pixel, got {box_size}")
    if border < 0:
        raise ValueError(f"border cannot be negative, got {border}")


# -- personal codes in their colour ----------------------------------------------------------------

#: The display colour of each palette name (``display.colour_hex``); other names are grey.
COLOUR_HEX: Final[dict[str, str]] = {
    "green": "#07A35A",
    "yellow": "#F5C400",
    "orange": "#F57C00",
    "red": "#E02020",
}
UNKNOWN_COLOUR_HEX: Final = "#6B6B6B"
#: Least contrast ratio of the modules against white (WCAG 2).
MIN_CONTRAST: Final = 4.5
#: Text of a personal code image: band, labels, margins (px at 8 px per module).
_PERSONAL_BOX: Final = 8
_PERSONAL_BAND: Final = 72
_PERSONAL_LINE: Final = 40
_PERSONAL_MAX_CHARS: Final = 24
_INK: Final = "#1a1a1a"


def personal_symbol(payload: str) -> QrSymbol:
    """The QR symbol of a personal code: level ``PERSONAL_LEVEL``, the smallest version."""
    return encode_at_level(payload, PERSONAL_LEVEL)


def colour_hex(colour: str) -> str:
    """``#RRGGBB`` of a palette colour name (grey for a name this table does not know)."""
    return COLOUR_HEX.get(colour, UNKNOWN_COLOUR_HEX)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(channel) for channel in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(hex_colour: str) -> float:
    """WCAG 2 contrast ratio of a colour against white (1 to 21)."""
    return 1.05 / (_luminance(_rgb(hex_colour)) + 0.05)


def module_hex(colour: str) -> str:
    """The colour the modules of a ``colour`` code are drawn in (``ink_for`` its display colour)."""
    return ink_for(colour_hex(colour))


def ink_for(hex_colour: str) -> str:
    """``hex_colour`` darkened in steps until its contrast against white is at least
    ``MIN_CONTRAST`` (unchanged when it already is)."""
    r, g, b = _rgb(hex_colour)
    for _ in range(100):
        candidate = f"#{r:02X}{g:02X}{b:02X}"
        if contrast_with_white(candidate) >= MIN_CONTRAST:
            return candidate
        r, g, b = (int(channel * 0.92) for channel in (r, g, b))
    return "#000000"


def _label(text: str) -> str:
    from healthcode.codes.poster import MISSING_GLYPH, in_font

    return "".join(char if in_font(char) else MISSING_GLYPH for char in text[:_PERSONAL_MAX_CHARS])


def _personal_font(size: int) -> Any:
    from PIL import ImageFont

    from healthcode.codes import poster

    return ImageFont.truetype(str(poster._font_path()), size, layout_engine=ImageFont.Layout.BASIC)


def personal_png(payload: str, *, colour: str, brand: str, name_masked: str, issued_at: str) -> bytes:
    """A personal code as phones show it: ``brand`` above the symbol, the modules in the code's
    colour (see ``module_hex``), the masked name and ``issued_at`` (already formatted) beneath."""
    from PIL import Image, ImageDraw

    symbol = personal_symbol(payload)
    side = (symbol.size + 2 * QUIET_ZONE) * _PERSONAL_BOX
    height = _PERSONAL_BAND + side + 2 * _PERSONAL_LINE + _PERSONAL_BOX * 2
    page = Image.new("RGB", (side, height), "#ffffff")
    mask = symbol.image(box_size=_PERSONAL_BOX, border=QUIET_ZONE).convert("L").point(lambda v: 255 - v)
    page.paste(module_hex(colour), (0, _PERSONAL_BAND, side, _PERSONAL_BAND + side), mask)
    draw = ImageDraw.Draw(page)
    draw.text((side // 2, 50), _label(brand), font=_personal_font(32), fill=module_hex(colour), anchor="ms")
    baseline = _PERSONAL_BAND + side + 28
    for text, size in ((name_masked, 28), (issued_at, 22)):
        draw.text((side // 2, baseline), _label(text), font=_personal_font(size), fill=_INK, anchor="ms")
        baseline += _PERSONAL_LINE
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


def personal_svg(payload: str, *, colour: str, brand: str, name_masked: str, issued_at: str) -> bytes:
    """The SVG of ``personal_png``'s layout, in module units (8 px nominal per module)."""
    symbol = personal_symbol(payload)
    side = symbol.size + 2 * QUIET_ZONE
    band, line = _PERSONAL_BAND / _PERSONAL_BOX, _PERSONAL_LINE / _PERSONAL_BOX
    height = band + side + 2 * line + 2
    ink = module_hex(colour)
    modules = symbol.path_data(offset=QUIET_ZONE)

    def text(value: str, y: float, size: float, fill: str) -> str:
        shown = escape(value[:_PERSONAL_MAX_CHARS])
        return (
            f'<text x="{side / 2:g}" y="{y:g}" font-size="{size:g}" fill="{fill}" text-anchor="middle" '
            f'font-family="HealthCode Sans SC, Noto Sans CJK SC, sans-serif">{shown}</text>'
        )

    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="{_SVG_NS}" version="1.1" width="{side * 8}" height="{height * 8:g}" '
        f'viewBox="0 0 {side} {height:g}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{height:g}" fill="#fff"/>'
        + text(brand, 50 / _PERSONAL_BOX, 4, ink)
        + f'<g transform="translate(0 {band:g})"><path fill="{ink}" d="{modules}"/></g>'
        + text(name_masked, band + side + 28 / _PERSONAL_BOX, 3.5, _INK)
        + text(issued_at, band + side + (28 + _PERSONAL_LINE) / _PERSONAL_BOX, 2.75, _INK)
        + "</svg>\n"
    )
    return svg.encode("utf-8")
