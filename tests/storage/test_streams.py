"""DynamoDB Streams as the consumers read them: one record per change, in order per item, with
the images the table's view type promises; and the local stack's pump reading them."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.streams import StreamPump
from tests.storage.conftest import Engine, Tables, unique

#: What each view type puts in a record, per event: (NewImage, OldImage).
IMAGES = {
    "NEW_AND_OLD_IMAGES": {"INSERT": (True, False), "MODIFY": (True, True), "REMOVE": (False, True)},
    "NEW_IMAGE": {"INSERT": (True, False), "MODIFY": (True, False), "REMOVE": (False, False)},
    "KEYS_ONLY": {"INSERT": (False, False), "MODIFY": (False, False), "REMOVE": (False, False)},
}


def _streamed_tables() -> list[str]:
    from infra.local.template import ROOT_TEMPLATE, Template
    from tests.conftest import PROVINCE, REGION

    template = Template(ROOT_TEMPLATE, "test", {"Province": PROVINCE}, REGION)
    return [logical_id for logical_id, props in template.tables().items() if props.get("StreamSpecification")]


def _records(engine: Engine, table: str) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, shard by shard, oldest first."""
    arn = engine.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in engine.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = engine.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = engine.streams.get_records(ShardIterator=iterator, Limit=1000)
            records += page["Records"]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def _of(records: list[dict[str, Any]], key: dict[str, Any]) -> list[dict[str, Any]]:
    return [record for record in records if record["dynamodb"]["Keys"] == key]


def _key_and_item(tables: Tables, logical_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    props = tables.props(logical_id)
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    tag = unique("s")
    key = {k["AttributeName"]: {types[k["AttributeName"]]: tag} for k in props["KeySchema"]}
    return key, {**key, "state": {"S": "first"}}


@pytest.mark.parametrize("logical_id", _streamed_tables())
def test_each_change_is_one_record_in_order_with_the_promised_images(
    engine: Engine, tables: Tables, logical_id: str
) -> None:
    table = tables.name(logical_id)
    key, item = _key_and_item(tables, logical_id)
    engine.dynamodb.put_item(TableName=table, Item=item)
    engine.dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": "second"}},
    )
    engine.dynamodb.delete_item(TableName=table, Key=key)

    mine = _of(_records(engine, table), key)
    assert [record["eventName"] for record in mine] == ["INSERT", "MODIFY", "REMOVE"]
    sequence = [int(record["dynamodb"]["SequenceNumber"]) for record in mine]
    assert sequence == sorted(sequence) and len(set(sequence)) == 3
    view = tables.props(logical_id)["StreamSpecification"]["StreamViewType"]
    for record in mine:
        has_new, has_old = IMAGES[view][record["eventName"]]
        assert ("NewImage" in record["dynamodb"]) is has_new, (view, record["eventName"])
        assert ("OldImage" in record["dynamodb"]) is has_old, (view, record["eventName"])
        assert record["dynamodb"]["StreamViewType"] == view
    if view == "NEW_AND_OLD_IMAGES":
        assert mine[1]["dynamodb"]["OldImage"]["state"] == {"S": "first"}
        assert mine[1]["dynamodb"]["NewImage"]["state"] == {"S": "second"}


def test_a_transaction_writes_a_record_per_item_and_a_cancelled_one_none(
    engine: Engine, tables: Tables
) -> None:
    table = tables.name("CasesTable")
    written = [{"pk": {"S": unique("tx")}, "sk": {"S": "CASE"}} for _ in range(3)]
    engine.dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": k}} for k in written]
    )
    refused = [{"pk": {"S": unique("cancelled")}, "sk": {"S": "CASE"}} for _ in range(2)]
    with pytest.raises(engine.dynamodb.exceptions.TransactionCanceledException):
        engine.dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": refused[0]}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": written[0],
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": table, "Item": refused[1]}},
            ]
        )
    records = _records(engine, table)
    for key in written:
        assert [record["eventName"] for record in _of(records, key)] == ["INSERT"]
    for key in refused:
        assert _of(records, key) == []


def test_a_refused_write_leaves_no_record(engine: Engine, tables: Tables) -> None:
    table = tables.name("RiskAreasTable")
    key = {"region_code": {"S": unique("r")}}
    engine.dynamodb.put_item(TableName=table, Item={**key, "level": {"N": "1"}})
    with pytest.raises(engine.dynamodb.exceptions.ConditionalCheckFailedException):
        engine.dynamodb.put_item(
            TableName=table,
            Item={**key, "level": {"N": "2"}},
            ConditionExpression="attribute_not_exists(region_code)",
        )
    assert [record["eventName"] for record in _of(_records(engine, table), key)] == ["INSERT"]


def test_the_pump_delivers_what_was_written_after_it_first_looked(engine: Engine, tables: Tables) -> None:
    """The local stack's pump takes its shard iterators when the stack starts, on empty
    tables; every record written later reaches the consumers, each item's in order. (On
    DynamoDB Local such an iterator reads as trimmed once records exist: the pump picks the
    shard up again from its checkpoint.)"""
    delivered: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        delivered.extend(event["Records"])
        return {"batchItemFailures": []}

    clients = {"dynamodb": engine.dynamodb, "dynamodbstreams": engine.streams, "sqs": None}
    pump = StreamPump(tables.template, clients, invoke)
    pump.drain()  # every shard looked at (on a fresh table: empty)
    delivered.clear()
    table = tables.name("RiskAreasTable")
    keys = [{"region_code": {"S": unique("pumped")}} for _ in range(3)]
    for level in (1, 2):
        for key in keys:
            engine.dynamodb.put_item(TableName=table, Item={**key, "level": {"N": str(level)}})
    pump.drain()
    for key in keys:
        mine = _of(delivered, key)
        assert [record["eventName"] for record in mine] == ["INSERT", "MODIFY"]
        assert [record["dynamodb"]["NewImage"]["level"] for record in mine] == [{"N": "1"}, {"N": "2"}]
