"""Scan counters and abnormal-scan alerts per venue and day (StatsTable).

The counters consumer (``functions/counters``) reads the ScansTable stream and keeps these items,
so venue statistics, alerts and daily reports never read raw scan records. A *day* is the
China-local date (+08:00) of the scan time, ``YYYY-MM-DD``.

Items (``pk`` = ``<venue_id>#<day>``)
    ``sk`` = ``STATS``: ``scans``, ``abnormal``, ``complete`` (records holding every field,
    ``rules.indicators.record_complete``), ``by_colour`` {colour: n}, the venue ``name`` and
    ``venue_type`` (as its first scan of the day carried it),
    and ``applied`` {scan partition: highest stream sequence number counted} (see below).
    ``sk`` = ``ALERT#<UTC instant>#<scan_id>``: one per abnormal scan (non-green or fever), its
    fields in ``details``, for the venue's own alerts; removed by TTL ``RetentionDays`` after
    the scan like the scan itself.
    ``sk`` = ``RUN#<scan partition>#<first sequence number>``: a *run marker*, ``last`` = the
    run's last sequence number (see below); removed by TTL ``KEEP_RUNS_DAYS`` after the day.

Regions (GSI ``by_region_day``)
    Reports ask for "units in a region on a day" by county, prefecture (``xxyy00``) or province
    (``xx0000``). Every STATS item carries ``region_day`` = ``<province>#<day>#<n>`` and
    ``region_key`` = ``<region_code>#<venue_id>``: a county is ``begins_with("<code>#")``, a
    prefecture ``begins_with("<xxyy>")``, a province the whole partition. ``n`` (a hash of the
    venue id, ``REGION_SHARDS`` values) spreads one province-day over several index partitions, so
    a busy province's counter writes do not all land on one; a report is ``REGION_SHARDS``
    Queries. (The official side's alerts, with their handling, are ``storage.alerts``.)

Counting exactly once: redeliveries, bisection and replays from the failure queue
    Stream records are delivered at least once, a batch is retried from its first failed record
    or split in two (bisection), and a batch that fails every retry is *skipped* by the event
    source (its place goes to StreamFailureQueue) and may be replayed later (``make replay-dlq``),
    after later scans of the same venue-day were counted. The stream keeps each partition key's
    records in order and a batch is a contiguous stretch of one stream shard, so each scan
    partition (``venue_shard``) is an ordered *source*.

    :func:`add_day` counts a batch's scans of one venue-day with ONE TransactWriteItems: the
    STATS update (on condition that each source's first position in it is beyond the source's
    watermark in ``applied``, which it moves to the last) and, per source, a *run marker*
    ``[first, last]``: the scans of that source counted together — every scan of the venue-day
    from that source in that stretch of the stream. A scan is counted iff a run holds it; runs
    of a source never overlap, and all of them end at or below its watermark.

    * Fast path (nearly every batch): the condition holds, nothing else is read; for a
      venue-day's first batch the update finds no item and a second transaction creates it.
      ``make bench``'s ``counters.updates_per_100_scans`` stays 2.
    * A redelivery, a bisected half or a replay fails the condition; the refusal returns the
      item (``ReturnValuesOnConditionCheckFailure``), and only the scans at or below their
      source's watermark need a look: a Query of that source's runs from the highest position
      down (``ConsistentRead``, it stops at the first run ending below the lowest) says which are
      counted. The rest are written as new runs (each a stretch of the batch with no counted scan
      in it, so runs stay disjoint) with the counts, on condition that each watermark is still
      what was read. So a replay of records the event source skipped counts them even though
      later scans moved the watermark past them, and a replay of records that had been counted
      before giving up (a crash after the write) counts nothing.

    A transaction holds at most 100 items: a batch with more than ``MAX_RUNS_PER_WRITE``
    sources for one venue-day is written in several. A run costs one small item (twice, being
    transactional) per venue-day and source per batch, not per scan. Runs are only needed while a
    record can still be replayed: the stream keeps records 24 hours (older failure-queue
    messages are "gone" for ``make replay-dlq``), so runs expire ``KEEP_RUNS_DAYS`` after the day.
    (Scans counted before run markers existed have none: empty the failure queue before deploying
    this, or a replay of those older records would count them again.)
    Sequence numbers are compared as strings zero-padded to ``SEQUENCE_WIDTH`` digits.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from healthcode.clock import CHINA
from healthcode.errors import InvalidInput
from healthcode.rules.indicators import record_complete
from healthcode.storage.base import instant_key, region_key_prefix, ttl_after
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
#: Rounds of "write, learn what was already counted, write the rest" before giving up.
MAX_ATTEMPTS = 5
RUN_SK = "RUN#"
#: Run markers outlive the stream's records (24 hours) by this much after their day.
KEEP_RUNS_DAYS = 2
#: TransactWriteItems takes 100 items: the STATS write and up to 99 run markers.
MAX_RUNS_PER_WRITE = 99

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
    #: Who recorded the scan (checkpoint staff, or the citizen who checked in) and what was shown
    #: (code | paper | id_number | foreign_code; None for a check-in): whether a manager may see
    #: the identity depends on them. None on alerts written before they were kept.
    actor: str | None = None
    presented: str | None = None


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
    #: Scans whose record holds every field (``rules.indicators.record_complete``).
    complete: int = 0
    #: The venue's type as its scans carry it (None on counters written before it was kept).
    venue_type: str | None = None


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
        actor=details.get("actor"),
        presented=details.get("presented"),
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
    for item in _region_query(partitions, region_key_prefix(region_code)):
        yield UnitStats(
            venue_id=str(item.venue_id),
            name=item.name,
            region_code=str(item.region_key).split("#", 1)[0],
            day=day,
            scans=int(item.scans or 0),
            abnormal=int(item.abnormal or 0),
            by_colour=_colours(item.by_colour),
            complete=int(item.complete or 0),
            venue_type=item.venue_type,
        )


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
    actor: str | None = None
    presented: str | None = None
    #: Whether the record holds every field (``rules.indicators.record_complete``).
    complete: bool = False
    venue_type: str | None = None

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
        actor=scan.actor,
        presented=scan.presented,
        complete=record_complete(
            scan.kind,
            name_masked=scan.name_masked,
            id_masked=scan.id_masked,
            colour=scan.colour,
            temperature=scan.temperature,
        ),
        venue_type=scan.venue_type,
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


def _day_end(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)


@dataclass(frozen=True, slots=True)
class _Run:
    """Scans of one source counted together: every scan of the venue-day from that source with a
    position in ``[first, last]`` (a batch is a contiguous stretch of its stream shard)."""

    source: str
    first: str
    last: str
    scans: tuple[CountedScan, ...]


def _run_sk(source: str, first: str) -> str:
    return f"{RUN_SK}{source}#{first}"


def _runs(scans: Sequence[CountedScan]) -> list[_Run]:
    """One run per source: all of ``scans`` from it (the write that counts a batch)."""
    by_source: dict[str, list[CountedScan]] = {}
    for scan in scans:
        by_source.setdefault(scan.source, []).append(scan)
    return [
        _Run(source, members[0].position, members[-1].position, tuple(members))
        for source, members in sorted(by_source.items())
        for members in [sorted(members, key=lambda s: s.position)]
    ]


def _segments(batch: Sequence[CountedScan], uncounted: Sequence[CountedScan]) -> list[_Run]:
    """The uncounted scans as runs: per source, each longest stretch of the batch's scans (in
    stream order) that are all uncounted. A stretch holds no counted scan, so its run overlaps
    no run written before."""
    todo = {(s.source, s.position) for s in uncounted}
    runs: list[_Run] = []
    for run in _runs(batch):
        stretch: list[CountedScan] = []
        for scan in (*run.scans, None):
            if scan is not None and (scan.source, scan.position) in todo:
                stretch.append(scan)
                continue
            if stretch:
                runs.append(_Run(run.source, stretch[0].position, stretch[-1].position, tuple(stretch)))
                stretch = []
    return runs


def _applied(item: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v.get("S", "")) for k, v in item.get("applied", {}).get("M", {}).items()}


def _counted_positions(pk: str, source: str, positions: Sequence[str]) -> set[str]:
    """Which of ``positions`` (of one source, at or below its watermark) a run already counted:
    runs of a source never overlap, so a Query from the highest position down, stopping at the
    first run that ends below the lowest, finds every run that can hold one of them."""
    low, high = min(positions), max(positions)
    wanted = sorted(positions)
    found: set[str] = set()
    request: dict[str, Any] = {
        "TableName": table_name("StatsTable"),
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :from AND :to",
        "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
        "ExpressionAttributeValues": {
            ":pk": {"S": pk},
            ":from": {"S": _run_sk(source, "")},
            ":to": {"S": _run_sk(source, high)},
        },
        "ScanIndexForward": False,
        "ConsistentRead": True,
        "Limit": 25,
    }
    while True:
        page = client().query(**request)
        for item in page.get("Items", []):
            first, last = str(item["sk"]["S"]).rsplit("#", 1)[1], str(item["last"]["S"])
            if last < low:
                return found
            found.update(p for p in wanted if first <= p <= last)
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _uncounted(pk: str, pending: Sequence[CountedScan], applied: Mapping[str, str]) -> list[CountedScan]:
    """The scans of ``pending`` that no run counted: those beyond their source's watermark, and
    those at or below it that no run holds (a replay of records the event source gave up on)."""
    out: list[CountedScan] = []
    by_source: dict[str, list[CountedScan]] = {}
    for scan in pending:
        by_source.setdefault(scan.source, []).append(scan)
    for source, members in sorted(by_source.items()):
        mark = applied.get(source)
        old = [s.position for s in members if mark is not None and s.position <= mark]
        counted = _counted_positions(pk, source, old) if old else set()
        out.extend(s for s in members if s.position not in counted)
    return out


def _counts(scans: Sequence[CountedScan]) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    names = {"#scans": "scans", "#abnormal": "abnormal", "#colours": "by_colour", "#complete": "complete"}
    values: dict[str, Any] = {
        ":scans": {"N": str(len(scans))},
        ":abnormal": {"N": str(sum(1 for s in scans if s.abnormal))},
        ":complete": {"N": str(sum(1 for s in scans if s.complete))},
    }
    adds = ["#scans :scans", "#abnormal :abnormal", "#complete :complete"]
    for i, (colour, count) in enumerate(sorted(Counter(s.colour for s in scans).items())):
        names[f"#c{i}"] = colour
        values[f":c{i}"] = {"N": str(count)}
        adds.append(f"#colours.#c{i} :c{i}")
    return names, values, adds


def _run_puts(pk: str, runs: Sequence[_Run], day: str) -> list[dict[str, Any]]:
    expires = str(ttl_after(_day_end(day), KEEP_RUNS_DAYS))
    return [
        {
            "Put": {
                "TableName": table_name("StatsTable"),
                "Item": {
                    "pk": {"S": pk},
                    "sk": {"S": _run_sk(run.source, run.first)},
                    "last": {"S": run.last},
                    "scans": {"N": str(len(run.scans))},
                    "expires_ttl": {"N": expires},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for run in runs
    ]


def _update_item(
    pk: str, runs: Sequence[_Run], name: str | None, *, marks: Mapping[str, str | None] | None
) -> dict[str, Any]:
    """The STATS update counting ``runs``. ``marks`` None: the fast path, on condition that each
    run starts beyond its source's watermark; else each source's watermark must still be what
    was read (None: none yet), and moves to the highest of it and the runs' ends."""
    scans = [scan for run in runs for scan in run.scans]
    names, values, adds = _counts(scans)
    names["#applied"] = "applied"
    sets: list[str] = []
    conditions = ["attribute_exists(pk)"]
    ends: dict[str, tuple[str, str]] = {}
    for run in runs:
        first, last = ends.get(run.source, (run.first, run.last))
        ends[run.source] = (min(first, run.first), max(last, run.last))
    for i, (source, (first, last)) in enumerate(sorted(ends.items())):
        names[f"#s{i}"] = source
        if marks is None:
            values[f":first{i}"] = {"S": first}
            conditions.append(f"(attribute_not_exists(#applied.#s{i}) OR #applied.#s{i} < :first{i})")
            values[f":last{i}"] = {"S": last}
        else:
            mark = marks.get(source)
            if mark is None:
                conditions.append(f"attribute_not_exists(#applied.#s{i})")
            else:
                values[f":mark{i}"] = {"S": mark}
                conditions.append(f"#applied.#s{i} = :mark{i}")
            values[f":last{i}"] = {"S": max(last, mark or "")}
        sets.append(f"#applied.#s{i} = :last{i}")
    if name is not None:
        names["#name"] = "name"
        values[":name"] = {"S": name}
        sets.append("#name = :name")
    return {
        "Update": {
            "TableName": table_name("StatsTable"),
            "Key": {"pk": {"S": pk}, "sk": {"S": STATS_SK}},
            "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _create_item(pk: str, venue_id: str, day: str, runs: Sequence[_Run], name: str | None) -> dict[str, Any]:
    """The venue-day's first STATS item, with ``runs`` counted."""
    scans = [scan for run in runs for scan in run.scans]
    region_code = scans[0].region_code
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": STATS_SK},
        "venue_id": {"S": venue_id},
        "region_day": {"S": _units_partition(_province(region_code), day, shard_of(venue_id, REGION_SHARDS))},
        "region_key": {"S": f"{region_code}#{venue_id}"},
        "scans": {"N": str(len(scans))},
        "abnormal": {"N": str(sum(1 for s in scans if s.abnormal))},
        "complete": {"N": str(sum(1 for s in scans if s.complete))},
        "by_colour": _wire_colours(Counter(s.colour for s in scans)),
        "applied": {"M": {run.source: {"S": run.last} for run in runs}},
        "expires_ttl": {"N": str(ttl_after(_day_end(day), KEEP_COUNTERS_DAYS))},
    }
    if name is not None:
        item["name"] = {"S": name}
    if scans[0].venue_type:
        item["venue_type"] = {"S": scans[0].venue_type}
    return {
        "Put": {
            "TableName": table_name("StatsTable"),
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


_UNKNOWN: Final[dict[str, Any]] = {"unknown": True}


def _write(counter: dict[str, Any], puts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One TransactWriteItems: the STATS write and the run markers. None when done; else the
    STATS item as it was when its condition failed (``{}``: there is none), or ``_UNKNOWN``
    (another item's condition or a conflicting transaction: read it again)."""
    try:
        client().transact_write_items(TransactItems=[counter, *puts])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
        first = reasons[0] if reasons else {}
        if first.get("Code") == "ConditionalCheckFailed":
            stored = first.get("Item")
            return dict(stored) if isinstance(stored, dict) else {}
        if any(r.get("Code") in ("ThrottlingError", "ProvisionedThroughputExceeded") for r in reasons):
            raise
        return _UNKNOWN
    return None


def add_day(venue_id: str, day: str, scans: Sequence[CountedScan], *, name: str | None) -> int:
    """Count ``scans`` (all of ``venue_id`` on ``day``) exactly once; returns how many were new.

    Normally one TransactWriteItems (the STATS update and one run marker per source; for a
    venue-day's first batch a second one creating the item). A redelivery, or a replay of
    records the event source gave up on, costs the refused write, a Query per source whose
    watermark it is below, and the write of what is new."""
    if any(s.venue_id != venue_id or s.day != day for s in scans):
        raise ValueError("add_day takes the scans of one venue and one day")
    pk = _day_pk(venue_id, day)
    batch = sorted({(s.source, s.position): s for s in scans}.values(), key=lambda s: (s.source, s.position))
    pending = list(batch)
    counted = 0
    stored: dict[str, Any] | None = None  # the STATS item as last seen (None: not read)
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            return counted
        if stored is None or stored is _UNKNOWN:  # the fast path: nothing of the batch counted yet
            runs = _runs(pending)[:MAX_RUNS_PER_WRITE]
            counter = _update_item(pk, runs, name, marks=None)
        elif not stored:
            runs = _runs(pending)[:MAX_RUNS_PER_WRITE]
            counter = _create_item(pk, venue_id, day, runs, name)
        else:
            applied = _applied(stored)
            pending = _uncounted(pk, pending, applied)
            if not pending:
                return counted
            runs = _segments(batch, pending)[:MAX_RUNS_PER_WRITE]
            counter = _update_item(
                pk, runs, name, marks={run.source: applied.get(run.source) for run in runs}
            )
        stored = _write(counter, _run_puts(pk, runs, day))
        if stored is None:
            done = {(s.source, s.position) for run in runs for s in run.scans}
            counted += len(done)
            pending = [s for s in pending if (s.source, s.position) not in done]
    if not pending:
        return counted
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
                        "actor": scan.actor,
                        "presented": scan.presented,
                    },
                    expires_ttl=ttl_after(scan.at, retention_days),
                )
            )
            written += 1
    return written
