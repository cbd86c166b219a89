"""``make replay-dlq LOCAL=<url>`` on a local stack: a record that failed every retry is read back
from the stream, handed to its consumer again, and kept in the queue while it still fails."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.ops import replay_dlq
from tests.e2e.stack import Stack, running_stack

FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"


@pytest.fixture(scope="module")
def probe() -> Iterator[Stack]:
    """The probe template (its consumer fails the records that ask it to) on a stack of its own."""
    with running_stack("520000", template=FIXTURE) as started:
        yield started


def _deliveries(stack: Stack, item_id: str) -> int:
    found = stack.aws("dynamodb").get_item(
        TableName=stack.info["tables"]["SeenTable"], Key={"id": {"S": f"{item_id}#INSERT"}}
    )
    return int(found.get("Item", {}).get("deliveries", {}).get("N", 0))


def _messages(stack: Stack) -> list[dict[str, object]]:
    got = stack.aws("sqs").receive_message(
        QueueUrl=stack.info["queues"]["FailureQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_record_that_still_fails_is_replayed_once_and_kept(
    probe: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a record the consumer fails every time, after its retries: in the failure queue
    stuck = f"r-{uuid.uuid4().hex[:8]}"
    probe.aws("dynamodb").put_item(
        TableName=probe.info["tables"]["ProbeTable"], Item={"id": {"S": stuck}, "behaviour": {"S": "fail"}}
    )
    probe.drain()
    tried = _deliveries(probe, stuck)
    assert tried == 3 and len(_messages(probe)) == 1  # the first try and MaximumRetryAttempts: 2
    # WHEN ops replay the queue
    code = replay_dlq.main(["--local", probe.url, "--queue", "FailureQueue"])
    # THEN the record went to its consumer once more, still failed, and its message is kept
    assert code == 1
    assert _deliveries(probe, stuck) == tried + 1
    assert "still failing (kept): 1" in capsys.readouterr().out
    (message,) = _messages(probe)
    assert message["requestContext"]["functionArn"].endswith("-ConsumerFunction")  # type: ignore[index]
