"""The template's global secondary indexes: what each projects, and which items it holds."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.template import ROOT_TEMPLATE, Template
from tests.conftest import PROVINCE, REGION
from tests.storage.conftest import Engine, Tables, unique


def _indexes() -> list[tuple[str, str]]:
    template = Template(ROOT_TEMPLATE, "test", {"Province": PROVINCE}, REGION)
    return [
        (logical_id, index["IndexName"])
        for logical_id, props in template.tables().items()
        for index in props.get("GlobalSecondaryIndexes", [])
    ]


def _index(tables: Tables, logical_id: str, name: str) -> dict[str, Any]:
    return next(i for i in tables.props(logical_id)["GlobalSecondaryIndexes"] if i["IndexName"] == name)


def _keys(schema: list[dict[str, str]]) -> list[str]:
    return [key["AttributeName"] for key in schema]


def _value(name: str, types: dict[str, str], tag: str) -> dict[str, str]:
    kind = types[name]
    return {kind: "7" if kind == "N" else f"{tag}-{name}"}


def _item(tables: Tables, logical_id: str, tag: str) -> dict[str, Any]:
    """An item with every key attribute of the table and its indexes, and two that are none."""
    props = tables.props(logical_id)
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    item = {name: _value(name, types, tag) for name in types}
    return {**item, "extra_one": {"S": "x"}, "extra_two": {"N": "2"}}


def _expected_attributes(
    tables: Tables, logical_id: str, index: dict[str, Any], item: dict[str, Any]
) -> set[str]:
    projection = index["Projection"]
    if projection["ProjectionType"] == "ALL":
        return set(item)
    keys = set(_keys(tables.props(logical_id)["KeySchema"])) | set(_keys(index["KeySchema"]))
    return keys | set(projection.get("NonKeyAttributes", []))


@pytest.mark.parametrize(("logical_id", "index_name"), _indexes())
def test_an_index_answers_with_what_it_projects(
    engine: Engine, tables: Tables, logical_id: str, index_name: str
) -> None:
    """A query on an index returns the attributes its projection names and no others: code that
    reads an attribute a KEYS_ONLY index does not hold must read the table (and is caught here
    on DynamoDB Local even where an engine would hand back the whole item)."""
    index = _index(tables, logical_id, index_name)
    item = _item(tables, logical_id, unique("i"))
    engine.dynamodb.put_item(TableName=tables.name(logical_id), Item=item)
    hash_key = _keys(index["KeySchema"])[0]
    found = engine.dynamodb.query(
        TableName=tables.name(logical_id),
        IndexName=index_name,
        KeyConditionExpression="#h = :h",
        ExpressionAttributeNames={"#h": hash_key},
        ExpressionAttributeValues={":h": item[hash_key]},
    )["Items"]
    assert len(found) == 1
    assert set(found[0]) == _expected_attributes(tables, logical_id, index, item)
    assert {name: item[name] for name in found[0]} == found[0]


def test_an_item_without_the_index_key_is_not_in_the_index(engine: Engine, tables: Tables) -> None:
    """Sparse indexes: the persons' ``by_next_change`` holds only persons whose colour will
    change; removing the attribute takes the person out of the index."""
    table = tables.name("PersonsTable")
    bucket = unique("bucket")
    person = {
        "person_id": {"S": unique("p")},
        "change_bucket": {"S": bucket},
        "next_change_at": {"S": "2022"},
    }
    engine.dynamodb.put_item(TableName=table, Item=person)

    def in_index() -> list[dict[str, Any]]:
        return list(
            engine.dynamodb.query(
                TableName=table,
                IndexName="by_next_change",
                KeyConditionExpression="change_bucket = :b",
                ExpressionAttributeValues={":b": {"S": bucket}},
            )["Items"]
        )

    assert [found["person_id"] for found in in_index()] == [person["person_id"]]
    engine.dynamodb.update_item(
        TableName=table, Key={"person_id": person["person_id"]}, UpdateExpression="REMOVE next_change_at"
    )
    assert in_index() == []


def test_an_index_cannot_be_read_consistently(engine: Engine, tables: Tables) -> None:
    """Index reads are eventually consistent only: asking for more is a request error."""
    with pytest.raises(engine.dynamodb.exceptions.ClientError) as invalid:
        engine.dynamodb.query(
            TableName=tables.name("PersonsTable"),
            IndexName="by_id_hash",
            KeyConditionExpression="id_hash = :h",
            ExpressionAttributeValues={":h": {"S": unique("h")}},
            ConsistentRead=True,
        )
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
