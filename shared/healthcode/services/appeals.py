"""Filing an appeal: a citizen contests the current colour of a code they manage.

Officials answer appeals elsewhere (the overrides service); the citizen reads theirs back with
:func:`of_person` (status, the officials' answer and when). A green code has nothing to appeal;
an account files at most the policy's ``appeals_per_day_limit`` a day (Beijing day), counted by
one atomic counter update in the same transaction as the appeal (``account_limits.appeal``:
concurrent appeals cannot all slip under the limit; over it 429 ``rate_limited`` with
``Retry-After``, nothing written); a retry with the same ``Idempotency-Key`` finds the appeal
it filed before, and is not counted, even when it races the first attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthcode.errors import Conflict
from healthcode.protection.auth import Caller
from healthcode.services import account_limits, recolour
from healthcode.services.applications import derived_id
from healthcode.storage import appeals
from healthcode.storage.appeals import Appeal
from healthcode.storage.persons import PersonView


def file(
    person: PersonView, *, who: Caller, reason: str, now: datetime, idempotency_key: str | None
) -> Appeal:
    """File an open appeal against the colour now of ``person`` (whose code ``who`` manages:
    ``codes.managed``); officials see it in their queue."""
    decision = recolour.current(person, now=now)
    if int(decision.level) == 0:
        raise Conflict("a green code has nothing to appeal", code="nothing_to_appeal")
    if idempotency_key:
        appeal_id = derived_id("ap-", "appeal", who.sub, idempotency_key)
    else:
        appeal_id = appeals.new_appeal_id()
    filed = appeals.file(
        limit=account_limits.appeal(who.sub),
        appeal_id=appeal_id,
        person_id=person.person_id,
        requested_by=who.sub,
        level=int(decision.level),
        colour=decision.colour,
        reason=reason,
        now=now,
    )
    return filed.appeal


def of_person(person: PersonView) -> list[dict[str, Any]]:
    """The appeals about ``person`` (whose code the caller manages: ``codes.managed``), oldest
    first: ``{appeal_id, created_at, reason, status, answer, answered_at}``."""
    return [
        {
            "appeal_id": appeal.request_id,
            "created_at": appeal.created_at,
            "reason": appeal.note,
            "status": appeal.status,
            "answer": appeal.answer,
            "answered_at": appeal.decided_at,
        }
        for appeal in appeals.of_person(person.person_id)
    ]
