"""The world the fault suite runs: one province's day of codes, venues, check-ins, checkpoint
scans, a case and a risk-area change, made through the API handlers of the in-process stack
(``infra.local.inprocess``) with a frozen clock and seeded ids, so two runs of the same seed
write the same items — one run fault-free, one under injected faults — and their end states
can be compared item by item.

``end_state`` reads every table (a Scan: this is a test, not a request path) and the export
bucket, and leaves out what legitimately differs between two stacks or between two orders of
delivery: ciphertexts and signatures (random nonces), keyed hashes (each stack has its own hash
key), stream sequence numbers, item versions (a retried write may take more versions to get
there) and the colour-change history, which is checked as a chain instead (``history_chain``):
an intermediate colour may or may not be written depending on which facts a recomputation
already saw, but the history may never skip or repeat a step.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from healthcode import clock
from healthcode.rules.idcard import check_character
from moto.core.botocore_stubber import BotocoreStubber

from infra.local.inprocess import InProcessStack, in_process_stack

BASE = datetime(2022, 5, 10, 2, 0, tzinfo=UTC)  # 10:00 in Guiyang
MANAGER = ("fault-manager", ("venue_manager",))
SCANNER = ("fault-scanner", ("scanner",))
OFFICIAL = ("fault-official", ("official",))
#: Where the world's venues stand (Nanming district, Guiyang) and a trip's destination.
COUNTY, LAT, LNG = "520102", 26.5783, 106.7135
TRAVEL_REGION = "420102"
#: Attributes whose values differ between two stacks or two delivery orders (see above).
VOLATILE = frozenset({"applied", "version", "code", "code_id", "paper_code", "link_hash", "changed_at"})
_VOLATILE_SUFFIXES = ("_enc",)
_SEQUENCE = re.compile(r"\d{21,40}")


# -- a moto that answers one request at a time -----------------------------------------------------


@contextmanager
def serial_moto() -> Iterator[None]:
    """In-process moto's backends are not thread-safe (the local stack serialises its server for
    the same reason); every DynamoDB request is atomic in AWS. Serialise moto's answers, so
    threads racing each other (the tracing writers, the concurrency tests) see AWS's atomicity."""
    original = BotocoreStubber.__call__
    lock = threading.RLock()

    def serial(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = serial  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


@contextmanager
def world_stack() -> Iterator[InProcessStack]:
    """A fresh in-process stack whose signing keys date from before the world's day (the keys
    are made on the stack clock), with moto serialised."""
    clock.freeze(BASE - timedelta(days=1))
    with serial_moto(), in_process_stack() as stack:
        yield stack


@contextmanager
def seeded_ids(seed: int) -> Iterator[None]:
    """``uuid.uuid4`` from a seeded stream: every id the handlers make is the same in each run."""
    source = random.Random(seed)
    original = uuid.uuid4

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=source.getrandbits(128), version=4)

    uuid.uuid4 = uuid4
    try:
        yield
    finally:
        uuid.uuid4 = original


# -- the world -----------------------------------------------------------------------------------


def id_number(n: int) -> str:
    first17 = f"{COUNTY}1988{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + check_character(first17)


@dataclass
class World:
    """What the scenario made: the ids the API answered with."""

    people: list[str] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # person_id -> account
    tokens: dict[str, str] = field(default_factory=dict)  # person_id -> personal code
    venues: list[str] = field(default_factory=list)
    venue_codes: dict[str, str] = field(default_factory=dict)
    checkins: int = 0
    verifications: int = 0
    case_ids: list[str] = field(default_factory=list)


def _ok(answer: Any, *statuses: int) -> Any:
    assert answer.status in statuses, (answer.status, answer.body[:300])
    return answer.json()


