"""What the venue, check-in, report and coverage handler tests share: registration bodies with
real check characters, persons at a chosen colour, the template's own stream pump for the two
consumers these routes depend on, and DynamoDB calls counted with botocore event hooks."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from healthcode import aws, clock, settings
from healthcode.rules import credentials, idcard
from healthcode.rules.policy import RiskLevel
from healthcode.settings import policy
from healthcode.storage import connection as storage_connection
from healthcode.storage import idempotency, persons
from healthcode.storage.persons import PersonView
from pynamodb.models import Model

from infra.local.streams import StreamPump
from tests.handlers.harness import Answer, InProcessStack, in_process_stack


@pytest.fixture(scope="module")
def venue_stack() -> Iterator[InProcessStack]:
    """The harness's in-process stack (``aws_stack``) built once per test module: creating every
    resource in moto takes a second or more, and these tests write under fresh ids (accounts,
    venues, persons), so they share it. Clock and province are put back after each test."""
    with in_process_stack() as stack:
        yield stack


@pytest.fixture
def stack(venue_stack: InProcessStack) -> Iterator[InProcessStack]:
    """``venue_stack`` for one test, the clock and settings put back afterwards."""
    try:
        yield venue_stack
    finally:
        clock.reset()
        settings.reset()


#: Real organisations' unified social credit codes (GB 32100 checks hold).
REAL_USCC = ("91440300708461136T", "91330100799655058B", "91110000600037341L")
#: Where each province's test venues are (county, a point inside it).
PLACES: dict[str, tuple[str, float, float, str]] = {
    "520000": ("520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号"),
    "360000": ("360102", 28.6829, 115.8582, "江西省南昌市东湖区八一大道1号"),
    "350000": ("350102", 26.0845, 119.2965, "福建省福州市鼓楼区八一七北路88号"),
    "410000": ("410102", 34.7466, 113.6254, "河南省郑州市中原区建设路1号"),
}

_sequence = itertools.count(100)


def manager() -> tuple[str, list[str]]:
    return (f"manager-{uuid.uuid4().hex[:8]}", ["venue_manager"])


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


OFFICIAL = ("official-1", ["official"])


def phone() -> str:
    """A fresh valid mainland mobile number."""
    return f"139{next(_sequence) % 10**8:08d}"


def new_id_number(region: str = "520102") -> str:
    body = f"{region}19850612{next(_sequence) % 1000:03d}"
    return body + idcard.check_character(body)


def venue_body(province: str = "520000", **changes: Any) -> dict[str, Any]:
    county, lat, lng, address = PLACES[province]
    body: dict[str, Any] = {
        "name": "东街口百货大楼（东门）",
        "type": "mall",
        "subject_name": "百货大楼有限公司",
        "credential_type": "uscc",
        "credential_number": REAL_USCC[0],
        "region_code": county,
        "location": {"lat": lat, "lng": lng},
        "address": address,
        "manager_phone": phone(),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def register(
    stack: InProcessStack, who: tuple[str, Sequence[str]], *, key: str | None = None, **changes: Any
) -> Answer:
    province = policy().province
    headers = {idempotency.HEADER: key} if key else None
    return stack.call(
        "POST", "/v1/venues", as_=who, json_body=venue_body(province, **changes), headers=headers
    )


def business_licence(first14: str) -> str:
    return first14 + credentials.business_licence_check_digit(first14)


def make_person(
    owner_sub: str, *, level: RiskLevel = RiskLevel.GREEN, dependant: bool = False, name: str = "张三"
) -> PersonView:
    """A registered person managed by ``owner_sub`` whose stored colour is ``level``."""
    person = persons.build(
        owner_sub=owner_sub,
        dependant=dependant,
        name=name,
        id_number=new_id_number(),
        phone=None if dependant else phone(),
        address="贵阳市南明区",
        region_code="520102",
        birth_year=1985,
        now=clock.now(),
    )
    person = replace(
        person, level=int(level), colour=policy().colour(level), colour_as_of=clock.now(), next_change_at=None
    )
    return persons.create(person)


# -- streams: the local stack's own pump, for the consumers these routes read after --------------


def pump(stack: InProcessStack) -> StreamPump:
    """The local stack's stream pump on ``stack``, for the two consumers these routes read after:
    coverage (VenuesTable) and counters (ScansTable). Others' consumers are not under test here.
    One pump per stack, so each record is delivered once (as the event source mapping does)."""
    found = getattr(stack, "_venue_pump", None)
    if isinstance(found, StreamPump):
        return found
    stream_pump = StreamPump(stack.template, stack.clients, stack.invoke)
    consumers = ("CoverageFunction", "CountersFunction")
    stream_pump.sources = [s for s in stream_pump.sources if s.source.function in consumers]
    stack._venue_pump = stream_pump  # type: ignore[attr-defined]
    return stream_pump


# -- DynamoDB calls, counted with botocore event hooks -------------------------------------------


@dataclass
class CallLog:
    calls: list[str] = field(default_factory=list)

    def record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


def _models() -> list[type[Model]]:
    found: list[type[Model]] = []
    pending: list[type[Model]] = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return [m for m in found if getattr(getattr(m, "Meta", None), "table_name", None)]


@contextmanager
def dynamodb_calls() -> Iterator[CallLog]:
    """Every DynamoDB API call (``before-call.dynamodb``) made through the boto3 seam and every
    pynamodb connection of every model."""
    log = CallLog()
    clients = [aws.client("dynamodb"), storage_connection.connection().client]
    clients += [model._get_connection().connection.client for model in _models()]
    unique = {id(client): client for client in clients}.values()
    for client in unique:
        client.meta.events.register("before-call.dynamodb", log.record, unique_id="venue-call-log")
    try:
        yield log
    finally:
        for client in unique:
            client.meta.events.unregister("before-call.dynamodb", unique_id="venue-call-log")
