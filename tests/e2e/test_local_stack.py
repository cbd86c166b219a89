"""The local stack itself, over HTTP: routing, the JWT authorizer, stream delivery with Lambda's
retry/bisect/on-failure semantics, TTL emulation and the clock. Uses a small probe template
(tests/e2e/fixtures/template.yaml) so every behaviour can be provoked."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.stack import Stack, running_stack

FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"


@pytest.fixture(scope="module")
def probe() -> Iterator[Stack]:
    with running_stack("520000", template=FIXTURE) as started:
        yield started


def _table(stack: Stack, logical: str) -> str:
    return str(stack.info["tables"][logical])


def _put(stack: Stack, item_id: str, behaviour: str, **extra: Any) -> None:
    item = {"id": {"S": item_id}, "behaviour": {"S": behaviour}, **extra}
    stack.aws("dynamodb").put_item(TableName=_table(stack, "ProbeTable"), Item=item)


def _deliveries(stack: Stack, item_id: str, event: str = "INSERT") -> int:
    found = stack.aws("dynamodb").get_item(
        TableName=_table(stack, "SeenTable"), Key={"id": {"S": f"{item_id}#{event}"}}
    )
    return int(found.get("Item", {}).get("deliveries", {}).get("N", 0))


def _failure_messages(stack: Stack) -> list[dict[str, Any]]:
    sqs = stack.aws("sqs")
    url = stack.info["queues"]["FailureQueue"]
    messages = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = got.get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


# -- routing and the authorizer ---------------------------------------------------------------


def test_routes_build_http_api_v2_events(probe: Stack) -> None:
    answer = probe.call("GET", "/items/abc?x=1&x=2", as_=("u1", ["citizen"]))
    assert answer.status_code == 200
    event = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{item_id}"
    assert event["pathParameters"] == {"item_id": "abc"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    # claims are flattened the way API Gateway flattens them
    assert event["claims"]["sub"] == "u1" and event["claims"]["roles"] == "[citizen]"
    assert event["remaining_ms"] > 0


def test_the_most_specific_route_wins(probe: Stack) -> None:
    answer = probe.call("GET", "/items/new", as_=("u1", ["citizen"]))
    assert answer.json()["routeKey"] == "GET /items/new"


def test_unknown_routes_are_404_like_api_gateway(probe: Stack) -> None:
    assert probe.call("GET", "/nowhere").status_code == 404
    assert probe.call("DELETE", "/items/abc", as_=("u1", ["citizen"])).status_code == 404


def test_public_routes_need_no_token_and_carry_the_body(probe: Stack) -> None:
    answer = probe.call("POST", "/public/echo", json={"a": "张三"})
    assert answer.status_code == 200
    event = answer.json()
    assert event["claims"] is None and json.loads(event["body"]) == {"a": "张三"}


def test_binary_bodies_arrive_base64_encoded(probe: Stack) -> None:
    payload = bytes(range(256))
    answer = probe.call(
        "POST", "/public/echo", data=payload, headers={"Content-Type": "application/octet-stream"}
    )
    event = answer.json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == payload


def test_a_failing_function_is_a_500_like_api_gateway(probe: Stack) -> None:
    answer = probe.call("GET", "/public/boom")
    assert answer.status_code == 500 and answer.json() == {"message": "Internal Server Error"}


def _token(claims: dict[str, Any], key: Any = None, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(
        claims, key or ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=headers
    )


def _bad_tokens(probe: Stack) -> dict[str, str]:
    good = probe.token("u1", ["official"])
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    header_b64, payload_b64, signature = good.split(".")
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": header["kid"]}).encode()).rstrip(
        b"="
    )
    return {
        "missing": "",
        "not bearer": good,
        "garbage": "Bearer garbage",
        "alg none": f"Bearer {none_header.decode()}.{payload_b64}.",
        "forged (other key, right kid)": "Bearer " + _token(claims, headers={"kid": header["kid"]}),
        "tampered": "Bearer "
        + header_b64
        + "."
        + base64.urlsafe_b64encode(json.dumps(dict(claims, roles=["admin"])).encode()).rstrip(b"=").decode()
        + "."
        + signature,
        "wrong issuer": "Bearer "
        + _token(dict(claims, iss="https://evil.invalid"), headers={"kid": header["kid"]}),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not bearer",
        "garbage",
        "alg none",
        "forged (other key, right kid)",
        "tampered",
        "wrong issuer",
    ],
)
def test_authorizer_rejects_bad_caller_tokens_with_401(probe: Stack, case: str) -> None:
    value = _bad_tokens(probe)[case]
    headers = {} if case == "missing" else {"Authorization": value}
    answer = probe.call("GET", "/officials/whoami", headers=headers)
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthorized"}


def test_wrong_role_is_403_from_the_function(probe: Stack) -> None:
    answer = probe.call("GET", "/officials/whoami", as_=("u1", ["citizen"]))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden_role"
    assert probe.call("GET", "/officials/whoami", as_=("u1", ["official"])).status_code == 200


def test_caller_tokens_expire_on_the_stack_clock(probe: Stack) -> None:
    token = probe.token("u1", ["official"])
    headers = {"Authorization": f"Bearer {token}"}
    assert probe.call("GET", "/officials/whoami", headers=headers).status_code == 200
    probe.clock(advance_seconds=3601)
    try:
        assert probe.call("GET", "/officials/whoami", headers=headers).status_code == 401
    finally:
        probe.clock(advance_seconds=-3601)
    assert probe.call("GET", "/officials/whoami", headers=headers).status_code == 200


def test_clock_moves_and_reports_plus_eight(probe: Stack) -> None:
    shown = probe.clock(now="2022-05-18T10:00:00+08:00")
    assert shown.startswith("2022-05-18T10:00") and shown.endswith("+08:00")
    later = probe.clock(advance_seconds=3600)
    assert later.startswith("2022-05-18T11:00")
    bad = probe.http.post(f"{probe.url}/_local/clock", json={"now": "2022-05-18T10:00:00"}, timeout=10)
    assert bad.status_code == 400
    probe.clock(now=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))


def test_local_tokens_need_a_subject(probe: Stack) -> None:
    bad = probe.http.post(f"{probe.url}/_local/tokens", json={"roles": ["citizen"]}, timeout=10)
    assert bad.status_code == 400


# -- streams -------------------------------------------------------------------------------------


def test_every_record_is_delivered_once_when_all_succeed(probe: Stack) -> None:
    ids = [f"ok-{uuid.uuid4().hex[:8]}" for _ in range(25)]
    for item_id in ids:
        _put(probe, item_id, "ok")
    probe.drain()
    assert [_deliveries(probe, i) for i in ids] == [1] * 25


def test_a_reported_failure_is_retried_from_that_record(probe: Stack) -> None:
    # GIVEN a batch whose middle record fails once
    first, flaky, last = (f"r-{uuid.uuid4().hex[:8]}" for _ in range(3))
    with probe.pump_paused():
        _put(probe, first, "ok")
        _put(probe, flaky, "fail_once")
        _put(probe, last, "ok")
        probe.drain()
    # THEN records before it were checkpointed; it and the ones after it were delivered again
    assert _deliveries(probe, first) == 1
    assert _deliveries(probe, flaky) == 2
    assert _deliveries(probe, last) == 2
    assert _failure_messages(probe) == []


def test_a_poison_record_is_isolated_by_bisection_and_sent_to_the_failure_queue(probe: Stack) -> None:
    _failure_messages(probe)
    ids = [f"b-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    poison = ids[5]
    with probe.pump_paused():
        for item_id in ids:
            _put(probe, item_id, "raise" if item_id == poison else "ok")
        probe.drain()
    messages = _failure_messages(probe)
    # THEN only the poison record went to the on-failure queue, in Lambda's format
    assert len(messages) == 1
    info = messages[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert messages[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["streamArn"].startswith("arn:aws-cn:dynamodb:cn-north-1:")
    # AND it was tried 1 + MaximumRetryAttempts (2) times on its own, after the bisection
    assert _deliveries(probe, poison) >= 3
    # AND every other record was processed
    assert all(_deliveries(probe, i) >= 1 for i in ids if i != poison)


def test_a_record_that_keeps_failing_goes_to_the_queue_after_bounded_retries(probe: Stack) -> None:
    _failure_messages(probe)
    stuck = f"s-{uuid.uuid4().hex[:8]}"
    _put(probe, stuck, "fail")
    probe.drain()
    assert _deliveries(probe, stuck) == 3  # first try + MaximumRetryAttempts: 2
    messages = _failure_messages(probe)
    assert [m["DDBStreamBatchInfo"]["batchSize"] for m in messages] == [1]


# -- TTL emulation ---------------------------------------------------------------------------------


def test_ttl_deletes_expired_items_on_the_stack_clock_with_the_service_identity(probe: Stack) -> None:
    now = int(time.time())
    expired, alive = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    _put(probe, expired, "ok", expires_ttl={"N": str(now + 600)})
    _put(probe, alive, "ok", expires_ttl={"N": str(now + 7200)})
    probe.drain()
    # nothing is deleted before the clock passes the TTL
    probe.ttl_sweep()
    probe.drain()
    assert _deliveries(probe, expired, "REMOVE") == 0
    probe.clock(advance_seconds=900)
    try:
        assert probe.ttl_sweep() >= 1
        probe.drain()
    finally:
        probe.clock(advance_seconds=-900)
    table = _table(probe, "ProbeTable")
    assert "Item" not in probe.aws("dynamodb").get_item(TableName=table, Key={"id": {"S": expired}})
    assert "Item" in probe.aws("dynamodb").get_item(TableName=table, Key={"id": {"S": alive}})
    seen = probe.aws("dynamodb").get_item(
        TableName=_table(probe, "SeenTable"), Key={"id": {"S": f"{expired}#REMOVE"}}
    )
    assert json.loads(seen["Item"]["user_identity"]["S"]) == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }


def test_a_delete_by_a_person_has_no_service_identity(probe: Stack) -> None:
    item = f"d-{uuid.uuid4().hex[:8]}"
    _put(probe, item, "ok")
    probe.aws("dynamodb").delete_item(TableName=_table(probe, "ProbeTable"), Key={"id": {"S": item}})
    probe.drain()
    seen = probe.aws("dynamodb").get_item(
        TableName=_table(probe, "SeenTable"), Key={"id": {"S": f"{item}#REMOVE"}}
    )
    assert json.loads(seen["Item"]["user_identity"]["S"]) is None
