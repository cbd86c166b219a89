"""Cursors of paged lists: where the next page starts (the last key a Query returned, or the
parts of it a list needs), as URL-safe text, and back. A list checks that a cursor it is given
names its own partition and shape; anything else is 422 ``invalid_cursor``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from healthcode.errors import InvalidInput

__all__ = ["decode", "encode", "refused"]


def refused() -> InvalidInput:
    return InvalidInput("cursor is not one this list gave", field="cursor", code="invalid_cursor")


def encode(plain: Mapping[str, str]) -> str:
    text = json.dumps(dict(plain), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, names: frozenset[str]) -> dict[str, str]:
    """The parts of a cursor :func:`encode` made with exactly ``names``, each a non-empty string;
    else 422 ``invalid_cursor``."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise refused() from error
    if (
        not isinstance(plain, dict)
        or set(plain) != names
        or not all(isinstance(value, str) and value for value in plain.values())
    ):
        raise refused()
    return {str(name): str(value) for name, value in plain.items()}
