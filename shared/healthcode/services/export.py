"""Export to the provincial platform: venue registrations and scan records as JSON lines.

Henan's 场所码 standard 2.0 asks every city to hand the provincial platform the *whole* set of
venue-code registrations and scan records (全量汇聚). The export consumer
(``functions/export``) reads the VenuesTable and ScansTable streams and writes what this module
makes of each batch into the stack's export bucket; the schema is ``docs/export-schema.md``.

The handler passes each stream record as a :class:`Change` (images already decoded from
DynamoDB's wire form); :func:`read` makes it a line (keyed hashes by
``healthcode.protection.pii.keyed_hash``) and :func:`write` puts a batch's lines in the bucket,
one PutObject per table and day, a failed PutObject failing the records it carried.

What leaves the stack, and what does not
    An explicit allow-list per table: an attribute added to an item later is not exported until
    it is added here and to the schema document. Personal fields leave only as keyed hashes
    (HMAC under the stack's hash key: stable, so the platform can count and join, but not
    reversible without the key): the scanning account (``scanner_hash``), the venue manager's
    account (``manager_hash``) and, when the venue's subject is a person (an ID-card or licence-
    plate registration), the subject name (``subject_hash``) and the credential number
    (``credential_hash``, the keyed hash stored with the venue). An organisation's credential
    (统一社会信用代码, 工商注册号) is public in the enterprise credit system and leaves in clear
    (``credential_number``), so the platform can match registrations against its register of
    entities (申领率). ``person_id`` is pseudonymous already and goes as it is. Never exported:
    ciphertexts (``*_enc``), masks of names or ID numbers, lookup hashes of phones, venue codes
    (signed tokens), phone-guard and join-code items.

Objects
    One object per table and day within a batch, ``exports/<table>/dt=<YYYY-MM-DD>/<stream>-
    <first seq>-<last seq>.jsonl``: the day is the China-local date (+08:00) of the scan
    (scans) or of the change (venues); ``<stream>`` is the stream's label (Lambda's DynamoDB event
    names no shard); the sequence numbers are those of the first and last line in the object. A
    redelivered batch writes the same names with the same bytes (lines carry no export time),
    so a retry overwrites rather than adds. A batch retried from a failed record can be cut
    differently, so a record may appear in two objects: readers de-duplicate on
    ``(table, seq)``, which is unique.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from healthcode import aws
from healthcode.clock import CHINA
from healthcode.protection import pii
from healthcode.protection.logs import get_logger
from healthcode.rules.venues import ORGANISATION_CREDENTIALS
from healthcode.settings import env, settings

logger = get_logger("export")

Table = Literal["scans", "venues"]
Operation = Literal["INSERT", "MODIFY", "REMOVE"]
#: ``(kind, value) -> keyed hash``: ``healthcode.protection.pii.keyed_hash`` in the stack.
Hasher = Callable[[str, str], str]

SCHEMA: Final[Mapping[Table, str]] = {
    "scans": "healthcode.export.scan/1",
    "venues": "healthcode.export.venue/1",
}
PREFIX: Final = "exports"
CONTENT_TYPE: Final = "application/x-ndjson; charset=utf-8"
#: Hash kinds (``pii.keyed_hash`` separates domains by kind).
ACCOUNT_HASH: Final = "account"
SUBJECT_HASH: Final = "subject_name"
#: The environment variable naming the export bucket.
BUCKET_ENV: Final = "EXPORT_BUCKET"
#: Failures of a PutObject that leave its records to be retried.
WRITE_ERRORS: Final = (ClientError, BotoCoreError)
#: Venue-table items that are not registrations (storage/venues.py ``PHONE_GUARD_PREFIX``).
PHONE_GUARD_PREFIX: Final = "phone#"
#: Ids of registered venues (storage/venues.py ``new_venue_id``); the table's other items (phone
#: guards, join codes) are never exported.
VENUE_ID_PREFIX: Final = "v-"
_STORED_INSTANT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
_SEQUENCE = re.compile(r"[0-9]{1,40}")
_STREAM_LABEL = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class NotExportable(ValueError):
    """A stream record that cannot be read as an item of its table (a poison record)."""


@dataclass(frozen=True)
class Change:
    """One stream record as the export sees it."""

    table: Table
    operation: Operation
    sequence: str
    changed_at: datetime
    keys: Mapping[str, Any]
    image: Mapping[str, Any] | None  # the new image; None on REMOVE
    by_ttl: bool = False  # a REMOVE written by DynamoDB's TTL process


@dataclass(frozen=True)
class ExportLine:
    table: Table
    day: date
    sequence: str
    document: Mapping[str, Any]

    def text(self) -> str:
        """The line: compact JSON, keys sorted, UTF-8 characters as they are (no newline)."""
        return json.dumps(self.document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ExportObject:
    key: str
    lines: tuple[ExportLine, ...]

    def body(self) -> bytes:
        return "".join(line.text() + "\n" for line in self.lines).encode("utf-8")


@dataclass(frozen=True)
class StreamLine:
    """An export line and the stream it was read from (objects are named after the stream)."""

    stream: str
    line: ExportLine


Record = TypeVar("Record")


def read(change: Change, *, stream: str) -> StreamLine | None:
    """The line a stream record becomes in this stack (None: nothing is exported)."""
    line = export_line(change, province=settings().province, hasher=pii.keyed_hash)
    return None if line is None else StreamLine(stream=stream, line=line)


def write(batch: Sequence[tuple[Record, StreamLine]], failed: Callable[[Iterable[Record]], None]) -> None:
    """One PutObject per stream, table and day; a failed write hands the records it carried to
    ``failed`` (called while its error is being handled)."""
    bucket = env(BUCKET_ENV)
    s3 = aws.client("s3")
    streams: dict[str, list[tuple[Record, ExportLine]]] = {}
    for record, entry in batch:
        streams.setdefault(entry.stream, []).append((record, entry.line))
    for stream, entries in streams.items():
        record_of = {id(line): record for record, line in entries}
        for obj in export_objects((line for _, line in entries), stream=stream):
            try:
                s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body(), ContentType=CONTENT_TYPE)
            except WRITE_ERRORS:
                logger.warning("export object write failed", extra={"key": obj.key}, exc_info=True)
                failed(record_of[id(line)] for line in obj.lines)
                continue
            logger.info("exported", extra={"key": obj.key, "lines": len(obj.lines)})


def export_line(change: Change, *, province: str, hasher: Hasher) -> ExportLine | None:
    """The line for ``change``, or None when nothing about it is exported (TTL expiry of our
    own retention, phone guards). Raises ``NotExportable`` for a record that is not an item of
    its table."""
    if not _SEQUENCE.fullmatch(change.sequence):
        raise NotExportable("a stream sequence number is 1 to 40 digits")
    if change.changed_at.tzinfo is None:
        raise NotExportable("the change time must be timezone-aware")
    if change.by_ttl:
        return None  # the platform keeps its own copy: our retention is not a deletion
    if change.operation != "REMOVE" and change.image is None:
        raise NotExportable(f"{change.operation} record without a new image")
    if change.table == "scans":
        fields, day = _scan(change, hasher)
    else:
        venue = _venue(change, hasher)
        if venue is None:
            return None
        fields, day = venue, change.changed_at.astimezone(CHINA).date()
    document = {
        "schema": SCHEMA[change.table],
        "province": province,
        "op": change.operation,
        "seq": change.sequence,
        "changed_at": _show_precise(change.changed_at),
        **fields,
    }
    return ExportLine(table=change.table, day=day, sequence=change.sequence, document=document)


def export_objects(lines: Iterable[ExportLine], *, stream: str) -> list[ExportObject]:
    """Group a batch's lines by table and day, in delivery order, one object per group."""
    groups: dict[tuple[Table, date], list[ExportLine]] = {}
    for line in lines:
        groups.setdefault((line.table, line.day), []).append(line)
    return [
        ExportObject(
            key=object_key(table, day, stream, group[0].sequence, group[-1].sequence), lines=tuple(group)
        )
        for (table, day), group in groups.items()
    ]


