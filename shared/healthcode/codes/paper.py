"""Printable paper codes (纸质码) for people without a smartphone: a labelled PNG.

One card, tall rather than wide so it prints on a label or a half A6: a band with the province's
name and brand (``八闽健康码``, the policy's ``brand``) and the title, the QR symbol of the paper
code (large modules for paper), and beneath it what lets staff and the holder tell whose card it
is without reading personal data in clear: the masked name and masked ID number, the day it was
issued and the day it stops being valid, and the reminder that the colour is read online at each
checkpoint (a paper code carries no colour).

Text is drawn with the bundled font of the venue posters (``healthcode.codes.poster``); a
character it lacks is drawn as "□". The image is a 16-colour palette PNG tagged 300 dpi.
"""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING, Final

from healthcode.codes.poster import MISSING_GLYPH, in_font
from healthcode.codes.qr import QUIET_ZONE, encode

if TYPE_CHECKING:
    from PIL import ImageFont

TITLE: Final = "纸质码"
NOTICE: Final = "核验时以在线查询的颜色为准"
ISSUED_ON: Final = "签发日期 "
VALID_UNTIL: Final = "有效期至 "
MODULE_PX: Final = 8
MARGIN: Final = 32
BAND: Final = 110
LINE: Final = 44
DPI: Final = 300
BRAND: Final = "#0b7a4b"
INK: Final = "#1a1a1a"
WHITE: Final = "#ffffff"
MAX_LABEL_CHARS: Final = 40


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    from healthcode.codes import poster

    return ImageFont.truetype(str(poster._font_path()), size, layout_engine=ImageFont.Layout.BASIC)


def _drawable(text: str) -> str:
    return "".join(char if in_font(char) else MISSING_GLYPH for char in text[:MAX_LABEL_CHARS])


def paper_png(
    token: str,
    *,
    province_name: str,
    name_masked: str,
    id_masked: str,
    valid_until: str,
    brand: str = "健康码",
    issued_on: str | None = None,
) -> bytes:
    """The labelled card of a paper code: the province's brand and the title, QR of ``token``,
    masked name and ID number, the day it was issued and the last day it is valid (already
    formatted) and the online-colour notice."""
    from PIL import Image, ImageDraw

    symbol = encode(token)
    qr_side = (symbol.size + 2 * QUIET_ZONE) * MODULE_PX
    width = qr_side + 2 * MARGIN
    dates = (f"{ISSUED_ON}{issued_on}",) if issued_on else ()
    labels = (name_masked, id_masked, *dates, f"{VALID_UNTIL}{valid_until}", NOTICE)
    height = BAND + qr_side + LINE * len(labels) + MARGIN
    page = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width - 1, BAND - 1), fill=BRAND)
    draw.text((width // 2, 44), _drawable(province_name), font=_font(26), fill=WHITE, anchor="ms")
    draw.text((width // 2, 92), _drawable(f"{brand}（{TITLE}）"), font=_font(36), fill=WHITE, anchor="ms")
    page.paste(symbol.image(box_size=MODULE_PX, border=QUIET_ZONE), (MARGIN, BAND))
    baseline = BAND + qr_side + 30
    for index, label in enumerate(labels):
        size = 24 if index == len(labels) - 1 else 30
        draw.text((width // 2, baseline), _drawable(label), font=_font(size), fill=INK, anchor="ms")
        baseline += LINE
    out = io.BytesIO()
    page.quantize(16, method=Image.Quantize.FASTOCTREE).save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()
