"""Load (issue 8, group 5): thousands of check-ins from many accounts in parallel against a local
stack on loopback, then every scan record is found, the counters add up exactly, and nothing
answered 5xx.

A small client (``requests`` sessions on a ``ThreadPoolExecutor``): ``LOAD_ACCOUNTS`` citizens
(default 64) apply for codes, one manager registers ``LOAD_VENUES`` venues (default 8), then
``LOAD_CHECKINS`` check-ins (default 1,000) are sent by ``LOAD_WORKERS`` threads (default 16),
each from a random account at a random venue (seeded). Afterwards ``POST /_local/drain`` waits
for the stream consumers, and:

* every check-in is in the ScansTable, found by the two ways the system reads it: each person's
  ``by_person`` index Query, and each venue's shards Queried over the day (``at_venue``);
* each venue's day counters (``GET /v1/venues/{id}/stats``, kept by the counters consumer) equal
  the check-ins sent there, and the colours add up to the scans;
* no answer was 5xx (every check-in 201).

The figures (count, requests per second, latency p50/p95/p99, 5xx) are printed; the test makes no
timing assertion. Larger: ``LOAD_CHECKINS=20000 LOAD_WORKERS=32 pytest tests/security/http/test_load.py -s``.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from healthcode.rules.idcard import check_character
from healthcode.storage.scans import partition

from tests.e2e.stack import Stack, running_stack

LOAD_CHECKINS = int(os.environ.get("LOAD_CHECKINS", "1000"))
LOAD_WORKERS = int(os.environ.get("LOAD_WORKERS", "16"))
LOAD_ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "64"))
LOAD_VENUES = int(os.environ.get("LOAD_VENUES", "8"))
SEED = int(os.environ.get("LOAD_SEED", "2022"))
#: Where the venues stand (Nanming district, Guiyang); check-ins are sent from the same point.
COUNTY, LOCATION = "520102", {"lat": 26.5783, "lng": 106.7135}
VENUE_TYPES = ("mall", "supermarket", "restaurant", "farmers_market", "pharmacy", "transit_hub")


def id_number(n: int) -> str:
    first17 = f"{COUNTY}1990{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + check_character(first17)


@dataclass
class Account:
    sub: str
    token: str
    person_id: str = ""


@dataclass
class Load:
    """What the client sent and saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sent: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (person, venue, day)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@pytest.fixture(scope="module")
def load_stack() -> Iterator[Stack]:
    """A local stack of this module's own (the load test must not share its moto)."""
    with running_stack("520000") as started:
        yield started


def _sessions() -> Any:
    local = threading.local()

    def session() -> requests.Session:
        found = getattr(local, "session", None)
        if found is None:
            found = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
            found.mount("http://", adapter)
            local.session = found
        return found

    return session


