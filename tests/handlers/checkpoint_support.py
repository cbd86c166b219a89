"""What the checkpoint tests share: venues, persons at a chosen colour, codes, stream records,
and a count of DynamoDB calls taken with botocore event hooks."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from healthcode import aws, clock, settings
from healthcode.codes import keystore
from healthcode.rules import colour, verdict
from healthcode.rules.idcard import check_character
from healthcode.rules.policy import FactKind, RiskLevel
from healthcode.services import recolour
from healthcode.settings import policy
from healthcode.storage import connection as storage_connection
from healthcode.storage import facts, idempotency, persons, scans, staff
from healthcode.storage.models import ALL_MODELS, Location, Person, Venue
from healthcode.storage.persons import PersonView

from infra.local.events import stream_record
from tests.handlers.harness import InProcessStack, in_process_stack

SCANNER = ("scanner-1", ["scanner"])


@pytest.fixture(scope="module", name="checkpoint_stack")
def module_stack() -> Iterator[InProcessStack]:
    """Fixture ``checkpoint_stack``: the harness's in-process stack (``aws_stack``), built once
    per test module (import ``module_stack`` and ``per_test_stack`` into a test module to use it): creating
    every resource in moto takes about a second, and these tests use fresh ids for everything
    they write, so they can share one. The clock and the province are reset after each test."""
    with in_process_stack() as stack:
        yield stack


@pytest.fixture(name="moto_stack")
def per_test_stack(checkpoint_stack: InProcessStack) -> Iterator[InProcessStack]:
    """Fixture ``moto_stack``: ``checkpoint_stack`` for one test, clock and settings reset after."""
    try:
        yield checkpoint_stack
    finally:
        clock.reset()
        settings.reset()


def id_number(body: str = "52010219900307123") -> str:
    """A valid 18-character ID number (Guiyang, 1990-03-07) from its first 17 digits."""
    return body + check_character(body)


_sequence = itertools.count(1)


def new_id_number() -> str:
    """A fresh valid ID number (next sequence digits, real region and birth date)."""
    return id_number(f"52010219850612{next(_sequence) % 1000:03d}")


def assign(venue_id: str, sub: str = SCANNER[0]) -> None:
    """Assign account ``sub`` to the venue as checkpoint staff (as its manager would)."""
    staff.assign(venue_id, sub, by="manager-1", now=clock.now())


def make_venue(
    venue_type: str = "mall",
    *,
    region_code: str = "520102",
    shards: int | None = None,
    staffed_by: tuple[str, ...] = (SCANNER[0],),
    parent: Venue | None = None,
) -> Venue:
    """A venue (under ``parent``'s complex if given) with ``staffed_by`` assigned to it."""
    venue_id = f"v-{uuid.uuid4().hex}"  # the shape the API hands out
    venue = Venue(
        venue_id,
        name=f"测试场所 {venue_id[-4:]}",
        type=venue_type,
        region_code=region_code,
        parent_venue_id=parent.venue_id if parent is not None else None,
        root_venue_id=(parent.root_venue_id or parent.venue_id) if parent is not None else venue_id,
        shards=shards if shards is not None else policy().shards(venue_type),
        location=Location(lat=26.58, lng=106.71),
        address="贵阳市南明区测试路 1 号",
        manager_sub="manager-1",
    )
    venue.save()
    for sub in staffed_by:
        assign(venue_id, sub)
    return venue


def make_person(level: RiskLevel = RiskLevel.GREEN, *, number: str | None = None) -> PersonView:
    """A registered person whose stored colour is ``level`` (decided now, no next change)."""
    person_id = persons.new_person_id()
    person = persons.build(
        owner_sub=f"citizen-{person_id}",
        dependant=False,
        name="张三",
        id_number=number or new_id_number(),
        phone="13800000000",
        address="贵阳市",
        region_code="520102",
        birth_year=1985,
        now=clock.now(),
        person_id=person_id,
    )
    person = replace(
        person, level=int(level), colour=policy().colour(level), colour_as_of=clock.now(), next_change_at=None
    )
    return persons.create(person)


def turn_red(person: PersonView) -> None:
    """Record a case for ``person`` and let the colour engine store the new colour."""
    now = clock.now()
    case = colour.Fact(
        fact_id=f"case#{uuid.uuid4().hex[:8]}", kind=FactKind.CASE, starts_at=now, expires_at=None
    )
    facts.save([facts.item_for(person.person_id, case, recorded_at=now)])
    recolour.recompute(person.person_id, now=now, cause="case")


def code_for(person: PersonView, lifetime: timedelta | None = None) -> str:
    token, _ = keystore.sign_personal(
        person.person_id,
        level=0,
        colour="green",
        lifetime=lifetime or timedelta(seconds=policy().code_lifetime_seconds),
    )
    return token


def paper_code_for(person: PersonView) -> str:
    """Issue a paper code and make it the person's only valid one."""
    token, _ = keystore.sign(
        "paper",
        subject=person.person_id,
        claims={},
        lifetime=timedelta(days=policy().paper_code_lifetime_days),
    )
    stored = Person.get(person.person_id, consistent_read=True)
    stored.paper_code_id = jwt.decode(token, options={"verify_signature": False})["jti"]
    stored.save()
    return token


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify(
    stack: InProcessStack,
    code: str,
    venue: Venue,
    *,
    temperature: float | None = None,
    key: str | None = None,
    as_: tuple[str, list[str]] = SCANNER,
) -> Any:
    body: dict[str, Any] = {"code": code, "checkpoint_id": venue.venue_id}
    if temperature is not None:
        body["temperature"] = temperature
    headers = {idempotency.HEADER: key} if key else None
    return stack.call("POST", "/v1/verifications", as_=as_, json_body=body, headers=headers)


# -- the ScansTable stream, as the event source mapping would deliver it -------------------------


@dataclass
class StreamReader:
    """Reads a table's stream from where it last stopped (one shard in moto)."""

    stack: InProcessStack
    table: str
    iterators: dict[str, str | None] = field(default_factory=dict)

    def read(self) -> list[dict[str, Any]]:
        dynamodb, streams = self.stack.clients["dynamodb"], self.stack.clients["dynamodbstreams"]
        arn = dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.iterators[shard_id] = streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while self.iterators[shard_id]:
                answer = streams.get_records(ShardIterator=self.iterators[shard_id], Limit=1000)
                self.iterators[shard_id] = answer.get("NextShardIterator")
                got = answer.get("Records", [])
                records.extend(
                    stream_record(raw, stream_arn=arn, region="cn-north-1", ttl_delete=False) for raw in got
                )
                if not got:
                    break
        return records


def scans_stream(stack: InProcessStack) -> StreamReader:
    return StreamReader(stack, stack.template.physical_name("ScansTable"))


def deliver(stack: InProcessStack, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = stack.invoke("CountersFunction", {"Records": records})
    return answer


# -- DynamoDB calls, counted with botocore event hooks ---------------------------------------------


@dataclass
class CallLog:
    calls: list[str] = field(default_factory=list)

    def record(self, model: Any, params: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def clear(self) -> None:
        self.calls.clear()


@contextmanager
def dynamodb_calls() -> Iterator[CallLog]:
    """Every DynamoDB API call made through the low-level seam and every pynamodb connection."""
    log = CallLog()
    clients = [aws.client("dynamodb"), storage_connection.connection().client]
    models = [*ALL_MODELS.values(), idempotency.IdempotencyRecord, persons.IdNumberClaim]
    clients += [model._get_connection().connection.client for model in models]
    unique = {id(client): client for client in clients}.values()
    for client in unique:
        client.meta.events.register("before-call.dynamodb", log.record, unique_id="checkpoint-call-log")
    try:
        yield log
    finally:
        for client in unique:
            client.meta.events.unregister("before-call.dynamodb", unique_id="checkpoint-call-log")


def at(text: str) -> datetime:
    return clock.parse_instant(text)


def scan_record(
    venue: Venue,
    *,
    person_id: str | None = None,
    at_time: datetime | None = None,
    level: RiskLevel = RiskLevel.GREEN,
    kind: str = "verification",
    temperature: float | None = None,
    scan_id: str | None = None,
) -> scans.ScanRecord:
    """A scan as a checkpoint or a check-in would store it (verdict by the policy)."""
    judged = verdict.judge(level, temperature, policy())
    return scans.ScanRecord(
        scan_id=scan_id or f"s-{uuid.uuid4().hex}",
        person_id=person_id or persons.new_person_id(),
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id or venue.venue_id,
        venue_type=str(venue.type),
        region_code=str(venue.region_code),
        kind=kind,
        actor="scanner-1",
        at=at_time or clock.now(),
        level=int(level),
        colour=judged.colour,
        verdict=judged.verdict,
        abnormal=judged.abnormal,
        temperature=temperature,
        name_masked="李*",
        id_masked="5201**********0012",
        presented="code" if kind == "verification" else None,
    )


def store(venue: Venue, records: list[scans.ScanRecord]) -> None:
    scans.put_many(records, shards=int(venue.shards), retention_days=settings.settings().retention_days)
