"""The append-only audit trail (colour history, override steps, identity reads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.storage.base import instant_key
from healthcode.storage.models import AuditEntry


def append(
    subject: str,
    kind: str,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    entry_id: str | None = None,
) -> AuditEntry:
    """Write one entry; never overwrites (``entry_id`` makes a retried write idempotent)."""
    when = at or clock.now()
    entry = AuditEntry(
        subject,
        f"{instant_key(when)}#{kind}#{entry_id or uuid.uuid4().hex}",
        kind=kind,
        actor=actor,
        at=when,
        details=dict(details or {}),
    )
    entry.save(condition=AuditEntry.entry.does_not_exist())
    return entry


def person_subject(person_id: str) -> str:
    return f"person#{person_id}"


def venue_subject(venue_id: str) -> str:
    return f"venue#{venue_id}"


def entries(
    subject: str, *, kinds: frozenset[str] | None = None, newest_first: bool = False
) -> Iterator[AuditEntry]:
    """A subject's entries in time order (one paged Query)."""
    for entry in AuditEntry.query(subject, scan_index_forward=not newest_first):
        if kinds is None or entry.kind in kinds:
            yield entry


def count_by_actor_since(actor: str, kind: str, since: datetime) -> int:
    """How many ``kind`` entries ``actor`` wrote since ``since`` (override requests per hour)."""
    query = AuditEntry.by_actor.query(
        actor, AuditEntry.entry >= instant_key(since), filter_condition=AuditEntry.kind == kind
    )
    return sum(1 for _ in query)
