"""Start the local stack as its own process (``python -m infra.local``) and talk HTTP to it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    def __init__(self, url: str, process: subprocess.Popen[str], output: deque[str]) -> None:
        self.url = url
        self.process = process
        self.output = output
        self.http = requests.Session()
        self._info: dict[str, Any] | None = None

    # -- local-only routes -----------------------------------------------------------------

    def token(self, sub: str, roles: Sequence[str], region: str | None = None) -> str:
        """A caller token for ``sub`` with ``roles`` (and the area ``region``, when given)."""
        body: dict[str, Any] = {"sub": sub, "roles": list(roles)}
        if region is not None:
            body["region"] = region
        answer = self.http.post(f"{self.url}/_local/tokens", json=body, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def drain(self) -> dict[str, Any]:
        answer = self.http.post(f"{self.url}/_local/drain", json={}, timeout=300)
        answer.raise_for_status()
        return dict(answer.json())

    def clock(self, **body: Any) -> str:
        answer = self.http.post(f"{self.url}/_local/clock", json=body, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["now"])

    @contextmanager
    def pump_paused(self) -> Iterator[None]:
        """Hold background stream delivery (records written inside are read together)."""
        self.http.post(f"{self.url}/_local/pump", json={"paused": True}, timeout=10).raise_for_status()
        try:
            yield
        finally:
            self.http.post(f"{self.url}/_local/pump", json={"paused": False}, timeout=10).raise_for_status()

    def ttl_sweep(self) -> int:
        return int(self.http.post(f"{self.url}/_local/ttl", json={}, timeout=60).json()["deleted"])

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = dict(self.http.get(f"{self.url}/_local/info", timeout=10).json())
        return self._info

    def aws(self, service: str) -> Any:
        """A boto3 client on the stack's moto, or on its DynamoDB engine for DynamoDB and its
        streams (to inspect what the stack stored)."""
        engine_services = ("dynamodb", "dynamodbstreams")
        return boto3.client(
            service,
            endpoint_url=self.info["dynamodb_endpoint" if service in engine_services else "moto_endpoint"],
            region_name=self.info["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def stream_records(self, table: str) -> list[dict[str, Any]]:
        """Every record of ``table``'s stream so far, in order, shaped as Lambda delivers them
        (to hand to a consumer through ``/_local/invoke``, as ``make replay-dlq`` does)."""
        from infra.local.events import stream_record

        dynamodb, streams = self.aws("dynamodb"), self.aws("dynamodbstreams")
        arn = dynamodb.describe_table(TableName=self.info["tables"][table])["Table"]["LatestStreamArn"]
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                records += [
                    stream_record(r, stream_arn=arn, region=self.info["region"], ttl_delete=False)
                    for r in page["Records"]
                ]
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        return records

    # -- the API -------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, Sequence[str]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if as_ is not None:
            sent["Authorization"] = f"Bearer {self.token(*as_)}"
        return self.http.request(method, f"{self.url}{path}", json=json, data=data, headers=sent, timeout=60)


@contextmanager
def running_stack(
    province: str = "520000", *, template: Path | None = None, extra: Sequence[str] = ()
) -> Iterator[Stack]:
    command = [sys.executable, "-m", "infra.local", "--port", "0", "--province", province, *extra]
    if template is not None:
        command += ["--template", str(template)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: deque[str] = deque(maxlen=400)
    ready = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("ready on "):
                url.append(line.split("ready on ", 1)[1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 90
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            break
    if not url:
        process.kill()
        raise RuntimeError("local stack did not start:\n" + "".join(output))
    stack = Stack(url[0], process, output)
    try:
        yield stack
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
