"""One ``TransactWriteItems`` whose refusals are told apart by item, not by position.

pynamodb sends a transaction's items grouped by operation (condition checks, deletes, puts,
updates), whatever order they were added in, and DynamoDB answers a cancelled transaction with
one reason per item *as sent*. Reading ``cancellation_reasons[0]`` as "the first item I added"
is therefore wrong as soon as a transaction mixes puts and updates (a concurrent approval then
looked like an unexpected error: a 500). Here every item is added under a name, and
:meth:`Transaction.commit` answers the names whose condition refused the write.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from healthcode.storage.connection import connection

__all__ = ["REFUSALS", "Transaction"]

#: Cancellation reasons that mean "this item's condition (or a concurrent transaction on the
#: same item) refused the write": the caller re-reads and decides; anything else is an error.
REFUSALS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class Transaction:
    """Items added by name; ``commit()`` writes them all or none."""

    def __init__(self) -> None:
        self._write = TransactWrite(connection=connection())
        self._checks: list[str] = []
        self._deletes: list[str] = []
        self._puts: list[str] = []
        self._updates: list[str] = []

    def _name(self, name: str) -> str:
        if name in (*self._checks, *self._deletes, *self._puts, *self._updates):
            raise ValueError(f"item {name!r} added twice")
        return name

    def check(
        self, name: str, model: type[Model], hash_key: Any, range_key: Any = None, *, condition: Condition
    ) -> None:
        self._write.condition_check(model, hash_key, range_key, condition=condition)
        self._checks.append(self._name(name))

    def save(self, name: str, item: Model, *, condition: Condition | None = None) -> None:
        self._write.save(item, condition=condition)
        self._puts.append(self._name(name))

    def update(
        self, name: str, item: Model, *, actions: list[Action], condition: Condition | None = None
    ) -> None:
        self._write.update(item, actions=actions, condition=condition)
        self._updates.append(self._name(name))

    def delete(self, name: str, item: Model, *, condition: Condition | None = None) -> None:
        self._write.delete(item, condition=condition)
        self._deletes.append(self._name(name))

    @property
    def sent_order(self) -> list[str]:
        """The names in the order pynamodb sends the items (and DynamoDB lists the reasons)."""
        return [*self._checks, *self._deletes, *self._puts, *self._updates]

    def commit(self) -> frozenset[str]:
        """Write every item; the names of the items whose condition refused it (empty: all
        written). A cancellation for any other reason (validation, throughput) is raised."""
        try:
            self._write._commit()
        except TransactWriteError as error:
            refused = refused_items(error, self.sent_order)
            if not refused:
                raise
            return refused
        return frozenset()


def refused_items(error: TransactWriteError, sent_order: list[str]) -> frozenset[str]:
    """The names (in ``sent_order``, as sent) of the items a cancelled transaction refused by
    condition or conflict; empty when it failed for another reason (or was not cancelled)."""
    reasons = error.cancellation_reasons or []
    refused = {
        name
        for name, reason in zip(sent_order, reasons, strict=False)
        if reason is not None and reason.code in REFUSALS
    }
    other = [reason for reason in reasons if reason is not None and reason.code not in REFUSALS | {"None"}]
    if other:
        return frozenset()
    return frozenset(refused)
