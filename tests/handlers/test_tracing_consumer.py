"""The tracing consumer (functions/tracing) on the CasesTable stream, driven by the local stack's
stream pump over moto: results against the tracing rule, continuation, redelivery, partial
failures, poison records reaching the failure queue, and reads that depend on the case only."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import botocore.client
import pytest
from healthcode import clock
from healthcode.rules import cases
from healthcode.rules.policy import Policy, load_policy
from healthcode.rules.tracing import (
    ContactSummary,
    Presence,
    case_window,
    exposures_for,
    in_case_window,
    strongest_per_person,
)
from healthcode.services import tracing
from healthcode.storage import cases as store
from healthcode.storage import persons, presences
from healthcode.storage.models import CaseItem, Fact

from infra.local.stack import LambdaContext
from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

T0 = epi.BASE
DIAGNOSED = T0 + timedelta(days=2)


@dataclass
class Scenario:
    """Presences at a mall complex (root + two stores) and a station, written as scans."""

    case_person: str
    presences: list[Presence] = field(default_factory=list)
    venues: dict[str, Any] = field(default_factory=dict)

    def add(self, person_id: str, venue_key: str, when: datetime) -> None:
        at = self.venues[venue_key]
        scan_id = epi.presence(person_id, at, when)
        self.presences.append(
            Presence(scan_id, person_id, at.venue_id, str(at.root_venue_id), str(at.type), when)
        )

    def expected(self, case_id: str, policy: Policy) -> list[ContactSummary]:
        own = in_case_window(
            [p for p in self.presences if p.person_id == self.case_person], DIAGNOSED, policy
        )
        return strongest_per_person(exposures_for(case_id, self.case_person, own, self.presences, policy))

    def exposure_ids(self, case_id: str, policy: Policy) -> set[str]:
        own = in_case_window(
            [p for p in self.presences if p.person_id == self.case_person], DIAGNOSED, policy
        )
        return {e.exposure_id for e in exposures_for(case_id, self.case_person, own, self.presences, policy)}


def build_scenario(seed: int, others: int = 8) -> Scenario:
    rng = random.Random(seed)
    mall = epi.venue("mall", shards=2)
    venues = {
        "mall": mall,
        "s1": epi.venue("restaurant", root=mall.venue_id),
        "s2": epi.venue("supermarket", root=mall.venue_id),
        "station": epi.venue("transit_hub", shards=4),
    }
    case_person, _ = epi.person()
    scenario = Scenario(case_person=case_person, venues=venues)
    anchors = [("s1", T0), ("station", T0 + timedelta(days=1)), ("mall", T0 + timedelta(hours=30))]
    for key, when in anchors:
        scenario.add(case_person, key, when)
    scenario.add(case_person, "s2", T0 - timedelta(days=13))  # before the look-back: not traced
    people = [epi.person()[0] for _ in range(others)]
    for person_id in people:
        for _ in range(rng.randint(1, 3)):
            key, anchor = rng.choice(anchors)
            where = rng.choice([key, key, "s1", "s2", "mall", "station"])
            scenario.add(person_id, where, anchor + timedelta(minutes=rng.randint(-150, 150)))
    # a touching presence (ends exactly when the case arrives) and one far away in time
    scenario.add(people[0], "s1", T0 - timedelta(minutes=90))
    scenario.add(people[1], "s1", T0 - timedelta(days=13))
    return scenario


@pytest.fixture
def guizhou(aws_stack: InProcessStack) -> Iterator[Policy]:
    clock.freeze(DIAGNOSED + timedelta(hours=6))
    yield load_policy("520000")


def report_case(stack: InProcessStack, person_id: str) -> str:
    answer = stack.call(
        "POST",
        "/v1/cases",
        as_=epi.OFFICIAL,
        json_body={"person_id": person_id, "status": "confirmed", "diagnosed_at": DIAGNOSED.isoformat()},
    )
    assert answer.status == 202, answer.body
    return str(answer.json()["case_id"])


def contact_rows(stack: InProcessStack, case_id: str) -> list[tuple[str, str, str, str, float]]:
    answer = stack.call("GET", f"/v1/cases/{case_id}/contacts", as_=epi.OFFICIAL, query="limit=1000")
    assert answer.status == 200
    return sorted(
        (c["person_id"], c["kind"], c["venue_id"], c["exposure_at"], c["overlap_minutes"])
        for c in answer.json()["contacts"]
    )


def expected_rows(scenario: Scenario, case_id: str, policy: Policy) -> list[tuple[str, str, str, str, float]]:
    return sorted(
        (r.person_id, r.kind.value, r.venue_id, clock.show(r.exposure_at), round(r.overlap_minutes, 3))
        for r in scenario.expected(case_id, policy)
    )


def stored_exposures(case_id: str, person_ids: set[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for person_id in person_ids:
        for item in Fact.query(person_id, Fact.fact_id.startswith(f"exposure#{case_id}#")):
            found[item.fact_id] = item.attribute_values
    return found


def case_item(case_id: str) -> store.CaseView:
    case = store.get(case_id, consistent=True)
    assert case is not None
    return case


@pytest.mark.parametrize("seed", [1, 2])
def test_tracing_finds_what_the_rule_finds(aws_stack: InProcessStack, guizhou: Policy, seed: int) -> None:
    """GIVEN presences at a complex and a station around a case's own WHEN the case is reported
    and the streams drain THEN the contact rows are the rule's strongest exposure per person,
    every exposure is a fact under its contact, and tracing is done with the right count."""
    scenario = build_scenario(seed)
    case_id = report_case(aws_stack, scenario.case_person)
    assert case_item(case_id).tracing == "pending"
    epi.pump(aws_stack).drain()

    assert contact_rows(aws_stack, case_id) == expected_rows(scenario, case_id, guizhou)
    people = {p.person_id for p in scenario.presences}
    assert set(stored_exposures(case_id, people)) == scenario.exposure_ids(case_id, guizhou)
    case = case_item(case_id)
    assert case.tracing == "done" and case.contacts_found == len(scenario.expected(case_id, guizhou))
    # 3 traced case presences: s1 and mall search the 3 venues of the complex, the station itself
    assert case.tasks_total == case.tasks_done == 7
    shown = aws_stack.call("GET", f"/v1/cases/{case_id}", as_=epi.OFFICIAL).json()
    assert (shown["tracing"], shown["contacts_found"]) == ("done", case.contacts_found)
    # the colour consumer turned the facts into colours: close red, secondary yellow, others green
    strongest = {row.person_id: row.kind.value for row in scenario.expected(case_id, guizhou)}
    for person_id in people - {scenario.case_person}:
        stored = persons.get(person_id, consistent=True)
        assert stored is not None
        assert stored.colour == {"close": "red", "secondary": "yellow"}.get(
            strongest.get(person_id, ""), "green"
        )


def test_a_case_without_presences_is_done_at_once(aws_stack: InProcessStack, guizhou: Policy) -> None:
    """GIVEN a case person who scanned nowhere in the look-back WHEN traced THEN done, 0 contacts."""
    person_id, _ = epi.person()
    case_id = report_case(aws_stack, person_id)
    epi.pump(aws_stack).drain()
    case = case_item(case_id)
    assert (case.tracing, case.contacts_found, case.tasks_total) == ("done", 0, 0)


class ShortOfTime(LambdaContext):
    """A context that starts with a minute and is at once below the hand-over margin."""

    def __init__(self) -> None:
        super().__init__("TracingFunction", "arn:TracingFunction", 512, 60)
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 60_000 if self.calls == 1 else 1_000


def test_tasks_hand_over_when_time_runs_short(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN pages of 3 presences and invocations that are always short of time WHEN traced THEN
    every invocation does one page and hands the rest to a continuation task, and the result is
    exactly the unhurried one."""
    monkeypatch.setattr(tracing, "PAGE_SIZE", 3)
    scenario = build_scenario(4, others=4)
    case_id = report_case(aws_stack, scenario.case_person)

    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function == "TracingFunction":
            return aws_stack.handler(function)(event, ShortOfTime())
        return aws_stack.invoke(function, event)

    epi.pump(aws_stack, invoke, only=epi.TRACING_ONLY).drain()
    assert contact_rows(aws_stack, case_id) == expected_rows(scenario, case_id, guizhou)
    case = case_item(case_id)
    assert case.tracing == "done" and case.tasks_total == case.tasks_done
    assert int(case.tasks_total or 0) > 7  # continuations were added to the planned tasks
    # each task has a partition of its own (case id and digest): a test may read them with a Scan
    tasks = list(CaseItem.scan(CaseItem.pk.startswith(f"{case_id}#TASK#")))
    continued = [t for t in tasks if not t.sk.endswith("#00000")]
    assert continued and all(t.tracing == "done" for t in continued)


