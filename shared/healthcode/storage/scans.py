"""Presences (check-ins and checkpoint verifications), write-sharded per venue.

Key design: ``venue_shard = "<venue_id>#<n>"`` with ``n = hash(scan_id) mod shards`` and
``at_scan = "<UTC instant>#<scan_id>"``. A venue's writes spread over ``shards`` partitions
(a railway station gets 32 from its policy), so no partition takes more than its share; "who
was at venue V between t1 and t2" is ``shards`` Queries with ``at_scan BETWEEN``; "where was
person P" is one Query on ``by_person``. ``expires_ttl`` = scan time + retention days.

A checkpoint reads what it needs before writing a scan in one BatchGetItem over two or three
tables (``lookup``: the person, the checkpoint venue, and the idempotency record when the request
carries a key), so a verification is that read plus one write.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.models import BatchWrite

from healthcode.errors import Throttled
from healthcode.storage.base import instant_key, ttl_after
from healthcode.storage.connection import client, table_name
from healthcode.storage.models import Person, Scan, Venue


@dataclass(frozen=True)
class ScanRecord:
    scan_id: str
    person_id: str
    venue_id: str
    root_venue_id: str
    venue_type: str
    region_code: str
    kind: str  # checkin | verification | manual
    actor: str
    at: datetime
    level: int
    colour: str
    verdict: str
    abnormal: bool
    temperature: float | None = None
    name_masked: str | None = None
    id_masked: str | None = None
    presented: str | None = None  # checkpoints: code | paper | id_number


def shard_of(scan_id: str, shards: int) -> int:
    """Stable shard for a scan: a hash of its id (even spread, deterministic on retry)."""
    digest = hashlib.blake2b(scan_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % max(1, shards)


def partition(venue_id: str, shard: int) -> str:
    return f"{venue_id}#{shard}"


def item_for(record: ScanRecord, *, shards: int, retention_days: int) -> Scan:
    return Scan(
        partition(record.venue_id, shard_of(record.scan_id, shards)),
        f"{instant_key(record.at)}#{record.scan_id}",
        person_id=record.person_id,
        venue_id=record.venue_id,
        root_venue_id=record.root_venue_id,
        venue_type=record.venue_type,
        region_code=record.region_code,
        kind=record.kind,
        actor=record.actor,
        level=record.level,
        colour=record.colour,
        verdict=record.verdict,
        abnormal=record.abnormal,
        temperature=record.temperature,
        name_masked=record.name_masked,
        id_masked=record.id_masked,
        presented=record.presented,
        expires_ttl=ttl_after(record.at, retention_days),
    )


def put(record: ScanRecord, *, shards: int, retention_days: int) -> bool:
    """Store one scan; False if that scan id at that instant is already stored (a retry)."""
    try:
        item_for(record, shards=shards, retention_days=retention_days).save(
            condition=Scan.at_scan.does_not_exist()
        )
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def put_many(records: Iterable[ScanRecord], *, shards: int, retention_days: int) -> int:
    """Store several scans in one BatchWriteItem per 25 (companions checking in together)."""
    count = 0
    with BatchWrite(Scan) as batch:
        for record in records:
            batch.save(item_for(record, shards=shards, retention_days=retention_days))
            count += 1
    return count


def at_venue(venue_id: str, shards: int, start: datetime, end: datetime) -> Iterator[Scan]:
    """Every presence at ``venue_id`` with scan time in ``[start, end]``: ``shards`` Queries."""
    low, high = f"{instant_key(start)}#", f"{instant_key(end)}#\uffff"
    for shard in range(max(1, shards)):
        yield from Scan.query(partition(venue_id, shard), Scan.at_scan.between(low, high))


def of_person(person_id: str, start: datetime, end: datetime) -> Iterator[Scan]:
    """Where ``person_id`` was with scan time in ``[start, end]``: one Query on ``by_person``."""
    low, high = f"{instant_key(start)}#", f"{instant_key(end)}#\uffff"
    return iter(Scan.by_person.query(person_id, Scan.at_scan.between(low, high)))


# -- what a checkpoint reads before it writes ------------------------------------------------------

#: BatchGetItem rounds for keys DynamoDB leaves unprocessed (throttling) before giving up.
LOOKUP_ATTEMPTS = 4


def checkpoint(venue_id: str) -> Venue | None:
    """The venue a checkpoint stands at (a manual registration reads it before anything else)."""
    try:
        return Venue.get(venue_id)
    except Venue.DoesNotExist:
        return None


@dataclass(frozen=True)
class CheckpointLookup:
    """The person whose code was scanned, the checkpoint venue, and the idempotency record
    (wire form) for the request's key; each None when it does not exist (or was not asked for)."""

    person: Person | None
    venue: Venue | None
    idempotency_item: Mapping[str, Any] | None


def lookup(
    person_id: str, venue_id: str, *, idempotency_key: Mapping[str, Any] | None = None
) -> CheckpointLookup:
    """Read the person (strongly consistent: a colour changed a moment ago counts), the venue and
    optionally an idempotency record (its wire-form key, see ``storage.idempotency.record_key``)
    in one BatchGetItem; unprocessed keys are asked for again with a short backoff."""
    if not person_id or "#" in person_id:  # other items share the persons table; they are not persons
        raise ValueError("not a person id")
    persons, venues = table_name("PersonsTable"), table_name("VenuesTable")
    idempotency = table_name("IdempotencyTable")
    request: dict[str, Any] = {
        persons: {"Keys": [{"person_id": {"S": person_id}}], "ConsistentRead": True},
        venues: {"Keys": [{"venue_id": {"S": venue_id}}]},
    }
    if idempotency_key is not None:
        request[idempotency] = {"Keys": [dict(idempotency_key)], "ConsistentRead": True}
    found: dict[str, list[dict[str, Any]]] = {}
    dynamodb = client()
    for attempt in range(LOOKUP_ATTEMPTS):
        answer = dynamodb.batch_get_item(RequestItems=request)
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        time.sleep(0.05 * 2**attempt)
    else:
        raise Throttled("the checkpoint is busy; try again in a moment", code="throttled")
    person = found.get(persons, [])
    venue = found.get(venues, [])
    prior = found.get(idempotency, [])
    return CheckpointLookup(
        person=Person.from_raw_data(person[0]) if person else None,
        venue=Venue.from_raw_data(venue[0]) if venue else None,
        idempotency_item=prior[0] if prior else None,
    )
