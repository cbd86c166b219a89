"""Issue 13, item 6, attacked with faults: a case and its person's red fact are one transaction.

Before, ``POST /v1/cases`` wrote the case (whose stream INSERT starts tracing), then the case
fact, then the audit entry, as separate writes: a crash between them left contacts traced and
the case person green. Here every DynamoDB write of a case report (and of a positive lab row) is
crashed in turn (a 500 or a lost connection, injected with botocore event hooks): after each
crash the case exists exactly when its fact does, and the client's retry completes the report.

One in-process stack serves the module (a second in-process moto cannot run inside another).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import cases
from healthcode.storage import cases as case_store
from healthcode.storage import facts

from infra.local.inprocess import InProcessStack
from tests.security.inprocess import fault_world as fw
from tests.security.inprocess.dynamodb_faults import Fault, FaultInjector, install

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
DIAGNOSED = fw.BASE - timedelta(hours=2)


@pytest.fixture(scope="module")
def crash_stack() -> Iterator[InProcessStack]:
    with fw.world_stack() as stack:
        yield stack


_serial = iter(range(1, 10_000))


def _citizen(stack: InProcessStack) -> tuple[str, str]:
    """(person id, ID number) of a fresh applicant, made through the API."""
    n = next(_serial)
    body = {
        "name": "测试庚", "id_number": fw.id_number(9000 + n), "phone": f"1390001{n:04d}",
        "address": "贵州省贵阳市南明区中华南路1号", "region_code": fw.COUNTY,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
    }  # fmt: skip
    answer = stack.call("POST", "/v1/codes", as_=(f"crash-citizen-{n}", ("citizen",)), json_body=body)
    assert answer.status == 201, answer.body
    return answer.json()["person_id"], body["id_number"]


def _half_state(person_id: str, sampled: bool) -> tuple[bool, bool]:
    """(case stored, case fact stored) for the person's case diagnosed at DIAGNOSED."""
    case_id = cases.case_id_for(person_id, DIAGNOSED)
    case = case_store.get(case_id, consistent=True) is not None
    fact = any(f.fact_id == case_store.case_fact_id(case_id) for f in facts.state_of(person_id).facts)
    if sampled:
        lab = bool(facts.state_of(person_id).labs)
        assert lab == case, "a positive lab row is written with its case"
    return case, fact


def _report(person_id: str, _number: str) -> tuple[str, str, Any]:
    return (
        "POST",
        "/v1/cases",
        {"person_id": person_id, "status": "confirmed", "diagnosed_at": clock.show(DIAGNOSED)},
    )


def _lab(_person_id: str, number: str) -> tuple[str, str, Any]:
    row = {"id_number": number, "sampled_at": clock.show(DIAGNOSED), "result": "positive"}
    return "POST", "/v1/lab-results", {"results": [row]}


def _nth_write_fails(n: int, fault: Fault) -> Callable[[Any], Fault | None]:
    seen = [0]

    def decide(call: Any) -> Fault | None:
        if call.service != "dynamodb" or call.operation not in WRITES:
            return None
        seen[0] += 1
        return fault if seen[0] == n else None

    return decide


@pytest.mark.parametrize("request_of", [_report, _lab], ids=["case_report", "positive_lab_row"])
def test_a_crash_at_any_write_never_leaves_a_case_without_its_red_fact(
    crash_stack: InProcessStack, request_of: Callable[[str, str], tuple[str, str, Any]]
) -> None:
    """GIVEN a case report (or a positive lab row) WHEN its first attempt dies at its first,
    second, … DynamoDB write THEN at no point is the case stored without its case fact (nor the
    fact without the case); the client's retry completes it and the person is red."""
    clock.freeze(fw.BASE)
    seen: list[str] = []

    def count_writes(call: Any) -> Fault | None:
        if call.service == "dynamodb" and call.operation in WRITES:
            seen.append(call.operation)
        return None

    person_id, number = _citizen(crash_stack)
    method, path, body = request_of(person_id, number)
    counter = FaultInjector(rule=count_writes)
    with install(counter), counter.arming():
        assert crash_stack.call(method, path, as_=fw.OFFICIAL, json_body=body).status < 300
    assert "TransactWriteItems" in seen, seen
    for n in range(1, len(seen) + 1):
        person_id, number = _citizen(crash_stack)
        method, path, body = request_of(person_id, number)
        injector = FaultInjector(rule=_nth_write_fails(n, (Fault.INTERNAL, Fault.CONNECTION)[n % 2]))
        with install(injector), injector.arming():
            try:
                crash_stack.call(method, path, as_=fw.OFFICIAL, json_body=body)
            except Exception:  # noqa: BLE001 - an unhandled error: API Gateway answers 500
                pass
        assert injector.total == 1
        case, fact = _half_state(person_id, sampled=path.endswith("lab-results"))
        assert case == fact, (n, seen, case, fact)
        retried = crash_stack.call(method, path, as_=fw.OFFICIAL, json_body=body)
        assert retried.status < 300, (n, retried.body)
        assert _half_state(person_id, sampled=path.endswith("lab-results")) == (True, True)
        owner = crash_stack.call("GET", f"/v1/persons/{person_id}", as_=fw.OFFICIAL).json()
        assert owner["colour"] == "red", (n, seen)
    print(
        f"\nCRASHED {path}: writes={seen}; at each, the case and its fact were written together or not at all"
    )
