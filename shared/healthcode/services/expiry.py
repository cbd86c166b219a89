"""Expiry: rewrite stored colours whose reasons ran out (quarantine, observation, fever …).

Colours are already right when read (``recolour.current`` evaluates expiry at read time); this
run keeps the *stored* colour and the history in step. It reads the persons due for a change
(one Query per UTC hour bucket from ``LOOKBACK_HOURS`` ago up to now, so a missed or failed run
is caught up by the next) and recomputes each (cause ``expiry``), which moves their next change
on or clears it. It stops early, leaving the rest for the next run, when time runs short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from healthcode.errors import HealthCodeError
from healthcode.protection.logs import get_logger
from healthcode.rules import cases
from healthcode.services import recolour
from healthcode.storage import persons
from healthcode.storage.connection import StorageError

__all__ = ["LOOKBACK_HOURS", "ExpiryRun", "run"]

logger = get_logger("expiry")

#: Hour buckets read behind the current one (a day and a half of missed runs is caught up).
LOOKBACK_HOURS = 36


@dataclass(frozen=True)
class ExpiryRun:
    recomputed: int
    failed: int
    stopped_early: bool


def run(now: datetime, *, remaining_seconds: Callable[[], float], margin_seconds: float) -> ExpiryRun:
    """Recompute every person due by ``now`` until fewer than ``margin_seconds`` remain. A
    recomputation that fails is counted and logged; the person stays due for the next run."""
    recomputed = failed = 0
    stopped_early = False
    for person_id in persons.due_for_change(cases.change_buckets(now, LOOKBACK_HOURS), now=now):
        if remaining_seconds() < margin_seconds:
            stopped_early = True
            break
        try:
            recolour.recompute(person_id, now=now, cause="expiry")
            recomputed += 1
        except (StorageError, HealthCodeError):
            failed += 1
            logger.exception("expiry recomputation failed", extra={"person_id": person_id})
    return ExpiryRun(recomputed=recomputed, failed=failed, stopped_early=stopped_early)
