"""Alerts to the authority on moto: abnormal scans become alerts once (redeliveries included),
isolate verdicts are published to AlertsTopic with masked identities only, officials list them
by region, status and verdict, page through them, and acknowledge each once with a note."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthcode import aws, clock
from healthcode.rules.policy import RiskLevel
from healthcode.storage import stats

from infra.local.resources import published
from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    code_for,
    deliver,
    make_person,
    make_venue,
    module_stack,
    per_test_stack,
    scans_stream,
    verify,
)
from tests.handlers.harness import InProcessStack

OFFICIAL = ("official-alerts", ["official"])


def alerts_of(stack: InProcessStack, query: str) -> Any:
    answer = stack.call("GET", "/v1/alerts", as_=OFFICIAL, query=query)
    assert answer.status == 200, answer.body
    return answer.json()


def topic_messages(stack: InProcessStack) -> list[dict[str, Any]]:
    return [json.loads(m["message"]) for m in published(stack.template.arn("AlertsTopic"))]


def test_abnormal_scans_become_alerts_once_and_isolates_are_published(moto_stack: InProcessStack) -> None:
    # GIVEN a red, a yellow and a green person verified at a checkpoint in 南明区
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue("checkpoint", region_code="520102")
    red, yellow, green = make_person(RiskLevel.RED), make_person(RiskLevel.YELLOW), make_person()
    scanned = {
        who.person_id: verify(moto_stack, code_for(who), venue, temperature=36.5).json()["scan_id"]
        for who in (red, yellow, green)
    }
    before = len(topic_messages(moto_stack))
    # WHEN the stream is delivered to the consumer three times (redeliveries)
    records = reader.read()
    for _ in range(3):
        assert deliver(moto_stack, records) == {"batchItemFailures": []}
    # THEN the county's officials see two alerts, open, identities masked
    day = stats.day_of(clock.now())
    listed = alerts_of(moto_stack, f"date={day}&region_code=520102")["alerts"]
    mine = {a["alert_id"]: a for a in listed if a["venue_id"] == venue.venue_id}
    assert set(mine) == {scanned[red.person_id], scanned[yellow.person_id]}
    isolate = mine[scanned[red.person_id]]
    assert isolate["verdict"] == "isolate" and isolate["colour"] == "red" and isolate["risk_level"] == 2
    assert isolate["status"] == "open" and isolate["venue_name"] == venue.name
    assert isolate["person"]["name_masked"] == "张*" and "*" in isolate["person"]["id_masked"]
    assert "person_id" not in isolate
    # AND the isolate verdict went out once on AlertsTopic, masked, the yellow one not at all
    sent = topic_messages(moto_stack)[before:]
    assert [m["alert_id"] for m in sent] == [scanned[red.person_id]]
    assert sent[0]["person"] == isolate["person"] and red.person_id not in json.dumps(sent[0])
    # AND filters by verdict and status
    only = alerts_of(moto_stack, f"date={day}&region_code=520102&verdict=isolate")["alerts"]
    assert {a["verdict"] for a in only} == {"isolate"}
    assert scanned[yellow.person_id] not in {a["alert_id"] for a in only}


def test_acknowledged_once_with_a_note(moto_stack: InProcessStack) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue("checkpoint", region_code="520103")
    scan_id = verify(moto_stack, code_for(make_person(RiskLevel.RED)), venue).json()["scan_id"]
    deliver(moto_stack, reader.read())
    path = f"/v1/alerts/{scan_id}/acknowledge"
    # bad notes: refused, nothing written
    for body, code in (
        ({}, "missing_field"),
        ({"note": ""}, "invalid_note"),
        ({"note": "x" * 501}, "invalid_note"),
    ):
        answer = moto_stack.call("POST", path, as_=OFFICIAL, json_body=body)
        assert (answer.status, answer.error_code) == (422, code), body
    assert moto_stack.call("POST", path, as_=OFFICIAL, raw_body=b"[]").status == 400
    day = stats.day_of(clock.now())
    (alert,) = [
        a
        for a in alerts_of(moto_stack, f"date={day}&region_code=520103")["alerts"]
        if a["alert_id"] == scan_id
    ]
    assert alert["status"] == "open"
    # WHEN acknowledged THEN who and when; a second time 409
    done = moto_stack.call("POST", path, as_=OFFICIAL, json_body={"note": "已转运至隔离点"})
    assert done.status == 200, done.body
    assert done.json()["status"] == "acknowledged" and done.json()["acknowledged_by"] == OFFICIAL[0]
    assert done.json()["acknowledged_at"]
    again = moto_stack.call("POST", path, as_=("official-other", ["official"]), json_body={"note": "重复"})
    assert (again.status, again.error_code) == (409, "alert_already_acknowledged")
    # AND the status filter follows
    acknowledged = alerts_of(moto_stack, f"date={day}&region_code=520103&status=acknowledged")["alerts"]
    assert scan_id in {a["alert_id"] for a in acknowledged}
    opened = alerts_of(moto_stack, f"date={day}&region_code=520103&status=open")["alerts"]
    assert scan_id not in {a["alert_id"] for a in opened}
    # AND a redelivery of the scan does not reopen it
    unknown = moto_stack.call("POST", "/v1/alerts/s-0000/acknowledge", as_=OFFICIAL, json_body={"note": "x"})
    assert (unknown.status, unknown.error_code) == (404, "alert_not_found")


def test_pages_follow_the_cursor_and_refuse_a_tampered_one(moto_stack: InProcessStack) -> None:
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue("checkpoint", region_code="520111")
    expected = {
        verify(moto_stack, code_for(make_person(RiskLevel.YELLOW)), venue).json()["scan_id"] for _ in range(5)
    }
    deliver(moto_stack, reader.read())
    day = stats.day_of(clock.now())
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        body = alerts_of(
            moto_stack, f"date={day}&region_code=520111&limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        assert len(body["alerts"]) <= 2
        seen += [a["alert_id"] for a in body["alerts"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert set(seen) == expected and len(seen) == 5 and pages == 3
    for query, field, code in (
        (f"date={day}&region_code=520111&cursor=bm90LWEtY3Vyc29y", "cursor", "invalid_cursor"),
        (f"date={day}&region_code=520102&cursor={cursor or 'x'}", "cursor", "invalid_cursor"),
        ("limit=0", "limit", "invalid_limit"),
        ("limit=501", "limit", "invalid_limit"),
        ("status=closed", "status", "invalid_status"),
        ("verdict=shoot", "verdict", "invalid_verdict"),
        ("region_code=350102", "region_code", "region_outside_province"),
        ("date=2022-02-30", "date", "invalid_date"),
    ):
        answer = moto_stack.call("GET", "/v1/alerts", as_=OFFICIAL, query=query)
        assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, code, field), (
            query
        )
    for who in (("citizen-x", ["citizen"]), ("manager-x", ["venue_manager"]), ("scanner-x", ["scanner"])):
        assert moto_stack.call("GET", "/v1/alerts", as_=who).error_code == "forbidden_role"


def test_a_failed_publish_fails_the_record_and_the_retry_publishes_once(
    moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a red and a green person verified, and the topic refusing the first publish
    reader = scans_stream(moto_stack)
    reader.read()
    venue = make_venue("checkpoint", region_code="520102")
    scan_id = verify(moto_stack, code_for(make_person(RiskLevel.RED)), venue).json()["scan_id"]
    verify(moto_stack, code_for(make_person()), venue)  # a green scan in the same batch
    records = reader.read()
    sns = aws.client("sns")
    real_publish = sns.publish
    refused = {"n": 0}

    def publish_once_refused(**kwargs: Any) -> Any:
        if refused["n"] == 0:
            refused["n"] += 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "Publish")
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", publish_once_refused)
    before = len(topic_messages(moto_stack))
    # WHEN the batch is delivered THEN its record is reported failed, the alert already stored
    red, _green = records
    answer = deliver(moto_stack, records)
    assert answer == {"batchItemFailures": [{"itemIdentifier": red["dynamodb"]["SequenceNumber"]}]}
    assert topic_messages(moto_stack)[before:] == []
    # AND the stream's retry publishes it, and a later redelivery does not publish again
    assert deliver(moto_stack, records) == {"batchItemFailures": []}
    assert deliver(moto_stack, records) == {"batchItemFailures": []}
    assert [m["alert_id"] for m in topic_messages(moto_stack)[before:]] == [scan_id]
