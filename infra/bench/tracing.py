"""Timeliness of colour changes (Guizhou's assessment): how long from ``POST /v1/cases`` until the
last contact's new colour is stored, for a case with N close contacts, on the local stack.

    .venv/bin/python -m infra.bench.tracing [--contacts 1000] [--province 520000] [--url URL]

Without ``--url`` a local stack is started for the run (``python -m infra.local``) and stopped
after it. N citizens in families of ten (one code and nine dependants per account) check in at a
railway station (``transit_hub``: 30-minute dwell, 32 write shards) within minutes of the case
person; an hour later an official reports the case. The clock used is the wall clock; the stack
pumps streams in the background exactly as it does for ``make run`` (no drain is forced).

Reported (JSON on stdout):

* ``traced_s``     — until ``GET /v1/cases/{id}`` says ``tracing: done``;
* ``recoloured_s`` — until every contact's stored colour is red (polled on the stack's tables);
* ``stored_latency_s`` — the same from the stored data: the latest contact ``colour_as_of``
  minus the case's ``created_at`` (both on the stack clock, which runs at wall-clock speed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests
from healthcode import clock
from healthcode.rules import idcard

ROOT = Path(__file__).resolve().parents[2]
FAMILY = 10
#: Families applying at once while seeding (not timed).
SEEDERS = 4
#: Seconds between two looks at the stored colours (``stored_latency_s`` does not depend on it).
POLL_S = 1.0
PLACE = ("520102", 26.5783, 106.7135, "贵州省贵阳市南明区遵义路1号 贵阳站")


@contextmanager
def local_stack(province: str, engine: str = "moto") -> Iterator[str]:
    """Start ``python -m infra.local --engine <engine>`` on a free port; yield its URL while it
    runs (what it printed goes to stderr if the stack does not start or the caller fails)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", "0", "--province", province, "--engine", engine],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()
    found: list[str] = []
    output: deque[str] = deque(maxlen=200)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("ready on "):
                found.append(line.split("ready on ", 1)[1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(300)  # DynamoDB Local's JVM takes its time on a loaded machine
    try:
        if not found:
            raise RuntimeError(f"the {engine} local stack did not start")
        yield found[0]
    except Exception:
        sys.stderr.write("".join(line for line in output if '"level":"INFO"' not in line))
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)  # the stack stops its DynamoDB Local first
        except subprocess.TimeoutExpired:
            process.kill()


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.tokens: dict[str, str] = {}

    def http(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def token(self, sub: str, role: str) -> str:
        if sub not in self.tokens:
            answer = self.http().post(
                f"{self.url}/_local/tokens", json={"sub": sub, "roles": [role]}, timeout=30
            )
            answer.raise_for_status()
            self.tokens[sub] = str(answer.json()["token"])
        return self.tokens[sub]

    def call(
        self, method: str, path: str, who: tuple[str, str], body: Any = None, ok: tuple[int, ...] = (200,)
    ) -> Any:
        """One request; a 5xx is retried (setup writes are idempotent: codes per account and ID
        number, check-ins under an Idempotency-Key) since moto's transactions are not thread-safe
        and the stack's background pump writes at the same time."""
        headers = {"Authorization": f"Bearer {self.token(*who)}", "Idempotency-Key": str(uuid.uuid4())}
        for _ in range(4):
            answer = self.http().request(method, f"{self.url}{path}", json=body, headers=headers, timeout=300)
            if answer.status_code < 500:
                break
            time.sleep(0.5)
        if answer.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def local_call(self, path: str, body: dict[str, Any]) -> Any:
        if path == "/_local/clock":
            self.tokens.clear()  # caller tokens live an hour of the stack's clock
        answer = self.http().post(f"{self.url}{path}", json=body, timeout=600)
        answer.raise_for_status()
        return answer.json()

    def info(self) -> dict[str, Any]:
        return dict(self.http().get(f"{self.url}/_local/info", timeout=30).json())


_serial = iter(range(10**6))


def id_number(born: str) -> str:
    n = next(_serial)
    first17 = f"{PLACE[0]}{born[:4]}{born[4:]}{n % 999 + 1:03d}"
    if n >= 999:  # another birth year for every 999 numbers
        first17 = f"{PLACE[0]}{int(born[:4]) - n // 999:04d}{born[4:]}{n % 999 + 1:03d}"
    return first17 + idcard.check_character(first17)


def apply(client: Client, who: tuple[str, str], dependant: bool) -> str:
    body = {
        "name": "李四",
        "id_number": id_number("20100101" if dependant else "19800101"),
        "phone": "13800000000",
        "address": PLACE[3],
        "region_code": PLACE[0],
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        "dependant": dependant,
    }
    return str(client.call("POST", "/v1/codes", who, body, ok=(200, 201))["person_id"])


def family(client: Client, size: int) -> tuple[tuple[str, str], list[str]]:
    who = (f"bench-citizen-{uuid.uuid4().hex[:10]}", "citizen")
    return who, [apply(client, who, dependant=index > 0) for index in range(size)]


def check_in(client: Client, who: tuple[str, str], venue_code: str, people: list[str]) -> None:
    body = {
        "venue_code": venue_code,
        "person_id": people[0],
        "companions": people[1:],
        "location": {"lat": PLACE[1] + 0.001, "lng": PLACE[2]},
    }
    client.call("POST", "/v1/checkins", who, body, ok=(201,))


def stored_colours(dynamodb: Any, table: str, people: list[str]) -> dict[str, tuple[int, str | None]]:
    found: dict[str, tuple[int, str | None]] = {}
    for start in range(0, len(people), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"person_id": {"S": p}} for p in people[start : start + 100]],
                "ProjectionExpression": "person_id, #l, colour_as_of",
                "ExpressionAttributeNames": {"#l": "level"},
                "ConsistentRead": True,
            }
        }
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                as_of = item.get("colour_as_of", {}).get("S")
                found[item["person_id"]["S"]] = (int(item["level"]["N"]), as_of)
            request = answer.get("UnprocessedKeys") or {}
    return found