def build_world(stack: InProcessStack, seed: int, *, people: int = 10, visits: int = 2) -> World:
    """The day: people apply (some declared travel), a complex and two more venues register,
    check-ins all morning, checkpoint scans (one feverish), a case in the afternoon and a
    risk-area change for the travellers' destination. The clock is left at the end."""
    rng = random.Random(seed)
    world = World()
    clock.freeze(BASE)
    with seeded_ids(seed):
        for n in range(people):
            account = f"fault-citizen-{n}"
            travel = (
                [{"region_code": TRAVEL_REGION, "left_at": clock.show(BASE - timedelta(days=2))}]
                if n % 4 == 3
                else []
            )
            body = {
                "name": "测试" + "甲乙丙丁戊己庚辛壬癸"[n % 10],
                "id_number": id_number(seed * 100 + n),
                "phone": f"139{seed % 100:02d}{n:06d}",
                "address": "贵州省贵阳市南明区中华南路1号",
                "region_code": COUNTY,
                "declaration": {
                    "symptoms": [],
                    "temperature": 36.6,
                    "travel": travel,
                    "contact_with_case": False,
                },
            }
            answer = _ok(stack.call("POST", "/v1/codes", as_=(account, ("citizen",)), json_body=body), 201)
            world.people.append(answer["person_id"])
            world.accounts[answer["person_id"]] = account
            world.tokens[answer["person_id"]] = answer["token"]
        parent: str | None = None
        for n, (kind, name) in enumerate(
            [
                ("mall", "花果园购物中心"),
                ("restaurant", "花果园美食广场"),
                ("supermarket", "南明超市"),
                ("pharmacy", "南明大药房"),
                ("office", "南明区政务中心"),
            ]
        ):
            registration: dict[str, Any] = {
                "name": name,
                "type": kind,
                "subject_name": "贵阳测试商贸有限公司",
                "credential_type": "uscc",
                "credential_number": "91440300708461136T",
                "region_code": COUNTY,
                "location": {"lat": LAT, "lng": LNG},
                "address": "贵州省贵阳市南明区花果园",
                "manager_phone": f"137{seed % 100:02d}{n:06d}",
            }
            if n == 1:
                registration["parent_venue_id"] = parent
            answer = _ok(stack.call("POST", "/v1/venues", as_=MANAGER, json_body=registration), 201)
            parent = parent or answer["venue_id"]
            world.venues.append(answer["venue_id"])
            world.venue_codes[answer["venue_id"]] = answer["code"]
        for minute in range(0, 600, 40):
            clock.freeze(BASE + timedelta(minutes=minute))
            for person in rng.sample(world.people, visits):
                venue = rng.choice(world.venues[:4])
                _ok(
                    stack.call(
                        "POST",
                        "/v1/checkins",
                        as_=(world.accounts[person], ("citizen",)),
                        json_body={
                            "venue_code": world.venue_codes[venue],
                            "person_id": person,
                            "location": {"lat": LAT, "lng": LNG},
                        },
                    ),
                    201,
                )
                world.checkins += 1
        checkpoint = world.venues[4]
        _ok(stack.call("PUT", f"/v1/venues/{checkpoint}/staff/{SCANNER[0]}", as_=MANAGER), 200)
        for n, person in enumerate(world.people[:4]):
            clock.freeze(BASE + timedelta(minutes=620 + 90 * n))
            temperature = 38.2 if n == 2 else 36.5
            refreshed = _ok(
                stack.call("GET", f"/v1/codes/{person}", as_=(world.accounts[person], ("citizen",))), 200
            )
            world.tokens[person] = refreshed["token"]
            _ok(
                stack.call(
                    "POST",
                    "/v1/verifications",
                    as_=SCANNER,
                    json_body={
                        "code": world.tokens[person],
                        "checkpoint_id": checkpoint,
                        "temperature": temperature,
                    },
                ),
                200,
            )
            world.verifications += 1
        clock.freeze(BASE + timedelta(hours=20))
        answer = _ok(
            stack.call(
                "POST",
                "/v1/cases",
                as_=OFFICIAL,
                json_body={
                    "person_id": world.people[-1],
                    "status": "confirmed",
                    "diagnosed_at": clock.show(BASE + timedelta(hours=19)),
                },
            ),
            202,
        )
        world.case_ids.append(answer["case_id"])
        _ok(
            stack.call("PUT", f"/v1/risk-areas/{TRAVEL_REGION}", as_=OFFICIAL, json_body={"level": "high"}),
            200,
        )
        clock.freeze(BASE + timedelta(hours=21))
    return world


