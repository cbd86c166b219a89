"""Alerts to the authority: every abnormal scan at a venue or checkpoint (a colour other than
green, a fever, an isolate verdict) for the officials of the venue's area.

Written by the scans stream consumer (``services.counters``), exactly once per scan
(``storage.alerts``: keyed by the scan id). Isolate verdicts are also published at once to the
stack's alerts topic (``ALERTS_TOPIC_ARN``) from the same consumer: the stream is where every
scan arrives whichever route recorded it (verification, manual registration, check-in), a
publish failure is retried with the batch instead of failing a checkpoint's answer, and the
check-in keeps its two DynamoDB calls. An alert is marked published after the topic took it, so
a redelivery publishes again only what was never confirmed (at least once, duplicates only
after a failure between the two). Messages carry masked identities only.

Officials list the alerts of their area (:func:`listed`) and acknowledge them with a note
(:func:`acknowledge`, audited: who handled it and when).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, get_args

from healthcode import aws, clock
from healthcode.errors import InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.cases import free_text
from healthcode.rules.forms import check_page_size
from healthcode.rules.policy import Verdict
from healthcode.rules.venues import report_day
from healthcode.settings import settings
from healthcode.storage import alerts as store
from healthcode.storage import audit
from healthcode.storage.alerts import AlertView, Page
from healthcode.storage.stats import CountedScan

__all__ = [
    "DEFAULT_PAGE",
    "ISOLATE",
    "MAX_PAGE",
    "NOTE_MAX",
    "STATUSES",
    "TOPIC_ENV",
    "AlertView",
    "Page",
    "Query",
    "acknowledge",
    "check_query",
    "listed",
    "message",
    "record",
]

logger = get_logger("alerts")

TOPIC_ENV: Final = "ALERTS_TOPIC_ARN"
ISOLATE: Final = "isolate"
STATUSES: Final = (store.OPEN, store.ACKNOWLEDGED)
VERDICTS: Final = frozenset(get_args(Verdict))
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500
NOTE_MAX: Final = 500


# -- the stream consumer's side ----------------------------------------------------------------


def message(alert: AlertView) -> dict[str, Any]:
    """The alerts topic's message for an isolate verdict: where, when, what, and the person
    masked (the full record stays behind the audited person read)."""
    return {
        "alert_id": alert.alert_id,
        "venue_id": alert.venue_id,
        "venue_name": alert.venue_name,
        "region_code": alert.region_code,
        "scanned_at": clock.show(alert.scanned_at),
        "colour": alert.colour,
        "risk_level": alert.level,
        "temperature": alert.temperature,
        "verdict": alert.verdict,
        "person": {"name_masked": alert.name_masked, "id_masked": alert.id_masked},
    }


def _publish(alert: AlertView) -> None:
    topic = os.environ.get(TOPIC_ENV)
    if not topic:
        raise RuntimeError(f"{TOPIC_ENV} is not set: isolate alerts cannot be published")
    aws.client("sns").publish(
        TopicArn=topic,
        Subject=f"HealthCode isolate alert {alert.region_code}",
        Message=json.dumps(message(alert), ensure_ascii=False),
        MessageAttributes={
            "region_code": {"DataType": "String", "StringValue": alert.region_code},
            "verdict": {"DataType": "String", "StringValue": alert.verdict},
        },
    )


def record(scan: CountedScan, *, venue_name: str | None, retention_days: int) -> bool:
    """Keep the alert of an abnormal scan (once) and publish it if its verdict is isolate and
    it was not published yet; True when it was written now."""
    stored = store.put(scan, day=scan.day, venue_name=venue_name, retention_days=retention_days)
    alert = stored.alert
    if alert.verdict == ISOLATE and alert.published_at is None:
        _publish(alert)
        store.mark_published(alert.alert_id, clock.now())
        logger.info(
            "isolate alert published", extra={"alert_id": alert.alert_id, "region_code": alert.region_code}
        )
    return stored.created


# -- the officials' side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A checked ``GET /v1/alerts`` request."""

    day: str
    region_code: str
    status: str | None
    verdict: str | None
    limit: int
    cursor: str | None


def _page_size(raw: str | None) -> int:
    return check_page_size(raw, default=DEFAULT_PAGE, maximum=MAX_PAGE)


def _region(raw: str | None, who: Caller) -> str:
    """``?region_code=``: inside the province and the caller's area; absent: the caller's area
    (the province without one)."""
    province = settings().province
    if raw is None or raw == "":
        return who.area if who.area is not None else province
    code = regions.check_region_code(raw)
    if not regions.in_province(code, province):
        raise InvalidInput(
            f"region_code {code} is not inside this province ({province})",
            field="region_code",
            code="region_outside_province",
        )
    who.require_area(code)
    return code


def check_query(params: Mapping[str, str | None], who: Caller, *, now: datetime) -> Query:
    """The query of an alert list, checked: 422 naming the field, 403 ``outside_area``."""
    day = report_day(params.get("date"), now=now)
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInput("status must be open or acknowledged", field="status", code="invalid_status")
    verdict = params.get("verdict") or None
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidInput(
            f"verdict must be one of {', '.join(sorted(VERDICTS))}", field="verdict", code="invalid_verdict"
        )
    cursor = params.get("cursor")
    return Query(
        day=day,
        region_code=_region(params.get("region_code"), who),
        status=status,
        verdict=verdict,
        limit=_page_size(params.get("limit")),
        cursor=cursor if cursor else None,
    )


def listed(query: Query) -> Page:
    """One page of the alerts of the query's region and day (one Query of AlertsTable's index)."""
    page = store.listed(
        query.region_code,
        query.day,
        status=query.status,
        verdict=query.verdict,
        limit=query.limit,
        cursor=query.cursor,
    )
    logger.info(
        "alerts listed",
        extra={"region_code": query.region_code, "date": query.day, "alerts": len(page.alerts)},
    )
    return page


def check_note(value: Any) -> str:
    """The acknowledgement's note: 1 to ``NOTE_MAX`` printable characters, not blank, without an
    ID or mobile number (it is kept with the alert and on the audit trail)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("note is required: what was done", field="note", code="missing_field")
    return free_text(value, field="note", limit=NOTE_MAX)


def acknowledge(alert_id: str, note: Any, who: Caller) -> AlertView:
    """An official of the alert's area acknowledges it with a note (once: later and concurrent
    ones are ``409 alert_already_acknowledged``); audited on the alert's person."""
    note = check_note(note)
    found = store.get(alert_id) if _well_formed(alert_id) else None
    if found is None:
        raise NotFound("no such alert", code="alert_not_found")
    who.require_area(found.region_code)
    at = clock.now()
    done = store.acknowledge(alert_id, by=who.sub, at=at, note=note)
    audit.append(
        audit.person_subject(found.person_id),
        "alert_acknowledged",
        actor=who.sub,
        at=at,
        details={"alert_id": alert_id, "venue_id": found.venue_id, "verdict": found.verdict},
        entry_id=f"alert#{alert_id}",
    )
    logger.info("alert acknowledged", extra={"alert_id": alert_id, "region_code": found.region_code})
    return done


def _well_formed(alert_id: str) -> bool:
    return 0 < len(alert_id) <= 128 and alert_id.isascii() and alert_id.replace("-", "").isalnum()
