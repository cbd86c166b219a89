"""Fujian's identity reveal (issue 13, item 11) on moto: a manager sees who a non-green visitor is
only for a scan the venue's own staff made there (code verification or manual registration),
never for a check-in, an alert without its recorder, or staff no longer assigned; every reveal
audited once per person per read."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from healthcode import clock
from healthcode.rules.policy import RiskLevel
from healthcode.storage import audit, staff, stats

from tests.handlers import venue_support
from tests.handlers.checkpoint_support import code_for, new_id_number
from tests.handlers.checkpoint_support import make_person as registered
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import manager, pump, register

venue_stack = venue_support.venue_stack
stack = venue_support.stack


def _alerts(stack: InProcessStack, venue_id: str, who: tuple[str, list[str]]) -> list[dict[str, Any]]:
    answer = stack.call("GET", f"/v1/venues/{venue_id}/alerts", as_=who)
    assert answer.status == 200, answer.body
    return list(answer.json()["alerts"])


def _reads(person_id: str) -> list[audit.Entry]:
    return list(audit.entries(audit.person_subject(person_id), kinds=frozenset({"identity_read"})))


def _staffed(stack: InProcessStack, venue_id: str, who: tuple[str, list[str]]) -> tuple[str, list[str]]:
    scanner = (f"scanner-{uuid.uuid4().hex[:8]}", ["scanner"])
    assert stack.call("PUT", f"/v1/venues/{venue_id}/staff/{scanner[0]}", as_=who).status == 200
    return scanner


def test_a_manual_registration_by_the_venues_staff_reveals_and_is_audited_once_per_read(
    stack: InProcessStack, province
) -> None:  # type: ignore[no-untyped-def]
    province("350000")
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    scanner = _staffed(stack, venue_id, who)
    number = new_id_number()
    person = registered(RiskLevel.YELLOW, number=number)
    # GIVEN the same orange person registered twice by hand at the door (two alerts)
    for _ in range(2):
        body = {"name": "张三", "id_number": number, "temperature": 36.5, "checkpoint_id": venue_id}
        answer = stack.call("POST", "/v1/manual-registrations", as_=scanner, json_body=body)
        assert answer.status == 201, answer.body
    pump(stack).drain()
    # WHEN the manager reads the alerts THEN both show who it is, and one read is audited
    alerts = _alerts(stack, venue_id, who)
    assert [(a["kind"], a["identity_visible"]) for a in alerts] == [("manual", True), ("manual", True)]
    (read,) = _reads(person.person_id)
    assert read.actor == who[0] and sorted(read.details["scan_ids"]) == sorted(a["scan_id"] for a in alerts)


def test_staff_removed_since_reveal_nothing(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("350000")
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    scanner = _staffed(stack, venue_id, who)
    person = registered(RiskLevel.YELLOW)
    body = {"code": code_for(person), "checkpoint_id": venue_id, "temperature": 36.5}
    assert stack.call("POST", "/v1/verifications", as_=scanner, json_body=body).status == 200
    pump(stack).drain()
    assert stack.call("DELETE", f"/v1/venues/{venue_id}/staff/{scanner[0]}", as_=who).status == 204
    (alert,) = _alerts(stack, venue_id, who)
    assert alert["identity_visible"] is False and "name" not in alert["person"]
    assert _reads(person.person_id) == []


def test_an_alert_without_its_recorder_reveals_nothing(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    # GIVEN an alert stored before alerts named who recorded the scan
    province("350000")
    who = manager()
    venue_id = register(stack, who).json()["venue_id"]
    staff.assign(venue_id, "scanner-old", by=who[0], now=clock.now())
    person = registered(RiskLevel.YELLOW)
    at = clock.now() - timedelta(minutes=1)
    scan = stats.CountedScan(
        source=f"{venue_id}#0",
        sequence="1",
        scan_id=f"s-{uuid.uuid4().hex}",
        venue_id=venue_id,
        region_code="350102",
        at=at,
        kind="verification",
        colour="orange",
        level=1,
        verdict="register",
        abnormal=True,
        temperature=36.5,
        person_id=person.person_id,
        name_masked=person.name_masked,
        id_masked=person.id_masked,
    )
    stats.put_alerts([scan], retention_days=28)
    (alert,) = _alerts(stack, venue_id, who)
    assert alert["identity_visible"] is False and _reads(person.person_id) == []
