"""Expiry: rewrite stored colours whose reasons ran out (quarantine, observation, fever …).

Colours are already right when read (``recolour.current`` evaluates expiry at read time); this
scheduled job (every 5 minutes) keeps the *stored* colour and the history in step. It reads
PersonsTable's sparse index ``by_next_change``: one Query per UTC hour bucket from
``LOOKBACK_HOURS`` ago up to now, ``next_change_at <= now`` — so a missed or failed run is
caught up by the next — and recomputes each person found (cause ``expiry``), which moves their
``next_change_at`` on or clears it. It stops early, leaving the rest for the next run, when the
invocation's time runs short. Expired facts that TTL deletes reach the colour consumer through
the FactsTable stream as well; both paths are idempotent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.errors import HealthCodeError
from healthcode.protection.logs import get_logger
from healthcode.rules import cases
from healthcode.services import recolour
from healthcode.storage import cases as store
from pynamodb.exceptions import PynamoDBException

logger = get_logger("expiry")

#: Hour buckets read behind the current one (a day and a half of missed runs is caught up).
LOOKBACK_HOURS = 36
#: Stop when fewer seconds than this remain.
MARGIN_SECONDS = 5.0


class ExpiryIncomplete(RuntimeError):
    """Some recomputations failed; they are retried by the next run (they stay due)."""


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    margin = min(MARGIN_SECONDS, context.get_remaining_time_in_millis() / 4000)
    recomputed = failed = 0
    stopped_early = False
    for person_id in store.due_persons(cases.change_buckets(now, LOOKBACK_HOURS), now=now):
        if context.get_remaining_time_in_millis() / 1000 < margin:
            stopped_early = True
            break
        try:
            recolour.recompute(person_id, now=now, cause="expiry")
            recomputed += 1
        except (PynamoDBException, HealthCodeError):
            failed += 1
            logger.exception("expiry recomputation failed", extra={"person_id": person_id})
    logger.info(
        "expiry run", extra={"recomputed": recomputed, "failed": failed, "stopped_early": stopped_early}
    )
    if failed:
        raise ExpiryIncomplete(f"{failed} recomputations failed; the next run retries them")
    return {"recomputed": recomputed, "stopped_early": stopped_early}
