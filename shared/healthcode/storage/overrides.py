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

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from healthcode import clock
from healthcode.errors import InvalidInput
from healthcode.rules import colour
from healthcode.rules.cases import OverrideRequest
from healthcode.storage import audit, facts
from healthcode.storage.base import instant_key
from healthcode.storage.connection import table
from healthcode.storage.models import AuditEntry, Request
from healthcode.storage.persons import audit_entry
from healthcode.storage.transactions import Transaction

__all__ = [
    "APPEAL",
    "APPEAL_ANSWERED",
    "APPEAL_OPEN",
    "APPLIED",
    "APPROVED",
    "OVERRIDE",
    "OVERRIDE_APPROVED",
    "OVERRIDE_REJECTED",
    "OVERRIDE_REQUESTED",
    "PENDING_APPROVAL",
    "REJECTED",
    "RequestView",
    "add_override",
    "add_pending",
    "answer_appeal",
    "claim",
    "close_override",
    "finish",
    "get",
    "is_appeal_id",
    "is_override_id",
    "is_request_id",
    "open_appeals",
    "pending_acts",
    "pending_overrides",
    "reject_pending",
    "subject_of",
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
    person_id: str | None
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
    action: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


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
        action=item.action,
        result=item.result,
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
    write = Transaction()
    write.save("request", request, condition=Request.request_id.does_not_exist())
    write.save(
        "requested",
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
    if applied is not None:  # pragma: no cover - the policy can no longer waive the second official
        write.save("fact", facts.override_item(person_id, applied, recorded_at=now, source=override_id))
        write.save(
            "approved",
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
    if write.commit():
        return None
    return _view(request)


def _decided(
    status: str, kind: str, actor: str, now: datetime, *, answer: str | None = None, queue: str | None = None
) -> list[Action]:
    """The update recording a decision: the status, who and when, the request out of its queue (or
    moved to ``queue``), a history line for ``kind``, and the answer when there is one."""
    actions: list[Action] = [
        Request.status.set(status),
        Request.decided_by.set(actor),
        Request.decided_at.set(now),
        Request.queue.set(queue) if queue is not None else Request.queue.remove(),
        Request.history.set(Request.history.append([f"{instant_key(now)} {kind} {actor}"])),
    ]
    if answer is not None:
        actions.append(Request.answer.set(answer))
    return actions


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
    assert request.person_id is not None, "an override is on one person"
    entry = audit_entry(
        request.person_id, kind, actor=actor, at=now, details=details, entry_id=request.request_id
    )
    actions = _decided(status, kind, actor, now, answer=answer)
    item = Request(request.request_id)
    item.version = request.version
    write = Transaction()
    write.update("request", item, actions=actions, condition=Request.status == PENDING_APPROVAL)
    write.save("entry", entry, condition=AuditEntry.entry.does_not_exist())
    if applied is not None:
        assert request.person_id is not None
        write.save(
            "fact",
            facts.override_item(request.person_id, applied, recorded_at=now, source=request.request_id),
        )
    return not write.commit()


def answer_appeal(appeal: RequestView, *, outcome: str, official: str, answer: str, now: datetime) -> bool:
    """Close an open appeal with ``outcome`` and the official's answer, with its
    ``appeal_answered`` entry, in one transaction. False if it was no longer open as read."""
    assert appeal.person_id is not None, "an appeal is on one person"
    entry = audit_entry(
        appeal.person_id,
        APPEAL_ANSWERED,
        actor=official,
        at=now,
        details={"appeal_id": appeal.request_id, "outcome": outcome, "answer": answer},
        entry_id=appeal.request_id,
    )
    actions = _decided(outcome, APPEAL_ANSWERED, official, now, answer=answer)
    item = Request(appeal.request_id)
    item.version = appeal.version
    write = Transaction()
    write.update("request", item, actions=actions, condition=Request.status == APPEAL_OPEN)
    write.save("entry", entry, condition=AuditEntry.entry.does_not_exist())
    return not write.commit()


# -- acts waiting for a second official -----------------------------------------------------------

#: Status of an approved act being carried out (its approver alone may finish it).
APPROVED: Final = "approved"
ACT_REQUESTED: Final = "act_requested"
ACT_APPROVED: Final = "act_approved"
ACT_REJECTED: Final = "act_rejected"


def subject_of(request: RequestView | Request) -> str:
    """The audit trail a request's steps go on: its person's, else the request's own."""
    return audit.person_subject(request.person_id) if request.person_id else f"request#{request.request_id}"


def _act_entry(
    request: Request | RequestView, kind: str, *, actor: str, at: datetime, **extra: Any
) -> AuditEntry:
    details = {
        "request_id": request.request_id,
        "kind": request.kind,
        "requested_by": request.requested_by,
        **extra,
    }
    item = audit.item_of(audit.Entry(subject_of(request), kind, actor, at, details, request.request_id))
    return item


def is_request_id(request_id: str) -> bool:
    """Whether an act waiting for approval could have this id (``req-…``)."""
    return request_id.startswith("req-") and len(request_id) <= MAX_ID


def add_pending(
    request_id: str,
    *,
    kind: str,
    actor: str,
    person_id: str | None,
    action: Mapping[str, Any],
    why: str,
    now: datetime,
) -> RequestView | None:
    """Store an official's act that waits for a second official (queue ``<kind>#pending_approval``)
    with its ``act_requested`` entry, in one transaction; None if the id is taken."""
    request = Request(
        request_id,
        kind=kind,
        created_at=instant_key(now),
        person_id=person_id,
        requested_by=actor,
        status=PENDING_APPROVAL,
        queue=f"{kind}#{PENDING_APPROVAL}",
        note=why,
        action=dict(action),
        history=[f"{instant_key(now)} {ACT_REQUESTED} {actor}"],
    )
    write = Transaction()
    write.save("request", request, condition=Request.request_id.does_not_exist())
    write.save(
        "entry",
        _act_entry(request, ACT_REQUESTED, actor=actor, at=now, why=why),
        condition=AuditEntry.entry.does_not_exist(),
    )
    if write.commit():
        return None
    return _view(request)


def claim(request: RequestView, *, approver: str, now: datetime) -> bool:
    """A second official takes a pending act to carry it out (status ``approved``, under the
    request's version and its pending status) with its ``act_approved`` entry; False if someone
    decided it first."""
    item = Request(request.request_id)
    item.version = request.version
    write = Transaction()
    write.update(
        "request",
        item,
        actions=_decided(APPROVED, ACT_APPROVED, approver, now, queue=f"{request.kind}#{APPROVED}"),
        condition=Request.status == PENDING_APPROVAL,
    )
    write.save(
        "entry",
        _act_entry(request, ACT_APPROVED, actor=approver, at=now),
        condition=AuditEntry.entry.does_not_exist(),
    )
    return not write.commit()


def finish(request: RequestView, *, result: Mapping[str, Any]) -> RequestView:
    """Record that the approved act was carried out (status ``applied``, with what it did)."""
    item = Request(request.request_id)
    try:
        item.update(
            actions=[Request.status.set(APPLIED), Request.result.set(dict(result)), Request.queue.remove()],
            condition=Request.status.is_in(APPROVED, APPLIED),
            add_version_condition=False,
        )
    except UpdateError as error:  # pragma: no cover - only its approver finishes an approved act
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    found = get(request.request_id)
    assert found is not None
    return found


def reject_pending(request: RequestView, *, official: str, reason: str | None, now: datetime) -> bool:
    """Close a pending act without effect, with its ``act_rejected`` entry; False if it was
    decided first."""
    item = Request(request.request_id)
    item.version = request.version
    actions = _decided(REJECTED, ACT_REJECTED, official, now, answer=reason)
    write = Transaction()
    write.update("request", item, actions=actions, condition=Request.status == PENDING_APPROVAL)
    write.save(
        "entry",
        _act_entry(request, ACT_REJECTED, actor=official, at=now, reason=reason),
        condition=AuditEntry.entry.does_not_exist(),
    )
    return not write.commit()


def pending_acts(kind: str, *, limit: int, after: str | None = None) -> tuple[list[RequestView], str | None]:
    """Acts of ``kind`` waiting for a second official, oldest first; and the next page's token."""
    return _queue(f"{kind}#{PENDING_APPROVAL}", limit=limit, after=after)


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