def prepare(stack: Stack) -> tuple[list[Account], dict[str, str]]:
    """Citizens with codes and venues with codes, made through the API."""
    accounts = [
        Account(f"load-citizen-{n}", stack.token(f"load-citizen-{n}", ["citizen"]))
        for n in range(LOAD_ACCOUNTS)
    ]
    session = _sessions()

    def apply(pair: tuple[int, Account]) -> None:
        n, account = pair
        body = {
            "name": "负载测试",
            "id_number": id_number(n),
            "phone": f"139{n:08d}",
            "address": "贵州省贵阳市南明区中华南路1号",
            "region_code": COUNTY,
            "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        }
        answer = session().post(
            f"{stack.url}/v1/codes",
            json=body,
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        account.person_id = answer.json()["person_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(apply, enumerate(accounts)))
    manager = stack.token("load-manager", ["venue_manager"])
    venues: dict[str, str] = {}
    for n in range(LOAD_VENUES):
        body: dict[str, Any] = {
            "name": f"负载测试场所{n}",
            "type": VENUE_TYPES[n % len(VENUE_TYPES)],
            "subject_name": "贵阳负载测试有限公司",
            "credential_type": "uscc",
            "credential_number": "91440300708461136T",
            "region_code": COUNTY,
            "location": LOCATION,
            "address": "贵州省贵阳市南明区花果园",
            "manager_phone": f"137{n:08d}",
        }
        answer = stack.http.post(
            f"{stack.url}/v1/venues", json=body, headers={"Authorization": f"Bearer {manager}"}, timeout=60
        )
        assert answer.status_code == 201, answer.text
        venues[answer.json()["venue_id"]] = answer.json()["code"]
    return accounts, venues


def check_in_all(stack: Stack, accounts: list[Account], venues: dict[str, str]) -> Load:
    load = Load()
    chooser = random.Random(SEED)
    plan = [(chooser.choice(accounts), chooser.choice(sorted(venues))) for _ in range(LOAD_CHECKINS)]
    session = _sessions()

    def send(step: tuple[Account, str]) -> None:
        account, venue_id = step
        body = {"venue_code": venues[venue_id], "person_id": account.person_id, "location": LOCATION}
        started = time.perf_counter()
        try:
            answer = session().post(
                f"{stack.url}/v1/checkins",
                json=body,
                headers={"Authorization": f"Bearer {account.token}"},
                timeout=60,
            )
        except requests.RequestException as error:
            with load.lock:
                load.errors.append(f"{type(error).__name__}: {error}"[:300])
            return
        elapsed = time.perf_counter() - started
        with load.lock:
            load.latencies.append(elapsed)
            load.statuses[answer.status_code] += 1
            if answer.status_code == 201:
                document = answer.json()
                assert [c["person_id"] for c in document["checkins"]] == [account.person_id]
                assert document["venue"]["venue_id"] == venue_id
                load.sent[(account.person_id, venue_id, document["scanned_at"][:10])] += 1
            else:
                load.errors.append(f"{answer.status_code} {answer.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=LOAD_WORKERS) as pool:
        list(pool.map(send, plan))
    load.seconds = time.perf_counter() - started
    return load


def _query_count(dynamodb: Any, **query: Any) -> int:
    total = 0
    for page in dynamodb.get_paginator("query").paginate(Select="COUNT", **query):
        total += int(page["Count"])
    return total


def test_thousands_of_parallel_checkins_are_all_stored_and_counted_exactly(load_stack: Stack) -> None:
    """GIVEN many accounts with codes and several venues WHEN thousands of check-ins arrive in
    parallel THEN every one is answered 201 (none 5xx), every scan is found by person and by venue,
    and after the streams are drained each venue's day counters equal the check-ins sent there."""
    started = time.perf_counter()
    accounts, venues = prepare(load_stack)
    prepared = time.perf_counter() - started
    load = check_in_all(load_stack, accounts, venues)
    print(
        f"\nLOAD check-ins={sum(load.statuses.values())} workers={LOAD_WORKERS} accounts={LOAD_ACCOUNTS} "
        f"venues={LOAD_VENUES} seconds={load.seconds:.1f} req/s={len(load.latencies) / load.seconds:.0f} "
        f"p50={load.percentile(50):.0f}ms p95={load.percentile(95):.0f}ms p99={load.percentile(99):.0f}ms "
        f"max={max(load.latencies) * 1000:.0f}ms mean={statistics.fmean(load.latencies) * 1000:.0f}ms "
        f"statuses={dict(load.statuses)} 5xx={load.server_errors} (setup {prepared:.1f}s)"
    )
    assert not load.errors, load.errors[:5]
    assert load.statuses == Counter({201: LOAD_CHECKINS})

    started = time.perf_counter()
    load_stack.drain()
    print(f"LOAD drained in {time.perf_counter() - started:.1f}s")
    dynamodb = load_stack.aws("dynamodb")
    scans_table = load_stack.info["tables"]["ScansTable"]
    per_person: Counter[str] = Counter()
    per_venue_day: Counter[tuple[str, str]] = Counter()
    for (person, venue, day), n in load.sent.items():
        per_person[person] += n
        per_venue_day[(venue, day)] += n
    for person, expected in per_person.items():
        found = _query_count(
            dynamodb,
            TableName=scans_table,
            IndexName="by_person",
            KeyConditionExpression="person_id = :p",
            ExpressionAttributeValues={":p": {"S": person}},
        )
        assert found == expected, (person, found, expected)
    venues_table = load_stack.info["tables"]["VenuesTable"]
    manager = load_stack.token("load-manager", ["venue_manager"])
    for (venue, day), expected in per_venue_day.items():
        item = dynamodb.get_item(TableName=venues_table, Key={"venue_id": {"S": venue}})["Item"]
        shards = int(item.get("shards", {}).get("N", "1"))
        found = sum(
            _query_count(
                dynamodb,
                TableName=scans_table,
                KeyConditionExpression="venue_shard = :v",
                ExpressionAttributeValues={":v": {"S": partition(venue, shard)}},
            )
            for shard in range(shards)
        )
        assert found == expected, (venue, found, expected)
        answer = load_stack.http.get(
            f"{load_stack.url}/v1/venues/{venue}/stats",
            params={"date": day},
            headers={"Authorization": f"Bearer {manager}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        counted = answer.json()
        assert counted["scans"] == expected, (venue, day, counted, expected)
        assert sum(counted["by_colour"].values()) == expected and counted["abnormal"] == 0
