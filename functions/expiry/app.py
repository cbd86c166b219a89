"""Expiry, every 5 minutes: rewrite stored colours whose reasons ran out
(``healthcode.services.expiry``). A missed or failed run is caught up by the next; expired facts
that TTL deletes reach the colour consumer through the FactsTable stream as well, and both paths
are idempotent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.services import expiry

logger = get_logger("expiry")

#: Stop when fewer seconds than this remain.
MARGIN_SECONDS = 5.0


class ExpiryIncomplete(RuntimeError):
    """Some recomputations failed; they are retried by the next run (they stay due)."""


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    margin = min(MARGIN_SECONDS, context.get_remaining_time_in_millis() / 4000)
    done = expiry.run(
        now, remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000, margin_seconds=margin
    )
    logger.info(
        "expiry run",
        extra={"recomputed": done.recomputed, "failed": done.failed, "stopped_early": done.stopped_early},
    )
    if done.failed:
        raise ExpiryIncomplete(f"{done.failed} recomputations failed; the next run retries them")
    return {"recomputed": done.recomputed, "stopped_early": done.stopped_early}
