"""Presences (check-ins and checkpoint verifications), write-sharded per venue.

Key design: ``venue_shard = "<venue_id>#<n>"`` with ``n = hash(scan_id) mod shards`` and
``at_scan = "<UTC instant>#<scan_id>"``. A venue's writes spread over ``shards`` partitions
(a railway station gets 32 from its policy), so no partition takes more than its share; "who
was at venue V between t1 and t2" is ``shards`` Queries with ``at_scan BETWEEN``; "where was
person P" is one Query on ``by_person``. ``expires_ttl`` = scan time + retention days.

A presence is one write: a PutItem (BatchWriteItem for companions checking in together), or a
TransactWriteItems with the first answer when the request has an Idempotency-Key
(``put_with_answer``). What is read before it is ``storage.scan_reads``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.models import BatchWrite

from healthcode.rules.geo import Location
from healthcode.storage import idempotency
from healthcode.storage.base import instant_key, ttl_after
from healthcode.storage.models import Location as LocationMap
from healthcode.storage.models import Scan


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
    device_location: Location | None = None  # check-ins at mobile venues: rounded (rules.venues)


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
        device_location=(
            LocationMap(lat=record.device_location.lat, lng=record.device_location.lng)
            if record.device_location is not None
            else None
        ),
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


def put_with_answer(
    records: Sequence[ScanRecord],
    *,
    shards: int,
    retention_days: int,
    actor: str,
    key: str,
    answer: dict[str, Any],
    fingerprint: str | None,
) -> bool:
    """Store scans with the first answer to ``actor``'s Idempotency-Key ``key``, all in one
    TransactWriteItems; False (nothing written) when the key has an answer already."""
    items = [item_for(record, shards=shards, retention_days=retention_days) for record in records]
    return idempotency.remember(actor, key, answer, with_items=items, fingerprint=fingerprint)


# -- stored presences --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredScan:
    """A presence as stored: its keys (partition, ``<instant>#<scan id>``), what was recorded and
    when TTL removes it."""

    venue_shard: str
    at_scan: str
    person_id: str
    venue_id: str
    root_venue_id: str
    venue_type: str
    region_code: str
    kind: str
    actor: str
    level: int
    colour: str
    verdict: str
    abnormal: bool
    temperature: float | None
    name_masked: str | None
    id_masked: str | None
    presented: str | None
    expires_ttl: int
    device_location: Location | None = None


def _stored(item: Scan) -> StoredScan:
    return StoredScan(
        venue_shard=item.venue_shard,
        at_scan=item.at_scan,
        person_id=item.person_id,
        venue_id=item.venue_id,
        root_venue_id=item.root_venue_id,
        venue_type=item.venue_type,
        region_code=item.region_code,
        kind=item.kind,
        actor=item.actor,
        level=int(item.level),
        colour=item.colour,
        verdict=item.verdict,
        abnormal=bool(item.abnormal),
        temperature=item.temperature,
        device_location=(
            Location(lat=float(item.device_location.lat), lng=float(item.device_location.lng))
            if item.device_location is not None
            else None
        ),
        name_masked=item.name_masked,
        id_masked=item.id_masked,
        presented=item.presented,
        expires_ttl=int(item.expires_ttl),
    )


def at_venue(venue_id: str, shards: int, start: datetime, end: datetime) -> Iterator[StoredScan]:
    """Every presence at ``venue_id`` with scan time in ``[start, end]``: ``shards`` Queries."""
    low, high = f"{instant_key(start)}#", f"{instant_key(end)}#\uffff"
    for shard in range(max(1, shards)):
        for item in Scan.query(partition(venue_id, shard), Scan.at_scan.between(low, high)):
            yield _stored(item)


def of_person(person_id: str, start: datetime, end: datetime) -> Iterator[StoredScan]:
    """Where ``person_id`` was with scan time in ``[start, end]``: one Query on ``by_person``."""
    low, high = f"{instant_key(start)}#", f"{instant_key(end)}#\uffff"
    return (_stored(item) for item in Scan.by_person.query(person_id, Scan.at_scan.between(low, high)))
