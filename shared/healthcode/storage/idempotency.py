"""Idempotent writes: a request retried with the same ``Idempotency-Key`` gets the first answer.

A client that retries a write (a checkpoint scan, a check-in) sends an ``Idempotency-Key``
header. The first request that completes stores its answer under a record whose id is derived
from (caller, key), in the same ``TransactWriteItems`` as the items it writes, with the
condition that no live record has that id. So exactly one of any number of concurrent or
retried requests writes anything; the others find the record (``remember`` returns False) and
answer with what it holds (``recall``).

Layout (IdempotencyTable, the table powertools' idempotency utility would use): ``id`` =
``idem#<sha-256 of caller and key>`` (the key itself is the client's choice and never stored),
``answer`` the first answer's body (JSON), ``fingerprint`` a digest of the first request's body,
``expiration`` epoch seconds (the table's TTL attribute), ``RECORD_HOURS`` after the write. A
record past its expiration counts as absent even before TTL deletes it.

A key reused with a *different* body (a client bug, or two requests sharing a key) is refused
with 422 ``idempotency_key_reused`` when callers pass ``fingerprint``, as the IETF
Idempotency-Key draft asks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.storage.connection import connection
from healthcode.storage.models import IdempotencyRecord

__all__ = [
    "HEADER",
    "RECORD_HOURS",
    "IdempotencyRecord",
    "answer_from_item",
    "check_key",
    "fingerprint_of",
    "recall",
    "record_id",
    "record_key",
    "remember",
]

#: The request header that carries the key.
HEADER = "Idempotency-Key"
#: How long a key is remembered: retries come within minutes; a day is generous.
RECORD_HOURS = 24
#: Most items a TransactWriteItems takes (one of them is the record).
MAX_TRANSACTION_ITEMS = 100

_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def check_key(value: object) -> str | None:
    """The ``Idempotency-Key`` header value, or None when absent; 422 when malformed
    (1-255 visible ASCII characters, e.g. a UUID)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _KEY.fullmatch(value.strip()):
        raise InvalidInput(
            f"{HEADER} must be 1 to 255 visible ASCII characters, e.g. a UUID",
            field=HEADER,
            code="invalid_idempotency_key",
        )
    return value.strip()


def record_id(actor: str, key: str) -> str:
    """The record's id: a digest of (actor, key), so neither is stored or limits the id's length."""
    digest = hashlib.sha256(actor.encode("utf-8") + b"\x00" + key.encode("utf-8")).hexdigest()
    return f"idem#{digest}"


def record_key(actor: str, key: str) -> dict[str, dict[str, str]]:
    """The record's key in DynamoDB's wire form (for a BatchGetItem shared with other tables)."""
    return {"id": {"S": record_id(actor, key)}}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.show(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in an answer")


def fingerprint_of(body: Mapping[str, Any]) -> str:
    """A digest of a request body (canonical JSON), to tell a retry from a reused key."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _answer(record: IdempotencyRecord, fingerprint: str | None) -> dict[str, Any] | None:
    if record.expiration <= clock.timestamp():
        return None
    if fingerprint is not None and record.fingerprint is not None and record.fingerprint != fingerprint:
        raise InvalidInput(
            f"this {HEADER} was already used for a different request",
            field=HEADER,
            code="idempotency_key_reused",
        )
    answer = record.answer
    return dict(answer) if isinstance(answer, dict) else None


def recall(actor: str, key: str, *, fingerprint: str | None = None) -> dict[str, Any] | None:
    """The stored first answer for (actor, key), or None (never used, or expired).

    With ``fingerprint``: 422 ``idempotency_key_reused`` if the first request's body differed."""
    try:
        record = IdempotencyRecord.get(record_id(actor, key), consistent_read=True)
    except IdempotencyRecord.DoesNotExist:
        return None
    return _answer(record, fingerprint)


def answer_from_item(
    item: Mapping[str, Any] | None, *, fingerprint: str | None = None
) -> dict[str, Any] | None:
    """``recall`` for a record already read in wire form (e.g. by a shared BatchGetItem)."""
    if not item:
        return None
    return _answer(IdempotencyRecord.from_raw_data(dict(item)), fingerprint)


def remember(
    actor: str,
    key: str,
    answer: dict[str, Any],
    *,
    with_items: Sequence[Model] = (),
    fingerprint: str | None = None,
) -> bool:
    """Store ``answer`` for (actor, key) and put ``with_items``, all in one TransactWriteItems.

    ``answer`` is the response body as the caller sends it (times become ISO text at +08:00).
    The record is written only if no live record has its id; then nothing is written and the
    answer is False (call ``recall`` for the first answer). Items with a version attribute get
    pynamodb's version condition; a failure of any other item's condition raises."""
    if len(with_items) + 1 > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"a transaction takes at most {MAX_TRANSACTION_ITEMS - 1} items besides the record")
    now = clock.now()
    record = IdempotencyRecord(
        record_id(actor, key),
        answer=json.loads(json.dumps(answer, default=_plain)),
        fingerprint=fingerprint,
        created_at=now,
        expiration=int((now + timedelta(hours=RECORD_HOURS)).timestamp()),
    )
    unused = IdempotencyRecord.id.does_not_exist() | (IdempotencyRecord.expiration <= int(now.timestamp()))
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(record, condition=unused)
            for item in with_items:
                transaction.save(item)
    except TransactWriteError as error:
        reasons = error.cancellation_reasons
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
    return True
