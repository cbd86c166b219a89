"""Make moto's DynamoDB transactions (and Queries) cost what they cost in DynamoDB, for the local
stack.

moto's ``transact_write_items`` deep-copies every table a transaction touches so it can roll
back — O(table size) per transaction: 68 ms on a 3,000-item table, which made the local stack
measure moto instead of HealthCode (the colour consumer writes one transaction per person).

The local stack serialises moto's requests (``stack.serial_moto_server``), so a transaction can
instead check every condition first and write only when all hold: the same all-or-nothing
outcome and the same ``TransactionCanceledException`` reasons, with no copy. If a write still
fails while applying (an invalid update expression), the items already written are put back
from a per-item backup.

Applied by the local stack and by every stream pump (``infra.local.streams.StreamPump``): moto's
rollback replaces each table a cancelled transaction touched with its copy, and a stream reader
holding shard iterators of the replaced table never sees another record of it. Handler tests
that pump no stream keep moto's own implementation.
"""

from __future__ import annotations

from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.comparisons import get_filter_expression as filter_expression
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen: set[tuple[str, str]] = set()
        plans: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
        errors: list[tuple[Any, Any, Any]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            original = None
            if condition is not None:
                check = filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", original))
                    continue
            errors.append((None, None, None))
            plans.append((op_type, op, table_name, key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        backup: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, op, table_name, key in plans:
                if op_type == "ConditionCheck":
                    continue
                backup.append((table_name, key, self.get_item(table_name, key)))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name, key, expression_attribute_names=names, expression_attribute_values=values
                    )
                else:
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except (MockValidationException, MultipleTransactionsException):
            _restore(self, backup)
            raise
        except Exception as error:
            _restore(self, backup)
            raise TransactionCanceledException([(type(error).__name__, str(error), None)]) from error

    DynamoDBBackend.transact_write_items = transact_write_items
    _query_one_partition()
    _applied = True


def _query_one_partition() -> None:
    """A Query on a table's own key reads that partition's items only.

    moto answers every Query by sorting all the table's items and keeping those of the partition
    asked for: O(table size) per call, where DynamoDB reads the partition. The colour consumer
    queries each person's facts (a thousand Queries for a station's contacts, over a table of
    thousands of facts), so the local stack measured moto's sort. moto's own query runs
    unchanged over a view of the table whose ``all_items`` holds the partition; index queries
    keep moto's way (a query on an index reads all items, as before)."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    class OnePartition:
        def __init__(self, table: Any, hash_key: Any) -> None:
            self._table = table
            self._hash_key = hash_key

        def __getattr__(self, name: str) -> Any:
            return getattr(self._table, name)

        def all_items(self) -> list[Any]:
            found = self._table.items.get(self._hash_key)
            if found is None:
                return []
            if self._table.range_key_attr:
                return sorted(found.values(), key=lambda item: item.range_key)
            return [found]

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        view: Any = OnePartition(self, hash_key)
        return original(view, hash_key, *args, **kwargs)

    Table.query = query  # type: ignore[method-assign]


def _restore(backend: Any, backup: list[tuple[str, dict[str, Any], Any]]) -> None:
    for table_name, key, previous in reversed(backup):
        if previous is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, previous.to_json()["Attributes"])
