"""DynamoDB sizing rules used by `make bench` (the developer guide's worked numbers)."""

from __future__ import annotations

from infra.bench.capacity import CallCounter, item_size, read_units, to_dynamodb_json, value_size, write_units


def test_value_sizes_follow_the_developer_guide() -> None:
    assert value_size({"S": "张三"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4  # 3 bytes for 5 digits + 1
    assert value_size({"N": "0.0001"}) == 2
    assert value_size({"BOOL": True}) == 1 and value_size({"NULL": True}) == 1
    assert value_size({"L": []}) == 3 and value_size({"M": {}}) == 3
    assert value_size({"L": [{"S": "ab"}]}) == 3 + 1 + 2
    assert value_size({"M": {"k": {"S": "ab"}}}) == 3 + 1 + 1 + 2


def test_item_size_counts_names() -> None:
    assert item_size({"id": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)


def test_units_round_up() -> None:
    assert write_units(1) == 1 and write_units(1024) == 1 and write_units(1025) == 2
    assert read_units(100, consistent=False) == 0.5 and read_units(4097, consistent=True) == 2


def test_writes_are_charged_for_each_index_that_receives_the_item() -> None:
    counter = CallCounter(indexes={"Scans": [{"person_id", "at_scan"}]})
    item = to_dynamodb_json({"venue_shard": "v#1", "at_scan": "t", "person_id": "p"})["M"]
    call = counter.measure("PutItem", {"TableName": "Scans", "Item": item}, {})
    assert (call.write_units, call.gsi_write_units) == (1, 1)
    sparse = {k: v for k, v in item.items() if k != "person_id"}
    assert counter.measure("PutItem", {"TableName": "Scans", "Item": sparse}, {}).gsi_write_units == 0


def test_transactions_cost_double_and_queries_round_their_total() -> None:
    counter = CallCounter()
    small = {"id": {"S": "x" * 100}}
    tx = counter.measure(
        "TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "T", "Item": small}}] * 2}, {}
    )
    assert tx.write_units == 4
    query = counter.measure("Query", {}, {"Items": [small] * 10})
    assert query.read_units == 0.5 and query.items_read == 10
