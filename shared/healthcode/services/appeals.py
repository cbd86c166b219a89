"""Filing an appeal: a citizen contests the current colour of a code they manage.

Officials answer appeals elsewhere (the overrides service). A green code has nothing to appeal;
an account files at most ``APPEALS_PER_DAY`` a day; a retry with the same ``Idempotency-Key``
finds the appeal it filed before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from healthcode.errors import Conflict, Throttled
from healthcode.protection.auth import Caller
from healthcode.services import recolour
from healthcode.services.applications import derived_id
from healthcode.storage import appeals
from healthcode.storage.appeals import Appeal
from healthcode.storage.persons import PersonView

APPEALS_PER_DAY: Final = 5


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
    if (
        appeals.get(appeal_id) is None
        and appeals.filed_since(who.sub, now - timedelta(days=1)) >= APPEALS_PER_DAY
    ):
        raise Throttled(f"at most {APPEALS_PER_DAY} appeals a day", code="too_many_appeals")
    filed = appeals.file(
        appeal_id=appeal_id,
        person_id=person.person_id,
        requested_by=who.sub,
        level=int(decision.level),
        colour=decision.colour,
        reason=reason,
        now=now,
    )
    return filed.appeal
