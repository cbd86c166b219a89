"""Personal data (issue 8, group 6): a full scenario on a local stack of its own, then

* every line the stack wrote (its stdout and stderr: every function's log, the local stack's and
  the libraries', at DEBUG, with powertools logging each incoming event) holds no ID number, phone
  number, name or token (caller JWT, personal, paper or venue code) in clear;
* every item of every table, every object in the export bucket and every message in the queues
  holds ID numbers, phones and names only as ciphertext (``v1.…``) and keyed hashes (``h1:…``) —
  masks (``name_masked``, ``id_masked``, ``phone_masked``) where designed;
* every read of an identity — an official's ``GET /v1/persons/{id}``, a manager's alerts with
  identities (Fujian shows non-green visitors to the venue's management) — left an audit record.

The scenario (Fujian, 350000): citizens apply (one with a dependant, one with symptoms), venues
register (one an organisation, one an individual registered by ID card) with managers' phones,
check-ins with a companion, a feverish checkpoint scan, a manual registration, a case reported by
ID number and traced, an override requested and approved, lab results by ID number, the
manager's alerts, the official's full record, the daily report as CSV, code images and history.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules.idcard import check_character

from tests.e2e.stack import ROOT, Stack

PROVINCE, COUNTY = "350000", "350102"
LOCATION = {"lat": 26.0845, "lng": 119.2965}
ADDRESS = "福建省福州市鼓楼区八一七北路88号"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")
#: Attributes that hold personal data by design, and the only forms they may take.
CIPHERTEXT_SUFFIX, HASH_SUFFIX = "_enc", "_hash"


def id_number(birth: str, serial: int) -> str:
    first17 = f"{COUNTY}{birth}{serial:03d}"
    return first17 + check_character(first17)


@dataclass(frozen=True)
class Someone:
    name: str
    id_number: str
    phone: str | None


ADULT = Someone("林志强", id_number("19800415", 211), "13905910211")
CHILD = Someone("黄小宝", id_number("20160901", 212), None)
UNWELL = Someone("陈美玲", id_number("19751130", 223), "13805910223")
WALK_IN = Someone("郑秀英", id_number("19480720", 234), "15905910234")
SHOPKEEPER = Someone("吴德华", id_number("19690305", 245), "13705910245")
MANAGER_PHONES = ("13605910256", "13605910267")
PEOPLE = (ADULT, CHILD, UNWELL, WALK_IN, SHOPKEEPER)


class CapturedStack(Stack):
    """A local stack whose every output line is kept, and which can say when it has all of them."""

    def __init__(self, url: str, process: subprocess.Popen[str], output: deque[str]) -> None:
        super().__init__(url, process, output)
        self.awaited: dict[str, threading.Event] = {}

    def seen(self, line: str) -> None:
        self.output.append(line)
        for marker, event in list(self.awaited.items()):
            if marker in line:
                event.set()

    def flush_output(self, timeout: float = 30) -> None:
        """Return once every line the stack wrote so far has been read: a marker request's own
        log lines come after them in the pipe (letters only, so no redaction rewrites it)."""
        marker = "flush" + "".join(random.choices(string.ascii_lowercase, k=16))
        event = self.awaited.setdefault(marker, threading.Event())
        self.http.get(f"{self.url}/v1/health?flush={marker}", timeout=timeout).raise_for_status()
        if not event.wait(timeout):
            raise RuntimeError(f"the stack's output did not show {marker} within {timeout} s")
        del self.awaited[marker]


@contextmanager
def captured_stack(province: str) -> Iterator[CapturedStack]:
    """A local stack as its own process (like ``tests/e2e/stack.running_stack``) whose every
    output line is kept: root logging at DEBUG, powertools logging each event it receives."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment |= {
        "PYTHONUNBUFFERED": "1",
        "LOCAL_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", "0", "--province", province],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = CapturedStack("", process, deque())  # every line, unbounded
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.seen(line)
            if line.startswith("ready on ") and not ready.is_set():
                stack.url = line.split("ready on ", 1)[1].strip()
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(90)
    if not stack.url:
        process.kill()
        raise RuntimeError("local stack did not start:\n" + "".join(stack.output))
    try:
        yield stack
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(5)


