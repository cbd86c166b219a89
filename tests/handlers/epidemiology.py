"""Builders shared by the epidemiology handler tests: persons, venues and presences written with
the storage modules the other functions use, and the template's stream pump run in-process."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from healthcode.rules import idcard
from healthcode.storage import persons, scans
from healthcode.storage.models import Venue

from infra.local.streams import StreamPump
from tests.handlers.harness import InProcessStack, in_process_stack

OFFICIAL = ("official-a", ["official"])
SECOND_OFFICIAL = ("official-b", ["official"])
BASE = datetime(2022, 5, 10, 2, 0, tzinfo=UTC)  # 10:00 in Guiyang
_serial = itertools.count(1)


def id_number(region: str = "520102", birth: str = "19900307") -> str:
    """A valid ID number, different on every call (sequence numbers 001..999, then the year)."""
    n = next(_serial)
    first17 = f"{region}{int(birth[:4]) - n // 999:04d}{birth[4:]}{n % 999 + 1:03d}"
    return first17 + idcard.check_character(first17)


def person(*, region: str = "520102", owner: str | None = None, now: datetime = BASE) -> tuple[str, str]:
    """A stored person (green); returns (person_id, ID number)."""
    number = id_number(region)
    built = persons.build(
        owner_sub=owner or f"citizen-{uuid.uuid4().hex[:8]}",
        dependant=False,
        name="张三",
        id_number=number,
        phone="13800000000",
        address="贵阳市南明区",
        region_code=region,
        birth_year=1990,
        now=now,
    )
    persons.create(built)
    return built.person_id, number


def venue(
    venue_type: str = "restaurant", *, root: str | None = None, shards: int = 1, venue_id: str | None = None
) -> Venue:
    vid = venue_id or f"v-{uuid.uuid4().hex}"
    item = Venue(
        vid,
        name=f"venue {vid[-6:]}",
        type=venue_type,
        region_code="520102",
        root_venue_id=root or vid,
        parent_venue_id=root if root and root != vid else None,
        shards=shards,
        created_at=BASE,
    )
    item.save()
    return item


def presence(person_id: str, at: Venue, when: datetime, *, kind: str = "checkin") -> str:
    """A check-in (or checkpoint verification) of ``person_id`` at ``at``; returns the scan id."""
    scan_id = f"c-{uuid.uuid4().hex}"
    scans.put(
        scans.ScanRecord(
            scan_id=scan_id,
            person_id=person_id,
            venue_id=at.venue_id,
            root_venue_id=str(at.root_venue_id),
            venue_type=str(at.type),
            region_code="520102",
            kind=kind,
            actor="citizen",
            at=when,
            level=0,
            colour="green",
            verdict="pass",
            abnormal=False,
        ),
        shards=int(at.shards),
        retention_days=28,
    )
    return scan_id


def pump(
    stack: InProcessStack,
    invoke: Callable[[str, dict[str, Any]], Any] | None = None,
    *,
    only: frozenset[str] | None = None,
) -> StreamPump:
    """The local stack's stream pump over this test's moto. Every consumer of the template runs,
    or with ``only`` just those (the others acknowledge their records unread). One pump delivers
    each record once; a second pump starts again from the stream's trim horizon (redelivery)."""
    run = invoke or stack.invoke

    def deliver(function: str, event: dict[str, Any]) -> Any:
        if only is not None and function not in only:
            return {"batchItemFailures": []}
        return run(function, event)

    return StreamPump(stack.template, stack.clients, deliver)


TRACING_ONLY = frozenset({"TracingFunction"})


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[InProcessStack]:
    """The harness's in-process stack built once per test module (creating every resource takes
    a couple of seconds); tests sharing it write under fresh ids."""
    with in_process_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def shared_pump(shared_stack: InProcessStack) -> StreamPump:
    """One pump for the module's stack, so each stream record is delivered once."""
    return pump(shared_stack)
