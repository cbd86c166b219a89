"""Checkpoint fever facts, each taken from its scanner's hourly allowance in the same write.

A fever measured at a checkpoint may become a FEVER fact (``services.counters``); one scanner
account must not be able to turn many people yellow, so each fact also uses one unit of the
scanner's limit (``storage.limits``, scope ``SCOPE``, the fixed hour holding the scan's instant).
Both are ONE TransactWriteItems:

* the fact, on condition that it does not exist yet (its id comes from the scan id);
* the limit's counter update, on condition that the hour's count stays within the limit.

So a redelivered or replayed scan (its fact already written) takes nothing from the allowance, a
scan past the limit writes nothing (the scan itself stays recorded and counted), and no crash can
leave a unit used without its fact or a fact without its unit. The window is the scan's own hour,
not the hour it is processed in, so a redelivery decides the same way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from healthcode.rules import colour
from healthcode.storage import facts, limits
from healthcode.storage.connection import connection
from healthcode.storage.models import Fact

__all__ = ["SCOPE", "Written", "add_limited", "used"]

#: The limit's scope in LimitsTable (``fever_facts#<hour start>#<scanner>``).
SCOPE: Final = "fever_facts"


class Written(StrEnum):
    NEW = "new"  # the fact was written and one unit of the allowance used
    ALREADY = "already"  # the fact was there (a redelivery): nothing written, nothing used
    OVER_LIMIT = "over_limit"  # the scanner's hour is used up: no fact


def _put_position(transaction: TransactWrite, operation: object) -> int | None:
    """Where a put sits in the TransactItems pynamodb sends (checks, deletes, puts, updates)."""
    order = [
        *transaction._condition_check_items,
        *transaction._delete_items,
        *transaction._put_items,
        *transaction._update_items,
    ]
    return next((i for i, item in enumerate(order) if item is operation), None)


def add_limited(
    person_id: str, fact: colour.Fact, *, source: str, scanner: str, limit: int, window_seconds: int
) -> Written:
    """Write ``fact`` (its ``recorded_at`` set) for ``person_id`` if it is new and ``scanner``'s
    window holding the fact's start has room; see the module's docstring."""
    if fact.recorded_at is None:
        raise ValueError("a checkpoint fever fact carries the instant it was recorded")
    item = facts.item_for(person_id, fact, recorded_at=fact.recorded_at, source=source)
    transaction = TransactWrite(connection=connection())
    try:
        with transaction:
            transaction.save(item, condition=Fact.fact_id.does_not_exist())
            put = transaction._put_items[-1]
            use = limits.charge(
                transaction, SCOPE, scanner, limit=limit, window_seconds=window_seconds, now=fact.starts_at
            )
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        position = _put_position(transaction, put)
        if position is not None and position < len(reasons):
            reason = reasons[position]
            if reason is not None and reason.code == "ConditionalCheckFailed":
                return Written.ALREADY
        if use.refused(error):
            return Written.OVER_LIMIT
        raise
    return Written.NEW


def used(scanner: str, *, window_seconds: int, now: datetime) -> int:
    """How many fever facts ``scanner`` caused in the window holding ``now`` (operators, tests)."""
    return limits.used(SCOPE, scanner, window_seconds=window_seconds, now=now)
