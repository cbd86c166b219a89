"""Faults (issue 8, group 4), continued: idempotent retries of every write route clients retry.

Which routes honour ``Idempotency-Key`` and which are idempotent by what the request names is
``RETRY_SEMANTICS``; a write route of the template without an entry fails the suite. Each route is
called twice as a retrying client would (same key, or the same request) and must answer as the
first time and store one record; every keyed write is also crashed at each of its DynamoDB writes
in turn (a 500 or a lost connection, injected with botocore event hooks) and retried.

One in-process stack serves the module (its own module: a second in-process moto cannot run
inside it, so the stream-fault worlds of ``test_faults.py`` live apart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.protection import pii
from healthcode.storage import idempotency, persons, scans, venues

from infra.local.inprocess import Answer, InProcessStack
from infra.local.streams import StreamPump
from tests.security.inprocess import fault_world as fw
from tests.security.inprocess.dynamodb_faults import Fault, FaultInjector, install

# -- 4. idempotent retries of every write route ----------------------------------------------------------

#: How each write route answers a client that retries it:
#: * "key": honours ``Idempotency-Key`` (the first answer, one record);
#: * "natural": the request names what it writes (an ID number, a person and diagnosis time, a
#:   region, an override or appeal already decided by the same official), so a retry without a key
#:   answers as the first time and writes nothing new;
#: * "superseding": every call issues a new one-time secret that replaces the one before (a guardian
#:   link code, a paper code): a retry leaves exactly one live, the one in the last answer;
#: * "once": a state change that can happen once (a case's status step, an alert acknowledged): the
#:   retry is answered 409 with the error naming why, and the first answer's effect stands alone;
#: * "read": a search sent as POST (the ID number stays out of URLs): each call answers the same
#:   and writes only its own audit entry.
RETRY_SEMANTICS: dict[str, frozenset[str]] = {
    "POST /v1/codes": frozenset({"key", "natural"}),
    "POST /v1/codes/{person_id}/appeals": frozenset({"key"}),
    "POST /v1/codes/{person_id}/links": frozenset({"superseding"}),
    "POST /v1/codes/{person_id}/paper": frozenset({"superseding"}),
    "POST /v1/verifications": frozenset({"key"}),
    "POST /v1/manual-registrations": frozenset({"key"}),
    "POST /v1/venues": frozenset({"key"}),
    "POST /v1/checkins": frozenset({"key"}),
    "POST /v1/cases": frozenset({"natural"}),
    "POST /v1/lab-results": frozenset({"natural"}),
    "PUT /v1/risk-areas/{region_code}": frozenset({"natural"}),
    "PUT /v1/persons/{person_id}/colour": frozenset({"key"}),
    "PUT /v1/persons/{person_id}/quarantine": frozenset({"natural"}),
    "POST /v1/overrides/{override_id}/approve": frozenset({"natural"}),
    "POST /v1/overrides/{override_id}/reject": frozenset({"natural"}),
    "POST /v1/appeals/{appeal_id}/answer": frozenset({"natural"}),
    "PUT /v1/venues/{venue_id}/staff/{sub}": frozenset({"natural"}),
    "DELETE /v1/venues/{venue_id}/staff/{sub}": frozenset({"natural"}),
    # each reissue revokes the code before: a retry leaves the last answer's code the current one
    "POST /v1/venues/{venue_id}/code": frozenset({"superseding"}),
    "DELETE /v1/venues/{venue_id}": frozenset({"natural"}),
    "PATCH /v1/venues/{venue_id}": frozenset({"natural"}),
    "POST /v1/venues/{venue_id}/join-codes": frozenset({"key"}),
    "PATCH /v1/cases/{case_id}": frozenset({"once"}),
    "POST /v1/alerts/{alert_id}/acknowledge": frozenset({"once"}),
    "POST /v1/persons/search": frozenset({"read"}),
    "PUT /v1/registers/entities": frozenset({"natural"}),
    "PUT /v1/registers/population": frozenset({"natural"}),
}
#: Fields of an answer that are new on every call by design (a freshly signed code).
FRESH_FIELDS = frozenset({"token", "expires_at"})


@pytest.fixture(scope="module")
def retry_stack() -> Iterator[InProcessStack]:
    with fw.world_stack() as stack:
        yield stack


@dataclass
class Retried:
    first: Answer
    again: Answer
    records: int  # what the two calls stored, counted in the table

    def same_answer(self) -> bool:
        def stable(answer: Answer) -> Any:
            body = answer.json()
            return (
                {k: v for k, v in body.items() if k not in FRESH_FIELDS} if isinstance(body, dict) else body
            )

        return self.first.status == self.again.status and stable(self.first) == stable(self.again)


class RetryWorld:
    """People, venues and officials' requests for the retry cases, made through the API."""

    def __init__(self, stack: InProcessStack) -> None:
        self.stack = stack
        self.serial = 0
        self.venue_id, self.venue_code = self._venue()

    def next(self) -> int:
        self.serial += 1
        return self.serial

    def call(
        self,
        method: str,
        path: str,
        who: tuple[str, tuple[str, ...]],
        body: Any = None,
        key: str | None = None,
    ) -> Answer:
        headers = {idempotency.HEADER: key} if key else None
        return self.stack.call(method, path, as_=who, json_body=body, headers=headers)

    def form(self, n: int, **changes: Any) -> dict[str, Any]:
        return {
            "name": "测试丙",
            "id_number": fw.id_number(5000 + n),
            "phone": f"1390000{n:04d}",
            "address": "贵州省贵阳市南明区中华南路1号",
            "region_code": fw.COUNTY,
            "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
            **changes,
        }

    def citizen(self, *, symptoms: bool = False) -> tuple[tuple[str, tuple[str, ...]], str, str]:
        """(account, person id, ID number) of a fresh applicant."""
        n = self.next()
        who = (f"retry-citizen-{n}", ("citizen",))
        form = self.form(n)
        if symptoms:
            form["declaration"] = {**form["declaration"], "symptoms": ["cough"], "temperature": 38.5}
        answer = self.call("POST", "/v1/codes", who, form)
        assert answer.status == 201, answer.body
        return who, answer.json()["person_id"], form["id_number"]

    def _venue(self) -> tuple[str, str]:
        body = {
            "name": "重试测试馆", "type": "library_museum", "subject_name": "贵阳测试商贸有限公司",
            "credential_type": "uscc", "credential_number": "91440300708461136T", "region_code": fw.COUNTY,
            "location": {"lat": fw.LAT, "lng": fw.LNG}, "address": "贵州省贵阳市南明区花果园",
            "manager_phone": "13700009999",
        }  # fmt: skip
        answer = self.stack.call("POST", "/v1/venues", as_=fw.MANAGER, json_body=body)
        assert answer.status == 201, answer.body
        venue_id = answer.json()["venue_id"]
        # the world's scanner is assigned to it (staff act only where assigned)
        assigned = self.stack.call("PUT", f"/v1/venues/{venue_id}/staff/{fw.SCANNER[0]}", as_=fw.MANAGER)
        assert assigned.status == 200, assigned.body
        return venue_id, answer.json()["code"]

    def count(self, logical_id: str, **where: str) -> int:
        """Items of a table whose string attributes equal ``where`` (a test may Scan)."""
        return sum(
            1
            for item in fw._scan(self.stack, logical_id)
            if all(item.get(name, {}).get("S") == value for name, value in where.items())
        )

    def count_prefix(self, logical_id: str, attribute: str, prefix: str, **where: str) -> int:
        return sum(
            1
            for item in fw._scan(self.stack, logical_id)
            if str(item.get(attribute, {}).get("S", "")).startswith(prefix)
            and all(item.get(name, {}).get("S") == value for name, value in where.items())
        )


