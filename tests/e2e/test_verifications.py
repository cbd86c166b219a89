"""Checkpoint verification end to end on a Fujian stack of its own (its clock moves): a citizen's
code verified at a checkpoint, fever and manual registration, idempotent retries, counters
after a drain, forged and stale codes, and TTL removing scan records and alerts."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from healthcode.rules.idcard import check_character

from tests.e2e.stack import Stack, running_stack

SCANNER = ("e2e-scanner", ["scanner"])


@pytest.fixture(scope="module")
def fujian() -> Iterator[Stack]:
    with running_stack("350000") as started:
        yield started


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def put_venue(stack: Stack, venue_type: str = "hospital") -> str:
    """A registered checkpoint venue, written to the stack's VenuesTable as its model lays it out."""
    # imported here: the models read table names from the environment when first imported, and
    # collecting this module must not fix them before the handler tests' conftest sets them
    from healthcode.storage.models import Location, Venue

    venue_id = f"v-{uuid.uuid4().hex[:12]}"
    venue = Venue(
        venue_id,
        name="福州测试医院",
        type=venue_type,
        region_code="350102",
        root_venue_id=venue_id,
        shards=8,
        location=Location(lat=26.08, lng=119.30),
        address="福州市鼓楼区测试路 1 号",
        manager_sub="e2e-manager",
        version=1,
    )
    stack.aws("dynamodb").put_item(TableName=stack.info["tables"]["VenuesTable"], Item=venue.serialize())
    assign(stack, venue_id, SCANNER[0])
    return venue_id


def assign(stack: Stack, venue_id: str, sub: str) -> None:
    """Assign ``sub`` to the venue as its manager would (``PUT …/staff/{sub}``), written directly
    as the staff model lays it out (the venue above has no manager account of its own)."""
    from healthcode.storage.models import StaffAssignment

    item = StaffAssignment(venue_id, sub, assigned_at=datetime.now(UTC), assigned_by="e2e-manager")
    stack.aws("dynamodb").put_item(TableName=stack.info["tables"]["StaffTable"], Item=item.serialize())