@dataclass
class Scenario:
    stack: Stack
    tokens: set[str] = field(default_factory=set)
    persons: dict[str, str] = field(default_factory=dict)  # name -> person_id
    venues: list[str] = field(default_factory=list)
    identity_reads: list[tuple[str, str]] = field(default_factory=list)  # (subject, actor)

    def caller(self, sub: str, *roles: str) -> dict[str, str]:
        token = self.stack.token(sub, list(roles))
        self.tokens.add(token)
        return {"Authorization": f"Bearer {token}"}

    def send(
        self, method: str, path: str, who: dict[str, str], body: Any = None, *, expect: int, **kw: Any
    ) -> Any:
        answer = self.stack.http.request(
            method, f"{self.stack.url}{path}", json=body, headers=who, timeout=60, **kw
        )
        assert answer.status_code == expect, (method, path, answer.status_code, answer.text[:300])
        if answer.headers.get("content-type", "").startswith("application/json"):
            document = answer.json()
            self.tokens.update(JWT.findall(answer.text))
            return document
        return answer


def declaration(**changes: Any) -> dict[str, Any]:
    return {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False, **changes}


def run_scenario(stack: Stack) -> Scenario:
    s = Scenario(stack)
    adult = s.caller("pd-citizen-adult", "citizen")
    unwell = s.caller("pd-citizen-unwell", "citizen")
    manager = s.caller("pd-manager", "venue_manager")
    scanner = s.caller("pd-scanner", "scanner")
    official, second = s.caller("pd-official-1", "official"), s.caller("pd-official-2", "official")

    def apply(who: dict[str, str], person: Someone, expect: int = 201, **changes: Any) -> str:
        body = {
            "name": person.name, "id_number": person.id_number, "phone": person.phone or ADULT.phone,
            "address": ADDRESS, "region_code": COUNTY, "declaration": declaration(), **changes,
        }  # fmt: skip
        answer = s.send("POST", "/v1/codes", who, body, expect=expect)
        s.persons[person.name] = answer["person_id"]
        return str(answer["person_id"])

    apply(adult, ADULT)
    apply(adult, CHILD, dependant=True)
    apply(unwell, UNWELL, declaration=declaration(symptoms=["cough", "fever"], temperature=38.4))
    s.send("GET", "/v1/codes", adult, expect=200)
    s.send("GET", f"/v1/codes/{s.persons[ADULT.name]}/qr.png", adult, expect=200)
    s.send("GET", f"/v1/codes/{s.persons[ADULT.name]}/history", adult, expect=200)

    shop_body = {
        "name": "鼓楼百货", "type": "mall", "subject_name": "福州鼓楼百货有限公司", "credential_type": "uscc",
        "credential_number": "91440300708461136T", "region_code": COUNTY, "location": LOCATION,
        "address": ADDRESS, "manager_phone": MANAGER_PHONES[0],
    }  # fmt: skip
    stall_body = {
        **shop_body, "name": "德华小吃", "type": "restaurant", "subject_name": SHOPKEEPER.name,
        "credential_type": "id_number", "credential_number": SHOPKEEPER.id_number,
        "manager_phone": MANAGER_PHONES[1],
    }  # fmt: skip
    venue_codes = []
    for body in (shop_body, stall_body):
        answer = s.send("POST", "/v1/venues", manager, body, expect=201)
        s.venues.append(answer["venue_id"])
        venue_codes.append(answer["code"])
    s.send("GET", f"/v1/venues/{s.venues[1]}", manager, expect=200)
    s.send("GET", f"/v1/venues/{s.venues[0]}/poster.png", manager, expect=200)

    s.send(
        "POST", "/v1/checkins", adult,
        {"venue_code": venue_codes[0], "person_id": s.persons[ADULT.name],
         "companions": [s.persons[CHILD.name]], "location": LOCATION},
        expect=201,
    )  # fmt: skip
    s.send(
        "POST", "/v1/checkins", unwell,
        {"venue_code": venue_codes[0], "person_id": s.persons[UNWELL.name], "location": LOCATION},
        expect=201,
    )  # fmt: skip
    # the manager sees who a non-green visitor is only when the venue's own staff checked them
    # (a check-in may come from a forwarded poster): the scanner, assigned here, scans UNWELL's code
    for venue_id in s.venues:
        s.send("PUT", f"/v1/venues/{venue_id}/staff/pd-scanner", manager, expect=200)
    unwell_code = s.send("GET", f"/v1/codes/{s.persons[UNWELL.name]}", unwell, expect=200)["token"]
    s.send("POST", "/v1/verifications", scanner,
           {"code": unwell_code, "checkpoint_id": s.venues[0], "temperature": 38.4}, expect=200)  # fmt: skip
    code = s.send("GET", f"/v1/codes/{s.persons[ADULT.name]}", adult, expect=200)["token"]
    s.send("POST", "/v1/verifications", scanner,
           {"code": code, "checkpoint_id": s.venues[1], "temperature": 38.1}, expect=200)  # fmt: skip
    walk_in = s.send(
        "POST", "/v1/manual-registrations", scanner,
        {"name": WALK_IN.name, "id_number": WALK_IN.id_number, "phone": WALK_IN.phone, "temperature": 36.6,
         "checkpoint_id": s.venues[1]},
        expect=201,
    )  # fmt: skip
    assert "person_id" not in walk_in  # a registration proves nothing: it hands out no person id
    # the walk-in later claims the registered person from a phone of her own, with the same name
    apply(s.caller("pd-citizen-walk-in", "citizen"), WALK_IN, expect=200)  # the existing person
    s.send("POST", f"/v1/codes/{s.persons[ADULT.name]}/paper", adult, expect=201)

    stack.clock(advance_seconds=1800)  # the case is diagnosed half an hour after the visits
    now = clock.parse_instant(s.send("GET", "/_local/clock", {}, expect=200)["now"])
    case = s.send(
        "POST", "/v1/cases", official,
        {"id_number": ADULT.id_number, "status": "confirmed",
         "diagnosed_at": clock.show(now - timedelta(minutes=1))},
        expect=202,
    )  # fmt: skip
    stack.drain()
    contacts = s.send("GET", f"/v1/cases/{case['case_id']}/contacts", official, expect=200)["contacts"]
    assert s.persons[UNWELL.name] in [c["person_id"] for c in contacts], "tracing ran and found the contact"
    override = s.send(
        "PUT", f"/v1/persons/{s.persons[UNWELL.name]}/colour", official,
        {"colour": "green", "reason_code": "recovered", "evidence_ref": "FZ-CDC-2022-0510-07"},
        expect=202,
    )  # fmt: skip
    s.send("POST", f"/v1/overrides/{override['override_id']}/approve", second, expect=200)
    s.send(
        "POST", "/v1/lab-results", official,
        {"results": [{"id_number": UNWELL.id_number, "sampled_at": clock.show(now - timedelta(hours=2)),
                      "result": "negative"},
                     {"id_number": WALK_IN.id_number, "sampled_at": clock.show(now - timedelta(hours=3)),
                      "result": "negative"}]},
        expect=200,
    )  # fmt: skip
    stack.drain()

    day = clock.show(now)[:10]
    alerts = s.send("GET", f"/v1/venues/{s.venues[0]}/alerts?date={day}", manager, expect=200)["alerts"]
    revealed = [a["person"]["person_id"] for a in alerts if a["identity_visible"]]
    assert s.persons[UNWELL.name] in revealed, "Fujian shows the manager who the non-green visitor is"
    s.identity_reads += [(f"person#{p}", "pd-manager") for p in revealed]
    record = s.send("GET", f"/v1/persons/{s.persons[UNWELL.name]}", official, expect=200)
    assert record["id_number"] == UNWELL.id_number  # the official sees it; the logs may not
    s.identity_reads.append((f"person#{s.persons[UNWELL.name]}", "pd-official-1"))
    report = s.send(
        "GET", f"/v1/reports/daily-scans?date={day}&region_code={COUNTY}&format=csv", official, expect=200
    )
    assert report.headers["content-type"].startswith("text/csv")
    stack.drain()
    return s


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    with captured_stack(PROVINCE) as stack:
        done = run_scenario(stack)
        stack.flush_output()  # the last log lines of the last requests
        yield done


