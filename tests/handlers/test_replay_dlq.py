"""``make replay-dlq``: failure-queue messages (Lambda's on-failure records) read back from the
stream and replayed into the real export consumer on moto."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from healthcode.storage import scans

from infra.ops.replay_dlq import InvocationFailed, Outcome, replay
from tests.handlers.harness import InProcessStack

AT = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)


def _stream(stack: InProcessStack) -> tuple[str, str, list[str]]:
    """(stream ARN, shard id, sequence numbers) of the ScansTable stream."""
    name = stack.template.physical_name("ScansTable")
    arn = stack.clients["dynamodb"].describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = stack.clients["dynamodbstreams"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return arn, shard, [r["dynamodb"]["SequenceNumber"] for r in records]


def on_failure_message(
    stack: InProcessStack, function: str, stream: str, shard: str, first: str, last: str
) -> str:
    """What Lambda writes to the on-failure destination after the last retry."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c0ffee00-0000-4000-8000-000000000001",
                "functionArn": stack.template.arn(function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 6,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": "2022-05-18T02:05:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "batchSize": 0,
                "streamArn": stream,
            },
        }
    )


@pytest.fixture
def queue(aws_stack: InProcessStack) -> str:
    return aws_stack.template.ref("StreamFailureQueue")


def run(stack: InProcessStack, queue: str, invoke: Any) -> Outcome:
    return replay(
        queue,
        sqs=stack.clients["sqs"],
        streams=stack.clients["dynamodbstreams"],
        invoke=invoke,
        region="cn-north-1",
    )


def waiting(stack: InProcessStack, queue: str) -> int:
    attributes = stack.clients["sqs"].get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_replayed_batch_is_processed_by_its_function_and_removed(
    aws_stack: InProcessStack, queue: str
) -> None:
    # GIVEN four scans, of which the export consumer gave up on the middle two
    for n in range(4):
        record = scans.ScanRecord(
            scan_id=f"s-{n}", person_id=f"p-{n}", venue_id="v-1", root_venue_id="v-1", venue_type="mall",
            region_code="520102", kind="checkin", actor=f"citizen-{n}", at=AT.replace(minute=n), level=0,
            colour="green", verdict="pass", abnormal=False,
        )  # fmt: skip
        scans.put(record, shards=1, retention_days=28)
    stream, shard, sequences = _stream(aws_stack)
    message = on_failure_message(aws_stack, "ExportFunction", stream, shard, sequences[1], sequences[2])
    aws_stack.clients["sqs"].send_message(QueueUrl=queue, MessageBody=message)
    delivered: list[list[str]] = []

    def invoke(function_arn: str, event: dict[str, Any]) -> Any:
        assert function_arn == aws_stack.template.arn("ExportFunction")
        delivered.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return aws_stack.invoke("ExportFunction", event)

    # WHEN ops replay the queue
    outcome = run(aws_stack, queue, invoke)
    # THEN exactly those two records went to the export, in Lambda's event shape, and the message is gone
    assert outcome.replayed and outcome.clean
    assert delivered == [sequences[1:3]]
    assert waiting(aws_stack, queue) == 0
    s3 = aws_stack.clients["s3"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=os.environ["EXPORT_BUCKET"])["Contents"]]
    label = stream.rsplit("/", 1)[1].replace(":", "-")
    assert keys == [f"exports/scans/dt=2022-05-18/{label}-{sequences[1]}-{sequences[2]}.jsonl"]


@pytest.mark.parametrize("answer", ["reported", "raised"])
def test_a_batch_that_still_fails_stays_in_the_queue(
    aws_stack: InProcessStack, queue: str, answer: str
) -> None:
    # GIVEN a failure message for a record the consumer still cannot handle
    scans.put(
        scans.ScanRecord(
            scan_id="s-x", person_id="p-x", venue_id="v-1", root_venue_id="v-1", venue_type="mall",
            region_code="520102", kind="checkin", actor="c", at=AT, level=0, colour="green",
            verdict="pass", abnormal=False,
        ),
        shards=1,
        retention_days=28,
    )  # fmt: skip
    stream, shard, sequences = _stream(aws_stack)
    aws_stack.clients["sqs"].send_message(
        QueueUrl=queue,
        MessageBody=on_failure_message(
            aws_stack, "ExportFunction", stream, shard, sequences[0], sequences[0]
        ),
    )

    def invoke(function_arn: str, event: dict[str, Any]) -> Any:
        if answer == "raised":
            raise InvocationFailed("Unhandled")
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}

    # WHEN replayed THEN it is kept, and visible again at once for the next attempt
    outcome = run(aws_stack, queue, invoke)
    assert len(outcome.still_failing) == 1 and not outcome.clean
    assert waiting(aws_stack, queue) == 1


def test_records_no_longer_in_the_stream_and_foreign_messages_are_kept(
    aws_stack: InProcessStack, queue: str
) -> None:
    # GIVEN a message naming records the stream does not have, and a message that is not Lambda's
    scans.put(
        scans.ScanRecord(
            scan_id="s-y", person_id="p-y", venue_id="v-1", root_venue_id="v-1", venue_type="mall",
            region_code="520102", kind="checkin", actor="c", at=AT, level=0, colour="green",
            verdict="pass", abnormal=False,
        ),
        shards=1,
        retention_days=28,
    )  # fmt: skip
    stream, shard, sequences = _stream(aws_stack)
    beyond = str(int(sequences[-1]) + 1000)
    sqs = aws_stack.clients["sqs"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=on_failure_message(aws_stack, "ExportFunction", stream, shard, beyond, beyond),
    )
    sqs.send_message(QueueUrl=queue, MessageBody="not a failure record")

    def invoke(function_arn: str, event: dict[str, Any]) -> Any:
        raise AssertionError("nothing should be invoked")

    # WHEN replayed THEN both are kept and named, and nothing was invoked
    outcome = run(aws_stack, queue, invoke)
    assert len(outcome.gone) == 1 and len(outcome.unreadable) == 1 and not outcome.replayed
    assert waiting(aws_stack, queue) == 2
