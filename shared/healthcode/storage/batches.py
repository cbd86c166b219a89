"""Batch writes that must not lose an item: BatchWriteItem requests of 25, refused items retried."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pynamodb.models import Model

from healthcode.storage.connection import table

#: BatchWriteItem takes at most 25 items; unprocessed ones are retried this often with backoff.
BATCH_LIMIT = 25
BATCH_ATTEMPTS = 8

_M = TypeVar("_M", bound=Model)


class UnprocessedWrites(RuntimeError):
    """DynamoDB kept refusing part of a batch write; the stream record is retried."""


def write_batches(
    model: type[_M],
    items: Iterable[_M],
    *,
    attempts: int = BATCH_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Put ``items`` in BatchWriteItem requests of 25, retrying unprocessed items with jittered
    exponential backoff; ``UnprocessedWrites`` if some are still refused after ``attempts``."""
    pause = sleep or time.sleep
    connection = table(model)
    written = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        pending = chunk[:]
        for attempt in range(attempts):
            answer = connection.batch_write_item(put_items=pending) or {}
            left = (answer.get("UnprocessedItems") or {}).get(model.Meta.table_name) or []
            pending = [request["PutRequest"]["Item"] for request in left if "PutRequest" in request]
            if not pending:
                return
            pause(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311 - jitter
        raise UnprocessedWrites(f"{len(pending)} items of {model.Meta.table_name} still unprocessed")

    for item in items:
        chunk.append(item.serialize())
        written += 1
        if len(chunk) == BATCH_LIMIT:
            flush()
            chunk.clear()
    if chunk:
        flush()
    return written
