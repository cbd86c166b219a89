"""The local stack's copy-free moto transactions keep DynamoDB's all-or-nothing semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthcode import aws
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from infra.local import moto_patches


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    monkeypatch.setattr(moto_patches, "_applied", False)
    moto_patches.apply()
    with mock_aws():
        aws.reset()
        client = aws.client("dynamodb")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        yield client
        aws.reset()


def put(item_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "t",
            "Item": {"id": {"S": item_id}, **extra},
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }


def ids(client: Any) -> set[str]:
    found = set()
    for name in ("a", "b", "c"):
        if "Item" in client.get_item(TableName="t", Key={"id": {"S": name}}):
            found.add(name)
    return found


def test_all_conditions_hold_so_everything_is_written(table: Any) -> None:
    table.transact_write_items(TransactItems=[put("a"), put("b")])
    assert ids(table) == {"a", "b"}


def test_one_failed_condition_writes_nothing_and_names_the_reason(table: Any) -> None:
    table.put_item(TableName="t", Item={"id": {"S": "b"}, "v": {"N": "1"}})
    failing = dict(put("b"))
    failing["Put"] = dict(failing["Put"], ReturnValuesOnConditionCheckFailure="ALL_OLD")
    with pytest.raises(ClientError) as caught:
        table.transact_write_items(TransactItems=[put("a"), failing])
    reasons = caught.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["v"] == {"N": "1"}
    assert ids(table) == {"b"}


def test_an_invalid_update_undoes_the_writes_before_it(table: Any) -> None:
    bad_update = {
        "Update": {
            "TableName": "t",
            "Key": {"id": {"S": "c"}},
            "UpdateExpression": "ADD v :text",
            "ExpressionAttributeValues": {":text": {"S": "x"}},
        }
    }
    with pytest.raises(ClientError):
        table.transact_write_items(TransactItems=[put("a"), bad_update])
    assert ids(table) == set()


def test_two_operations_on_one_item_are_refused(table: Any) -> None:
    with pytest.raises(ClientError):
        table.transact_write_items(TransactItems=[put("a"), put("a")])
    assert ids(table) == set()


def test_a_stream_reader_sees_the_records_written_after_a_cancelled_transaction(table: Any) -> None:
    """moto's own rollback swaps the table for a copy, and an iterator taken before it then reads
    nothing more (the fault suite's replays lost the colour of three contacts that way); the
    copy-free transactions keep the table, so a reader loses no record."""
    table.update_table(
        TableName="t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    streams = aws.client("dynamodbstreams")
    arn = table.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    table.put_item(TableName="t", Item={"id": {"S": "b"}})
    with pytest.raises(ClientError):
        table.transact_write_items(TransactItems=[put("b")])
    table.put_item(TableName="t", Item={"id": {"S": "c"}})

    seen = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator)
        if not answer["Records"]:
            break
        seen += [r["dynamodb"]["Keys"]["id"]["S"] for r in answer["Records"]]
        iterator = answer.get("NextShardIterator")
    assert seen == ["b", "c"]


@pytest.fixture
def ranged(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A table with a sort key, its partitions filled out of order, on the patched moto."""
    from moto.dynamodb.models.table import Table

    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    monkeypatch.setattr(moto_patches, "_applied", False)
    moto_patches.apply()
    with mock_aws():
        aws.reset()
        client = aws.client("dynamodb")
        client.create_table(
            TableName="r",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        for sk in ("d", "a", "e", "c", "b"):
            for pk in ("p3", "p1", "p2"):
                client.put_item(TableName="r", Item={"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": pk + sk}})
        yield client
        aws.reset()


def pages(client: Any, **query: Any) -> list[list[str]]:
    found: list[list[str]] = []
    start: dict[str, Any] = {}
    while True:
        answer = client.query(TableName="r", Limit=2, **query, **start)
        found.append([item["v"]["S"] for item in answer["Items"]])
        if "LastEvaluatedKey" not in answer:
            return found
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


def test_a_query_on_the_table_key_reads_its_partition_in_order_page_by_page(ranged: Any) -> None:
    """The patched Query (one partition, not the whole table) answers as DynamoDB does: that
    partition's items only, in sort-key order either way, paged, with its sort-key condition."""
    key = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p2"}}}
    assert pages(ranged, **key) == [["p2a", "p2b"], ["p2c", "p2d"], ["p2e"]]
    assert pages(ranged, **key, ScanIndexForward=False) == [["p2e", "p2d"], ["p2c", "p2b"], ["p2a"]]
    between = {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": "p1"}, ":a": {"S": "b"}, ":b": {"S": "d"}},
    }
    assert pages(ranged, **between) == [["p1b", "p1c"], ["p1d"]]
    nobody = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p9"}}}
    assert pages(ranged, **nobody) == [[]]
