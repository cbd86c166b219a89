"""Per-account limits as atomic counters in fixed windows (LimitsTable).

A limit is "at most ``limit`` uses of ``scope`` by ``actor`` per ``window_seconds``". Each
(scope, actor, window) is one item, ``id = <scope>#<window start, epoch seconds>#<actor>``,
and a use is ONE conditional ``UpdateItem``::

    ADD used :amount   IF attribute_not_exists(used) OR used <= :limit - :amount

so any number of concurrent requests get exactly ``limit`` successes between them: DynamoDB
applies each update atomically against the item as it is, never a count read earlier
(count-then-write lets every concurrent request see the same old count). A refused use writes
nothing. ``expiration`` (the table's TTL attribute) is set a day after the window's end, so
old windows delete themselves; a window's count is only ever read by its own key, never listed,
so a window past its end that TTL has not removed yet changes nothing.

Windows are fixed, aligned to Beijing time (UTC+08:00): a day window runs from local midnight to
midnight, an hour window on the hour. A refused caller is told when the window ends
(``RateLimited.retry_after``, sent as ``Retry-After``).

Three ways to use a limit:

* ``take``: count one use or raise ``RateLimited`` (429 ``rate_limited``);
* ``try_take``: the same, answering False instead of raising (a use over the limit goes another
  way: an official's action waiting for a second official, a fever reading kept as a scan only);
* ``charge``: put the counter update into a ``TransactWrite`` together with the domain write,
  when both must happen or neither; after a ``TransactWriteError``, ``Charge.refused(error)``
  says whether it was this limit that refused (reasons mapped by item, not by position: pynamodb
  orders a transaction's items by kind, not in the order they were added).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from healthcode.errors import RateLimited
from healthcode.storage.models import LimitCounter

__all__ = [
    "DAY",
    "HOUR",
    "Charge",
    "Limit",
    "LimitCounter",
    "Window",
    "charge",
    "counter_id",
    "take",
    "try_take",
    "used",
    "window_of",
]

HOUR: Final = 3600
DAY: Final = 24 * HOUR
#: Windows are aligned to Beijing time: local midnight starts a day window.
_LOCAL_OFFSET: Final = 8 * HOUR
#: How long after its window's end a counter item is kept before TTL may delete it.
_KEEP_AFTER_SECONDS: Final = DAY


@dataclass(frozen=True)
class Window:
    start: int  # epoch seconds
    end: int  # epoch seconds (exclusive)

    def retry_after(self, now: datetime) -> int:
        """Whole seconds from ``now`` to the window's end (at least 1)."""
        return max(1, math.ceil(self.end - now.timestamp()))

    @property
    def expiration(self) -> int:
        return self.end + _KEEP_AFTER_SECONDS


def window_of(now: datetime, window_seconds: int) -> Window:
    """The fixed window holding ``now`` (aligned to Beijing time)."""
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = math.floor(now.astimezone(UTC).timestamp()) + _LOCAL_OFFSET
    start = local - local % window_seconds - _LOCAL_OFFSET
    return Window(start, start + window_seconds)


def _check_scope(scope: str) -> None:
    if not scope or "#" in scope:
        raise ValueError("a limit's scope is a non-empty name without '#'")


def counter_id(scope: str, actor: str, window: Window) -> str:
    """The counter item's key (``scope`` has no ``#``, so the id reads back unambiguously)."""
    _check_scope(scope)
    return f"{scope}#{window.start}#{actor}"


def _update(
    counter: LimitCounter, *, limit: int, amount: int, window: Window
) -> tuple[list[Action], Condition]:
    actions: list[Action] = [
        LimitCounter.used.add(amount),
        LimitCounter.expiration.set(window.expiration),
    ]
    condition = LimitCounter.used.does_not_exist() | (LimitCounter.used <= limit - amount)
    return actions, condition


def _refusal(scope: str, limit: int, window_seconds: int, window: Window, now: datetime) -> RateLimited:
    per = {HOUR: "an hour", DAY: "a day"}.get(window_seconds, f"per {window_seconds} seconds")
    return RateLimited(
        f"limit reached: at most {limit} {scope.replace('_', ' ')} {per}; try again later",
        retry_after=window.retry_after(now),
    )