# -- the end state -----------------------------------------------------------------------------------


def _normal(value: Any) -> Any:
    """A wire-form attribute value with what legitimately differs between two runs taken out."""
    if isinstance(value, Mapping):
        return {
            key: _normal(item)
            for key, item in sorted(value.items())
            if key not in VOLATILE and not key.endswith(_VOLATILE_SUFFIXES)
        }
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, str):
        if value.startswith("h1:"):
            return "h1:…"
        if value.startswith("v1."):
            return "v1.…"
        return re.sub(r"id#h1:\S+", "id#h1:…", value)
    return value


def _scan(stack: InProcessStack, logical_id: str) -> list[dict[str, Any]]:
    dynamodb = stack.clients["dynamodb"]
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=stack.template.physical_name(logical_id), ConsistentRead=True
    ):
        items.extend(page.get("Items", []))
    return items


def is_counter_run(item: Mapping[str, Any]) -> bool:
    """The counters' run markers (storage.stats): bookkeeping of which stretch of the stream was
    counted together, which differs with how batches were split (like ``applied``)."""
    return str(item.get("sk", {}).get("S", "")).startswith("RUN#") and "last" in item


def is_timeliness(item: Mapping[str, Any]) -> bool:
    """The colour-change timeliness histograms (storage.registers ``IND#…``, ``…#timely#…``): one
    sample per colour change written, so they follow how deliveries grouped the facts (a person
    coloured once for two facts, or twice), like the history they are checked with instead."""
    return "#timely#" in str(item.get("sk", {}).get("S", ""))


def is_history(item: Mapping[str, Any]) -> bool:
    return "#colour_change#" in str(item.get("entry", {}).get("S", ""))


