"""The aggregating stream processor (healthcode.edge.streams): records read one by one, written
together, failures reported per record through powertools' own response."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from healthcode.edge.streams import AggregatingProcessor

Failed = Callable[[Iterable[DynamoDBRecord]], None]


def change(sequence: str, value: str) -> dict[str, Any]:
    return {
        "eventID": sequence,
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": sequence, "NewImage": {"value": {"S": value}}},
    }


def read(record: DynamoDBRecord) -> str | None:  # powertools passes the record by this name
    value = record.raw_event["dynamodb"]["NewImage"]["value"]["S"]
    if value == "poison":
        raise ValueError("not a value")
    return None if value == "skip" else value


class Writes:
    """A write that groups entries by their first letter and fails the groups it is told to."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.batches: list[list[str]] = []

    def __call__(self, batch: Sequence[tuple[DynamoDBRecord, str]], failed: Failed) -> None:
        self.batches.append([entry for _, entry in batch])
        groups: dict[str, list[DynamoDBRecord]] = {}
        for data, entry in batch:
            groups.setdefault(entry[0], []).append(data)
        for letter, records in groups.items():
            try:
                if letter in self.failing:
                    raise ConnectionError(f"group {letter} refused")
            except ConnectionError:
                failed(records)


def handle(writes: Writes, records: list[dict[str, Any]]) -> dict[str, Any]:
    processor: AggregatingProcessor[str] = AggregatingProcessor(write=writes)
    return dict(
        process_partial_response(event={"Records": records}, record_handler=read, processor=processor)
    )


def test_a_batch_is_written_once_after_every_record_is_read() -> None:
    writes = Writes(failing=set())
    answer = handle(writes, [change("1", "a1"), change("2", "skip"), change("3", "b1"), change("4", "a2")])
    assert answer == {"batchItemFailures": []}
    assert writes.batches == [["a1", "b1", "a2"]]


def test_an_unreadable_record_fails_alone_and_a_failed_write_fails_its_records() -> None:
    writes = Writes(failing={"b"})
    answer = handle(
        writes,
        [change("1", "a1"), change("2", "poison"), change("3", "b1"), change("4", "a2"), change("5", "b2")],
    )
    # read failures first, then the failed write's records, each once
    assert answer == {"batchItemFailures": [{"itemIdentifier": s} for s in ("2", "3", "5")]}
    assert writes.batches == [["a1", "b1", "a2", "b2"]]


def test_a_batch_whose_every_record_failed_raises_as_powertools_does() -> None:
    with pytest.raises(BatchProcessingError):
        handle(Writes(failing={"a"}), [change("1", "a1"), change("2", "poison")])


def test_nothing_is_written_when_no_record_has_an_entry() -> None:
    writes = Writes(failing=set())
    assert handle(writes, [change("1", "skip")]) == {"batchItemFailures": []}
    assert writes.batches == []
