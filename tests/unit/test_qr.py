"""QR symbols: version/level choice, PNG and SVG output read back by a real decoder (zxing-cpp)."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import string
import xml.etree.ElementTree as ET
from typing import cast

import pytest
import qrcode.util
import zxingcpp
from healthcode.codes import qr
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"
BASE64URL = string.ascii_letters + string.digits + "-_"
QRCODE_LEVEL = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}


def jwt_like(length: int, seed: int) -> str:
    """A JWT-shaped ASCII string of exactly ``length`` characters: header.claims.signature (ES256)."""
    rng = random.Random(seed)
    header = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZqLTIwMjIifQ"
    signature = "".join(rng.choice(BASE64URL) for _ in range(86))
    claims_length = length - len(header) - len(signature) - 2
    if claims_length < 1:
        return "".join(rng.choice(BASE64URL) for _ in range(length))
    claims = "".join(rng.choice(BASE64URL) for _ in range(claims_length))
    return f"{header}.{claims}.{signature}"


def decode(image: Image.Image) -> zxingcpp.Barcode:
    # Only QR, as a mini-program scanner looks for: zxing's 1-D readers can see "barcodes" in stripes.
    results = zxingcpp.read_barcodes(
        image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(results) == 1, f"expected one QR symbol, found {len(results)}"
    return results[0]


def modules_from_path(d: str, size: int, offset: int) -> list[list[bool]]:
    """Rebuild the module matrix from the run-length path ``M x y h n v1 h-n z``."""
    matrix = [[False] * size for _ in range(size)]
    commands = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", d)
    assert "".join(f"M{x} {y}h{n}v1h-{m}z" for x, y, n, m in commands) == d, "unexpected path syntax"
    for x, y, run, back in commands:
        assert run == back
        row, start = int(y) - offset, int(x) - offset
        for col in range(start, start + int(run)):
            assert not matrix[row][col], "overlapping runs"
            matrix[row][col] = True
    return matrix


def matrix_image(matrix: list[list[bool]], *, box: int = 4, border: int = 4) -> Image.Image:
    side = len(matrix) + 2 * border
    image = Image.new("L", (side, side), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.putpixel((x + border, y + border), 0)
    return image.resize((side * box, side * box), Image.Resampling.NEAREST)


# --- choosing the symbol ---------------------------------------------------------------------


@pytest.mark.parametrize("level", ["M", "Q"])
def test_capacity_table_matches_the_encoders_bit_limits(level: qr.ErrorCorrection) -> None:
    """GIVEN the ISO 18004 byte capacities typed into qr.py
    WHEN each is recomputed from qrcode's data-bit limits (4-bit mode + 8/16-bit count + 8 per byte)
    THEN the two sources agree for all 40 versions."""
    limits = qrcode.util.BIT_LIMIT_TABLE[QRCODE_LEVEL[level]]
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        assert qr.BYTE_CAPACITY[level][version - 1] == (limits[version] - 4 - count_bits) // 8, version


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, ("Q", 1)),
        (11, ("Q", 1)),
        (12, ("Q", 2)),
        (258, ("Q", 14)),
        (292, ("Q", 15)),  # the largest payload kept at Q
        (293, ("M", 13)),  # Q would need version 16: switch to M
        (331, ("M", 13)),
        (332, ("M", 14)),
        (600, ("M", 19)),
        (1200, ("M", 29)),
        (2331, ("M", 40)),
    ],
)
def test_choose_symbol_vectors(length: int, expected: tuple[str, int]) -> None:
    """GIVEN payload lengths at capacity boundaries WHEN a symbol is chosen
    THEN level and version are as in ISO 18004 table 7."""
    assert qr.choose_symbol(length) == expected


def test_choose_symbol_rejects_what_no_symbol_holds() -> None:
    """GIVEN one byte more than version 40-M holds WHEN a symbol is chosen THEN PayloadTooLarge is raised."""
    with pytest.raises(qr.PayloadTooLarge):
        qr.choose_symbol(qr.MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(ValueError, match="negative"):
        qr.choose_symbol(-1)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=qr.MAX_PAYLOAD_BYTES))
def test_choose_symbol_is_the_smallest_fitting_version(length: int) -> None:
    """GIVEN any payload length that fits WHEN a symbol is chosen
    THEN the version holds it, the next smaller one does not, and Q is used exactly up to MAX_VERSION_AT_Q."""
    level, version = qr.choose_symbol(length)
    capacity = qr.BYTE_CAPACITY[level]
    assert capacity[version - 1] >= length
    assert version == 1 or capacity[version - 2] < length
    fits_small_q = any(c >= length for c in qr.BYTE_CAPACITY["Q"][: qr.MAX_VERSION_AT_Q])
    assert (level == "Q") == fits_small_q


# --- PNG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [100, 250, 292, 293, 400, 600, 900, 1200])
def test_png_decodes_to_the_payload(length: int) -> None:
    """GIVEN a JWT-shaped payload of 100..1200 characters
    WHEN it is rendered as PNG and read back with zxing-cpp
    THEN the text is the payload, and version, level and mask are the ones chosen."""
    payload = jwt_like(length, seed=length)
    assert len(payload) == length
    png = qr.qr_png(payload)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    level, version = qr.choose_symbol(length)
    side = 17 + 4 * version + 2 * 4
    assert image.size == (side * 8, side * 8)
    barcode = decode(image)
    assert barcode.text == payload
    extra = cast(dict[str, object], barcode.extra)  # zxing-cpp's QR metadata
    assert extra["Version"] == str(version)
    assert extra["ECLevel"] == level
    assert extra["DataMask"] == qr.MASK_PATTERN


def test_png_geometry_follows_box_size_and_border() -> None:
    """GIVEN box_size 3 and a 2-module border WHEN rendered THEN the image is (modules + 4) × 3 pixels a side
    and the corner module of the finder pattern is dark right after the border."""
    payload = jwt_like(300, seed=1)
    symbol = qr.encode(payload)
    image = Image.open(io.BytesIO(qr.qr_png(payload, box_size=3, border=2))).convert("L")
    assert image.size == ((symbol.size + 4) * 3,) * 2
    assert image.getpixel((5, 5)) == 255  # quiet zone
    assert image.getpixel((6, 6)) == 0  # top-left finder corner
    assert decode(image).text == payload


@pytest.mark.parametrize(("box_size", "border"), [(0, 4), (-1, 4), (8, -1)])
def test_png_rejects_impossible_geometry(box_size: int, border: int) -> None:
    """GIVEN a zero or negative module size or border WHEN rendering THEN ValueError."""
    with pytest.raises(ValueError):
        qr.qr_png("x", box_size=box_size, border=border)


@pytest.mark.parametrize("payload", ["A" * 500, "." * 1100, "x" * 1200, "0" * 292])
def test_repetitive_payload_still_decodes_with_the_fixed_mask(payload: str) -> None:
    """GIVEN a payload with no randomness (the worst case for a fixed mask)
    WHEN rendered THEN it still decodes."""
    assert decode(Image.open(io.BytesIO(qr.qr_png(payload)))).text == payload


def test_structured_tokens_decode() -> None:
    """GIVEN ES256-shaped JWTs whose claims hold long repeated runs (padding, repeated names)
    WHEN rendered at 3 px per module THEN each decodes to itself."""
    rng = random.Random(1)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for index in range(12):
        header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": f"350000-{index:02d}"}).encode())
        claims = {
            "iss": "healthcode-350000",
            "sub": f"v_{rng.getrandbits(64):016x}",
            "iat": 1650000000 + index,
            "exp": 1650086400 + index,
            "pad": "A" * rng.randint(0, 400),
            "name": "福州市鼓楼区" * rng.randint(0, 20),
        }
        token = f"{header}.{b64(json.dumps(claims, ensure_ascii=False).encode())}.{b64(rng.randbytes(64))}"
        assert decode(qr.encode(token).image(box_size=3, border=4)).text == token


def test_non_ascii_payload_is_carried_as_utf8_bytes() -> None:
    """GIVEN a payload with Chinese characters WHEN rendered and decoded THEN the raw bytes are its UTF-8."""
    payload = "场所码:" + jwt_like(200, seed=7)
    barcode = decode(Image.open(io.BytesIO(qr.qr_png(payload))))
    assert barcode.bytes == payload.encode("utf-8")


@settings(max_examples=15, deadline=None)
@given(st.text(alphabet=BASE64URL + ".", min_size=1, max_size=1200))
def test_any_token_text_round_trips(payload: str) -> None:
    """GIVEN any base64url/JWT-alphabet text up to 1200 characters
    WHEN rendered and decoded THEN it is unchanged."""
    assert decode(qr.encode(payload).image(box_size=3, border=4)).text == payload


# --- SVG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [100, 600, 1200])
def test_svg_is_a_standalone_path_with_the_chosen_module_count(length: int) -> None:
    """GIVEN a payload WHEN rendered as SVG
    THEN it parses as SVG with a viewBox of (17 + 4·version + 8) modules, one white rect and one path,
    no external references, the path's modules are exactly the symbol's, and they decode to the payload."""
    payload = jwt_like(length, seed=length + 1)
    svg = qr.qr_svg(payload)
    root = ET.fromstring(svg)

    _, version = qr.choose_symbol(length)
    size = 17 + 4 * version
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == f"0 0 {size + 8} {size + 8}"
    assert [child.tag for child in root] == [f"{SVG}rect", f"{SVG}path"]
    for element in root.iter():
        assert element.tag in {f"{SVG}svg", f"{SVG}rect", f"{SVG}path"}
        assert not any("href" in name for name in element.attrib)
    path = root.find(f"{SVG}path")
    assert path is not None
    matrix = modules_from_path(path.get("d", ""), size, offset=qr.QUIET_ZONE)
    assert [tuple(row) for row in matrix] == list(qr.encode(payload).modules)
    assert decode(matrix_image(matrix)).text == payload


def test_svg_declares_utf8_xml() -> None:
    """GIVEN any payload WHEN rendered as SVG THEN the document starts with an XML declaration."""
    assert qr.qr_svg("hello").startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<svg ')


def test_encode_reports_version_level_and_size() -> None:
    """GIVEN a 250-byte token WHEN encoded
    THEN it is Q, version 14, 73 modules a side, with finder patterns in place."""
    symbol = qr.encode(jwt_like(250, seed=3))
    assert (symbol.error_correction, symbol.version, symbol.size) == ("Q", 14, 73)
    finder_row = (True,) * 7
    assert symbol.modules[0][:7] == finder_row
    assert symbol.modules[0][-7:] == finder_row
    assert symbol.modules[-1][:7] == finder_row
    assert symbol.modules[7][:8] == (False,) * 8  # separator
