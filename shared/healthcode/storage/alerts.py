"""Alerts to the authority (AlertsTable): one item per abnormal scan, for the officials of the
venue's area, with how it was handled.

Items
    ``alert_id`` is the scan's id, so the stream consumer writes each alert once: :func:`put` is
    a conditional put that a redelivered scan finds already done (and an acknowledged alert is
    never reopened by a redelivery). ``status`` is ``open`` until an official acknowledges it
    (:func:`acknowledge`: a conditional update, so of concurrent acknowledgements one wins and
    the rest are refused). ``published_at`` records when an isolate verdict went out on the
    alerts topic. Identities are masked only; TTL removes an alert with the scans it comes from.

Listing (GSI ``by_province_day``)
    ``province_day`` = ``<province>#<YYYY-MM-DD>`` (the China day of the scan) and
    ``region_key`` = ``<region_code>#<UTC instant>#<alert_id>``: a province's day is one
    partition, a prefecture (``xxyy00``) a ``begins_with("xxyy")`` and a county a
    ``begins_with("<code>#")`` on it, so every level is one Query, ordered by region then time.
    Abnormal scans are a small share of all scans, so one partition per province-day stays far
    below a partition's write rate. Status and verdict are filters on that Query; a page is
    filled from as many Query pages as it takes and its cursor is the last alert it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import PutError, UpdateError

from healthcode.errors import Conflict
from healthcode.storage import cursors
from healthcode.storage.base import instant_key, region_key_prefix, ttl_after
from healthcode.storage.models import AlertItem
from healthcode.storage.stats import CountedScan

__all__ = [
    "ACKNOWLEDGED",
    "OPEN",
    "AlertView",
    "Page",
    "Stored",
    "acknowledge",
    "get",
    "listed",
    "mark_published",
    "put",
]

OPEN: Final = "open"
ACKNOWLEDGED: Final = "acknowledged"
#: Items read per Query page while a filtered page is being filled.
_QUERY_PAGE: Final = 200
_REGION = re.compile(r"[1-9][0-9]{5}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class AlertView:
    alert_id: str
    venue_id: str
    venue_name: str | None
    region_code: str
    scanned_at: datetime
    kind: str
    colour: str
    level: int
    verdict: str
    temperature: float | None
    person_id: str
    name_masked: str | None
    id_masked: str | None
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Stored:
    """What :func:`put` found: the alert, and whether this call wrote it."""

    alert: AlertView
    created: bool


@dataclass(frozen=True, slots=True)
class Page:
    alerts: tuple[AlertView, ...]
    next_cursor: str | None


def _view(item: AlertItem) -> AlertView:
    return AlertView(
        alert_id=item.alert_id,
        venue_id=item.venue_id,
        venue_name=item.venue_name,
        region_code=item.region_code,
        scanned_at=item.scanned_at,
        kind=item.kind,
        colour=item.colour,
        level=int(item.level),
        verdict=item.verdict,
        temperature=float(item.temperature) if item.temperature is not None else None,
        person_id=item.person_id,
        name_masked=item.name_masked,
        id_masked=item.id_masked,
        status=item.status,
        acknowledged_by=item.acknowledged_by,
        acknowledged_at=item.acknowledged_at,
        note=item.note,
        published_at=item.published_at,
    )


def _province(region_code: str) -> str:
    return f"{region_code[:2]}0000"


def _partition(region_code: str, day: str) -> str:
    return f"{_province(region_code)}#{day}"


# -- what the stream consumer writes -----------------------------------------------------------


def _item(scan: CountedScan, *, day: str, venue_name: str | None, retention_days: int) -> AlertItem:
    return AlertItem(
        scan.scan_id,
        province_day=_partition(scan.region_code, day),
        region_key=f"{scan.region_code}#{instant_key(scan.at)}#{scan.scan_id}",
        venue_id=scan.venue_id,
        venue_name=venue_name,
        region_code=scan.region_code,
        scanned_at=scan.at,
        kind=scan.kind,
        colour=scan.colour,
        level=scan.level,
        verdict=scan.verdict,
        temperature=scan.temperature,
        person_id=scan.person_id,
        name_masked=scan.name_masked,
        id_masked=scan.id_masked,
        status=OPEN,
        expires_ttl=ttl_after(scan.at, retention_days),
    )


def put(scan: CountedScan, *, day: str, venue_name: str | None, retention_days: int) -> Stored:
    """Write the alert of an abnormal scan unless it is already written (a redelivery): one
    conditional PutItem; a refused one reads the stored alert (whether it was published)."""
    item = _item(scan, day=day, venue_name=venue_name, retention_days=retention_days)
    try:
        item.save(condition=AlertItem.alert_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        found = get(scan.scan_id)
        if found is None:  # pragma: no cover - removed by TTL between the put and the read
            raise
        return Stored(found, created=False)
    return Stored(_view(item), created=True)


def mark_published(alert_id: str, at: datetime) -> None:
    """Record that an isolate alert went out on the alerts topic."""
    AlertItem(alert_id).update(
        actions=[AlertItem.published_at.set(at)],
        condition=AlertItem.alert_id.exists(),
    )


# -- what officials read and do ----------------------------------------------------------------


def get(alert_id: str) -> AlertView | None:
    """One alert (GetItem, strongly consistent), or None."""
    try:
        return _view(AlertItem.get(alert_id, consistent_read=True))
    except AlertItem.DoesNotExist:
        return None


def acknowledge(alert_id: str, *, by: str, at: datetime, note: str) -> AlertView:
    """Mark an open alert acknowledged by ``by`` with ``note``: a conditional update, so only
    one of concurrent acknowledgements succeeds; the others (and any later one) are ``409
    alert_already_acknowledged``."""
    item = AlertItem(alert_id)
    try:
        item.update(
            actions=[
                AlertItem.status.set(ACKNOWLEDGED),
                AlertItem.acknowledged_by.set(by),
                AlertItem.acknowledged_at.set(at),
                AlertItem.note.set(note),
            ],
            condition=AlertItem.alert_id.exists() & (AlertItem.status == OPEN),
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise Conflict(
            "this alert has already been acknowledged", code="alert_already_acknowledged"
        ) from error
    return _view(item)


def _encode(item: AlertItem) -> str:
    return cursors.encode({"p": item.province_day, "k": item.region_key})


def _decode(cursor: str | None, partition: str, prefix: str | None) -> dict[str, Any] | None:
    """The Query's start key from a cursor this list gave for the same partition and level;
    else 422 ``invalid_cursor``."""
    if cursor is None:
        return None
    plain = cursors.decode(cursor, frozenset({"p", "k"}))
    key = plain["k"]
    if plain["p"] != partition or (prefix is not None and not key.startswith(prefix)):
        raise cursors.refused()
    parts = key.split("#")
    if len(parts) != 3 or not _REGION.fullmatch(parts[0]) or not parts[1] or not parts[2]:
        raise cursors.refused()
    return {
        "alert_id": {"S": parts[2]},
        "province_day": {"S": partition},
        "region_key": {"S": key},
    }


def _matches(item: AlertItem, status: str | None, verdict: str | None) -> bool:
    return (status is None or item.status == status) and (verdict is None or item.verdict == verdict)


def listed(
    region_code: str,
    day: str,
    *,
    status: str | None,
    verdict: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """The alerts of a county, prefecture or province on a China day, by region then time, with
    ``status`` and ``verdict`` if given: at most ``limit``, and the cursor of the next page."""
    if not _REGION.fullmatch(region_code) or not _DAY.fullmatch(day):
        raise ValueError("a region code and a day YYYY-MM-DD")
    partition = _partition(region_code, day)
    prefix = region_key_prefix(region_code)
    start = _decode(cursor, partition, prefix)
    found: list[AlertItem] = []
    more = False
    for item in _query(partition, prefix, start):
        if not _matches(item, status, verdict):
            continue
        if len(found) == limit:
            more = True
            break
        found.append(item)
    return Page(tuple(_view(i) for i in found), _encode(found[-1]) if more and found else None)


def _query(partition: str, prefix: str | None, start: dict[str, Any] | None) -> Iterator[AlertItem]:
    return iter(
        AlertItem.by_province_day.query(
            partition,
            AlertItem.region_key.startswith(prefix) if prefix else None,
            last_evaluated_key=start,
            page_size=_QUERY_PAGE,
        )
    )
