"""The append-only audit trail (colour history, override steps, identity reads).

Layout: one partition per *subject* (``person#<id>``, ``venue#<id>``, ``account#<sub>``), sort
key ``<UTC instant>#<kind>#<entry id>``, so a subject's trail is one Query in time order. The
``by_actor`` index (partition ``actor``, same sort key) gives an account's acts in time order
the same way: both reads are paged Queries, newest first, never a Scan. A page's cursor names
the last entry shown and carries a keyed MAC (``protection.pii``): a cursor this list did not
give, or one given for another subject or actor, is ``422 invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from pynamodb.exceptions import PutError

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.protection import pii
from healthcode.storage.base import instant_key
from healthcode.storage.connection import table
from healthcode.storage.models import AuditEntry

#: Keyed-hash domain of page cursors.
_CURSOR_KIND: Final = "audit_cursor"


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


def account_subject(sub: str) -> str:
    """The subject of entries about an account (reads of its acts)."""
    return f"account#{sub}"


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


# -- reading the trail, paged ---------------------------------------------------------------------

By = Literal["subject", "actor"]


def _mac(payload: str) -> list[str]:
    return pii.keyed_hashes_for_lookup(_CURSOR_KIND, payload)


def _encode(by: By, key: str, last: AuditEntry) -> str:
    payload = json.dumps({"b": by, "k": key, "s": last.subject, "e": last.entry}, sort_keys=True)
    document = {"p": payload, "m": pii.keyed_hash(_CURSOR_KIND, payload)}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _decode(cursor: str | None, by: By, key: str) -> dict[str, dict[str, str]] | None:
    """The ``ExclusiveStartKey`` a cursor stands for; 422 ``invalid_cursor`` for anything this
    list (for this subject or actor) did not give."""
    if cursor is None:
        return None
    refused = InvalidInput("cursor is not one this list gave", field="cursor", code="invalid_cursor")
    if len(cursor) > 2048:
        raise refused
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        payload, mac = document["p"], document["m"]
        if not isinstance(payload, str) or not isinstance(mac, str):
            raise refused
        if not any(hmac.compare_digest(mac, expected) for expected in _mac(payload)):
            raise refused
        plain = json.loads(payload)
    except (ValueError, binascii.Error, TypeError, KeyError) as error:
        raise refused from error
    if not isinstance(plain, dict) or plain.get("b") != by or plain.get("k") != key:
        raise refused
    subject, entry = plain.get("s"), plain.get("e")
    if not isinstance(subject, str) or not isinstance(entry, str):
        raise refused
    start = {"subject": {"S": subject}, "entry": {"S": entry}}
    if by == "actor":
        start["actor"] = {"S": key}
    return start


def check_cursor(cursor: str | None, by: By, key: str) -> None:
    """422 ``invalid_cursor`` unless ``cursor`` is absent or one this list gave (to check a
    request before anything is written)."""
    _decode(cursor, by, key)


def page(by: By, key: str, *, limit: int, cursor: str | None) -> tuple[list[Entry], str | None]:
    """One page of a subject's trail (``by="subject"``) or an actor's acts (``by="actor"``,
    index ``by_actor``), newest first: at most ``limit`` entries (one Query of ``limit + 1``)
    and the cursor of the next page (None at the end)."""
    start = _decode(cursor, by, key)
    extra: dict[str, Any] = {"index_name": AuditEntry.by_actor.Meta.index_name} if by == "actor" else {}
    answer = table(AuditEntry).query(
        key, scan_index_forward=False, limit=limit + 1, exclusive_start_key=start, **extra
    )
    items = [AuditEntry.from_raw_data(raw) for raw in answer.get("Items", [])]
    shown = items[:limit]
    # more after this page: a row beyond it, or a Query cut short by its 1 MB page
    more = len(items) > limit or bool(answer.get("LastEvaluatedKey"))
    following = _encode(by, key, shown[-1]) if more and shown else None
    return [view_of(item) for item in shown], following
