"""Replay stream records that failed every retry: ``make replay-dlq ENV=fujian`` (or ``LOCAL=url``).

Each message in ``StreamFailureQueue`` is what Lambda writes when a DynamoDB-stream batch runs
out of retries: not the records, but where they are (``requestContext.functionArn``,
``DDBStreamBatchInfo``: stream ARN, shard, first and last sequence number). For each message:

1. the records are read back from the stream (``GetShardIterator`` ``AT_SEQUENCE_NUMBER`` the first,
   ``GetRecords`` up to the last);
2. the same function is invoked with them, in the event format Lambda's event source mapping
   uses (``infra.local.events.stream_record``);
3. the message is deleted when the function reports no failure; it is kept (visible again at once)
   when the function still fails, and when the records have left the stream (DynamoDB keeps them
   24 hours) — those need a targeted repair, see docs/runbooks/stream-failures.md.

The consumers are idempotent, so replaying records that partly succeeded before is safe. The
venue-day counters are exact too, even when later scans of the same venue-day were counted while
these records waited in the queue: each counter update writes run markers that say which stretch
of the stream it counted, and a replayed scan that no run holds is counted (``storage.stats``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.events import TTL_IDENTITY, stream_record
from infra.ops.environments import DEFAULT_CONFIG, load_environment

#: (function ARN, event) -> the function's answer; raises when the invocation itself failed.
Invoke = Callable[[str, dict[str, Any]], Any]


class InvocationFailed(Exception):
    """The function raised (an unhandled error)."""


@dataclass
class Outcome:
    replayed: list[str] = field(default_factory=list)  # message ids deleted
    still_failing: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # records no longer in the stream
    unreadable: list[str] = field(default_factory=list)  # not a stream on-failure record

    @property
    def clean(self) -> bool:
        return not (self.still_failing or self.gone or self.unreadable)


def records_of(streams: Any, info: dict[str, Any], region: str) -> list[dict[str, Any]] | None:
    """The records a failure message describes, in Lambda's event shape; None if the stream no
    longer has them (trimmed after 24 hours)."""
    arn, shard = info["streamArn"], info["shardId"]
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except streams.exceptions.TrimmedDataAccessException:
        return None
    except streams.exceptions.ResourceNotFoundException:
        return None
    found: list[dict[str, Any]] = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        for raw in answer.get("Records", []):
            sequence = int(raw["dynamodb"]["SequenceNumber"])
            if sequence > last:
                return found
            if sequence >= first:
                by_ttl = raw.get("userIdentity") == TTL_IDENTITY
                found.append(stream_record(raw, stream_arn=arn, region=region, ttl_delete=by_ttl))
        if not answer.get("Records"):
            break
        iterator = answer.get("NextShardIterator")
    if not found or int(found[0]["dynamodb"]["SequenceNumber"]) != first:
        return None
    return found


def replay(queue_url: str, *, sqs: Any, streams: Any, invoke: Invoke, region: str) -> Outcome:
    """Replay every message in the queue once (messages that stay are visible again at once)."""
    outcome = Outcome()
    kept: list[str] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            identifier = message["MessageId"]
            try:
                body = json.loads(message["Body"])
                function = body["requestContext"]["functionArn"]
                info = body["DDBStreamBatchInfo"]
            except (ValueError, KeyError, TypeError):
                outcome.unreadable.append(identifier)
                kept.append(message["ReceiptHandle"])
                continue
            records = records_of(streams, info, region)
            if records is None:
                outcome.gone.append(identifier)
                kept.append(message["ReceiptHandle"])
                continue
            try:
                answer = invoke(function, {"Records": records})
            except InvocationFailed:
                answer = None
            failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
            if answer is None or failures:
                outcome.still_failing.append(identifier)
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            outcome.replayed.append(identifier)
    for handle in kept:  # visible again at once for the next run
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return outcome


# --- where: a deployed stack, or a running local stack ------------------------------------------


def replay_deployed(environment: str, *, config: Path = DEFAULT_CONFIG, session: Any = None) -> Outcome:
    import boto3

    env = load_environment(environment, config)
    session = session or boto3.session.Session(region_name=env.region)
    stack = session.client("cloudformation").describe_stacks(StackName=env.stack_name)["Stacks"][0]
    queue_url = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "StreamFailureQueueUrl")
    lambda_ = session.client("lambda")

    def invoke(function: str, event: dict[str, Any]) -> Any:
        answer = lambda_.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise InvocationFailed(json.dumps(payload)[:300])
        return payload

    return replay(
        queue_url,
        sqs=session.client("sqs"),
        streams=session.client("dynamodbstreams"),
        invoke=invoke,
        region=env.region,
    )


def replay_local(url: str, *, queue: str = "StreamFailureQueue") -> Outcome:
    import boto3

    base = url.rstrip("/")
    with urllib.request.urlopen(f"{base}/_local/info", timeout=10) as response:
        info = json.loads(response.read())
    session: Any = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=info["region"]
    )
    prefix = f"{info['stack_name']}-"

    def invoke(function: str, event: dict[str, Any]) -> Any:
        logical = function.rsplit(":", 1)[1].removeprefix(prefix)
        request = urllib.request.Request(
            f"{base}/_local/invoke/{logical}",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["result"]
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as error:
            # the local stack answers a failed invocation by dropping the connection
            raise InvocationFailed(f"{logical}: {type(error).__name__}") from None

    endpoint = info["moto_endpoint"]
    # DynamoDB's streams are on the stack's engine (moto, or DynamoDB Local)
    streams_endpoint = info.get("dynamodb_endpoint", endpoint)
    return replay(
        info["queues"][queue],
        sqs=session.client("sqs", endpoint_url=endpoint),
        streams=session.client("dynamodbstreams", endpoint_url=streams_endpoint),
        invoke=invoke,
        region=info["region"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.replay_dlq", description=__doc__.split("\n\n")[0]
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--env", help="samconfig.toml environment (fujian, henan, shanxi, jiangxi, guizhou)")
    where.add_argument("--local", metavar="URL", help="a running local stack, e.g. http://127.0.0.1:3000")
    parser.add_argument("--queue", default="StreamFailureQueue", help="the queue's logical id (local stack)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    outcome = (
        replay_local(args.local, queue=args.queue)
        if args.local
        else replay_deployed(args.env, config=args.config)
    )
    print(f"replayed and removed: {len(outcome.replayed)}")
    for label, ids in (
        ("still failing (kept)", outcome.still_failing),
        ("records no longer in the stream (kept)", outcome.gone),
        ("not a stream failure record (kept)", outcome.unreadable),
    ):
        if ids:
            print(f"{label}: {len(ids)}: {', '.join(ids)}")
    return 0 if outcome.clean else 1


if __name__ == "__main__":
    sys.exit(main())