def forbidden_strings() -> dict[str, str]:
    """What may never appear in clear: each ID number (X either case), phone (also spaced 3-4-4
    and with +86) and name."""
    found: dict[str, str] = {}
    for person in PEOPLE:
        found[person.id_number] = f"{person.name}'s ID number"
        found[person.id_number.lower()] = f"{person.name}'s ID number"
        found[person.name] = "a name"
        if person.phone:
            phone = person.phone
            for form in (
                phone,
                f"{phone[:3]} {phone[3:7]} {phone[7:]}",
                f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
                f"+86{phone}",
            ):
                found[form] = f"{person.name}'s phone"
    for phone in MANAGER_PHONES:
        found[phone] = "a manager's phone"
    return found


def leaks(text: str, tokens: set[str], *, any_jwt: bool = True) -> list[str]:
    """Personal data in ``text``; with ``tokens``, those tokens; with ``any_jwt``, any JWT."""
    found = [f"{label}: {needle!r}" for needle, label in forbidden_strings().items() if needle in text]
    found += [f"token {token[:16]}…" for token in tokens if token in text]
    if any_jwt:
        found += [f"a JWT: {match[:16]}…" for match in JWT.findall(text)]
    return found


def test_the_logs_of_a_full_scenario_hold_no_personal_data_or_token(scenario: Scenario) -> None:
    """GIVEN every line the stack printed during the scenario (DEBUG, events logged) THEN no ID
    number, phone, name or token appears in clear, on any line."""
    lines = list(scenario.stack.output)
    text = "".join(lines)
    print(f"\nPERSONAL DATA log lines={len(lines)} bytes={len(text)} tokens issued={len(scenario.tokens)}")
    assert len(lines) > 200 and "checked in" in text, "the scenario's logs were captured"
    found = [
        f"{leak} in line: {line.strip()[:240]}" for line in lines for leak in leaks(line, scenario.tokens)
    ]
    assert not found, "\n".join(found[:20])


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
    else:
        yield path, value


