"""Stream consumers that write a whole batch at once (the counters, the export).

:class:`AggregatingProcessor` is a powertools partial processor: its record handler only reads
each record into an entry (a record that cannot be read fails on its own); when every record is
read, the batch's entries go to one ``write`` call, which groups them as it likes and reports
the records of each failed write through ``failed``. A record is a success when it was read and
no write that carried it failed; failures are reported per record in ``response()``
(``ReportBatchItemFailures``), so the stream retries the batch from the first of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.batch import BasePartialBatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse, SuccessResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

Entry = TypeVar("Entry")
#: Marks the records it is given as failed; called while handling the write's error.
Failed = Callable[[Iterable[DynamoDBRecord]], None]
#: Writes a batch's entries (each with the record it came from) and reports failed writes.
Write = Callable[[Sequence[tuple[DynamoDBRecord, Entry]], Failed], None]


class AggregatingProcessor(BasePartialBatchProcessor, Generic[Entry]):
    """DynamoDB stream batches read record by record, then written in aggregate by ``write``."""

    def __init__(self, write: Write[Entry]) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)
        self.write = write
        self._read: list[tuple[dict[str, Any], DynamoDBRecord, Entry]] = []

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self._read = []

    def _process_record(self, record: dict[str, Any]) -> SuccessResponse | FailureResponse:
        """Read one record: an entry to write later, nothing to write (a success now), or a
        failure of this record alone."""
        data = DynamoDBRecord(record)
        try:
            if self._handler_accepts_lambda_context:
                entry = self.handler(record=data, lambda_context=self.lambda_context)
            else:
                entry = self.handler(record=data)
        except Exception:  # noqa: BLE001 - a record that cannot be read fails alone (powertools does the same)
            return self.failure_handler(data, sys.exc_info())
        if entry is None:
            return self.success_handler(record, None)
        self._read.append((record, data, entry))
        return ("success", entry, data)  # a success once its write is done (``_clean``)

    async def _async_process_record(self, record: dict[str, Any]) -> SuccessResponse | FailureResponse:
        raise NotImplementedError("the aggregating processor is synchronous")

    def _clean(self) -> None:
        """Write the batch's entries, then report what failed (powertools builds the response)."""
        failed: set[int] = set()

        def fail(records: Iterable[DynamoDBRecord]) -> None:
            info = sys.exc_info()
            for data in records:
                self.failure_handler(data, info)
                failed.add(id(data))

        if self._read:
            self.write([(data, entry) for _, data, entry in self._read], fail)
        for record, data, entry in self._read:
            if id(data) not in failed:
                self.success_handler(record, entry)
        self._read = []
        super()._clean()  # type: ignore[no-untyped-call]
