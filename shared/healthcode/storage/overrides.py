"""Manual colour overrides under the two-official rule, and officials' answers to appeals.

Both are ``models.Request`` items (RequestsTable). While open they carry ``queue`` =
``<kind>#<status>`` (``override#pending_approval``, ``appeal#open``), which the ``by_queue``
index lists oldest first; a closed request drops ``queue`` and leaves the index (sparse).

Every step is one ``TransactWriteItems``: the request (created with ``attribute_not_exists``,
later changed under its ``version``), the audit entry on the person
(``override_requested`` / ``override_approved`` / ``override_rejected`` / ``appeal_answered``,
append-only, never overwritten) and, on approval, the override fact under the person
(``storage.facts.override_item``), which the colour consumer turns into the new colour. So a
request, its audit entry and its effect are written together or not at all, and a concurrent
approve/reject of the same request fails one of them with 409.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.rules import colour
from healthcode.rules.cases import OverrideRequest
from healthcode.rules.policy import RiskLevel
from healthcode.storage import facts
from healthcode.storage.base import instant_key
from healthcode.storage.connection import connection, table
from healthcode.storage.models import AuditEntry, Fact, Request
from healthcode.storage.persons import audit_entry

__all__ = [
    "APPEAL_ANSWERED",
    "OVERRIDE_APPROVED",
    "OVERRIDE_REJECTED",
    "OVERRIDE_REQUESTED",
    "answer_appeal",
    "approve",
    "get",
    "open_appeals",
    "override_id_for",
    "pending_overrides",
    "reject",
    "request_override",
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
APPEAL_OUTCOMES: Final = frozenset({"upheld", "dismissed"})


def _first_condition_failed(error: TransactWriteError) -> bool:
    reasons = error.cancellation_reasons
    return (
        bool(reasons)
        and reasons[0] is not None
        and reasons[0].code
        in {
            "ConditionalCheckFailed",
            "TransactionConflict",
        }
    )


def override_id_for(actor: str, idempotency_key: str | None) -> str:
    """A new override id; derived from (official, ``Idempotency-Key``) when the request has one,
    so a retried request names the same override."""
    if idempotency_key is None:
        return f"ovr-{uuid.uuid4().hex}"
    digest = hashlib.sha256(actor.encode("utf-8") + b"\x00" + idempotency_key.encode("utf-8")).hexdigest()
    return f"ovr-{digest[:32]}"


def get(request_id: str, *, consistent: bool = True) -> Request | None:
    try:
        return Request.get(request_id, consistent_read=consistent)
    except Request.DoesNotExist:
        return None


def _details(request: Request) -> dict[str, Any]:
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


def _override_fact(request: Request, *, starts_at: datetime) -> Fact:
    if request.until is not None and request.until <= starts_at:
        raise Conflict("the override's end has passed; request a new one", code="override_expired")
    override = colour.Override(
        override_id=request.request_id,
        level=RiskLevel(int(request.level or 0)),
        starts_at=starts_at,
        until=request.until,
        reason_code=str(request.reason_code),
    )
    return facts.override_item(request.person_id, override, recorded_at=starts_at, source=request.request_id)


def request_override(
    *,
    override_id: str,
    person_id: str,
    actor: str,
    change: OverrideRequest,
    now: datetime,
    second_official_required: bool,
) -> tuple[Request, bool]:
    """Record an override request (and its audit entry); with ``second_official_required``
    False it is applied at once (fact and an ``override_approved`` entry in the same
    transaction). Returns the request and whether it was created now (False: a retry with the
    same id found the first one, which must be the same official's)."""
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
    if not second_official_required:
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
            if not second_official_required:
                transaction.save(_override_fact(request, starts_at=now))
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
        existing = get(override_id)
        if existing is None or existing.kind != OVERRIDE or existing.requested_by != actor:
            raise Conflict("this override id is taken", code="override_exists") from error
        if existing.person_id != person_id:
            raise InvalidInput(
                "this Idempotency-Key was already used for another person",
                field="Idempotency-Key",
                code="idempotency_key_reused",
            ) from error
        return existing, False
    return request, True


def _override(override_id: str) -> Request:
    request = get(override_id)
    if request is None or request.kind != OVERRIDE:
        raise NotFound("no such override", code="override_not_found")
    return request


def _open(request: Request) -> Request:
    if request.status != PENDING_APPROVAL:
        raise Conflict(f"the override is already {request.status}", code="override_not_pending")
    return request


def _closed_by(request: Request, *, status: str, official: str) -> bool:
    """Whether ``official`` already closed ``request`` with ``status``: their retried decision
    (the first answer lost on the way) answers as the first one did, instead of a 409."""
    return request.status == status and request.decided_by == official


def _decide(
    request: Request, *, status: str, actor: str, now: datetime, kind: str, answer: str | None
) -> Request:
    """Close an override request: the request (under its version), the audit entry and, if
    applied, the fact, in one transaction."""
    fact = _override_fact(request, starts_at=now) if status == APPLIED else None
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
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(request, actions=actions, condition=Request.status == PENDING_APPROVAL)
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
            if fact is not None:
                transaction.save(fact)
    except TransactWriteError as error:
        if _first_condition_failed(error):
            decided = _reread(request.request_id)
            if _closed_by(decided, status=status, official=actor):
                return decided  # the same decision, sent twice at once
            raise Conflict("the override was decided meanwhile", code="override_not_pending") from error
        raise
    return _reread(request.request_id)


def _reread(request_id: str) -> Request:
    request = get(request_id)
    if request is None:  # pragma: no cover - requests are never deleted
        raise NotFound("the request vanished", code="request_not_found")
    return request


def approve(override_id: str, *, approver: str, now: datetime) -> Request:
    """A second official applies a pending override (403 ``cannot_approve_own`` for the
    requester; 409 ``override_not_pending`` if it is already decided — unless this official
    applied it: a retry gets the override as applied)."""
    request = _override(override_id)
    if _closed_by(request, status=APPLIED, official=approver):
        return request
    _open(request)
    if request.requested_by == approver:
        raise Forbidden("an override needs a second official's approval", code="cannot_approve_own")
    return _decide(request, status=APPLIED, actor=approver, now=now, kind=OVERRIDE_APPROVED, answer=None)


def reject(override_id: str, *, official: str, reason: str | None, now: datetime) -> Request:
    """Close a pending override without effect (any official, the requester withdrawing it too);
    a retry by the official who rejected it gets the override as rejected."""
    request = _override(override_id)
    if _closed_by(request, status=REJECTED, official=official):
        return request
    _open(request)
    return _decide(request, status=REJECTED, actor=official, now=now, kind=OVERRIDE_REJECTED, answer=reason)


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


def _queue(queue: str, *, limit: int, after: str | None) -> tuple[list[Request], str | None]:
    answer = table(Request).query(
        queue, index_name="by_queue", exclusive_start_key=_decode(after, queue), limit=limit
    )
    items = [Request.from_raw_data(raw) for raw in answer.get("Items", [])]
    return items, _encode(answer.get("LastEvaluatedKey"))


def pending_overrides(*, limit: int, after: str | None = None) -> tuple[list[Request], str | None]:
    """Overrides waiting for a second official, oldest first; and the token of the next page."""
    return _queue(f"{OVERRIDE}#{PENDING_APPROVAL}", limit=limit, after=after)


def open_appeals(*, limit: int, after: str | None = None) -> tuple[list[Request], str | None]:
    """Appeals no official has answered yet, oldest first; and the token of the next page."""
    return _queue(f"{APPEAL}#{APPEAL_OPEN}", limit=limit, after=after)


def answer_appeal(appeal_id: str, *, official: str, outcome: str, answer: str, now: datetime) -> Request:
    """An official answers an open appeal; its status becomes the outcome (``upheld``: the
    colour is to be corrected, by an override under the two-official rule; ``dismissed``: it
    stands)."""
    from healthcode.errors import NotFound

    if outcome not in APPEAL_OUTCOMES:
        raise InvalidInput(
            f"outcome must be one of {sorted(APPEAL_OUTCOMES)}", field="outcome", code="invalid_outcome"
        )
    request = get(appeal_id)
    if request is None or request.kind != APPEAL:
        raise NotFound("no such appeal", code="appeal_not_found")
    if _closed_by(request, status=outcome, official=official):
        return request  # a retried answer: the appeal as first answered
    if request.status != APPEAL_OPEN:
        raise Conflict(f"the appeal is already {request.status}", code="appeal_not_open")
    entry: AuditEntry = audit_entry(
        request.person_id,
        APPEAL_ANSWERED,
        actor=official,
        at=now,
        details={"appeal_id": appeal_id, "outcome": outcome, "answer": answer},
        entry_id=appeal_id,
    )
    actions: list[Action] = [
        Request.status.set(outcome),
        Request.decided_by.set(official),
        Request.decided_at.set(now),
        Request.answer.set(answer),
        Request.queue.remove(),
        Request.history.set(Request.history.append([f"{instant_key(now)} {APPEAL_ANSWERED} {official}"])),
    ]
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(request, actions=actions, condition=Request.status == APPEAL_OPEN)
            transaction.save(entry, condition=AuditEntry.entry.does_not_exist())
    except TransactWriteError as error:
        if _first_condition_failed(error):
            answered = _reread(appeal_id)
            if _closed_by(answered, status=outcome, official=official):
                return answered  # the same answer, sent twice at once
            raise Conflict("the appeal was answered meanwhile", code="appeal_not_open") from error
        raise
    return _reread(appeal_id)