def run(url: str, contacts: int) -> dict[str, Any]:
    client = Client(url)
    info = client.info()
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=info["moto_endpoint"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    persons_table, cases_table = info["tables"]["PersonsTable"], info["tables"]["CasesTable"]
    official = ("bench-official", "official")
    manager = (f"bench-manager-{uuid.uuid4().hex[:8]}", "venue_manager")
    venue = client.call(
        "POST",
        "/v1/venues",
        manager,
        {
            "name": f"贵阳站 {uuid.uuid4().hex[:4]}",
            "type": "transit_hub",
            "subject_name": "中国铁路成都局集团有限公司贵阳车站",
            "credential_type": "uscc",
            "credential_number": "91330100799655058B",
            "region_code": PLACE[0],
            "location": {"lat": PLACE[1], "lng": PLACE[2]},
            "address": PLACE[3],
            "manager_phone": "13900000000",
        },
        ok=(201,),
    )
    started = time.monotonic()
    # a few families at a time: the stack answers DynamoDB requests one at a time (atomic, as
    # in AWS), so concurrent applications are safe and keep its HTTP side busy meanwhile
    with ThreadPoolExecutor(max_workers=SEEDERS) as pool:
        families = list(pool.map(lambda _: family(client, FAMILY), range(contacts // FAMILY)))
    case_account = (f"bench-case-{uuid.uuid4().hex[:8]}", "citizen")
    case_person = apply(client, case_account, dependant=False)
    setup_s = time.monotonic() - started

    now = clock.parse_instant(client.local_call("/_local/clock", {"advance_seconds": 0})["now"])
    t0 = now.replace(second=0, microsecond=0) + timedelta(hours=1)
    client.local_call("/_local/clock", {"now": t0.isoformat()})
    check_in(client, case_account, venue["code"], [case_person])
    client.local_call("/_local/clock", {"advance_seconds": 120})
    for who, members in families:  # a hundred requests: one at a time is quick enough
        check_in(client, who, venue["code"], members)
    diagnosed: datetime = t0 + timedelta(hours=1)
    client.local_call("/_local/clock", {"now": diagnosed.isoformat()})
    client.local_call("/_local/drain", {})  # every earlier record settled: only the case is timed
    people = [p for _, members in families for p in members]

    begun = time.monotonic()
    case = client.call(
        "POST",
        "/v1/cases",
        official,
        {"person_id": case_person, "status": "confirmed", "diagnosed_at": diagnosed.isoformat()},
        ok=(202,),
    )
    traced_s = recoloured_s = None
    colours: dict[str, tuple[int, str | None]] = {}
    while recoloured_s is None:
        if traced_s is None:
            shown = client.call("GET", f"/v1/cases/{case['case_id']}", official)
            if shown["tracing"] == "done":
                traced_s = time.monotonic() - begun
        # only those not red yet: the polling reads compete with the stack for its one moto
        waiting = [p for p in people if colours.get(p, (0, None))[0] != 2]
        colours.update(stored_colours(dynamodb, persons_table, waiting))
        if all(colours.get(p, (0, None))[0] == 2 for p in people):
            recoloured_s = time.monotonic() - begun
        elif time.monotonic() - begun > 1800:
            raise TimeoutError("contacts not all recoloured within 30 minutes")
        else:
            time.sleep(POLL_S)
    while traced_s is None:
        shown = client.call("GET", f"/v1/cases/{case['case_id']}", official)
        traced_s = time.monotonic() - begun if shown["tracing"] == "done" else None
        time.sleep(0.1)
    stored = dynamodb.get_item(
        TableName=cases_table, Key={"pk": {"S": case["case_id"]}, "sk": {"S": "CASE"}}, ConsistentRead=True
    )["Item"]
    created = clock.parse_instant(stored["created_at"]["S"])
    latest = max(clock.parse_instant(str(as_of)) for _, as_of in colours.values() if as_of)
    shown = client.call("GET", f"/v1/cases/{case['case_id']}", official)
    return {
        "contacts": len(people),
        "contacts_found": shown["contacts_found"],
        "tasks": shown["tasks_total"],
        "setup_s": round(setup_s, 1),
        "traced_s": round(traced_s, 2),
        "recoloured_s": round(recoloured_s, 2),
        "stored_latency_s": round((latest - created).total_seconds(), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.tracing", description=__doc__)
    parser.add_argument("--contacts", type=int, default=1000, help="close contacts (a multiple of 10)")
    parser.add_argument("--province", default="520000")
    parser.add_argument("--url", help="a running local stack (default: start one)")
    args = parser.parse_args(argv)
    if args.contacts < FAMILY or args.contacts % FAMILY:
        parser.error(f"--contacts must be a positive multiple of {FAMILY}")
    if args.url:
        result = run(args.url, args.contacts)
    else:
        with local_stack(args.province) as url:
            result = run(url, args.contacts)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