def snapshot(case_id: str, people: set[str]) -> tuple[Any, ...]:
    case = case_item(case_id)
    rows = [item.attribute_values for item in CaseItem.query(case_id)]
    return (case.tasks_total, case.tasks_done, case.contacts_found, rows, stored_exposures(case_id, people))


def test_redelivered_records_write_the_same_facts(aws_stack: InProcessStack, guizhou: Policy) -> None:
    """GIVEN a traced case WHEN every batch the consumer received is delivered again THEN no
    count moves and every item (contact rows, tasks, exposure facts) is unchanged."""
    scenario = build_scenario(5)
    case_id = report_case(aws_stack, scenario.case_person)
    delivered: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function == "TracingFunction":
            delivered.append(event)
        return aws_stack.invoke(function, event)

    epi.pump(aws_stack, invoke, only=epi.TRACING_ONLY).drain()
    people = {p.person_id for p in scenario.presences}
    before = snapshot(case_id, people)
    clock.advance(3600)  # a later redelivery must not restamp anything
    for event in delivered:
        assert aws_stack.invoke("TracingFunction", event) == {"batchItemFailures": []}
    assert snapshot(case_id, people) == before


def queue_messages(stack: InProcessStack) -> list[dict[str, Any]]:
    url = stack.template.ref("StreamFailureQueue")
    answer = stack.clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_poison_task_reaches_the_failure_queue(aws_stack: InProcessStack, guizhou: Policy) -> None:
    """GIVEN a TASK item whose task cannot be read, next to a good case WHEN the stream is pumped
    THEN the good case is traced, the poison record is retried and then reported to the
    StreamFailureQueue in Lambda's on-failure format, alone."""
    scenario = build_scenario(6, others=3)
    CaseItem("case-poison", "TASK#0#00000", tracing="pending", task='{"v": 1, "case_id": ').save()
    case_id = report_case(aws_stack, scenario.case_person)
    epi.pump(aws_stack).drain()

    assert case_item(case_id).tracing == "done"
    (message,) = queue_messages(aws_stack)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"].endswith("TracingFunction")
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == sequence_number_of(aws_stack, "case-poison")
    assert info["streamArn"].split("/stream/")[0].endswith("CasesTable")


