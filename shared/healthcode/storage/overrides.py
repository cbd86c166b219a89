"""RequestsTable as officials work it: manual colour overrides under the two-official rule, and
officials' answers to appeals.

Both are ``models.Request`` items. While open they carry ``queue`` = ``<kind>#<status>``
(``override#pending_approval``, ``appeal#open``), which the ``by_queue`` index lists oldest
first; a closed request drops ``queue`` and leaves the index (sparse).

Every step is one ``TransactWriteItems``: the request (created with ``attribute_not_exists``,
later changed under its ``version`` and its open status), the audit entry on the person
(``override_requested`` / ``override_approved`` / ``override_rejected`` / ``appeal_answered``,
append-only, never overwritten) and, on approval, the override fact under the person, which the
colour consumer turns into the new colour. So a request, its audit entry and its effect are
written together or not at all. A step refused by its conditions answers False; what that means
(a retry, a concurrent decision) is the overrides service's to tell.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.rules import colour
from healthcode.rules.cases import OverrideRequest
from healthcode.storage import facts
from healthcode.storage.base import instant_key
from healthcode.storage.connection import connection, table
from healthcode.storage.models import AuditEntry, Request
from healthcode.storage.persons import audit_entry

__all__ = [
    "APPEAL",
    "APPEAL_ANSWERED",
    "APPEAL_OPEN",
    "APPLIED",
    "OVERRIDE",
    "OVERRIDE_APPROVED",
    "OVERRIDE_REJECTED",
    "OVERRIDE_REQUESTED",
    "PENDING_APPROVAL",
    "REJECTED",
    "RequestView",
    "add_override",
    "answer_appeal",
    "close_override",
    "get",
    "is_appeal_id",
    "is_override_id",
    "open_appeals",
    "pending_overrides",
]

OVERRIDE: Final = "override"
APPEAL: Final = "appeal"
PENDING_APPROVAL: Final = "pending_approval"
APPLIED: Final = "applied"
REJECTED: Final = "rejected"
APPEAL_OPEN: Final = "open"
#: Audit kinds (the person's history shows them).
OVERRIDE_REQUESTED: Final = "override_requested"
OVERRIDE_APPROVED: Final = "override_approved"
OVERRIDE_REJECTED: Final = "override_rejected"
APPEAL_ANSWERED: Final = "appeal_answered"
#: Longest request id a route looks up.
MAX_ID = 64


@dataclass(frozen=True)
class RequestView:
    """An override or an appeal as stored (``note``: an override's note, an appeal's reason;
    ``level`` and ``colour``: what the override sets, or what the appeal contests)."""

    request_id: str
    kind: str
    person_id: str
    requested_by: str
    created_at: datetime
    status: str
    colour: str | None
    level: float | None
    reason_code: str | None
    evidence_ref: str | None
    note: str | None
    until: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    answer: str | None
    version: int | None


def _view(item: Request) -> RequestView:
    return RequestView(
        request_id=item.request_id,
        kind=item.kind,
        person_id=item.person_id,
        requested_by=item.requested_by,
        created_at=clock.parse_instant(item.created_at),
        status=item.status,
        colour=item.colour,
        level=item.level,
        reason_code=item.reason_code,
        evidence_ref=item.evidence_ref,
        note=item.note,
        until=item.until,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        answer=item.answer,
        version=item.version,
    )


def _first_condition_failed(error: TransactWriteError) -> bool:
    reasons = error.cancellation_reasons
    return (
        bool(reasons)
        and reasons[0] is not None
        and reasons[0].code in {"ConditionalCheckFailed", "TransactionConflict"}
    )


def is_override_id(request_id: str) -> bool:
    """Whether an override could have this id (``ovr-…``)."""
    return request_id.startswith("ovr-") and len(request_id) <= MAX_ID


def is_appeal_id(request_id: str) -> bool:
    """Whether an appeal could have this id."""
    return len(request_id) <= MAX_ID and "#" not in request_id


def get(request_id: str, *, consistent: bool = True) -> RequestView | None:
    try:
        return _view(Request.get(request_id, consistent_read=consistent))
    except Request.DoesNotExist:
        return None


def _details(request: Request | RequestView) -> dict[str, Any]:
    return {
        "override_id": request.request_id,
        "colour": request.colour,
        "risk_level": int(request.level or 0),
        "reason_code": request.reason_code,
        "evidence_ref": request.evidence_ref,
        "note": request.note,
        "until": instant_key(request.until) if request.until else None,
        "requested_by": request.requested_by,
    }


def add_override(
    override_id: str,
    *,
    person_id: str,
    actor: str,
    change: OverrideRequest,
    now: datetime,
    applied: colour.Override | None,
) -> RequestView | None:
    """Record an override request and its ``override_requested`` entry; with ``applied`` (one
    official suffices) it is applied at once: its fact and an ``override_approved`` entry go in
    the same transaction. None if the id is taken (a retry, or a collision)."""
    request = Request(
        override_id,
        kind=OVERRIDE,
        created_at=instant_key(now),
        person_id=person_id,
        requested_by=actor,
        status=PENDING_APPROVAL,
        queue=f"{OVERRIDE}#{PENDING_APPROVAL}",
        colour=change.colour,
        level=int(change.level),
        reason_code=change.reason_code,
        evidence_ref=change.evidence_ref,
        note=change.note,
        until=change.until,
        history=[f"{instant_key(now)} {OVERRIDE_REQUESTED} {actor}"],
    )
    if applied is not None:
        request.status = APPLIED
        request.queue = None
        request.decided_by = actor
        request.decided_at = now
        request.history = [*request.history, f"{instant_key(now)} {OVERRIDE_APPROVED} {actor}"]
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(request, condition=Request.request_id.does_not_exist())
            transaction.save(
                audit_entry(
                    person_id,
                    OVERRIDE_REQUESTED,
                    actor=actor,
                    at=now,
                    details=_details(request),
                    entry_id=override_id,
                ),
                condition=AuditEntry.entry.does_not_exist(),
            )
            if applied is not None:
                transaction.save(facts.override_item(person_id, applied, recorded_at=now, source=override_id))
                transaction.save(
                    audit_entry(
                        person_id,
                        OVERRIDE_APPROVED,
                        actor=actor,
                        at=now,
                        details={**_details(request), "second_official_required": False},
                        entry_id=override_id,
                    ),
                    condition=AuditEntry.entry.does_not_exist(),
                )
    except TransactWriteError as error:
        if not _first_condition_failed(error):
            raise
        return None
    return _view(request)


def close_override(
    request: RequestView,
    *,
    status: str,
    actor: str,
    now: datetime,
    kind: str,
    answer: str | None,
    applied: colour.Override | None,
) -> bool:
    """Close a pending override (``status`` applied or rejected, audit ``kind``): the request
    (under its version, still pending), the audit entry and, if ``applied``, the override fact,
    in one transaction. False if the request was no longer pending as read."""
    details = {**_details(request), "decided_by": actor}
    if answer is not None:
        details["answer"] = answer
    entry = audit_entry(
        request.person_id, kind, actor=actor, at=now, details=details, entry_id=request.request_id
    )
    actions: list[Action] = [
        Request.status.set(status),
        Request.decided_by.set(actor),
        Request.decided_at.set(now),
        Request.queue.remove(),
        Request.history.set(Request.history.append([f"{instant_key(now)} {kind} {actor}"])),
    ]
    if answer is not None:
        actions.append(Request.answer.set(answer))
    item = Request(request.request_id)
    item.version = request.version
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(item, actions=actions, condition=Request.status == PENDING_APPROVAL)
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
            if applied is not None:
                transaction.save(
                    facts.override_item(
                        request.person_id, applied, recorded_at=now, source=request.request_id
                    )
                )
    except TransactWriteError as error:
        if _first_condition_failed(error):
            return False
        raise
    return True


def answer_appeal(appeal: RequestView, *, outcome: str, official: str, answer: str, now: datetime) -> bool:
    """Close an open appeal with ``outcome`` and the official's answer, with its
    ``appeal_answered`` entry, in one transaction. False if it was no longer open as read."""
    entry = audit_entry(
        appeal.person_id,
        APPEAL_ANSWERED,
        actor=official,
        at=now,
        details={"appeal_id": appeal.request_id, "outcome": outcome, "answer": answer},
        entry_id=appeal.request_id,
    )
    actions: list[Action] = [
        Request.status.set(outcome),
        Request.decided_by.set(official),
        Request.decided_at.set(now),
        Request.answer.set(answer),
        Request.queue.remove(),
        Request.history.set(Request.history.append([f"{instant_key(now)} {APPEAL_ANSWERED} {official}"])),
    ]
    item = Request(appeal.request_id)
    item.version = appeal.version
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(item, actions=actions, condition=Request.status == APPEAL_OPEN)
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if _first_condition_failed(error):
            return False
        raise
    return True


# -- queues --------------------------------------------------------------------------------------


def _encode(key: Mapping[str, Any] | None) -> str | None:
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def _decode(token: str | None, queue: str) -> dict[str, Any] | None:
    if token is None:
        return None
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as error:
        raise InvalidInput("next is not a token this list gave", field="next", code="invalid_next") from error
    if (
        not isinstance(plain, dict)
        or set(plain) != {"request_id", "queue", "created_at"}
        or plain.get("queue") != queue
        or not all(isinstance(value, str) for value in plain.values())
    ):
        raise InvalidInput("next is not a token this list gave", field="next", code="invalid_next")
    return {name: {"S": value} for name, value in plain.items()}


def _queue(queue: str, *, limit: int, after: str | None) -> tuple[list[RequestView], str | None]:
    answer = table(Request).query(
        queue, index_name="by_queue", exclusive_start_key=_decode(after, queue), limit=limit
    )
    items = [_view(Request.from_raw_data(raw)) for raw in answer.get("Items", [])]
    return items, _encode(answer.get("LastEvaluatedKey"))


def pending_overrides(*, limit: int, after: str | None = None) -> tuple[list[RequestView], str | None]:
    """Overrides waiting for a second official, oldest first; and the token of the next page."""
    return _queue(f"{OVERRIDE}#{PENDING_APPROVAL}", limit=limit, after=after)


def open_appeals(*, limit: int, after: str | None = None) -> tuple[list[RequestView], str | None]:
    """Appeals no official has answered yet, oldest first; and the token of the next page."""
    return _queue(f"{APPEAL}#{APPEAL_OPEN}", limit=limit, after=after)
