"""Display masks for personal data: the answers' ``name_masked``, ``id_masked`` and ``phone_masked``.

Each mask keeps the length of its input and replaces every hidden character with ``*``; what
stays visible is fixed and small:

* ID number: the first 4 and the last 4 characters (``5201**********1234``), and only when at
  least 6 remain hidden (14 characters or more, so both the 15- and 18-digit forms qualify);
  anything shorter is masked entirely.
* Other identity documents (``mask_document``): a passport or permit number shows its first
  and its last 2 characters when at least 4 remain hidden (``E******78``, ``1*****78``),
  else nothing; a permanent-resident card shows its first 3 and last 3 (``USA*********211``,
  ``911************01X``) when at least 6 remain hidden. A resident ID is masked as above.
* Phone: the first 3 and the last 4 (``138****0000``), only when at least 4 remain hidden (11
  characters or more); anything shorter is masked entirely.
* Name: a name written without spaces, or with any CJK (wide) character in it, shows only its
  first character (``张*``, ``欧***``, ``阿*******``); a one-character name shows nothing
  (``*``). A name of space-separated words in other scripts shows the first letter of each word
  of two or more letters (``John Smith`` -> ``J*** S****``; ``John A Smith`` ->
  ``J*** * S****``), runs of spaces counted as one.

Surrounding whitespace is ignored; ``None`` and empty input give ``""``. No input raises.
"""

from __future__ import annotations

import unicodedata
from typing import Final

MASK: Final = "*"

_ID_VISIBLE_HEAD: Final = 4
_ID_VISIBLE_TAIL: Final = 4
_ID_MIN_HIDDEN: Final = 6
_PHONE_VISIBLE_HEAD: Final = 3
_PHONE_VISIBLE_TAIL: Final = 4
_PHONE_MIN_HIDDEN: Final = 4


def mask_id_number(value: str | None) -> str:
    """``520102199003071234`` -> ``5201**********1234``."""
    return _keep_ends(_clean(value), _ID_VISIBLE_HEAD, _ID_VISIBLE_TAIL, _ID_MIN_HIDDEN)


#: Characters kept at each end per document type (head, tail, fewest hidden); others as an ID number.
_DOCUMENT_ENDS: Final[dict[str, tuple[int, int, int]]] = {
    "passport": (1, 2, 4),
    "hk_macao_permit": (1, 2, 4),
    "taiwan_permit": (1, 2, 4),
    "foreign_permanent_resident": (3, 3, 6),
}


def mask_document(value: str | None, id_type: str | None = "resident_id") -> str:
    """The mask of an identity document's number by its type (``resident_id``: ``mask_id_number``)."""
    ends = _DOCUMENT_ENDS.get(id_type or "resident_id")
    if ends is None:
        return mask_id_number(value)
    return _keep_ends(_clean(value), *ends)


def mask_phone(value: str | None) -> str:
    """``13800000000`` -> ``138****0000``."""
    return _keep_ends(_clean(value), _PHONE_VISIBLE_HEAD, _PHONE_VISIBLE_TAIL, _PHONE_MIN_HIDDEN)


def mask_name(value: str | None) -> str:
    """``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``, ``John Smith`` -> ``J*** S****``."""
    words = _clean(value).split()
    if not words:
        return ""
    if len(words) == 1 or any(_is_wide(character) for word in words for character in word):
        return _keep_first(" ".join(words))
    return " ".join(_keep_first(word) for word in words)


def _clean(value: str | None) -> str:
    return value.strip() if isinstance(value, str) else ""


def _keep_ends(value: str, head: int, tail: int, min_hidden: int) -> str:
    hidden = len(value) - head - tail
    if hidden < min_hidden:
        return MASK * len(value)
    return value[:head] + MASK * hidden + value[len(value) - tail :]


def _keep_first(text: str) -> str:
    """``text`` with all but its first character masked; a one-character text masked entirely."""
    if len(text) < 2:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 1)


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F")