def sequence_number_of(stack: InProcessStack, case_id: str) -> str:
    """The stream sequence number of the first record written under ``case_id``."""
    streams = stack.clients["dynamodbstreams"]
    arn = stack.clients["dynamodb"].describe_table(TableName=CaseItem.Meta.table_name)["Table"][
        "LatestStreamArn"
    ]
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            if record["dynamodb"]["Keys"]["pk"]["S"] == case_id:
                return str(record["dynamodb"]["SequenceNumber"])
    raise AssertionError(f"no stream record of {case_id}")


def test_only_the_poison_record_of_a_batch_is_reported(aws_stack: InProcessStack, guizhou: Policy) -> None:
    """GIVEN one batch with a good TASK record and a malformed one WHEN handled THEN only the
    malformed record is reported as a failure and the good one is done."""
    scenario = build_scenario(7, others=3)
    case_id = report_case(aws_stack, scenario.case_person)
    delivered: list[dict[str, Any]] = []

    def hold_tasks(function: str, event: dict[str, Any]) -> Any:
        if function == "TracingFunction" and any(
            r["dynamodb"]["Keys"]["sk"]["S"].startswith("TASK#") for r in event["Records"]
        ):
            delivered.append(event)
            return {"batchItemFailures": []}  # swallowed: replayed by hand below
        return aws_stack.invoke(function, event)

    epi.pump(aws_stack, hold_tasks).drain()
    good = delivered[0]["Records"][0]
    poison = json.loads(json.dumps(good))
    poison["dynamodb"]["NewImage"]["task"] = {"S": "[]"}
    poison["dynamodb"]["SequenceNumber"] = "9" * 20
    answer = aws_stack.invoke("TracingFunction", {"Records": [good, poison]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "9" * 20}]}
    task_pk, task_key = good["dynamodb"]["Keys"]["pk"]["S"], good["dynamodb"]["Keys"]["sk"]["S"]
    assert task_pk.startswith(f"{case_id}#TASK#")  # each task in a partition of its own
    assert CaseItem.get(task_pk, task_key, consistent_read=True).tracing == "done"


