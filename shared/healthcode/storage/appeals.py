"""Appeals: a citizen contests the current colour of a code they manage; officials answer.

An appeal is a ``Request`` item of kind ``appeal``: ``queue = "appeal#open"`` while it waits
(officials page through index ``by_queue`` oldest first), ``status = "open"``, the person, the
account that filed it (``requested_by``), the level and colour it contests (``level``,
``colour``) and the citizen's reason (``note``). The officials' side closes it on the same model
(status, ``decided_by``/``decided_at``/``answer``, ``queue`` removed so the index stays sparse).

Each appeal also puts an ``appeal_filed`` entry on the person's audit trail, at the appeal's own
creation instant and with its id, so retrying the same appeal neither files nor logs it twice.
That trail is also how a person's appeals are listed (:func:`of_person`): one Query of the
person's trail for the ids, one BatchGetItem per 100 appeals; no index on the requests table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from healthcode import clock
from healthcode.errors import Conflict
from healthcode.storage import audit, limits
from healthcode.storage.base import instant_key
from healthcode.storage.connection import connection
from healthcode.storage.models import Request

KIND: Final = "appeal"
OPEN_QUEUE: Final = "appeal#open"
AUDIT_KIND: Final = "appeal_filed"


def new_appeal_id() -> str:
    return f"ap-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Appeal:
    """An appeal as stored (``note`` is the citizen's reason; ``answer`` the officials')."""

    request_id: str
    kind: str
    queue: str | None
    status: str
    person_id: str
    requested_by: str
    level: int
    colour: str
    note: str | None
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    answer: str | None = None


def view_of(item: Request) -> Appeal:
    return Appeal(
        request_id=item.request_id,
        kind=item.kind,
        queue=item.queue,
        status=item.status,
        person_id=item.person_id,
        requested_by=item.requested_by,
        level=int(item.level or 0),
        colour=str(item.colour),
        note=item.note,
        created_at=clock.parse_instant(item.created_at),
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        answer=item.answer,
    )


@dataclass(frozen=True)
class Filed:
    appeal: Appeal
    created: bool  # False: a retry found the appeal it had filed before


def _item(appeal_id: str) -> Request | None:
    try:
        request = Request.get(appeal_id, consistent_read=True)
    except Request.DoesNotExist:
        return None
    return request if request.kind == KIND else None


def get(appeal_id: str) -> Appeal | None:
    item = _item(appeal_id)
    return None if item is None else view_of(item)


def of_person(person_id: str) -> list[Appeal]:
    """The person's appeals, oldest first: the ids from their audit trail (one paged Query),
    the appeals themselves by BatchGetItem."""
    ids = list(
        dict.fromkeys(
            str(entry.details.get("appeal_id") or entry.entry_id)
            for entry in audit.entries(audit.person_subject(person_id), kinds=frozenset({AUDIT_KIND}))
        )
    )
    found: dict[str, Appeal] = {}
    for start in range(0, len(ids), 100):
        for item in Request.batch_get(ids[start : start + 100]):
            if item.kind == KIND and item.person_id == person_id:
                found[item.request_id] = view_of(item)
    return sorted(found.values(), key=lambda appeal: (appeal.created_at, appeal.request_id))


def file(
    *,
    appeal_id: str,
    person_id: str,
    requested_by: str,
    level: int,
    colour: str,
    reason: str,
    now: datetime,
    limit: limits.Limit | None = None,
) -> Filed:
    """Store an open appeal under ``appeal_id`` (conditional: never overwrites). A retry with the
    same id by the same account for the same person finds the first one; any other reuse is 409.
    With ``limit``, the account's counter is charged in the same transaction: a new appeal over
    the limit raises 429 ``rate_limited`` and nothing is written; a retry is never charged."""
    appeal = Request(
        appeal_id,
        kind=KIND,
        queue=OPEN_QUEUE,
        created_at=instant_key(now),
        person_id=person_id,
        requested_by=requested_by,
        status="open",
        level=level,
        colour=colour,
        note=reason,
    )
    charge = None
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(appeal, condition=Request.request_id.does_not_exist())
            if limit is not None:
                charge = limits.charge(transaction, **vars(limit), now=now)
        created = True
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        if not any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
            raise
        earlier = _item(appeal_id)
        if earlier is None and charge is not None and charge.refused(error):
            raise charge.rate_limited() from error
        if earlier is None or earlier.person_id != person_id or earlier.requested_by != requested_by:
            raise Conflict(
                "this Idempotency-Key was used for another request", code="idempotency_key_reused"
            ) from error
        appeal, created = earlier, False
    _log(appeal)
    return Filed(appeal=view_of(appeal), created=created)


def _log(appeal: Request) -> None:
    """The audit entry of a filed appeal (idempotent: same instant, same id)."""
    audit.append_once(
        audit.person_subject(appeal.person_id),
        AUDIT_KIND,
        actor=appeal.requested_by,
        details={"appeal_id": appeal.request_id, "level": appeal.level, "colour": appeal.colour},
        at=clock.parse_instant(appeal.created_at),
        entry_id=appeal.request_id,
    )