def object_key(table: Table, day: date, stream: str, first_sequence: str, last_sequence: str) -> str:
    """``exports/<table>/dt=<YYYY-MM-DD>/<stream>-<first seq>-<last seq>.jsonl``."""
    if not _STREAM_LABEL.fullmatch(stream):
        raise ValueError("a stream label is 1 to 64 characters of [A-Za-z0-9._:-]")
    for sequence in (first_sequence, last_sequence):
        if not _SEQUENCE.fullmatch(sequence):
            raise ValueError("a stream sequence number is 1 to 40 digits")
    label = stream.replace(":", "-")
    return f"{PREFIX}/{table}/dt={day.isoformat()}/{label}-{first_sequence}-{last_sequence}.jsonl"


def stream_of(event_source_arn: str) -> tuple[str, str]:
    """``(table name, stream label)`` from a stream ARN ``...:table/<name>/stream/<label>``."""
    found = re.fullmatch(r"arn:[\w-]+:dynamodb:[\w-]*:\d*:table/([\w.-]+)/stream/(.+)", event_source_arn)
    if not found:
        raise NotExportable("not a DynamoDB stream ARN")
    return found.group(1), found.group(2)


# --- scans ------------------------------------------------------------------------------------


def _scan(change: Change, hasher: Hasher) -> tuple[dict[str, Any], date]:
    at_scan = _text(change.keys, "at_scan")
    instant, _, scan_id = at_scan.partition("#")
    if not scan_id:
        raise NotExportable("scan key without a scan id")
    try:
        scanned_at = datetime.strptime(instant, _STORED_INSTANT).replace(tzinfo=UTC)
    except ValueError:
        raise NotExportable("scan key without a stored instant") from None
    venue_id = _text(change.keys, "venue_shard").rpartition("#")[0]
    if not venue_id:
        raise NotExportable("scan partition key is not <venue_id>#<shard>")
    fields: dict[str, Any] = {
        "scan_id": scan_id,
        "scanned_at": _show_precise(scanned_at),
        "venue_id": venue_id,
    }
    image = change.image
    if image is not None:
        level = _number(image, "level")
        fields.update(
            {
                "person_id": _text(image, "person_id"),
                "root_venue_id": _text(image, "root_venue_id"),
                "venue_type": _text(image, "venue_type"),
                "region_code": _text(image, "region_code"),
                "kind": _text(image, "kind"),
                "scanner_hash": hasher(ACCOUNT_HASH, _text(image, "actor")),
                "risk_level": int(level) if level is not None else None,
                "colour": _text(image, "colour"),
                "verdict": _text(image, "verdict"),
                "abnormal": bool(image.get("abnormal", False)),
                "temperature": _number(image, "temperature"),
                "presented": _optional_text(image, "presented"),
            }
        )
    return fields, scanned_at.astimezone(CHINA).date()