def apply_for_code(stack: Stack, sequence: int) -> dict[str, Any]:
    first17 = f"35010219880214{sequence:03d}"
    body = {
        "name": "林小华",
        "id_number": first17 + check_character(first17),
        "phone": "13800000000",
        "address": "福州市鼓楼区",
        "region_code": "350102",
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }
    answer = stack.call("POST", "/v1/codes", as_=(f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"]), json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def verify(
    stack: Stack, code: str, venue_id: str, *, temperature: float | None = None, key: str | None = None
) -> Any:
    body: dict[str, Any] = {"code": code, "checkpoint_id": venue_id}
    if temperature is not None:
        body["temperature"] = temperature
    headers = {"Idempotency-Key": key} if key else None
    return stack.call("POST", "/v1/verifications", as_=SCANNER, json=body, headers=headers)


def morning_after(stack: Stack) -> str:
    """Move the stack clock forward to 09:00 (+08:00) tomorrow, so a test's scans share one day;
    returns that day. (Never backwards: the signing keys are active from the stack's start.)"""
    now = datetime.fromisoformat(stack.http.get(f"{stack.url}/_local/clock", timeout=10).json()["now"])
    morning = datetime.combine(now.date() + timedelta(days=1), time(9), tzinfo=now.tzinfo)
    stack.clock(now=morning.isoformat())
    return morning.date().isoformat()


def stats_item(stack: Stack, venue_id: str, day: str) -> dict[str, Any]:
    item = stack.aws("dynamodb").get_item(
        TableName=stack.info["tables"]["StatsTable"],
        Key={"pk": {"S": f"{venue_id}#{day}"}, "sk": {"S": "STATS"}},
    )
    return dict(item.get("Item") or {})


def scans_of(stack: Stack, person_id: str) -> list[dict[str, Any]]:
    answer = stack.aws("dynamodb").query(
        TableName=stack.info["tables"]["ScansTable"],
        IndexName="by_person",
        KeyConditionExpression="person_id = :p",
        ExpressionAttributeValues={":p": {"S": person_id}},
    )
    return list(answer["Items"])


def test_checkpoint_day_counters_and_ttl(fujian: Stack) -> None:
    # GIVEN a checkpoint at a Fujian hospital and a citizen with a fresh green code
    day = morning_after(fujian)
    venue_id = put_venue(fujian)
    citizen = apply_for_code(fujian, 101)
    # WHEN staff verify the code (sent twice with one Idempotency-Key, as a flaky network would)
    key = str(uuid.uuid4())
    first = verify(fujian, citizen["token"], venue_id, temperature=36.4, key=key)
    retry = verify(fujian, citizen["token"], venue_id, temperature=36.4, key=key)
    # THEN it passes once
    assert first.status_code == 200, first.text
    assert first.json()["verdict"] == "pass" and first.json()["colour"] == "green"
    assert retry.json() == first.json()
    # WHEN the same person comes back with a fever THEN Fujian registers them, abnormal
    fever = verify(fujian, citizen["token"], venue_id, temperature=37.8).json()
    assert (fever["verdict"], fever["abnormal"]) == ("register", True)
    # AND someone without a phone is registered by ID number
    first17 = "35010219600101002"
    manual = fujian.call(
        "POST",
        "/v1/manual-registrations",
        as_=SCANNER,
        json={
            "name": "陈老伯",
            "id_number": first17 + check_character(first17),
            "phone": "13900000000",
            "temperature": 36.7,
            "checkpoint_id": venue_id,
        },
    )
    assert manual.status_code == 201, manual.text
    # WHEN the streams are drained THEN the day's counters hold three scans, one abnormal
    fujian.drain()
    counters = stats_item(fujian, venue_id, day)
    assert counters["scans"] == {"N": "3"} and counters["abnormal"] == {"N": "1"}
    assert counters["by_colour"] == {"M": {"green": {"N": "3"}}}
    # AND the fever became a fact for the colour engine: the same code now shows orange
    again = verify(fujian, citizen["token"], venue_id, temperature=36.5).json()
    assert (again["colour"], again["verdict"], again["abnormal"]) == ("orange", "register", True)
    fujian.drain()
    counters = stats_item(fujian, venue_id, day)
    assert counters["scans"] == {"N": "4"} and counters["abnormal"] == {"N": "2"}
    assert counters["by_colour"] == {"M": {"green": {"N": "3"}, "orange": {"N": "1"}}}
    # AND every scan record carries its TTL: 28 days (RetentionDays) after the scan
    stored = scans_of(fujian, citizen["person_id"])
    assert len(stored) == 3
    for item in stored:
        scanned_at = datetime.strptime(item["at_scan"]["S"].split("#")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        expected = scanned_at.replace(tzinfo=UTC) + timedelta(days=28)
        assert int(item["expires_ttl"]["N"]) == int(expected.timestamp())
    # WHEN RetentionDays pass and TTL runs THEN the scan records and alerts are gone; counters stay
    fujian.clock(advance_seconds=29 * 86400)
    assert fujian.ttl_sweep() >= 4
    assert scans_of(fujian, citizen["person_id"]) == []
    assert stats_item(fujian, venue_id, day)["scans"] == {"N": "4"}


def test_stale_and_forged_codes(fujian: Stack) -> None:
    venue_id = put_venue(fujian, "clinic")
    citizen = apply_for_code(fujian, 202)
    token = citizen["token"]
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # alg none and a tampered subject are refused
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'hc-code+jwt'}).encode())}.{payload}."
    tampered = (
        f"{header}.{_b64(json.dumps({**claims, 'sub': 'p-someone-else'}).encode())}.{token.split('.')[2]}"
    )
    for forged in (unsigned, tampered, "garbage-garbage-garbage"):
        answer = verify(fujian, forged, venue_id)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_code")
    # an unknown checkpoint is not found
    answer = verify(fujian, token, "v-unknown")
    assert (answer.status_code, answer.json()["error"]["field"]) == (404, "checkpoint_id")
    # WHEN the stack clock passes the code's expiry THEN code_expired
    fujian.clock(advance_seconds=300 + 1)  # the policy's code lifetime
    answer = verify(fujian, token, venue_id)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "code_expired")