def _items(stack: Stack) -> Iterator[tuple[str, dict[str, Any]]]:
    dynamodb = stack.aws("dynamodb")
    for logical_id, table in sorted(stack.info["tables"].items()):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page.get("Items", []):
                yield logical_id, item


def test_stored_items_hold_personal_data_only_as_ciphertext_and_keyed_hashes(scenario: Scenario) -> None:
    """GIVEN the scenario's tables (a test may Scan), export objects and queue messages THEN no ID
    number, phone or name is stored in clear; attributes ``*_enc`` hold ``v1.`` ciphertexts and
    ``*_hash`` hold ``h1:`` keyed hashes; no token leaves in an export object or a message."""
    found: list[str] = []
    counted: dict[str, int] = {}
    for table, item in _items(scenario.stack):
        counted[table] = counted.get(table, 0) + 1
        text = json.dumps(item, ensure_ascii=False)
        # venue codes (printed on posters) and paper codes (reprinted) are stored by design
        found += [f"{table}: {leak}" for leak in leaks(text, set(), any_jwt=False)]
        for path, value in _walk(item):
            attribute = path.split(".")[0]
            if attribute.endswith(CIPHERTEXT_SUFFIX) and isinstance(value, str):
                assert value.startswith("v1."), f"{table}.{path} is not a ciphertext"
            if attribute.endswith(HASH_SUFFIX) and isinstance(value, str) and attribute != "link_hash":
                assert value.startswith("h1:"), f"{table}.{path} is not a keyed hash"
    s3 = scenario.stack.aws("s3")
    exported = 0
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                body = (
                    s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"]
                    .read()
                    .decode("utf-8", "replace")
                )
                exported += 1
                found += [f"s3 {obj['Key']}: {leak}" for leak in leaks(body, scenario.tokens)]
    sqs = scenario.stack.aws("sqs")
    for url in scenario.stack.info["queues"].values():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            found += [f"queue {url}: {leak}" for leak in leaks(message["Body"], scenario.tokens)]
    print(f"\nPERSONAL DATA stored items={counted} export objects={exported}")
    assert counted.get("PersonsTable", 0) >= 4 * 2 and counted.get("VenuesTable", 0) >= 2 and exported
    assert not found, "\n".join(found[:20])


def test_every_identity_read_left_an_audit_record(scenario: Scenario) -> None:
    """GIVEN the scenario's identity reads (the official's full record, the manager's alerts with
    identities) THEN each left an ``identity_read`` entry under the person, naming the reader."""
    dynamodb = scenario.stack.aws("dynamodb")
    table = scenario.stack.info["tables"]["AuditTable"]
    for subject, actor in scenario.identity_reads:
        entries = dynamodb.query(
            TableName=table,
            KeyConditionExpression="subject = :s",
            ExpressionAttributeValues={":s": {"S": subject}},
        )["Items"]
        reads = [e for e in entries if e.get("kind", {}).get("S") == "identity_read"]
        assert any(e.get("actor", {}).get("S") == actor for e in reads), (subject, actor, reads)
    assert len(scenario.identity_reads) >= 2