# --- venues -----------------------------------------------------------------------------------


def _subject_hash(image: Mapping[str, Any], subject: str | None, hasher: Hasher) -> str | None:
    """A person subject's keyed hash: the one stored with the venue (whose ``subject_name`` is
    then only a mask), or, for items stored before, the hash of the name in the item."""
    stored = _optional_text(image, "subject_name_hash")
    if stored is not None:
        return stored
    return hasher(SUBJECT_HASH, subject) if subject is not None else None


def _venue(change: Change, hasher: Hasher) -> dict[str, Any] | None:
    venue_id = _text(change.keys, "venue_id")
    if not venue_id.startswith(VENUE_ID_PREFIX):
        return None
    fields: dict[str, Any] = {"venue_id": venue_id}
    image = change.image
    if image is None:
        return fields
    credential_type = _optional_text(image, "credential_type")
    subject = _optional_text(image, "subject_name")
    organisation = credential_type in ORGANISATION_CREDENTIALS
    manager = _optional_text(image, "manager_sub")
    created = _optional_text(image, "created_at")
    closed = _optional_text(image, "closed_at")
    fields.update(
        {
            "name": _optional_text(image, "name"),
            "type": _optional_text(image, "type"),
            "subject_name": subject if organisation else None,
            "subject_hash": None if organisation else _subject_hash(image, subject, hasher),
            "credential_type": credential_type,
            # an organisation's number is stored as registered beside its ciphertext (its "mask")
            "credential_number": _optional_text(image, "credential_masked") if organisation else None,
            "credential_hash": None if organisation else _optional_text(image, "credential_hash"),
            "zone": _optional_text(image, "zone"),
            "store_number": _optional_text(image, "store_number"),
            "closed_at": _show_precise(_stored_instant(closed)) if closed is not None else None,
            "region_code": _optional_text(image, "region_code"),
            "location": _location(image.get("location")),
            "address": _optional_text(image, "address"),
            "parent_venue_id": _optional_text(image, "parent_venue_id"),
            "root_venue_id": _optional_text(image, "root_venue_id"),
            "manager_hash": hasher(ACCOUNT_HASH, manager) if manager is not None else None,
            "registered_at": _show_precise(_stored_instant(created)) if created is not None else None,
        }
    )
    return fields


def _location(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise NotExportable("venue location is not a map")
    lat, lng = _number(value, "lat"), _number(value, "lng")
    if lat is None or lng is None:
        raise NotExportable("venue location without lat and lng")
    return {"lat": lat, "lng": lng}


# --- reading decoded images ---------------------------------------------------------------------


def _text(image: Mapping[str, Any], name: str) -> str:
    value = image.get(name)
    if not isinstance(value, str) or not value:
        raise NotExportable(f"attribute {name} missing or not a string")
    return value


def _optional_text(image: Mapping[str, Any], name: str) -> str | None:
    value = image.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotExportable(f"attribute {name} is not a string")
    return value


def _number(image: Mapping[str, Any], name: str) -> float | None:
    value = image.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise NotExportable(f"attribute {name} is not a number")
    return float(value)


def _stored_instant(text: str) -> datetime:
    try:
        return datetime.strptime(text, _STORED_INSTANT).replace(tzinfo=UTC)
    except ValueError:
        raise NotExportable("stored instant is not in the storage format") from None


def _show_precise(instant: datetime) -> str:
    """ISO 8601 at +08:00, always with milliseconds (``clock.show`` drops them; the order of
    changes within a second matters to the platform)."""
    return instant.astimezone(CHINA).isoformat(timespec="milliseconds")