def export_lines(stack: InProcessStack) -> list[str]:
    """Every exported line once (readers de-duplicate on (table, seq)), without its seq."""
    s3 = stack.clients["s3"]
    bucket = os.environ["EXPORT_BUCKET"]
    seen: dict[tuple[str, str], str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8")
            for line in body.splitlines():
                document = json.loads(line)
                key = (str(document.get("table", obj["Key"].split("/")[1])), str(document.get("seq")))
                document.pop("seq", None)
                seen[key] = json.dumps(_normal(document), ensure_ascii=False, sort_keys=True)
    return sorted(seen.values())


def end_state(stack: InProcessStack) -> dict[str, list[str]]:
    """Every table's items (normalised, sorted) and the export's lines; history, the counters'
    run markers and the timeliness histograms left out."""
    state: dict[str, list[str]] = {}
    for logical_id in sorted(stack.template.tables()):
        items = [
            i
            for i in _scan(stack, logical_id)
            if not is_history(i) and not is_counter_run(i) and not is_timeliness(i)
        ]
        state[logical_id] = sorted(json.dumps(_normal(i), ensure_ascii=False, sort_keys=True) for i in items)
    state["export"] = export_lines(stack)
    return state


def history_chain(stack: InProcessStack) -> dict[str, list[tuple[str | None, str]]]:
    """Per person, the colour changes in the order they were written (by version): each one
    must start where the one before ended, and the last must end at the stored colour."""
    changes: dict[str, list[tuple[int, str | None, str]]] = {}
    for item in _scan(stack, "AuditTable"):
        if not is_history(item):
            continue
        person = item["subject"]["S"].split("#", 1)[1]
        version = int(item["entry"]["S"].rsplit("#v", 1)[1])
        details = json.loads(item["details"]["S"])
        changes.setdefault(person, []).append((version, details["from"], details["to"]))
    return {person: [(b, a) for _, b, a in sorted(steps)] for person, steps in changes.items()}


def stored_colours(stack: InProcessStack) -> dict[str, tuple[int, str]]:
    return {
        item["person_id"]["S"]: (int(item["level"]["N"]), item["colour"]["S"])
        for item in _scan(stack, "PersonsTable")
        if not item["person_id"]["S"].startswith("id#") and "colour" in item  # not claims, not guards
    }


def check_history_of(person: str, steps: list[tuple[str | None, str]], stored: str) -> None:
    """One person's history: starts from nothing, each change starts where the one before ended,
    ends at the stored colour."""
    assert steps and steps[0][0] is None, f"{person}: the first change must start from nothing: {steps}"
    for (_, ended), (started, _) in itertools.pairwise(steps):
        assert started == ended, f"{person}: a change starts from {started}, the one before ended at {ended}"
    assert steps[-1][1] == stored, f"{person}: history ends at {steps[-1][1]}, stored {stored}"


def check_history(stack: InProcessStack) -> int:
    """Assert every person's history is a chain ending at their stored colour; returns the
    number of changes checked."""
    colours = stored_colours(stack)
    chains = history_chain(stack)
    assert set(chains) == set(colours), "every person has a history, and nobody else"
    for person, steps in chains.items():
        check_history_of(person, steps, colours[person][1])
    return sum(len(steps) for steps in chains.values())


# -- delivering the streams, with faults and the failure queue replayed --------------------------------


@dataclass
class Delivery:
    """What happened while the streams were delivered."""

    invocations: int = 0
    item_failures: int = 0  # records a consumer reported failed (ReportBatchItemFailures)
    crashed: int = 0  # invocations that raised (the batch is bisected)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)  # StreamFailureQueue bodies
    replayed: int = 0  # failure-queue messages replayed and removed
    by_function: dict[str, int] = field(default_factory=dict)


def failure_queue(stack: InProcessStack) -> list[dict[str, Any]]:
    """Every message in the StreamFailureQueue, left in the queue (visible again at once)."""
    sqs = stack.clients["sqs"]
    url = stack.template.ref("StreamFailureQueue")
    found: list[dict[str, Any]] = []
    handles: list[str] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            found.append(json.loads(message["Body"]))
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def deliver(stack: InProcessStack, injector: Any | None, *, replay_rounds: int = 6) -> Delivery:
    """Drain every stream with ``injector`` armed around each consumer invocation; then, faults
    off, replay the failure queue as ``make replay-dlq`` does and drain what that wrote, until
    the queue is empty."""
    from infra.local.streams import StreamPump
    from infra.ops.replay_dlq import InvocationFailed, replay

    delivery = Delivery()
    function_of = {stack.template.arn(name): name for name in stack.template.functions()}

    def invoke(function: str, event: dict[str, Any]) -> Any:
        delivery.invocations += 1
        delivery.by_function[function] = delivery.by_function.get(function, 0) + 1
        try:
            if injector is None:
                answer = stack.invoke(function, event)
            else:
                with injector.arming():
                    answer = stack.invoke(function, event)
        except Exception:
            delivery.crashed += 1
            raise
        if isinstance(answer, dict):
            delivery.item_failures += len(answer.get("batchItemFailures") or [])
        return answer

    pump = StreamPump(stack.template, stack.clients, invoke)
    pump.drain()
    if injector is not None:
        injector.armed = False
    url = stack.template.ref("StreamFailureQueue")

    def replay_invoke(function_arn: str, event: dict[str, Any]) -> Any:
        try:
            return stack.invoke(function_of[function_arn], event)
        except Exception as error:
            raise InvocationFailed(type(error).__name__) from error

    for _ in range(replay_rounds):
        waiting = failure_queue(stack)
        if not waiting:
            break
        delivery.dead_letters.extend(waiting)
        outcome = replay(
            url,
            sqs=stack.clients["sqs"],
            streams=stack.clients["dynamodbstreams"],
            invoke=replay_invoke,
            region=stack.template.region,
        )
        delivery.replayed += len(outcome.replayed)
        pump.drain()
    return delivery
