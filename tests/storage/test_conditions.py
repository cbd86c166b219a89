"""Conditional writes, as HealthCode's optimistic locking and guards use them, on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.storage.conftest import Engine, Tables, unique


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code"))


def _put(engine: Engine, table: str, item: dict[str, Any], **condition: Any) -> None:
    engine.dynamodb.put_item(TableName=table, Item=item, **condition)


def test_a_claim_is_written_once(engine: Engine, tables: Tables) -> None:
    """``attribute_not_exists`` on the key: the guard behind ID-number claims and idempotency."""
    table = tables.name("RequestsTable")
    key = unique("claim")
    guard = {"ConditionExpression": "attribute_not_exists(request_id)"}
    _put(engine, table, {"request_id": _s(key), "holder": _s("first")}, **guard)
    with pytest.raises(engine.dynamodb.exceptions.ConditionalCheckFailedException):
        _put(engine, table, {"request_id": _s(key), "holder": _s("second")}, **guard)
    stored = engine.dynamodb.get_item(TableName=table, Key={"request_id": _s(key)}, ConsistentRead=True)
    assert stored["Item"]["holder"] == _s("first")


def test_a_version_condition_lets_one_writer_through(engine: Engine, tables: Tables) -> None:
    """Optimistic locking: the write conditioned on the version read wins once; a writer that
    read the same version is refused and the stored version moves on by one."""
    table = tables.name("RequestsTable")
    key = {"request_id": _s(unique("versioned"))}
    _put(engine, table, {**key, "version": _n(1), "state": _s("open")})

    def write(state: str) -> None:
        engine.dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :s, version = version + :one",
            ConditionExpression="version = :read",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": _s(state), ":one": _n(1), ":read": _n(1)},
        )

    write("approved")
    with pytest.raises(engine.dynamodb.exceptions.ConditionalCheckFailedException):
        write("refused")
    stored = engine.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert stored["state"] == _s("approved")
    assert stored["version"] == _n(2)


def test_a_refused_write_can_return_the_item_it_found(engine: Engine, tables: Tables) -> None:
    """``ReturnValuesOnConditionCheckFailure=ALL_OLD``: the counters read what refused them from
    the error itself, without a second read (storage/stats.py)."""
    table = tables.name("RequestsTable")
    key = {"request_id": _s(unique("counter"))}
    _put(engine, table, {**key, "count": _n(7)})
    with pytest.raises(engine.dynamodb.exceptions.ConditionalCheckFailedException) as refused:
        engine.dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #c :one",
            ConditionExpression="#c < :limit",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": _n(1), ":limit": _n(5)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert refused.value.response["Item"] == {**key, "count": _n(7)}


def test_a_comparison_with_a_missing_attribute_is_false(engine: Engine, tables: Tables) -> None:
    """``a < :x`` where ``a`` is absent does not hold (neither does its negation's partner
    ``a >= :x``): a guard must say ``attribute_not_exists(a) OR a < :x`` to admit new items."""
    table = tables.name("RequestsTable")
    key = {"request_id": _s(unique("absent"))}
    _put(engine, table, {**key})
    for condition in ("expires < :x", "expires >= :x"):
        with pytest.raises(engine.dynamodb.exceptions.ConditionalCheckFailedException):
            engine.dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET expires = :x",
                ConditionExpression=condition,
                ExpressionAttributeValues={":x": _n(10)},
            )
    engine.dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET expires = :x",
        ConditionExpression="attribute_not_exists(expires) OR expires < :x",
        ExpressionAttributeValues={":x": _n(10)},
    )


def test_an_update_creates_the_item_it_conditions_on_being_absent(engine: Engine, tables: Tables) -> None:
    """An UpdateItem on a missing key writes it (the counters' first increment), with
    ``if_not_exists`` seeding a value and ``ADD`` starting from zero."""
    table = tables.name("RequestsTable")
    key = {"request_id": _s(unique("upsert"))}
    for _ in range(3):
        engine.dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET first_seen = if_not_exists(first_seen, :now) ADD hits :one",
            ExpressionAttributeValues={":now": _s("2022-05-18T02:00:00.000000Z"), ":one": _n(1)},
        )
    stored = engine.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert stored == {**key, "first_seen": _s("2022-05-18T02:00:00.000000Z"), "hits": _n(3)}


def test_an_invalid_expression_is_a_validation_error_not_a_refusal(engine: Engine, tables: Tables) -> None:
    """A malformed request is ``ValidationException`` (a bug: 500), never a condition refusal
    (which callers turn into 409): the two must not be confused."""
    table = tables.name("RequestsTable")
    with pytest.raises(engine.dynamodb.exceptions.ClientError) as invalid:
        engine.dynamodb.update_item(
            TableName=table,
            Key={"request_id": _s(unique("invalid"))},
            UpdateExpression="SET a = :undefined",
            ExpressionAttributeValues={":x": _n(1)},
        )
    assert _error_code(invalid.value) == "ValidationException"
