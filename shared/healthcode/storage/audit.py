"""The append-only audit trail (colour history, override steps, identity reads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError

from healthcode import clock
from healthcode.storage.base import instant_key
from healthcode.storage.models import AuditEntry


@dataclass(frozen=True)
class Entry:
    """One entry of a subject's trail: what happened (``kind``), who did it, when, and details
    that never hold personal data in clear. ``entry_id`` makes a retried write land once."""

    subject: str
    kind: str
    actor: str
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)
    entry_id: str = ""


def person_subject(person_id: str) -> str:
    return f"person#{person_id}"


def venue_subject(venue_id: str) -> str:
    return f"venue#{venue_id}"


def person_entry(
    person_id: str,
    kind: str,
    *,
    actor: str,
    at: datetime,
    details: Mapping[str, Any],
    entry_id: str,
) -> Entry:
    """An entry of a person's trail, to be written with a change to the person."""
    return Entry(person_subject(person_id), kind, actor, at, dict(details), entry_id)


def item_of(entry: Entry) -> AuditEntry:
    """The stored item of ``entry``: sort key ``<UTC instant>#<kind>#<entry_id>``."""
    return AuditEntry(
        entry.subject,
        f"{instant_key(entry.at)}#{entry.kind}#{entry.entry_id or uuid.uuid4().hex}",
        kind=entry.kind,
        actor=entry.actor,
        at=entry.at,
        details=dict(entry.details),
    )


def view_of(item: AuditEntry) -> Entry:
    entry_id = item.entry.split("#", 2)[-1]
    return Entry(item.subject, item.kind, item.actor, item.at, dict(item.details or {}), entry_id)


def append(
    subject: str,
    kind: str,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    entry_id: str | None = None,
) -> Entry:
    """Write one entry; never overwrites (``entry_id`` makes a retried write idempotent)."""
    entry = Entry(subject, kind, actor, at or clock.now(), dict(details or {}), entry_id or uuid.uuid4().hex)
    item_of(entry).save(condition=AuditEntry.entry.does_not_exist())
    return entry


def entries(
    subject: str, *, kinds: frozenset[str] | None = None, newest_first: bool = False
) -> Iterator[Entry]:
    """A subject's entries in time order (one paged Query)."""
    for item in AuditEntry.query(subject, scan_index_forward=not newest_first):
        if kinds is None or item.kind in kinds:
            yield view_of(item)


def count_by_actor_since(actor: str, kind: str, since: datetime) -> int:
    """How many ``kind`` entries ``actor`` wrote since ``since`` (override requests per hour)."""
    query = AuditEntry.by_actor.query(
        actor, AuditEntry.entry >= instant_key(since), filter_condition=AuditEntry.kind == kind
    )
    return sum(1 for _ in query)


def append_once(
    subject: str, kind: str, *, actor: str, details: Mapping[str, Any], at: datetime, entry_id: str
) -> bool:
    """Write one entry unless the entry with this id at this instant is already written (a
    retry); False then."""
    try:
        append(subject, kind, actor=actor, details=details, at=at, entry_id=entry_id)
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True
