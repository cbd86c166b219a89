"""What the personal-code tests share (unit, handler and end-to-end): valid ID numbers, application
forms, and reading QR images back with a real decoder (zxing-cpp)."""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from typing import Any

from healthcode.codes import qr
from healthcode.rules.idcard import check_character
from PIL import Image

from tests.unit.test_qr import decode, matrix_image, modules_from_path

SVG = "{http://www.w3.org/2000/svg}"

_sequence = itertools.count(1)


def id_number(first17: str = "52010219900307123") -> str:
    """A valid ID number from its first 17 digits (default: Guiyang, born 1990-03-07)."""
    return first17 + check_character(first17)


def adult_id() -> str:
    """A fresh valid ID number of an adult (born 1985 in Yunyan district, Guiyang)."""
    return id_number(f"52010319850612{next(_sequence) % 1000:03d}")


def child_id() -> str:
    """A fresh valid ID number of a child (born 2016-09-01)."""
    return id_number(f"52010320160901{next(_sequence) % 1000:03d}")


def elderly_id() -> str:
    """A fresh valid ID number of someone born in 1950."""
    return id_number(f"52010319500101{next(_sequence) % 1000:03d}")


def declaration(**changes: Any) -> dict[str, Any]:
    """A complete health declaration: no symptoms, 36.5 °C, no travel, no contact."""
    return {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False, **changes}


def form(number: str | None = None, **changes: Any) -> dict[str, Any]:
    """A complete application body (Guiyang resident); ``changes`` replace whole fields."""
    body: dict[str, Any] = {
        "name": "张三",
        "id_number": number or id_number(),
        "phone": "13800000000",
        "address": "贵州省贵阳市云岩区中华北路1号",
        "region_code": "520103",
        "declaration": declaration(),
    }
    body.update(changes)
    return body


def png_text(data: bytes) -> str:
    """The text of the one QR symbol in a PNG."""
    return str(decode(Image.open(io.BytesIO(data))).text)


def svg_text(data: bytes) -> str:
    """The text of the QR symbol an SVG from ``healthcode.codes.qr`` draws (its path, rasterised)."""
    root = ET.fromstring(data)
    path = root.find(f".//{SVG}path")
    assert path is not None, "no path in the SVG"
    side = int(root.get("viewBox", "0 0 0 0").split()[2])
    matrix = modules_from_path(path.get("d", ""), side - 2 * qr.QUIET_ZONE, offset=qr.QUIET_ZONE)
    return str(decode(matrix_image(matrix)).text)
