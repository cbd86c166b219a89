"""Scan counters and abnormal-scan alerts per venue and day (StatsTable).

The counters consumer (``functions/counters``) reads the ScansTable stream and keeps these items,
so venue statistics, alerts and daily reports never read raw scan records. A *day* is the
China-local date (+08:00) of the scan time, ``YYYY-MM-DD``.

Items (``pk`` = ``<venue_id>#<day>``)
    ``sk`` = ``STATS``: ``scans``, ``abnormal``, ``by_colour`` {colour: n}, the venue ``name``,
    and ``applied`` {scan partition: last stream sequence number counted} (see below).
    ``sk`` = ``ALERT#<UTC instant>#<scan_id>``: one per abnormal scan (non-green or fever), its
    fields in ``details``, removed by TTL ``RetentionDays`` after the scan like the scan itself.

Regions (GSI ``by_region_day``)
    Reports ask for "units in a region on a day" by county, prefecture (``xxyy00``) or province
    (``xx0000``). Every STATS item carries ``region_day`` = ``<province>#<day>#<n>`` and
    ``region_key`` = ``<region_code>#<venue_id>``: a county is ``begins_with("<code>#")``, a
    prefecture ``begins_with("<xxyy>")``, a province the whole partition. ``n`` (a hash of the
    venue id, ``REGION_SHARDS`` values) spreads one province-day over several index partitions, so
    a busy province's counter writes do not all land on one; a report is ``REGION_SHARDS``
    Queries. Alerts carry ``region_day`` = ``alerts#<province>#<day>#<n>`` and ``region_key`` =
    ``<region_code>#<instant>#<scan_id>`` in the same index, for the official side.

Counting exactly once
    Stream records are delivered at least once, and a batch is retried from its first failed
    record. The stream keeps each item's — and each partition key's — records in order, and the
    event source mapping finishes a parent shard before its children, so each scan partition
    (``venue_shard``) is an ordered *source*. A venue-day's STATS item remembers, per source, the
    last sequence number it counted (``applied``); :func:`add_day` makes one UpdateItem for all
    of a batch's scans of that venue-day, on condition that each source's first sequence number
    in it is beyond what was applied. A redelivered batch fails the condition, the item's
    ``applied`` (returned with the failure) tells which scans are new, and only those are added.
    Sequence numbers are compared as strings zero-padded to ``SEQUENCE_WIDTH`` digits.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from healthcode.clock import CHINA
from healthcode.errors import InvalidInput
from healthcode.storage.base import instant_key, ttl_after
from healthcode.storage.connection import client, table_name
from healthcode.storage.models import Scan, Stat, Venue
from healthcode.storage.scans import shard_of

__all__ = [
    "KEEP_COUNTERS_DAYS",
    "REGION_SHARDS",
    "SEQUENCE_WIDTH",
    "WRITE_ERRORS",
    "Alert",
    "CountedScan",
    "CounterContention",
    "DayStats",
    "UnitStats",
    "add_day",
    "alerts",
    "check_day",
    "counted",
    "day_of",
    "put_alerts",
    "region_alerts",
    "units",
    "venue_day",
    "venue_names",
]

STATS_SK = "STATS"
ALERT_SK = "ALERT#"
#: Partitions one province-day is spread over in ``by_region_day``.
REGION_SHARDS = 8
#: DynamoDB Streams sequence numbers are 21 to 40 digits.
SEQUENCE_WIDTH = 40
#: Counters hold no personal data; they stay for year-on-year reports, then TTL removes them.
KEEP_COUNTERS_DAYS = 400
#: Rounds of "update, learn what was already applied, update the rest" before giving up.
MAX_ATTEMPTS = 5

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION = re.compile(r"[1-9][0-9]{5}")


class CounterContention(RuntimeError):
    """The venue-day item kept changing under the counter (retried by the stream)."""


#: What a failed write of the consumer raises (throttling, the network, pynamodb's wrapping of
#: either, contention): the batch is retried. Anything else is a bug and fails the whole batch.
WRITE_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, PynamoDBException, CounterContention)


# -- what readers get --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayStats:
    """A venue's scans on one day: total, abnormal, and per colour name."""

    venue_id: str
    day: str
    scans: int
    abnormal: int
    by_colour: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Alert:
    """One abnormal scan (non-green or fever). Identity only masked; ``person_id`` lets an
    authorised reader fetch (and audit) more."""

    scan_id: str
    venue_id: str
    scanned_at: datetime
    kind: str  # checkin | verification | manual
    colour: str
    level: int
    verdict: str
    temperature: float | None
    person_id: str
    name_masked: str | None
    id_masked: str | None