def _twice(
    world: RetryWorld, method: str, path: str, who: Any, body: Any, key: str | None
) -> tuple[Answer, Answer]:
    return world.call(method, path, who, body, key), world.call(method, path, who, body, key)


def retry_apply_with_key(world: RetryWorld) -> Retried:
    n = world.next()
    who = (f"retry-citizen-{n}", ("citizen",))
    first, again = _twice(world, "POST", "/v1/codes", who, world.form(n), "apply-1")
    return Retried(first, again, world.count("PersonsTable", owner_sub=who[0]))


def retry_apply_by_id_number(world: RetryWorld) -> Retried:
    n = world.next()
    who = (f"retry-citizen-{n}", ("citizen",))
    first, again = _twice(world, "POST", "/v1/codes", who, world.form(n), None)
    assert (first.status, again.status) == (201, 200), "docs/api.md: the same ID number again answers 200"
    again = Answer(201, again.headers, again.body)  # then the bodies must agree: same person, colour
    return Retried(first, again, world.count("PersonsTable", owner_sub=who[0]))


def retry_appeal(world: RetryWorld) -> Retried:
    who, person, _ = world.citizen(symptoms=True)
    path = f"/v1/codes/{person}/appeals"
    first, again = _twice(world, "POST", path, who, {"reason": "体温复测正常"}, "appeal-1")
    return Retried(first, again, world.count("RequestsTable", person_id=person, kind="appeal"))


