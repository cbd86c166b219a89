"""Personal QR images in the colour of the code and the labelled paper card, read back by zxing-cpp."""

from __future__ import annotations

import io

import pytest
from healthcode.codes import paper, qr
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.unit.test_qr import decode, jwt_like

TOKEN = jwt_like(420, seed=16)


@given(st.from_regex(r"#[0-9A-F]{6}", fullmatch=True))
def test_any_colour_is_darkened_to_a_scanners_contrast(hex_colour: str) -> None:
    # GIVEN any colour WHEN made the ink of a code THEN it stands at least 4.5:1 against white,
    # and a colour that already did is kept as it is
    ink = qr.ink_for(hex_colour)
    assert qr.contrast_with_white(ink) >= qr.MIN_CONTRAST
    if qr.contrast_with_white(hex_colour) >= qr.MIN_CONTRAST:
        assert ink == hex_colour


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([*qr.COLOUR_HEX, "purple"]), st.integers(200, 600))
def test_a_personal_png_in_any_palette_colour_decodes(colour: str, length: int) -> None:
    # GIVEN a code of a palette colour WHEN drawn THEN the modules are in its ink and it decodes
    token = jwt_like(length, seed=length)
    png = qr.personal_png(
        token, colour=colour, brand="八闽健康码", name_masked="张*", issued_at="2026-12-06 10:00:00"
    )
    image = Image.open(io.BytesIO(png))
    assert decode(image).text == token
    colours = {rgb for _, rgb in image.convert("RGB").getcolors(1 << 20) or []}
    r, g, b = (int(qr.module_hex(colour)[i : i + 2], 16) for i in (1, 3, 5))
    assert (r, g, b) in colours


@pytest.mark.parametrize("brand", ["贵州健康码", "八闽健康码", "赣通码"])
def test_the_paper_card_carries_the_brand_dates_and_decodes(brand: str) -> None:
    # GIVEN a paper code WHEN its card is drawn with the brand and the issue date THEN it decodes,
    # and it is taller than a card without an issue date (one more line)
    common = {"province_name": "贵州省", "name_masked": "王**", "id_masked": "5201**********1234"}
    card = paper.paper_png(TOKEN, **common, valid_until="2027-12-06", brand=brand, issued_on="2026-12-06")
    shorter = paper.paper_png(TOKEN, **common, valid_until="2027-12-06", brand=brand)
    assert decode(Image.open(io.BytesIO(card))).text == TOKEN
    assert Image.open(io.BytesIO(card)).height == Image.open(io.BytesIO(shorter)).height + paper.LINE
