"""The one clock every handler, consumer and rule reads.

In AWS it is the system clock. The local stack moves it (``POST /_local/clock``) so tests can
let codes expire and quarantines end without waiting. Always timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """The current instant (aware, UTC)."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return datetime.now(UTC) + _offset


def timestamp() -> int:
    """Whole seconds since the epoch on this clock."""
    return int(now().timestamp())


def set_now(instant: datetime) -> None:
    """Jump the clock to ``instant``; it keeps running from there."""
    if instant.tzinfo is None:
        raise ValueError("the clock only takes timezone-aware instants")
    global _offset
    with _lock:
        _offset = instant - datetime.now(UTC)


def advance(seconds: float) -> None:
    global _offset, _frozen
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + timedelta(seconds=seconds)
        else:
            _offset = _offset + timedelta(seconds=seconds)


def freeze(instant: datetime) -> None:
    """Stop the clock at ``instant`` (unit tests)."""
    if instant.tzinfo is None:
        raise ValueError("the clock only takes timezone-aware instants")
    global _frozen
    with _lock:
        _frozen = instant.astimezone(UTC)


def reset() -> None:
    global _offset, _frozen
    with _lock:
        _offset = timedelta(0)
        _frozen = None


#: The earliest instant the system reads (the Unix epoch). Older text is a typing error, and an
#: instant near year 1 cannot be moved back by days, stored in the fixed-width keys (4-digit
#: years) or given a TTL (epoch seconds).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 with an offset (``Z`` accepted) into UTC. ``ValueError`` for a naive time,
    for text that is not printable ASCII (``fromisoformat`` stops reading at a NUL), and for an
    instant before :data:`EARLIEST` or beyond what UTC can show (9999-12-31T23:59-08:00)."""
    if not text.isascii() or not text.isprintable():
        raise ValueError("time must be ISO 8601 text, e.g. 2022-05-18T10:00:00+08:00")
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError("time must carry an offset, e.g. 2022-05-18T10:00:00+08:00")
    try:
        instant = value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("time out of range") from error
    if instant < EARLIEST:
        raise ValueError("time before 1970")
    return instant


CHINA = __import__("datetime").timezone(timedelta(hours=8), "CST")


def show(instant: datetime) -> str:
    """An instant as the API shows it: ISO 8601 at +08:00, whole seconds."""
    return instant.astimezone(CHINA).replace(microsecond=0).isoformat()
