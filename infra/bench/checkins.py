"""Check-ins per second on the local stack, on each DynamoDB engine (``infra.local.engine``).

    .venv/bin/python -m infra.bench.checkins [--rounds 3] [--checkins 120] [--workers 8]

One local stack per engine (``python -m infra.local --engine …``) runs for the whole
measurement, each seeded the same way over its HTTP API (a mall, citizens with codes). Then, in
rounds, each stack in turn (the order alternating, so neither always runs first on a machine
whose load moves) takes ``--checkins`` ``POST /v1/checkins`` from ``--workers`` clients at once,
each with an ``Idempotency-Key`` as the apps send it (the scan records and the remembered answer
are one TransactWriteItems: where the engines differ most). Only one stack is under load at a
time; the stacks' stream pumps run as in ``make run`` (the counters consumer reads the scans).

Reported (JSON on stdout), per engine (``moto``, ``dynamodb_local``): the median over rounds of
check-ins per second (answered check-ins / wall time of the round) and of the rounds' median
answer time in milliseconds, and the machine's load average when the run ended (the machine is
shared: read the figures beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from healthcode.rules.idcard import check_character

from infra.bench.tracing import local_stack
from infra.local.engine import DYNAMODB_LOCAL, ENGINES

ROOT = Path(__file__).resolve().parents[2]
PLACE = ("520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号")
CITIZENS = 24


class Seeded:
    """A stack's venue code and citizens (their tokens and person ids), made over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.venue_code = ""
        self.citizens: list[tuple[str, str]] = []  # (bearer token, person id)
        self._serial = 0

    def _token(self, sub: str, role: str) -> str:
        answer = self.http.post(f"{self.url}/_local/tokens", json={"sub": sub, "roles": [role]}, timeout=60)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
        return dict(answer.json())

    def _id_number(self) -> str:
        self._serial += 1
        first17 = f"{PLACE[0]}19800101{self._serial:03d}"
        return first17 + check_character(first17)

    def seed(self, citizens: int) -> Seeded:
        manager = self._token(f"bench-manager-{uuid.uuid4().hex[:8]}", "venue_manager")
        venue = self._post(
            "/v1/venues",
            manager,
            {
                "name": "贵阳市测试商场",
                "type": "mall",
                "subject_name": "贵阳测试商贸有限公司",
                "credential_type": "uscc",
                "credential_number": "91440300708461136T",
                "region_code": PLACE[0],
                "location": {"lat": PLACE[1], "lng": PLACE[2]},
                "address": PLACE[3],
                "manager_phone": "13900000000",
            },
        )
        self.venue_code = str(venue["code"])
        for _ in range(citizens):
            token = self._token(f"bench-citizen-{uuid.uuid4().hex[:10]}", "citizen")
            applied = self._post(
                "/v1/codes",
                token,
                {
                    "name": "张三",
                    "id_number": self._id_number(),
                    "phone": "13800000000",
                    "address": PLACE[3],
                    "region_code": PLACE[0],
                    "declaration": {
                        "symptoms": [],
                        "temperature": 36.5,
                        "travel": [],
                        "contact_with_case": False,
                    },
                },
            )
            self.citizens.append((token, str(applied["person_id"])))
        return self


def _check_ins(seeded: Seeded, count: int, workers: int) -> tuple[float, float]:
    """(check-ins per second, median answer ms) of ``count`` check-ins from ``workers`` clients."""
    local = threading.local()

    def one(n: int) -> float:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        token, person_id = seeded.citizens[n % len(seeded.citizens)]
        started = time.perf_counter()
        answer = session.post(
            f"{seeded.url}/v1/checkins",
            json={
                "venue_code": seeded.venue_code,
                "person_id": person_id,
                "location": {"lat": PLACE[1] + 0.0001, "lng": PLACE[2]},
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=120,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"check-in answered {answer.status_code}: {answer.text[:300]}")
        return time.perf_counter() - started

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        times = list(pool.map(one, range(count)))
    wall = time.perf_counter() - began
    return count / wall, statistics.median(times) * 1000


def key_of(engine: str) -> str:
    return engine.replace("-", "_")


def measure(
    *, rounds: int, checkins: int, workers: int, province: str, engines: tuple[str, ...] = ENGINES
) -> dict[str, float]:
    rates: dict[str, list[float]] = {engine: [] for engine in engines}
    latencies: dict[str, list[float]] = {engine: [] for engine in engines}
    with ExitStack() as running:
        seeded = {
            engine: Seeded(running.enter_context(local_stack(province, engine))).seed(CITIZENS)
            for engine in engines
        }
        for engine in engines:  # warm each stack's environments and the JVM's JIT before timing
            _check_ins(seeded[engine], min(checkins, 40), workers)
        for round_number in range(rounds):
            order = engines if round_number % 2 == 0 else tuple(reversed(engines))
            for engine in order:
                rate, median_ms = _check_ins(seeded[engine], checkins, workers)
                rates[engine].append(rate)
                latencies[engine].append(median_ms)
    results: dict[str, float] = {}
    for engine in engines:
        results[f"checkins_per_second.{key_of(engine)}"] = round(statistics.median(rates[engine]), 2)
        results[f"checkin_median_ms.{key_of(engine)}"] = round(statistics.median(latencies[engine]), 1)
    results["checkins.workers"] = workers
    results["checkins.load_average_1m"] = round(os.getloadavg()[0], 2)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.bench.checkins", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkins", type=int, default=120, help="check-ins per round and engine")
    parser.add_argument("--workers", type=int, default=8, help="clients checking in at once")
    parser.add_argument("--province", default="520000")
    parser.add_argument("--engine", action="append", choices=ENGINES, help="one engine only (repeatable)")
    args = parser.parse_args(argv)
    engines = tuple(args.engine or ENGINES)
    if DYNAMODB_LOCAL in engines:
        from infra.local.engine import find_jar

        if find_jar() is None:
            parser.error("DynamoDB Local is not installed: make dynamodb-local")
    results = measure(
        rounds=args.rounds,
        checkins=args.checkins,
        workers=args.workers,
        province=args.province,
        engines=engines,
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