@dataclass(frozen=True, slots=True)
class UnitStats:
    """One venue's counts on a day, for reports."""

    venue_id: str
    name: str | None
    region_code: str
    day: str
    scans: int
    abnormal: int
    by_colour: Mapping[str, int]


# -- days and regions --------------------------------------------------------------------------


def day_of(instant: datetime) -> str:
    """The China-local date of an instant, ``YYYY-MM-DD``."""
    return instant.astimezone(CHINA).date().isoformat()


def check_day(value: object, *, field: str = "date") -> str:
    """A ``YYYY-MM-DD`` date from a request; 422 ``invalid_date`` otherwise."""
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidInput(f"{field} must be a date YYYY-MM-DD", field=field, code="invalid_date")


def _check_region(value: object, *, field: str = "region_code") -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise InvalidInput(f"{field} must be six digits (GB/T 2260)", field=field, code="invalid_region_code")
    return value


def _province(region_code: str) -> str:
    return f"{region_code[:2]}0000"


def _day_pk(venue_id: str, day: str) -> str:
    return f"{venue_id}#{day}"


def _units_partition(province: str, day: str, shard: int) -> str:
    return f"{province}#{day}#{shard}"


def _alerts_partition(province: str, day: str, shard: int) -> str:
    return f"alerts#{province}#{day}#{shard}"


def _region_prefix(region_code: str) -> str | None:
    """``begins_with`` on ``region_key`` for a level: None for a whole province."""
    if region_code.endswith("0000"):
        return None
    if region_code.endswith("00"):
        return region_code[:4]
    return f"{region_code}#"


# -- readers -----------------------------------------------------------------------------------


def _colours(raw: Any) -> dict[str, int]:
    values = raw.as_dict() if hasattr(raw, "as_dict") else raw
    return {str(k): int(v) for k, v in dict(values or {}).items()}


def venue_day(venue_id: str, day: str) -> DayStats:
    """A venue's counts on ``day`` (zeros if nothing was scanned): one GetItem."""
    day = check_day(day)
    try:
        item = Stat.get(_day_pk(venue_id, day), STATS_SK)
    except Stat.DoesNotExist:
        return DayStats(venue_id=venue_id, day=day, scans=0, abnormal=0, by_colour={})
    return DayStats(
        venue_id=venue_id,
        day=day,
        scans=int(item.scans or 0),
        abnormal=int(item.abnormal or 0),
        by_colour=_colours(item.by_colour),
    )


def _alert(item: Stat) -> Alert:
    details = dict(item.details or {})
    temperature = details.get("temperature")
    return Alert(
        scan_id=str(details["scan_id"]),
        venue_id=str(details["venue_id"]),
        scanned_at=datetime.fromisoformat(str(details["scanned_at"])),
        kind=str(details["kind"]),
        colour=str(details["colour"]),
        level=int(details["level"]),
        verdict=str(details["verdict"]),
        temperature=float(temperature) if temperature is not None else None,
        person_id=str(details["person_id"]),
        name_masked=details.get("name_masked"),
        id_masked=details.get("id_masked"),
    )


def alerts(venue_id: str, day: str) -> list[Alert]:
    """A venue's abnormal scans on ``day``, in time order: one (paged) Query."""
    day = check_day(day)
    return [_alert(item) for item in Stat.query(_day_pk(venue_id, day), Stat.sk.startswith(ALERT_SK))]


def _region_query(partitions: Iterable[str], prefix: str | None) -> Iterator[Stat]:
    """Each partition's items in ``region_key`` order, merged into one ordered stream."""
    streams = [
        iter(Stat.by_region_day.query(p, Stat.region_key.startswith(prefix) if prefix else None))
        for p in partitions
    ]
    return heapq.merge(*streams, key=lambda item: str(item.region_key))


def units(region_code: str, day: str) -> Iterator[UnitStats]:
    """Every venue with scans on ``day`` in a county, prefecture (``xxyy00``) or province
    (``xx0000``), ordered by region code then venue id: ``REGION_SHARDS`` Queries."""
    region_code, day = _check_region(region_code), check_day(day)
    province = _province(region_code)
    partitions = [_units_partition(province, day, n) for n in range(REGION_SHARDS)]
    for item in _region_query(partitions, _region_prefix(region_code)):
        yield UnitStats(
            venue_id=str(item.venue_id),
            name=item.name,
            region_code=str(item.region_key).split("#", 1)[0],
            day=day,
            scans=int(item.scans or 0),
            abnormal=int(item.abnormal or 0),
            by_colour=_colours(item.by_colour),
        )