def test_unprocessed_batch_items_are_retried(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN DynamoDB leaving part of a fact batch unprocessed once WHEN traced THEN the left-over
    items are written on retry and the result is complete."""
    monkeypatch.setattr("time.sleep", lambda _: None)
    scenario = build_scenario(8)
    connection = Fact._get_connection()
    real = connection.batch_write_item
    refused: list[int] = []

    def flaky(put_items: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
        items = list(put_items or [])
        if not refused and len(items) > 1:
            refused.append(len(items) // 2)
            real(put_items=items[len(items) // 2 :], **kwargs)
            left = [{"PutRequest": {"Item": i}} for i in items[: len(items) // 2]]
            return {"UnprocessedItems": {Fact.Meta.table_name: left}}
        return dict(real(put_items=items, **kwargs) or {})

    monkeypatch.setattr(connection, "batch_write_item", flaky)
    case_id = report_case(aws_stack, scenario.case_person)
    epi.pump(aws_stack).drain()
    assert refused
    people = {p.person_id for p in scenario.presences}
    assert set(stored_exposures(case_id, people)) == scenario.exposure_ids(case_id, guizhou)
    assert contact_rows(aws_stack, case_id) == expected_rows(scenario, case_id, guizhou)


def test_writes_refused_for_good_fail_the_task_until_replayed(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN DynamoDB refusing every fact write WHEN traced THEN the task fails, is retried, ends
    in the failure queue and stays pending; replayed once writes go through, it completes."""
    monkeypatch.setattr("time.sleep", lambda _: None)
    scenario = build_scenario(9, others=4)
    connection = Fact._get_connection()
    real = connection.batch_write_item
    broken = [True]

    def refusing(put_items: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
        if broken[0]:
            left = [{"PutRequest": {"Item": i}} for i in put_items or []]
            return {"UnprocessedItems": {Fact.Meta.table_name: left}}
        return dict(real(put_items=put_items, **kwargs) or {})

    case_id = report_case(aws_stack, scenario.case_person)
    monkeypatch.setattr(connection, "batch_write_item", refusing)
    failed: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        answer = aws_stack.invoke(function, event)
        if function == "TracingFunction" and answer.get("batchItemFailures"):
            failed.append(event)
        return answer

    pump = epi.pump(aws_stack, invoke)
    pump.drain()
    assert failed and queue_messages(aws_stack)
    assert case_item(case_id).tracing == "pending"
    broken[0] = False
    for event in failed:  # the operator replays the failed batches (make replay-dlq)
        aws_stack.invoke("TracingFunction", event)
    pump.drain()
    assert case_item(case_id).tracing == "done"
    assert contact_rows(aws_stack, case_id) == expected_rows(scenario, case_id, guizhou)


# -- reads depend on the case, not on the tables' size ---------------------------------------------


@dataclass
class ReadCounter:
    """Items DynamoDB examined for the tracing consumer (Query ScannedCount, GetItem, BatchGet)."""

    items: int = 0
    calls: int = 0
    active: bool = False
    operations: set[str] = field(default_factory=set)

    def after(self, operation: str, answer: dict[str, Any]) -> None:
        if not self.active:
            return
        self.operations.add(operation)
        self.calls += 1
        if operation == "Query":
            self.items += int(answer.get("ScannedCount", 0))
        elif operation == "GetItem":
            self.items += 1 if answer.get("Item") else 0
        elif operation == "BatchGetItem":
            self.items += sum(len(v) for v in answer.get("Responses", {}).values())


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> ReadCounter:
    counter = ReadCounter()
    real = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = real(self, operation, params)
        if getattr(self.meta, "service_model", None) and self.meta.service_model.service_name == "dynamodb":
            counter.after(operation, answer)
        return answer

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return counter


def test_reads_depend_on_the_case_not_the_tables(
    aws_stack: InProcessStack, guizhou: Policy, reads: ReadCounter
) -> None:
    """GIVEN a traced case WHEN the tables then receive ten times as many unrelated presences
    (other venues, other days at the same venues, other people) and the same case is traced
    again THEN the tracing consumer reads exactly as many items as the first time, and never
    scans a table."""
    scenario = build_scenario(10, others=5)

    def invoke(function: str, event: dict[str, Any]) -> Any:
        reads.active = function == "TracingFunction"
        try:
            return aws_stack.invoke(function, event)
        finally:
            reads.active = False

    pump = epi.pump(aws_stack, invoke, only=epi.TRACING_ONLY)  # one pump: each record delivered once

    def trace() -> int:
        for item in CaseItem.query(case_id):
            item.delete()
        for item in CaseItem.scan(CaseItem.pk.startswith(f"{case_id}#TASK#")):  # its tasks' own
            item.delete()
        reads.items = reads.calls = 0
        report_case(aws_stack, scenario.case_person)
        pump.drain()
        assert case_item(case_id).tracing == "done"
        return reads.items

    case_id = report_case(aws_stack, scenario.case_person)
    pump.drain()
    first = trace()
    related = len(scenario.presences)
    rng = random.Random(11)
    strangers = [epi.person()[0] for _ in range(10)]
    elsewhere = [epi.venue("restaurant"), epi.venue("transit_hub", shards=4)]
    for n in range(10 * related):
        at = rng.choice([*elsewhere, *scenario.venues.values()])
        day = rng.choice([-11, -8, -5, 4, 6]) if at in scenario.venues.values() else rng.randint(-12, 2)
        epi.presence(rng.choice(strangers), at, T0 + timedelta(days=day, minutes=n))
    second = trace()
    assert first == second > 0
    assert "Scan" not in reads.operations


def test_a_task_redelivered_after_its_close_still_finishes_the_case(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN tasks whose invocation fails after the task's close was written but before the case
    was marked done (the fault suite found it: a throttled read of the case) WHEN the event source
    retries the record THEN the retry finds the task closed and still finishes the case."""
    scenario = build_scenario(3)
    case_id = report_case(aws_stack, scenario.case_person)
    finish = tracing.finish_if_complete
    failures = {"left": 1_000}

    def failing_finish(case_id: str, *, now: datetime) -> bool:
        if case_item(case_id).tasks_done == case_item(case_id).tasks_total and failures["left"] > 0:
            failures["left"] = 0
            raise RuntimeError("throttled reading the case")
        return finish(case_id, now=now)

    monkeypatch.setattr(tracing, "finish_if_complete", failing_finish)
    epi.pump(aws_stack, only=epi.TRACING_ONLY).drain()
    assert failures["left"] == 0, "the last task's finish failed once"
    case = case_item(case_id)
    assert case.tracing == "done" and case.tasks_total == case.tasks_done
    assert contact_rows(aws_stack, case_id) == expected_rows(scenario, case_id, guizhou)


def test_a_plan_redelivered_after_it_was_stored_still_finishes_the_case(
    aws_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a case whose person scanned nowhere (no task: the plan itself finishes the case) and
    a finish that fails once after the plan was stored WHEN the event source retries the record
    THEN the retry finds the plan stored and still finishes the case (no task is left to)."""
    person_id, _ = epi.person()
    finish = tracing.finish_if_complete
    failures = {"left": 1}

    def failing_finish(case_id: str, *, now: datetime) -> bool:
        if failures["left"]:
            failures["left"] = 0
            raise RuntimeError("throttled reading the case")
        return finish(case_id, now=now)

    monkeypatch.setattr(tracing, "finish_if_complete", failing_finish)
    case_id = report_case(aws_stack, person_id)
    epi.pump(aws_stack, only=epi.TRACING_ONLY).drain()
    assert failures["left"] == 0, "the plan's finish failed once"
    case = case_item(case_id)
    assert (case.tracing, case.contacts_found, case.tasks_total) == ("done", 0, 0)


# -- tasks written by the previous release (all under the case's partition key) ------------------


def plan_as_previous_release(
    case_id: str, person_id: str, policy: Policy, *, written: int | None = None
) -> int:
    """What the previous release's plan wrote: every task whole (not split over shares of the
    venue's shards) under the case's own partition key, then ``tasks_total``. ``written``: only
    the first tasks were written when it stopped (no total yet)."""
    first, last = case_window(DIAGNOSED, policy)
    found = presences.of_case_person(person_id, first, last)
    tasks = cases.plan_tasks(case_id, person_id, found, presences.venues_by_complex(found, policy))
    store.add_tasks(store.under_case(task) for task in tasks[:written])
    if written is None:
        assert store.set_plan(case_id, tasks_total=len(tasks), now=clock.now())
    return len(tasks)


def assert_traced_as_the_rule_says(
    stack: InProcessStack, scenario: Scenario, case_id: str, policy: Policy
) -> None:
    """Contact rows, exposure facts, counts and colours of a case traced to the end."""
    assert contact_rows(stack, case_id) == expected_rows(scenario, case_id, policy)
    people = {p.person_id for p in scenario.presences}
    assert set(stored_exposures(case_id, people)) == scenario.exposure_ids(case_id, policy)
    case = case_item(case_id)
    assert case.tracing == "done" and case.contacts_found == len(scenario.expected(case_id, policy))
    assert case.tasks_total == case.tasks_done
    strongest = {row.person_id: row.kind.value for row in scenario.expected(case_id, policy)}
    for person_id in people - {scenario.case_person}:
        stored = persons.get(person_id, consistent=True)
        assert stored is not None
        assert stored.colour == {"close": "red", "secondary": "yellow"}.get(
            strongest.get(person_id, ""), "green"
        )


def tasks_under_case(case_id: str) -> list[CaseItem]:
    return list(CaseItem.query(case_id, CaseItem.sk.startswith("TASK#")))


def test_tasks_of_the_previous_release_are_traced_like_new_ones(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a case the previous release planned (its tasks whole, under the case's partition
    key) and a new-release case of the same scenario whose tasks are split one shard a task
    WHEN both are traced after the upgrade, with invocations short of time (continuations), and
    every batch is replayed afterwards THEN both end with the rule's contacts, facts and colours;
    the old tasks ran and closed where they lie, and the replay changes nothing."""
    monkeypatch.setattr(tracing, "SHARDS_PER_TASK", 1)
    monkeypatch.setattr(tracing, "PAGE_SIZE", 3)
    new, old = build_scenario(7, others=5), build_scenario(7, others=5)
    new_case = report_case(aws_stack, new.case_person)
    old_case = report_case(aws_stack, old.case_person)
    planned = plan_as_previous_release(old_case, old.case_person, guizhou)
    delivered: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function == "TracingFunction":
            delivered.append(event)
            return aws_stack.handler(function)(event, ShortOfTime())
        return aws_stack.invoke(function, event)

    epi.pump(aws_stack, invoke).drain()
    assert_traced_as_the_rule_says(aws_stack, new, new_case, guizhou)
    assert_traced_as_the_rule_says(aws_stack, old, old_case, guizhou)
    assert not tasks_under_case(new_case)
    old_tasks = tasks_under_case(old_case)
    assert len(old_tasks) == planned and all(t.tracing == "done" for t in old_tasks)
    assert int(case_item(old_case).tasks_total or 0) > planned  # continuations in their own partitions
    split = [t for t in CaseItem.scan(CaseItem.pk.startswith(f"{new_case}#TASK#")) if t.sk.endswith("#00000")]
    assert len(split) > planned  # the new case's station (4 shards) was searched by 4 tasks

    people = {p.person_id for p in old.presences}
    before = snapshot(old_case, people)
    clock.advance(3600)
    for event in delivered:  # redelivered, or replayed from the failure queue
        assert aws_stack.invoke("TracingFunction", event) == {"batchItemFailures": []}
    assert snapshot(old_case, people) == before


def test_a_plan_the_previous_release_began_is_completed_as_it_planned(
    aws_stack: InProcessStack, guizhou: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a case whose plan the previous release stopped after writing some of its tasks
    (under the case's key, no total stored) WHEN its record is retried after the upgrade THEN the
    plan is completed with the previous release's tasks (not split: each runs and is counted
    once) and the case ends with the rule's contacts, facts and colours."""
    monkeypatch.setattr(tracing, "SHARDS_PER_TASK", 1)
    scenario = build_scenario(8, others=5)
    case_id = report_case(aws_stack, scenario.case_person)
    planned = plan_as_previous_release(case_id, scenario.case_person, guizhou, written=2)
    epi.pump(aws_stack).drain()
    assert_traced_as_the_rule_says(aws_stack, scenario, case_id, guizhou)
    assert case_item(case_id).tasks_total == planned
    assert len(tasks_under_case(case_id)) == 2