def retry_link(world: RetryWorld) -> Retried:
    who, person, _ = world.citizen()
    first, again = _twice(world, "POST", f"/v1/codes/{person}/links", who, None, None)
    stored = persons.get(person, consistent=True)
    assert stored is not None
    live = [
        answer
        for answer in (first, again)
        if stored.link_hash == pii.keyed_hash("link_code", answer.json()["link_code"].replace("-", ""))
    ]
    assert live == [again], "only the last link code is live"
    return Retried(first, again, len(live))


def retry_paper(world: RetryWorld) -> Retried:
    who, person, _ = world.citizen()
    first, again = _twice(world, "POST", f"/v1/codes/{person}/paper", who, None, None)
    stored = persons.get(person, consistent=True)
    assert stored is not None
    live = [answer for answer in (first, again) if stored.paper_code == answer.json()["token"]]
    assert live == [again], "only the last paper code is live"
    return Retried(first, again, len(live))


def retry_verification(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen()
    body = {"code": _fresh_code(world, person), "checkpoint_id": world.venue_id, "temperature": 36.4}
    first, again = _twice(world, "POST", "/v1/verifications", fw.SCANNER, body, "scan-1")
    return Retried(first, again, _scans_of(person))


def _fresh_code(world: RetryWorld, person: str) -> str:
    stored = persons.get(person, consistent=True)
    assert stored is not None
    answer = world.stack.call("GET", f"/v1/codes/{person}", as_=(stored.owner_sub, ("citizen",)))
    return str(answer.json()["token"])


def _scans_of(person: str) -> int:
    return sum(1 for _ in scans.of_person(person, fw.BASE - timedelta(days=1), fw.BASE + timedelta(days=1)))


def retry_manual_registration(world: RetryWorld) -> Retried:
    n = world.next()
    body: dict[str, Any] = {
        "name": "测试丁", "id_number": fw.id_number(7000 + n), "phone": f"1380000{n:04d}",
        "temperature": 36.6, "checkpoint_id": world.venue_id,
    }  # fmt: skip
    first, again = _twice(world, "POST", "/v1/manual-registrations", fw.SCANNER, body, "manual-1")
    holder = persons.holder_of(body["id_number"])
    assert holder is not None
    registered = world.count("PersonsTable", id_hash=str(holder.id_hash))
    return Retried(first, again, registered * _scans_of(holder.person_id))


def retry_venue(world: RetryWorld) -> Retried:
    n = world.next()
    manager = (f"retry-manager-{n}", ("venue_manager",))
    body = {
        "name": f"重试测试店{n}", "type": "restaurant", "subject_name": "贵阳测试商贸有限公司",
        "credential_type": "uscc", "credential_number": "91440300708461136T", "region_code": fw.COUNTY,
        "location": {"lat": fw.LAT, "lng": fw.LNG}, "address": "贵州省贵阳市南明区花果园",
        "manager_phone": f"1370000{n:04d}",
    }  # fmt: skip
    first, again = _twice(world, "POST", "/v1/venues", manager, body, "venue-1")
    return Retried(first, again, world.count_prefix("VenuesTable", "venue_id", "v-", manager_sub=manager[0]))


def retry_checkin(world: RetryWorld) -> Retried:
    who, person, _ = world.citizen()
    body = {"venue_code": world.venue_code, "person_id": person, "location": {"lat": fw.LAT, "lng": fw.LNG}}
    first, again = _twice(world, "POST", "/v1/checkins", who, body, "checkin-1")
    return Retried(first, again, _scans_of(person))


def retry_case(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen()
    body = {
        "person_id": person,
        "status": "confirmed",
        "diagnosed_at": clock.show(fw.BASE - timedelta(hours=2)),
    }
    first, again = _twice(world, "POST", "/v1/cases", fw.OFFICIAL, body, None)
    case_id = first.json()["case_id"]
    cases_stored = world.count("CasesTable", pk=case_id, sk="CASE")
    case_facts = world.count_prefix("FactsTable", "fact_id", "case#", person_id=person)
    audited = world.count_prefix("AuditTable", "kind", "case_reported", subject=f"person#{person}")
    assert (case_facts, audited) == (1, 1), "one case fact, one audit entry"
    return Retried(first, again, cases_stored)


def retry_lab_results(world: RetryWorld) -> Retried:
    _, person, number = world.citizen()
    body = {
        "results": [
            {
                "id_number": number,
                "sampled_at": clock.show(fw.BASE - timedelta(hours=3)),
                "result": "negative",
            }
        ]
    }
    first, again = _twice(world, "POST", "/v1/lab-results", fw.OFFICIAL, body, None)
    return Retried(first, again, world.count_prefix("FactsTable", "fact_id", "lab#", person_id=person))


def retry_risk_area(world: RetryWorld) -> Retried:
    region = "520103"
    first, again = _twice(world, "PUT", f"/v1/risk-areas/{region}", fw.OFFICIAL, {"level": "medium"}, None)
    return Retried(first, again, world.count("RiskAreasTable", region_code=region))


def retry_quarantine(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen()
    order = {"kind": "home", "from": clock.show(clock.now())}
    first, again = _twice(world, "PUT", f"/v1/persons/{person}/quarantine", fw.OFFICIAL, order, None)
    audited = world.count_prefix("AuditTable", "kind", "quarantine_placed", subject=f"person#{person}")
    assert audited == 1, "one placement on the person's trail"
    return Retried(first, again, world.count("FactsTable", person_id=person, kind="quarantine"))


OVERRIDE = {"colour": "yellow", "reason_code": "contact_under_review", "evidence_ref": "GY-CDC-2022-0510-01"}
SECOND_OFFICIAL = ("fault-official-2", ("official",))


def _override(world: RetryWorld) -> tuple[str, str]:
    _, person, _ = world.citizen()
    answer = world.call(
        "PUT", f"/v1/persons/{person}/colour", fw.OFFICIAL, OVERRIDE, f"override-{world.next()}"
    )
    assert answer.status == 202, answer.body
    return person, answer.json()["override_id"]


def retry_override_request(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen()
    first, again = _twice(world, "PUT", f"/v1/persons/{person}/colour", fw.OFFICIAL, OVERRIDE, "override-1")
    return Retried(first, again, world.count("RequestsTable", person_id=person, kind="override"))


def retry_approval(world: RetryWorld) -> Retried:
    person, override_id = _override(world)
    path = f"/v1/overrides/{override_id}/approve"
    first, again = _twice(world, "POST", path, SECOND_OFFICIAL, None, None)
    applied = world.count_prefix("FactsTable", "fact_id", "override#", person_id=person)
    audited = world.count_prefix("AuditTable", "kind", "override_approved", subject=f"person#{person}")
    assert audited == 1, "one approval on the person's trail"
    return Retried(first, again, applied)


def retry_rejection(world: RetryWorld) -> Retried:
    person, override_id = _override(world)
    path = f"/v1/overrides/{override_id}/reject"
    first, again = _twice(world, "POST", path, SECOND_OFFICIAL, {"reason": "证据不足"}, None)
    return Retried(
        first,
        again,
        world.count_prefix("AuditTable", "kind", "override_rejected", subject=f"person#{person}"),
    )


def retry_appeal_answer(world: RetryWorld) -> Retried:
    who, person, _ = world.citizen(symptoms=True)
    appeal = world.call("POST", f"/v1/codes/{person}/appeals", who, {"reason": "体温复测正常"})
    assert appeal.status == 201, appeal.body
    path = f"/v1/appeals/{appeal.json()['appeal_id']}/answer"
    body = {"outcome": "dismissed", "answer": "症状申报属实"}
    first, again = _twice(world, "POST", path, fw.OFFICIAL, body, None)
    return Retried(
        first, again, world.count_prefix("AuditTable", "kind", "appeal_answered", subject=f"person#{person}")
    )


def _staff_steps(world: RetryWorld, kind: str, sub: str) -> int:
    """Audit entries ``kind`` about ``sub`` on the world venue's trail, and (for an assignment)
    times ``sub`` is assigned: what a retry must not double."""
    entries = sum(
        1
        for item in fw._scan(world.stack, "AuditTable")
        if item["subject"]["S"] == f"venue#{world.venue_id}" and item["entry"]["S"].endswith(f"#{kind}#{sub}")
    )
    assigned = sum(
        1
        for item in fw._scan(world.stack, "StaffTable")
        if item["venue_id"]["S"] == world.venue_id and item["sub"]["S"] == sub
    )
    return entries * assigned if kind == "staff_assigned" else entries + assigned


def retry_staff_assignment(world: RetryWorld) -> Retried:
    sub = f"retry-scanner-{world.next()}"
    path = f"/v1/venues/{world.venue_id}/staff/{sub}"
    first, again = _twice(world, "PUT", path, fw.MANAGER, None, None)
    return Retried(first, again, _staff_steps(world, "staff_assigned", sub))


def retry_staff_removal(world: RetryWorld) -> Retried:
    sub = f"retry-scanner-{world.next()}"
    path = f"/v1/venues/{world.venue_id}/staff/{sub}"
    assert world.call("PUT", path, fw.MANAGER).status == 200
    first, again = _twice(world, "DELETE", path, fw.MANAGER, None, None)
    assert (first.status, again.status) == (204, 204)
    empty = b"null"  # a 204 has no body: both answers compare as null
    return Retried(
        Answer(first.status, first.headers, first.body or empty),
        Answer(again.status, again.headers, again.body or empty),
        _staff_steps(world, "staff_removed", sub),
    )


def retry_reissue(world: RetryWorld) -> Retried:
    venue_id, _ = world._venue()
    path = f"/v1/venues/{venue_id}/code"
    first, again = _twice(world, "POST", path, fw.MANAGER, {"reason": "damaged"}, None)
    current = venues.get(venue_id)
    assert current is not None
    live = [answer for answer in (first, again) if answer.json()["code"] == current.code]
    assert live == [again], "only the last code is current"
    return Retried(first, again, len(live))


def retry_close(world: RetryWorld) -> Retried:
    venue_id, _ = world._venue()
    first, again = _twice(world, "DELETE", f"/v1/venues/{venue_id}", fw.MANAGER, None, None)
    assert (first.status, again.status) == (204, 204)
    empty = b"null"  # a 204 has no body: both answers compare as null
    closed = world.count_prefix("AuditTable", "kind", "venue_closed", subject=f"venue#{venue_id}")
    return Retried(
        Answer(first.status, first.headers, first.body or empty),
        Answer(again.status, again.headers, again.body or empty),
        closed,
    )


def retry_venue_change(world: RetryWorld) -> Retried:
    venue_id, _ = world._venue()
    body = {"zone": "北门广场", "store_number": "B1-07"}
    first, again = _twice(world, "PATCH", f"/v1/venues/{venue_id}", fw.MANAGER, body, None)
    return Retried(
        first, again, world.count_prefix("AuditTable", "kind", "venue_changed", subject=f"venue#{venue_id}")
    )


def retry_join_code(world: RetryWorld) -> Retried:
    venue_id, _ = world._venue()
    first, again = _twice(world, "POST", f"/v1/venues/{venue_id}/join-codes", fw.MANAGER, None, "join-1")
    return Retried(
        first, again, world.count_prefix("VenuesTable", "venue_id", "join#", joins_venue_id=venue_id)
    )


def _once(first: Answer, again: Answer, code: str, records: int) -> Retried:
    """A retry of a step that happens once: 409 ``code``, and the first answer's effect alone."""
    assert (again.status, again.json()["error"]["code"]) == (409, code), again.body
    return Retried(first, first, records)


def retry_case_status(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen()
    body = {
        "person_id": person,
        "status": "suspected",
        "diagnosed_at": clock.show(fw.BASE - timedelta(hours=2)),
    }
    case_id = world.call("POST", "/v1/cases", fw.OFFICIAL, body).json()["case_id"]
    path = f"/v1/cases/{case_id}"
    first, again = _twice(world, "PATCH", path, fw.OFFICIAL, {"status": "confirmed"}, None)
    history = world.call("GET", path, fw.OFFICIAL).json()["history"]
    return _once(
        first, again, "status_unchanged", sum(1 for step in history if step["status"] == "confirmed")
    )


def retry_alert_acknowledgement(world: RetryWorld) -> Retried:
    _, person, _ = world.citizen(symptoms=True)
    body = {"code": _fresh_code(world, person), "checkpoint_id": world.venue_id, "temperature": 38.6}
    scanned = world.call("POST", "/v1/verifications", fw.SCANNER, body)
    assert scanned.status == 200, scanned.body
    StreamPump(world.stack.template, world.stack.clients, world.stack.invoke).drain()
    path = f"/v1/alerts/{scanned.json()['scan_id']}/acknowledge"
    first, again = _twice(world, "POST", path, fw.OFFICIAL, {"note": "已通知社区复测"}, None)
    acknowledged = world.count("AlertsTable", alert_id=scanned.json()["scan_id"], status="acknowledged")
    return _once(first, again, "alert_already_acknowledged", acknowledged)


def retry_person_search(world: RetryWorld) -> Retried:
    _, person, number = world.citizen()
    first, again = _twice(world, "POST", "/v1/persons/search", fw.OFFICIAL, {"id_number": number}, None)
    searched = world.count_prefix("AuditTable", "kind", "person_search", subject=f"person#{person}")
    assert searched == 2, "each search is audited"
    return Retried(first, again, len(first.json()["persons"]))


def retry_entities(world: RetryWorld) -> Retried:
    row = {
        "credit_code": "91440300708461136T",
        "name": "贵阳测试商贸有限公司",
        "region_code": fw.COUNTY,
        "type": "enterprise",
    }
    first, again = _twice(world, "PUT", "/v1/registers/entities", fw.OFFICIAL, {"entities": [row]}, None)
    return Retried(first, again, world.count("RegistersTable", pk="E#91440300708461136T", sk="ENTITY"))


def retry_population(world: RetryWorld) -> Retried:
    body = {"regions": [{"region_code": fw.COUNTY, "population": 612_000}]}
    first, again = _twice(world, "PUT", "/v1/registers/population", fw.OFFICIAL, body, None)
    return Retried(first, again, world.count("RegistersTable", pk=f"POP#{fw.COUNTY}"))


RETRY_CASES: dict[str, list[Callable[[RetryWorld], Retried]]] = {
    "POST /v1/codes": [retry_apply_with_key, retry_apply_by_id_number],
    "POST /v1/codes/{person_id}/appeals": [retry_appeal],
    "POST /v1/codes/{person_id}/links": [retry_link],
    "POST /v1/codes/{person_id}/paper": [retry_paper],
    "POST /v1/verifications": [retry_verification],
    "POST /v1/manual-registrations": [retry_manual_registration],
    "POST /v1/venues": [retry_venue],
    "POST /v1/checkins": [retry_checkin],
    "POST /v1/cases": [retry_case],
    "POST /v1/lab-results": [retry_lab_results],
    "PUT /v1/risk-areas/{region_code}": [retry_risk_area],
    "PUT /v1/persons/{person_id}/colour": [retry_override_request],
    "PUT /v1/persons/{person_id}/quarantine": [retry_quarantine],
    "POST /v1/overrides/{override_id}/approve": [retry_approval],
    "POST /v1/overrides/{override_id}/reject": [retry_rejection],
    "POST /v1/appeals/{appeal_id}/answer": [retry_appeal_answer],
    "PUT /v1/venues/{venue_id}/staff/{sub}": [retry_staff_assignment],
    "DELETE /v1/venues/{venue_id}/staff/{sub}": [retry_staff_removal],
    "POST /v1/venues/{venue_id}/code": [retry_reissue],
    "DELETE /v1/venues/{venue_id}": [retry_close],
    "PATCH /v1/venues/{venue_id}": [retry_venue_change],
    "POST /v1/venues/{venue_id}/join-codes": [retry_join_code],
    "PATCH /v1/cases/{case_id}": [retry_case_status],
    "POST /v1/alerts/{alert_id}/acknowledge": [retry_alert_acknowledgement],
    "POST /v1/persons/search": [retry_person_search],
    "PUT /v1/registers/entities": [retry_entities],
    "PUT /v1/registers/population": [retry_population],
}


def test_every_write_route_has_a_retry_case() -> None:
    """GIVEN the template's routes THEN every write (POST, PUT) has its retry semantics listed and a
    case below; a new write route fails here until it has both."""
    from infra.local.template import ROOT_TEMPLATE, Template

    template = Template(ROOT_TEMPLATE, "test", {"Province": "520000"}, "cn-north-1")
    writes = {route.key for route in template.routes() if route.method in ("POST", "PUT", "PATCH", "DELETE")}
    assert writes == set(RETRY_SEMANTICS) == set(RETRY_CASES)


@pytest.mark.parametrize(
    "case",
    [case for cases_of_route in RETRY_CASES.values() for case in cases_of_route],
    ids=lambda case: case.__name__,
)
def test_a_retried_write_answers_as_the_first_time_and_stores_one_record(
    retry_stack: InProcessStack, case: Callable[[RetryWorld], Retried]
) -> None:
    """GIVEN a write a client sends again (a lost answer, a timeout) WHEN it is retried — with the
    same Idempotency-Key where the route honours one, as the same request where the request names
    what it writes THEN the retry answers as the first call did and one record is stored (for a
    superseding route: only the last answer's secret is live)."""
    clock.freeze(fw.BASE)
    world = getattr(retry_stack, "_retry_world", None)
    if world is None:
        world = RetryWorld(retry_stack)
        retry_stack._retry_world = world  # type: ignore[attr-defined]
    retried = case(world)
    assert retried.first.status < 300, retried.first.body
    if case in (retry_link, retry_paper, retry_reissue):
        assert retried.again.status == retried.first.status and retried.records == 1
        return
    assert retried.same_answer(), (
        retried.first.status,
        retried.first.body,
        retried.again.status,
        retried.again.body,
    )
    assert retried.records == 1


# -- 5. a keyed write that failed half-way is completed by its retry ---------------------------------------

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


@dataclass
class KeyedWrite:
    """One keyed request on fresh identities: (caller, method, path, body), and how to count
    what it stored."""

    name: str
    prepare: Callable[[RetryWorld], tuple[Any, str, str, dict[str, Any], Callable[[], int]]]


def _keyed_apply(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    n = world.next()
    who = (f"retry-citizen-{n}", ("citizen",))
    return who, "POST", "/v1/codes", world.form(n), lambda: world.count("PersonsTable", owner_sub=who[0])


def _keyed_checkin(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    who, person, _ = world.citizen()
    body = {"venue_code": world.venue_code, "person_id": person, "location": {"lat": fw.LAT, "lng": fw.LNG}}
    return who, "POST", "/v1/checkins", body, lambda: _scans_of(person)


def _keyed_verification(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    _, person, _ = world.citizen()
    body = {"code": _fresh_code(world, person), "checkpoint_id": world.venue_id, "temperature": 36.4}
    return fw.SCANNER, "POST", "/v1/verifications", body, lambda: _scans_of(person)


def _keyed_manual(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    n = world.next()
    number = fw.id_number(7000 + n)
    body = {"name": "测试戊", "id_number": number, "phone": f"1380000{n:04d}", "temperature": 36.6,
            "checkpoint_id": world.venue_id}  # fmt: skip

    def stored() -> int:
        holder = persons.holder_of(number)
        if holder is None:
            return 0
        return world.count("PersonsTable", id_hash=str(holder.id_hash)) * _scans_of(holder.person_id)

    return fw.SCANNER, "POST", "/v1/manual-registrations", body, stored


def _keyed_venue(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    n = world.next()
    manager = (f"retry-manager-{n}", ("venue_manager",))
    body = {
        "name": f"重试测试店{n}", "type": "restaurant", "subject_name": "贵阳测试商贸有限公司",
        "credential_type": "uscc", "credential_number": "91440300708461136T", "region_code": fw.COUNTY,
        "location": {"lat": fw.LAT, "lng": fw.LNG}, "address": "贵州省贵阳市南明区花果园",
        "manager_phone": f"1370000{n:04d}",
    }  # fmt: skip
    return (
        manager,
        "POST",
        "/v1/venues",
        body,
        lambda: world.count_prefix("VenuesTable", "venue_id", "v-", manager_sub=manager[0]),
    )


def _keyed_override(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    _, person, _ = world.citizen()
    return (
        fw.OFFICIAL,
        "PUT",
        f"/v1/persons/{person}/colour",
        OVERRIDE,
        lambda: world.count("RequestsTable", person_id=person, kind="override"),
    )


def _keyed_appeal(world: RetryWorld) -> tuple[Any, str, str, dict[str, Any], Callable[[], int]]:
    who, person, _ = world.citizen(symptoms=True)
    return (
        who,
        "POST",
        f"/v1/codes/{person}/appeals",
        {"reason": "体温复测正常"},
        lambda: world.count("RequestsTable", person_id=person, kind="appeal"),
    )


KEYED_WRITES = [
    KeyedWrite("apply", _keyed_apply),
    KeyedWrite("checkin", _keyed_checkin),
    KeyedWrite("verification", _keyed_verification),
    KeyedWrite("manual_registration", _keyed_manual),
    KeyedWrite("venue", _keyed_venue),
    KeyedWrite("override_request", _keyed_override),
    KeyedWrite("appeal", _keyed_appeal),
]


def nth_write_fails(n: int, fault: Fault) -> Callable[[Any], Fault | None]:
    seen = [0]

    def decide(call: Any) -> Fault | None:
        if call.service != "dynamodb" or call.operation not in WRITES:
            return None
        seen[0] += 1
        return fault if seen[0] == n else None

    return decide


@pytest.mark.parametrize("keyed", KEYED_WRITES, ids=lambda keyed: keyed.name)
def test_a_keyed_write_that_failed_at_any_write_is_completed_once_by_its_retry(
    retry_stack: InProcessStack, keyed: KeyedWrite
) -> None:
    """GIVEN a keyed request WHEN its first attempt dies at its first, second, … DynamoDB write (a
    500 or a lost connection: the client sees no answer) and the client retries with the same
    Idempotency-Key THEN the retry succeeds, a third call answers the same, and exactly one record
    is stored — never none, never two."""
    clock.freeze(fw.BASE)
    world = getattr(retry_stack, "_retry_world", None) or RetryWorld(retry_stack)
    retry_stack._retry_world = world  # type: ignore[attr-defined]
    seen: list[str] = []

    def count_writes(call: Any) -> Fault | None:
        if call.service == "dynamodb" and call.operation in WRITES:
            seen.append(call.operation)
        return None

    counter = FaultInjector(rule=count_writes)
    who, method, path, body, _ = keyed.prepare(world)
    with install(counter), counter.arming():
        assert world.call(method, path, who, body, f"{keyed.name}-dry").status < 300
    assert seen, "the request writes something"
    for n in range(1, len(seen) + 1):
        fault = (Fault.INTERNAL, Fault.CONNECTION)[n % 2]
        who, method, path, body, stored = keyed.prepare(world)
        key = f"{keyed.name}-{n}"
        injector = FaultInjector(rule=nth_write_fails(n, fault))
        with install(injector), injector.arming():
            try:
                world.call(method, path, who, body, key)
            except Exception:  # noqa: BLE001 - an unhandled error: API Gateway answers 500
                pass
        assert injector.total == 1
        retried = world.call(method, path, who, body, key)
        assert retried.status < 300, (n, seen, retried.body)
        again = world.call(method, path, who, body, key)
        assert Retried(retried, again, 0).same_answer(), (n, retried.body, again.body)
        assert stored() == 1, (keyed.name, n, seen, stored())
    print(f"\nHALF-WAY {keyed.name}: writes={seen} crashed at each of {len(seen)}, retried: one record")