def region_alerts(region_code: str, day: str) -> Iterator[Alert]:
    """Abnormal scans on ``day`` in a county, prefecture or province (the official side),
    ordered by region code then time: ``REGION_SHARDS`` Queries."""
    region_code, day = _check_region(region_code), check_day(day)
    province = _province(region_code)
    partitions = [_alerts_partition(province, day, n) for n in range(REGION_SHARDS)]
    for item in _region_query(partitions, _region_prefix(region_code)):
        yield _alert(item)


# -- what the consumer writes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountedScan:
    """A scan as the counters see it, with the stream position it was read at."""

    source: str  # the scan's partition (venue_shard): an ordered source of stream records
    sequence: str  # its stream SequenceNumber
    scan_id: str
    venue_id: str
    region_code: str
    at: datetime
    kind: str
    colour: str
    level: int
    verdict: str
    abnormal: bool
    temperature: float | None
    person_id: str
    name_masked: str | None
    id_masked: str | None

    @property
    def day(self) -> str:
        return day_of(self.at)

    @property
    def position(self) -> str:
        """The sequence number as a fixed-width string: compares as the number does."""
        return self.sequence.zfill(SEQUENCE_WIDTH)


def counted(image: Mapping[str, Any], *, sequence: str) -> CountedScan:
    """A scan item from a stream record's ``NewImage`` (wire form) and its sequence number."""
    if not sequence.isdigit() or len(sequence) > SEQUENCE_WIDTH:
        raise ValueError("a stream sequence number is up to 40 digits")
    scan = Scan.from_raw_data(dict(image))
    instant, _, scan_id = scan.at_scan.partition("#")
    if not scan_id:
        raise ValueError("scan item without a scan id in its sort key")
    at = datetime.strptime(instant, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return CountedScan(
        source=scan.venue_shard,
        sequence=sequence,
        scan_id=scan_id,
        venue_id=scan.venue_id,
        region_code=_check_region(scan.region_code),
        at=at,
        kind=scan.kind,
        colour=scan.colour,
        level=int(scan.level),
        verdict=scan.verdict,
        abnormal=bool(scan.abnormal),
        temperature=float(scan.temperature) if scan.temperature is not None else None,
        person_id=scan.person_id,
        name_masked=scan.name_masked,
        id_masked=scan.id_masked,
    )


def venue_names(venue_ids: Iterable[str]) -> dict[str, str | None]:
    """Names of venues, read once per batch (BatchGetItem, 100 keys per request)."""
    wanted = sorted(set(venue_ids))
    names: dict[str, str | None] = dict.fromkeys(wanted)
    if wanted:
        for venue in Venue.batch_get(wanted, attributes_to_get=["venue_id", "name"]):
            names[venue.venue_id] = venue.name
    return names


def _wire_colours(colours: Mapping[str, int]) -> dict[str, Any]:
    return {"M": {c: {"N": str(n)} for c, n in sorted(colours.items())}}


def _sources(scans: Sequence[CountedScan]) -> dict[str, tuple[str, str]]:
    """Per source: (first, last) position among ``scans``."""
    spans: dict[str, tuple[str, str]] = {}
    for scan in scans:
        first, last = spans.get(scan.source, (scan.position, scan.position))
        spans[scan.source] = (min(first, scan.position), max(last, scan.position))
    return spans


def _update(pk: str, scans: Sequence[CountedScan], name: str | None) -> dict[str, Any] | None:
    """One UpdateItem adding ``scans``; None if applied, else the stored item (condition failed;
    ``{}`` when there is no item yet)."""
    names: dict[str, str] = {
        "#scans": "scans",
        "#abnormal": "abnormal",
        "#colours": "by_colour",
        "#applied": "applied",
    }
    values: dict[str, Any] = {
        ":scans": {"N": str(len(scans))},
        ":abnormal": {"N": str(sum(1 for s in scans if s.abnormal))},
    }
    adds = ["#scans :scans", "#abnormal :abnormal"]
    for i, (colour, count) in enumerate(sorted(Counter(s.colour for s in scans).items())):
        names[f"#c{i}"] = colour
        values[f":c{i}"] = {"N": str(count)}
        adds.append(f"#colours.#c{i} :c{i}")
    sets: list[str] = []
    conditions = ["attribute_exists(pk)"]
    for i, (source, (first, last)) in enumerate(sorted(_sources(scans).items())):
        names[f"#s{i}"] = source
        values[f":first{i}"] = {"S": first}
        values[f":last{i}"] = {"S": last}
        sets.append(f"#applied.#s{i} = :last{i}")
        conditions.append(f"(attribute_not_exists(#applied.#s{i}) OR #applied.#s{i} < :first{i})")
    if name is not None:
        names["#name"] = "name"
        values[":name"] = {"S": name}
        sets.append("#name = :name")
    try:
        client().update_item(
            TableName=table_name("StatsTable"),
            Key={"pk": {"S": pk}, "sk": {"S": STATS_SK}},
            UpdateExpression=f"SET {', '.join(sets)} ADD {', '.join(adds)}",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        stored = error.response.get("Item")  # the item as it was (ReturnValuesOnConditionCheckFailure)
        return dict(stored) if isinstance(stored, dict) else {}
    return None


def _create(pk: str, venue_id: str, day: str, scans: Sequence[CountedScan], name: str | None) -> bool:
    """Create the venue-day's STATS item with ``scans`` counted; False if it exists already."""
    region_code = scans[0].region_code
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": STATS_SK},
        "venue_id": {"S": venue_id},
        "region_day": {"S": _units_partition(_province(region_code), day, shard_of(venue_id, REGION_SHARDS))},
        "region_key": {"S": f"{region_code}#{venue_id}"},
        "scans": {"N": str(len(scans))},
        "abnormal": {"N": str(sum(1 for s in scans if s.abnormal))},
        "by_colour": _wire_colours(Counter(s.colour for s in scans)),
        "applied": {"M": {source: {"S": last} for source, (_, last) in sorted(_sources(scans).items())}},
        "expires_ttl": {"N": str(ttl_after(_day_end(day), KEEP_COUNTERS_DAYS))},
    }
    if name is not None:
        item["name"] = {"S": name}
    try:
        client().put_item(
            TableName=table_name("StatsTable"), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _day_end(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)


def add_day(venue_id: str, day: str, scans: Sequence[CountedScan], *, name: str | None) -> int:
    """Count ``scans`` (all of ``venue_id`` on ``day``) exactly once; returns how many were new.

    Normally one UpdateItem (or, for a venue-day's first batch, one conditional PutItem after
    it); a redelivered batch costs one more call and adds nothing."""
    if any(s.venue_id != venue_id or s.day != day for s in scans):
        raise ValueError("add_day takes the scans of one venue and one day")
    pk = _day_pk(venue_id, day)
    pending = sorted(scans, key=lambda s: (s.source, s.position))
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            return 0
        stored = _update(pk, pending, name)
        if stored is None:
            return len(pending)
        if not stored:
            if _create(pk, venue_id, day, pending, name):
                return len(pending)
            continue
        applied = {k: str(v.get("S", "")) for k, v in stored.get("applied", {}).get("M", {}).items()}
        pending = [s for s in pending if s.position > applied.get(s.source, "")]
    raise CounterContention(f"counters of {pk} kept changing; the batch will be retried")


def put_alerts(scans: Iterable[CountedScan], *, retention_days: int) -> int:
    """One ALERT item per abnormal scan (deterministic key: a redelivery rewrites the same
    item), kept ``retention_days`` after the scan; BatchWriteItem, 25 per request."""
    written = 0
    with Stat.batch_write() as batch:
        for scan in scans:
            if not scan.abnormal:
                continue
            at = instant_key(scan.at)
            batch.save(
                Stat(
                    _day_pk(scan.venue_id, scan.day),
                    f"{ALERT_SK}{at}#{scan.scan_id}",
                    venue_id=scan.venue_id,
                    region_day=_alerts_partition(
                        _province(scan.region_code), scan.day, shard_of(scan.scan_id, REGION_SHARDS)
                    ),
                    region_key=f"{scan.region_code}#{at}#{scan.scan_id}",
                    details={
                        "scan_id": scan.scan_id,
                        "venue_id": scan.venue_id,
                        "scanned_at": scan.at.isoformat(),
                        "kind": scan.kind,
                        "colour": scan.colour,
                        "level": scan.level,
                        "verdict": scan.verdict,
                        "temperature": scan.temperature,
                        "person_id": scan.person_id,
                        "name_masked": scan.name_masked,
                        "id_masked": scan.id_masked,
                    },
                    expires_ttl=ttl_after(scan.at, retention_days),
                )
            )
            written += 1
    return written
