"""TransactWriteItems: all or nothing, and one cancellation reason per item, on both engines."""

from __future__ import annotations

from typing import Any

import pytest
from healthcode.storage.base import BaseMeta
from healthcode.storage.connection import TableName
from healthcode.storage.transactions import Transaction
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from tests.storage.conftest import Engine, Tables, unique


class Row(Model):
    """A plain item of the cases table (``pk``/``sk``), as the case services write them."""

    class Meta(BaseMeta):
        table_name = TableName("CasesTable")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute(default=1)


def _key(pk: str, sk: str = "CASE") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _put(table: str, pk: str, *, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": {**_key(pk), "version": {"N": "1"}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _exists(engine: Engine, table: str, pk: str) -> bool:
    return "Item" in engine.dynamodb.get_item(TableName=table, Key=_key(pk), ConsistentRead=True)


def test_one_refused_item_cancels_all_with_a_reason_per_item(engine: Engine, tables: Tables) -> None:
    table = tables.name("CasesTable")
    taken, first, last = unique("taken"), unique("first"), unique("last")
    engine.dynamodb.put_item(TableName=table, Item={**_key(taken), "version": {"N": "4"}})
    items = [
        _put(table, first, condition="attribute_not_exists(pk)"),
        {
            "Update": {
                "TableName": table,
                "Key": _key(taken),
                "UpdateExpression": "SET version = :next",
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":next": {"N": "2"}, ":read": {"N": "1"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        _put(table, last),
    ]
    with pytest.raises(engine.dynamodb.exceptions.TransactionCanceledException) as cancelled:
        engine.dynamodb.transact_write_items(TransactItems=items)
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == {**_key(taken), "version": {"N": "4"}}
    assert not _exists(engine, table, first)
    assert not _exists(engine, table, last)


def test_a_condition_check_on_a_missing_item_refuses(engine: Engine, tables: Tables) -> None:
    """``ConditionCheck`` with ``attribute_exists``: a write that needs another item to exist
    (a store under its complex) is cancelled when it does not."""
    table = tables.name("CasesTable")
    written = unique("written")
    items = [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": _key(unique("missing")),
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
        _put(table, written),
    ]
    with pytest.raises(engine.dynamodb.exceptions.TransactionCanceledException) as cancelled:
        engine.dynamodb.transact_write_items(TransactItems=items)
    codes = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert codes == ["ConditionalCheckFailed", "None"]
    assert not _exists(engine, table, written)


def test_two_operations_on_one_item_are_invalid(engine: Engine, tables: Tables) -> None:
    """Not a cancellation: a request error, so no caller mistakes it for a lost race."""
    table = tables.name("CasesTable")
    same = unique("same")
    with pytest.raises(engine.dynamodb.exceptions.ClientError) as invalid:
        engine.dynamodb.transact_write_items(TransactItems=[_put(table, same), _put(table, same)])
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert not _exists(engine, table, same)


def test_a_hundred_items_is_the_limit(engine: Engine, tables: Tables) -> None:
    table = tables.name("CasesTable")
    batch = unique("batch")
    engine.dynamodb.transact_write_items(TransactItems=[_put(table, f"{batch}-{n}") for n in range(100)])
    assert _exists(engine, table, f"{batch}-99")
    with pytest.raises(engine.dynamodb.exceptions.ClientError) as invalid:
        engine.dynamodb.transact_write_items(
            TransactItems=[_put(table, f"{batch}-over-{n}") for n in range(101)]
        )
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert not _exists(engine, table, f"{batch}-over-0")


def test_the_refused_items_are_named_whatever_order_they_were_added_in(storage_on: Engine) -> None:
    """storage/transactions.py: pynamodb sends checks, deletes, puts, then updates, and the
    engine answers one reason per item as sent; ``Transaction.commit`` must name the item whose
    condition refused the write, not the one added at that position."""
    kept, stale, gone = unique("kept"), unique("stale"), unique("gone")
    Row(pk=kept, sk="CASE", version=1).save()
    Row(pk=stale, sk="CASE", version=3).save()
    Row(pk=gone, sk="CASE", version=1).save()
    transaction = Transaction()
    transaction.update(
        "stale-update", Row(pk=stale, sk="CASE"), actions=[Row.version.set(4)], condition=Row.version == 2
    )
    transaction.save("new-case", Row(pk=unique("new"), sk="CASE"), condition=Row.pk.does_not_exist())
    transaction.delete("kept-delete", Row(pk=gone, sk="CASE"), condition=Row.version == 1)
    transaction.check("kept-check", Row, kept, "CASE", condition=Row.version == 1)
    assert transaction.commit() == frozenset({"stale-update"})
    assert Row.get(gone, "CASE", consistent_read=True).version == 1  # nothing was written


def test_a_transaction_that_holds_writes_every_item(storage_on: Engine) -> None:
    first, second = unique("first"), unique("second")
    Row(pk=second, sk="CASE", version=1).save()
    transaction = Transaction()
    transaction.save("first", Row(pk=first, sk="CASE", version=1), condition=Row.pk.does_not_exist())
    transaction.update(
        "second", Row(pk=second, sk="CASE"), actions=[Row.version.add(1)], condition=Row.version == 1
    )
    assert transaction.commit() == frozenset()
    assert Row.get(first, "CASE", consistent_read=True).version == 1
    assert Row.get(second, "CASE", consistent_read=True).version == 2
