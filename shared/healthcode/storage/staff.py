"""Checkpoint staff: which accounts may act at which venue (``StaffTable``).

An item ``(venue_id, sub)`` says account ``sub`` may record verifications and manual
registrations at venue ``venue_id``; an assignment to a complex (the root of a ``parent_venue_id``
chain) covers every door and store under it. Whether an account is assigned is a key lookup: the
verification reads the direct key inside its one BatchGetItem (``storage.scan_reads``), and the
complex root's key with one GetItem only when the direct one is absent (:func:`assigned`).

Assigning and removing write the venue's audit entry in the same TransactWriteItems, so an
assignment never exists without its history. A venue's staff is one Query, paged by an opaque
cursor (the last key, checked when it comes back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from healthcode.storage import audit, cursors
from healthcode.storage.connection import connection, table
from healthcode.storage.models import AuditEntry, StaffAssignment

#: Audit kinds of the venue's trail.
ASSIGNED: Final = "staff_assigned"
REMOVED: Final = "staff_removed"


@dataclass(frozen=True)
class Assignment:
    venue_id: str
    sub: str
    assigned_at: datetime
    assigned_by: str


def _view(item: StaffAssignment) -> Assignment:
    return Assignment(
        venue_id=item.venue_id, sub=item.sub, assigned_at=item.assigned_at, assigned_by=item.assigned_by
    )


def key_of(venue_id: str, sub: str) -> dict[str, dict[str, str]]:
    """The raw key of an assignment (for a BatchGetItem across tables)."""
    return {"venue_id": {"S": venue_id}, "sub": {"S": sub}}


def get(venue_id: str, sub: str) -> Assignment | None:
    """The assignment, read consistently (a removal counts at once)."""
    try:
        return _view(StaffAssignment.get(venue_id, sub, consistent_read=True))
    except StaffAssignment.DoesNotExist:
        return None


def assigned(venue_id: str, root_venue_id: str | None, sub: str, *, direct: bool | None = None) -> bool:
    """Whether ``sub`` may act at ``venue_id``: assigned to it, or to its complex root.
    ``direct``: what a read already made says of the direct key (None: not read yet)."""
    if direct is None:
        direct = get(venue_id, sub) is not None
    if direct:
        return True
    if not root_venue_id or root_venue_id == venue_id:
        return False
    return get(root_venue_id, sub) is not None


def _cancelled_by_condition(error: TransactWriteError) -> bool:
    if error.cause_response_code != "TransactionCanceledException":
        return False
    return any(
        reason is not None and reason.code == "ConditionalCheckFailed"
        for reason in error.cancellation_reasons
    )


def assign(venue_id: str, sub: str, *, by: str, now: datetime) -> Assignment:
    """Assign ``sub`` to the venue (with the audit entry); assigning again answers the standing
    assignment and writes nothing."""
    item = StaffAssignment(venue_id, sub, assigned_at=now, assigned_by=by)
    entry = audit.item_of(
        audit.Entry(audit.venue_subject(venue_id), ASSIGNED, by, now, {"sub": sub}, entry_id=sub)
    )
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(item, condition=StaffAssignment.sub.does_not_exist())
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if not _cancelled_by_condition(error):
            raise
        standing = get(venue_id, sub)
        if standing is None:  # removed again between the two: the caller may simply retry
            raise
        return standing
    return _view(item)


def remove(venue_id: str, sub: str, *, by: str, now: datetime) -> bool:
    """Remove ``sub`` from the venue (with the audit entry); False when it was not assigned."""
    entry = audit.item_of(
        audit.Entry(audit.venue_subject(venue_id), REMOVED, by, now, {"sub": sub}, entry_id=sub)
    )
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.delete(StaffAssignment(venue_id, sub), condition=StaffAssignment.sub.exists())
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if _cancelled_by_condition(error):
            return False
        raise
    return True


# -- a venue's staff, paged ----------------------------------------------------------------------


def _encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return cursors.encode({"v": key["venue_id"]["S"], "s": key["sub"]["S"]})


def _decode(cursor: str | None, venue_id: str) -> dict[str, Any] | None:
    if cursor is None:
        return None
    plain = cursors.decode(cursor, frozenset({"v", "s"}))
    if plain["v"] != venue_id:
        raise cursors.refused()
    return key_of(venue_id, plain["s"])


def of_venue(venue_id: str, *, limit: int, cursor: str | None) -> tuple[list[Assignment], str | None]:
    """The venue's staff in account order, one Query of at most ``limit``; and the cursor of the
    next page (None at the end). A cursor this list did not give → 422 ``invalid_cursor``."""
    answer = table(StaffAssignment).query(
        venue_id, exclusive_start_key=_decode(cursor, venue_id), limit=limit, consistent_read=True
    )
    items = [_view(StaffAssignment.from_raw_data(raw)) for raw in answer.get("Items", [])]
    return items, _encode(answer.get("LastEvaluatedKey"))
