"""Checkpoint staff (``PUT/DELETE/GET /v1/venues/{venue_id}/staff``): the accounts that may
record verifications and manual registrations at a venue.

Only the venue's manager or an official may assign, remove and list its staff (others: 403
``not_venue_manager``; an unknown venue: 404, as the other venue routes answer). Any account id
may be assigned: its ``scanner`` role is checked when it acts, not here (an account may get the
role after it was assigned, and losing the role is enough to stop it). An assignment to a complex
covers its doors and stores. Every assignment and removal is on the venue's audit trail, written
in the same transaction.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.forms import check_page_size as page_size
from healthcode.services import venues
from healthcode.storage import staff as store
from healthcode.storage.staff import Assignment

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "MAX_SUB_CHARS",
    "Assignment",
    "Page",
    "assign",
    "check_page_size",
    "check_sub",
    "listed",
    "remove",
]

logger = get_logger("staff")

#: Longest account id (``sub``) that may be assigned.
MAX_SUB_CHARS: Final = 128
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500


def check_sub(value: object, *, field: str = "sub") -> str:
    """An account id that can be assigned: 1 to 128 characters, no whitespace, no control or
    format characters, no ``#`` (the system's own ids such as ``unclaimed#…`` use it)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_SUB_CHARS
        or "#" in value
        or any(
            char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in value
        )
    ):
        raise InvalidInput(
            f"{field} must be an account id: 1 to {MAX_SUB_CHARS} printable characters without '#' or spaces",
            field=field,
            code="invalid_sub",
        )
    return value


def check_page_size(raw: str | None) -> int:
    """``?limit=``: 1 to 500, 100 when absent; else 422 ``invalid_limit``."""
    return page_size(raw, default=DEFAULT_PAGE, maximum=MAX_PAGE)


def assign(venue_id: str, sub: str, who: Caller) -> Assignment:
    """Assign account ``sub`` to the venue (again: the standing assignment)."""
    venue = venues.managed(venue_id, who, officials=True)
    account = check_sub(sub)
    assignment = store.assign(venue.venue_id, account, by=who.sub, now=clock.now())
    logger.info("staff assigned", extra={"venue_id": venue.venue_id})
    return assignment


def remove(venue_id: str, sub: str, who: Caller) -> None:
    """Remove account ``sub`` from the venue; removing an account that is not assigned is no
    error (a retried DELETE answers as the first did) and writes nothing."""
    venue = venues.managed(venue_id, who, officials=True)
    account = check_sub(sub)
    if store.remove(venue.venue_id, account, by=who.sub, now=clock.now()):
        logger.info("staff removed", extra={"venue_id": venue.venue_id})


@dataclass(frozen=True)
class Page:
    staff: list[Assignment]
    next_cursor: str | None


def listed(venue_id: str, who: Caller, *, limit: int, cursor: str | None) -> Page:
    """One page of the venue's staff (one Query)."""
    venue = venues.managed(venue_id, who, officials=True)
    items, following = store.of_venue(venue.venue_id, limit=limit, cursor=cursor)
    return Page(staff=items, next_cursor=following)