def _validate(limit: int, amount: int) -> None:
    if amount < 1:
        raise ValueError("amount must be at least 1")
    if limit < 0:
        raise ValueError("limit must not be negative")


def try_take(
    scope: str, actor: str, *, limit: int, window_seconds: int, now: datetime, amount: int = 1
) -> bool:
    """Count ``amount`` uses of ``scope`` by ``actor`` in the window holding ``now`` if that keeps
    the window's count within ``limit``: True when counted, False (nothing written) when not."""
    _validate(limit, amount)
    window = window_of(now, window_seconds)
    counter = LimitCounter(counter_id(scope, actor, window))
    if amount > limit:
        return False
    actions, condition = _update(counter, limit=limit, amount=amount, window=window)
    try:
        counter.update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def take(scope: str, actor: str, *, limit: int, window_seconds: int, now: datetime, amount: int = 1) -> None:
    """``try_take``, raising ``RateLimited`` (429 ``rate_limited``, ``Retry-After`` = seconds to
    the window's end) when the use would pass the limit."""
    if not try_take(scope, actor, limit=limit, window_seconds=window_seconds, now=now, amount=amount):
        raise _refusal(scope, limit, window_seconds, window_of(now, window_seconds), now)


@dataclass(frozen=True)
class Limit:
    """One account's limit, for a storage write to charge in its own transaction
    (``charge(transaction, **vars(limit), now=...)``)."""

    scope: str
    actor: str
    limit: int
    window_seconds: int


@dataclass
class Charge:
    """A limit's counter update inside a ``TransactWrite`` (see ``charge``)."""

    transaction: TransactWrite
    operation: dict[str, Any]
    scope: str
    limit: int
    window_seconds: int
    window: Window
    now: datetime

    def _position(self) -> int | None:
        """Where the update sits in the TransactItems pynamodb sends (checks, deletes, puts,
        updates: the order ``Connection.transact_write_items`` builds)."""
        t = self.transaction
        order = [*t._condition_check_items, *t._delete_items, *t._put_items, *t._update_items]
        return next((i for i, item in enumerate(order) if item is self.operation), None)

    def refused(self, error: TransactWriteError) -> bool:
        """Whether ``error`` is this limit refusing the use (its condition failed)."""
        reasons = error.cancellation_reasons or []
        position = self._position()
        if position is None or position >= len(reasons):
            return False
        reason = reasons[position]
        return reason is not None and reason.code == "ConditionalCheckFailed"

    def rate_limited(self) -> RateLimited:
        """The 429 to raise when ``refused``."""
        return _refusal(self.scope, self.limit, self.window_seconds, self.window, self.now)


def charge(
    transaction: TransactWrite,
    scope: str,
    actor: str,
    *,
    limit: int,
    window_seconds: int,
    now: datetime,
    amount: int = 1,
) -> Charge:
    """Add the counter update for ``amount`` uses to ``transaction``: the transaction then
    commits only if the use stays within the limit. Usage::

        try:
            with TransactWrite(connection=connection()) as t:
                t.save(item, condition=...)
                use = limits.charge(t, "appeals", sub, limit=3, window_seconds=limits.DAY, now=now)
        except TransactWriteError as error:
            if use.refused(error):
                raise use.rate_limited() from error
            raise

    An ``amount`` over ``limit`` can never fit: the update's condition is then one that always
    fails, so the transaction is refused and ``refused`` answers True."""
    _validate(limit, amount)
    window = window_of(now, window_seconds)
    counter = LimitCounter(counter_id(scope, actor, window))
    actions, condition = _update(counter, limit=limit, amount=amount, window=window)
    if amount > limit:
        condition = LimitCounter.used.does_not_exist() & LimitCounter.used.exists()
    before = len(transaction._update_items)
    transaction.update(counter, actions=actions, condition=condition)
    operation = transaction._update_items[before]
    return Charge(transaction, operation, scope, limit, window_seconds, window, now)


def used(scope: str, actor: str, *, window_seconds: int, now: datetime) -> int:
    """The window's count so far (operators and tests; functions are granted updates only)."""
    window = window_of(now, window_seconds)
    try:
        item = LimitCounter.get(counter_id(scope, actor, window), consistent_read=True)
    except LimitCounter.DoesNotExist:
        return 0
    return int(item.used or 0)
