"""Faults (issue 8, group 4): the stream consumers under injected DynamoDB throttling and failures,
poison records through the failure queue and ``make replay-dlq``, and concurrent colour updates to
one person. Idempotent retries of every write route are ``test_retries.py``.

The stream consumers (ColourFunction, CountersFunction, TracingFunction, CoverageFunction,
RiskAreasFunction, ExportFunction, RegisterCountsFunction) run in-process with the local stack's
stream pump, which gives Lambda's semantics (``ReportBatchItemFailures``, bisection,
``MaximumRetryAttempts`` then the StreamFailureQueue). Faults come from botocore event hooks
(``dynamodb_faults``). Every run is compared with a fault-free run of the same world
(``fault_world``): nothing lost, nothing counted twice.

Sizes: ``FAULT_SEEDS`` worlds (default 1) at ``FAULT_RATE`` (default 0.15) of calls refused, under
``FAULT_PLANS`` (default ``mixed``: throttling, 500s and lost connections together; also
``throttling`` and ``failures``), e.g. ``FAULT_SEEDS=10 FAULT_RATE=0.25
FAULT_PLANS=mixed,throttling,failures pytest tests/security/inprocess/test_faults.py``.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.policy import FactKind, RiskLevel
from healthcode.services import overrides, recolour
from healthcode.storage import base, facts, persons, scans, stats
from healthcode.storage.models import Person

from infra.local.inprocess import InProcessStack
from infra.local.streams import StreamPump
from infra.ops.replay_dlq import replay
from tests.security.inprocess import fault_world as fw
from tests.security.inprocess.dynamodb_faults import (
    Fault,
    FaultInjector,
    any_rule,
    install,
    random_latency,
    random_rule,
    targeted_rule,
)

FAULT_SEEDS = int(os.environ.get("FAULT_SEEDS", "1"))
FAULT_RATE = float(os.environ.get("FAULT_RATE", "0.15"))
PLANS: dict[str, tuple[Fault, ...]] = {
    "mixed": tuple(Fault),
    "throttling": (Fault.PROVISIONED_THROUGHPUT, Fault.THROTTLING),
    "failures": (Fault.INTERNAL, Fault.CONNECTION),
}
FAULT_PLANS = os.environ.get("FAULT_PLANS", "mixed").split(",")
CONSUMERS = frozenset(
    {
        "ColourFunction",
        "CountersFunction",
        "TracingFunction",
        "CoverageFunction",
        "RiskAreasFunction",
        "ExportFunction",
        "RegisterCountsFunction",
    }
)
_clean: dict[int, dict[str, list[str]]] = {}


def clean_end_state(seed: int) -> dict[str, list[str]]:
    """The end state of world ``seed`` delivered without faults (computed once per seed)."""
    if seed not in _clean:
        with fw.world_stack() as stack:
            fw.build_world(stack, seed)
            delivery = fw.deliver(stack, None)
            assert delivery.item_failures == 0 and not delivery.dead_letters
            fw.check_history(stack)
            _clean[seed] = fw.end_state(stack)
    return _clean[seed]


def differences(expected: dict[str, list[str]], found: dict[str, list[str]]) -> dict[str, Any]:
    """Per table: what is missing (lost) and what is extra (duplicated or wrong)."""
    out: dict[str, Any] = {}
    for table in sorted(set(expected) | set(found)):
        want, got = Counter(expected.get(table, [])), Counter(found.get(table, []))
        lost, extra = want - got, got - want
        if lost or extra:
            out[table] = {"lost": list(lost.elements())[:3], "extra": list(extra.elements())[:3]}
    return out


# -- 1. random throttling and failures while the streams are delivered --------------------------------


@pytest.mark.parametrize("plan", FAULT_PLANS)
@pytest.mark.parametrize("seed", range(1, FAULT_SEEDS + 1))
def test_stream_consumers_lose_and_duplicate_nothing_under_faults(seed: int, plan: str) -> None:
    """GIVEN a day of applications, venues, check-ins, checkpoint scans, a case and a risk-area
    change WHEN every stream is delivered while a seeded share of the consumers' DynamoDB and S3
    calls is throttled (or fails: 500, lost connection), failed batches are retried by the event
    source, and what still fails is replayed from the failure queue THEN every table and the
    export end exactly as after a fault-free delivery (no fact, counter, contact, alert, export
    line lost or duplicated), and every person's history is an unbroken chain to their colour."""
    expected = clean_end_state(seed)
    injector = FaultInjector(
        rule=random_rule(seed=seed * 7919 + len(plan), rate=FAULT_RATE, kinds=PLANS[plan])
    )
    with fw.world_stack() as stack:
        fw.build_world(stack, seed)
        with install(injector):
            delivery = fw.deliver(stack, injector)
        found = fw.end_state(stack)
        changes = fw.check_history(stack)
        left = fw.failure_queue(stack)
    print(
        f"\nFAULTS seed={seed} plan={plan} calls={injector.calls} injected={dict(injector.injected)} "
        f"item_failures={delivery.item_failures} crashed={delivery.crashed} "
        f"dead_letters={len(delivery.dead_letters)} replayed={delivery.replayed} history_changes={changes}"
    )
    assert set(delivery.by_function) == CONSUMERS, "every stream consumer ran under the faults"
    assert injector.total > 0 and set(injector.injected) == set(PLANS[plan])
    assert delivery.item_failures + delivery.crashed > 0, "the faults made batches fail and retry"
    assert not left, "the failure queue is empty once replayed"
    assert differences(expected, found) == {}


# -- 2. poison records: the failure queue, then make replay-dlq -------------------------------------------


def poison_rules(world: fw.World) -> tuple[Callable[..., Any], dict[str, str]]:
    """Faults that do not go away by retrying: one person's colour, the case's tracing plan, one
    venue's coverage count and another's counters, the export of venues and the search for the
    travellers of a risk area. Returns the rule and the consumers expected in the failure queue."""
    person, case_id = world.people[-1], world.case_ids[0]
    counted, covered = world.venues[2], world.venues[3]
    rule = any_rule(
        targeted_rule(table="test-PersonsTable", mentioning=person, fault=Fault.PROVISIONED_THROUGHPUT),
        targeted_rule(
            table="test-CasesTable",
            mentioning=case_id,
            fault=Fault.INTERNAL,
            operations=frozenset({"TransactWriteItems", "BatchWriteItem", "UpdateItem"}),
        ),
        targeted_rule(
            table="test-StatsTable",
            mentioning=f"COVERED#{covered}",
            fault=Fault.THROTTLING,
            operations=frozenset({"TransactWriteItems"}),
        ),
        targeted_rule(
            table="test-StatsTable",
            mentioning=f"{counted}#",
            fault=Fault.CONNECTION,
            operations=frozenset({"UpdateItem", "PutItem", "TransactWriteItems"}),
        ),
        targeted_rule(service="s3", mentioning="exports/venues/", fault=Fault.THROTTLING),
        targeted_rule(
            table="test-FactsTable",
            mentioning="by_travel_region",
            fault=Fault.PROVISIONED_THROUGHPUT,
            operations=frozenset({"Query"}),
        ),
    )
    return rule, {
        "ColourFunction": person,
        "TracingFunction": case_id,
        "CoverageFunction": covered,
        "CountersFunction": counted,
        "ExportFunction": "venues",
        "RiskAreasFunction": fw.TRAVEL_REGION,
    }


def test_poison_records_reach_the_failure_queue_and_replay_to_the_same_end_state() -> None:
    """GIVEN faults that persist through every retry for one record of each consumer WHEN the
    streams are delivered THEN each consumer's failed batch ends in the StreamFailureQueue with
    Lambda's on-failure record (condition, function, DDBStreamBatchInfo: shard, first and last
    sequence number, size, stream) while everything else is done; and WHEN the cause is gone and
    the queue is replayed (make replay-dlq) THEN the end state is the fault-free one."""
    seed = 1
    expected = clean_end_state(seed)
    with fw.world_stack() as stack:
        world = fw.build_world(stack, seed)
        rule, poisoned = poison_rules(world)
        injector = FaultInjector(rule=rule)
        with install(injector):
            pump = StreamPump(stack.template, stack.clients, armed(stack, injector))
            pump.drain()
        messages = fw.failure_queue(stack)
        functions = Counter(m["requestContext"]["functionArn"].rsplit("-", 1)[-1] for m in messages)
        print(f"\nPOISON injected={dict(injector.injected)} dead_letters={dict(functions)}")
        assert set(functions) == set(poisoned)
        for message in messages:
            assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
            info = message["DDBStreamBatchInfo"]
            assert set(info) >= {
                "shardId",
                "startSequenceNumber",
                "endSequenceNumber",
                "batchSize",
                "streamArn",
            }
            assert (
                int(info["startSequenceNumber"]) <= int(info["endSequenceNumber"]) and info["batchSize"] >= 1
            )
            assert "/stream/" in info["streamArn"]
        assert fw.end_state(stack) != expected, "the poisoned records' effects are missing before the replay"

        delivery = fw.deliver(stack, None)  # the cause is gone: replay the queue, deliver what follows
        assert delivery.replayed == len(messages) and not fw.failure_queue(stack)
        assert differences(expected, fw.end_state(stack)) == {}
        fw.check_history(stack)


def armed(stack: InProcessStack, injector: FaultInjector) -> Callable[[str, dict[str, Any]], Any]:
    def invoke(function: str, event: dict[str, Any]) -> Any:
        with injector.arming():
            return stack.invoke(function, event)

    return invoke


def _scan(n: int, venue_id: str, minute: int) -> None:
    scans.put(
        scans.ScanRecord(
            scan_id=f"c-{n:032x}", person_id=f"p-{n:032x}", venue_id=venue_id, root_venue_id=venue_id,
            venue_type="mall", region_code=fw.COUNTY, kind="checkin", actor="citizen",
            at=fw.BASE + timedelta(minutes=minute), level=0, colour="green", verdict="pass", abnormal=False,
        ),
        shards=1,
        retention_days=28,
    )  # fmt: skip


def test_counters_replayed_after_later_scans_of_the_same_venue_day_count_exactly_once() -> None:
    """GIVEN three scans at a venue whose counter writes keep failing until their batch is in the
    failure queue, and two later scans of the same venue and day counted normally WHEN the queue is
    replayed THEN the venue-day counts all five scans, once each."""
    with fw.world_stack() as stack:
        clock.freeze(fw.BASE)
        venue = "v-" + "ab" * 16
        for n in range(3):
            _scan(n, venue, n)
        injector = FaultInjector(
            rule=targeted_rule(
                table="test-StatsTable", mentioning=f"{venue}#", fault=Fault.PROVISIONED_THROUGHPUT
            )
        )
        with install(injector):
            pump = StreamPump(stack.template, stack.clients, armed(stack, injector))
            pump.drain()
        assert fw.failure_queue(stack), "the counters gave up on the first three scans"
        for n in range(3, 5):
            _scan(n, venue, n)
        pump.drain()
        assert stats.venue_day(venue, "2022-05-10").scans == 2
        function_of = {stack.template.arn(name): name for name in stack.template.functions()}
        replay(
            stack.template.ref("StreamFailureQueue"),
            sqs=stack.clients["sqs"],
            streams=stack.clients["dynamodbstreams"],
            invoke=lambda arn, event: stack.invoke(function_of[arn], event),
            region=stack.template.region,
        )
        pump.drain()
        assert stats.venue_day(venue, "2022-05-10").scans == 5


def test_a_tracing_plan_replayed_after_its_tasks_ran_finishes_the_case() -> None:
    """GIVEN a case whose tracing plan wrote its tasks but could never record how many there are
    (its record ends in the failure queue) while the tasks themselves ran WHEN the plan is replayed
    THEN it leaves the tasks that ran done (it does not write them again as pending) and finishes
    the case: the end state is the fault-free one. (Found by the random fault runs: before, the
    replayed plan reset every task to pending and the case stayed pending for ever.)"""
    seed = 1
    expected = clean_end_state(seed)
    with fw.world_stack() as stack:
        world = fw.build_world(stack, seed)
        injector = FaultInjector(
            rule=targeted_rule(
                table="test-CasesTable",
                mentioning="tasks_total",
                fault=Fault.INTERNAL,
                operations=frozenset({"UpdateItem"}),
            )
        )
        with install(injector):
            pump = StreamPump(stack.template, stack.clients, armed(stack, injector))
            pump.drain()
        (message,) = fw.failure_queue(stack)
        assert message["requestContext"]["functionArn"].endswith("TracingFunction")
        case = stack.clients["dynamodb"].get_item(
            TableName="test-CasesTable", Key={"pk": {"S": world.case_ids[0]}, "sk": {"S": "CASE"}}
        )["Item"]
        assert "tasks_total" not in case and int(case["tasks_done"]["N"]) > 0, "the tasks ran unplanned"
        delivery = fw.deliver(stack, None)
        assert delivery.replayed == 1
        assert differences(expected, fw.end_state(stack)) == {}


# -- 3. concurrent colour updates to one person ------------------------------------------------------------

CONCURRENT_OPERATIONS = int(os.environ.get("FAULT_CONCURRENT_OPERATIONS", "24"))


def test_concurrent_colour_updates_to_one_person_lose_no_update() -> None:
    """GIVEN one person WHEN six threads at once write new facts (fevers, negative tests),
    renew the declaration, apply overrides and recompute the colour, each followed by a
    recomputation as the stream and the routes do, with reads slowed down (up to 10 ms) so that
    reads and writes of different threads interleave THEN no update is lost: the stored colour is the
    decision a fresh read of all the person's facts gives, and the history is one unbroken chain
    (each change starts where the one before ended, none repeated) ending at the stored colour."""
    from concurrent.futures import ThreadPoolExecutor

    from healthcode.rules import cases
    from healthcode.services import applications as application
    from healthcode.settings import policy

    with fw.world_stack() as stack:
        clock.freeze(fw.BASE)
        account = ("concurrent-citizen", ("citizen",))
        form: dict[str, Any] = {
            "name": "测试并发",
            "id_number": fw.id_number(901),
            "phone": "13900000901",
            "address": "贵州省贵阳市南明区中华南路1号",
            "region_code": fw.COUNTY,
            "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        }
        person_id = stack.call("POST", "/v1/codes", as_=account, json_body=form).json()["person_id"]
        rules = policy()
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def fever(n: int) -> None:
            at = fw.BASE - timedelta(hours=rules.fever_fact_hours) + timedelta(minutes=n)
            fact = colour.Fact(
                fact_id=f"fever#concurrent#{n}", kind=FactKind.FEVER, starts_at=at,
                expires_at=at + timedelta(hours=rules.fever_fact_hours), detail="checkpoint", recorded_at=at,
            )  # fmt: skip
            facts.save([facts.item_for(person_id, fact, recorded_at=at, source=f"scan#{n}")])
            recolour.recompute(person_id, cause="fever")

        def negative_test(n: int) -> None:
            sampled = fw.BASE - timedelta(minutes=30 + n)
            result = colour.LabResult(sampled_at=sampled, positive=False)
            facts.save(
                [facts.lab_item(person_id, f"concurrent-{n}", result, recorded_at=sampled, keep_days=30)]
            )
            recolour.recompute(person_id, cause="lab")

        def renewal(n: int) -> None:
            symptoms = ["cough"] if n % 2 else []
            body = {**form, "declaration": {**form["declaration"], "symptoms": symptoms}}
            parsed = application.parse_application(body, now=clock.now())
            application.apply(parsed, caller_sub=account[0], now=clock.now())

        def override(n: int) -> None:
            change = cases.check_override_body(
                {"colour": "yellow", "reason_code": "contact_under_review", "evidence_ref": f"GY-{n}",
                 "until": clock.show(fw.BASE + timedelta(hours=1 + n))},
                policy=rules, now=clock.now(),
            )  # fmt: skip
            overrides.request_override(
                override_id=overrides.override_id_for("official-c", f"concurrent-{n}"),
                person_id=person_id, actor="official-c", change=change, now=clock.now(),
                second_official_required=False,
            )  # fmt: skip
            recolour.recompute(person_id, cause="override")

        def just_recompute(n: int) -> None:
            recolour.recompute(person_id, cause="expiry")

        kinds = [fever, fever, negative_test, renewal, override, just_recompute]

        def run(n: int) -> None:
            operation = kinds[n % len(kinds)]
            try:
                operation(n)
                result = operation.__name__
            except persons.ChangedMeanwhile:
                result = f"{operation.__name__}: 409 concurrent_update"
            with lock:
                outcomes[result] += 1

        slow = FaultInjector(
            latency=random_latency(
                seed=5, up_to=0.01, operations=frozenset({"GetItem", "Query", "BatchGetItem"})
            )
        )
        with install(slow), slow.arming(), ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(run, range(CONCURRENT_OPERATIONS)))

        stored = persons.get(person_id, consistent=True)
        assert stored is not None
        fresh = recolour.assess(person_id, facts.state_of(person_id), at=clock.now(), policy=rules)
        print(
            f"\nCONCURRENT operations={dict(outcomes)} version={stored.version} level={stored.level} "
            f"reasons={len(stored.reasons or [])} next_change_at={stored.next_change_at}"
        )
        assert sum(outcomes.values()) == CONCURRENT_OPERATIONS
        assert (int(stored.level), stored.colour) == (int(fresh.level), fresh.colour)
        assert stored.reasons == recolour.reasons_json(fresh.reasons)
        assert stored.next_change_at == (
            base.instant_key(fresh.next_change_at) if fresh.next_change_at else None
        )
        chain = fw.history_chain(stack)[person_id]
        fw.check_history_of(person_id, chain, stored.colour)
        assert int(fresh.level) > int(RiskLevel.GREEN), (
            "the world ends non-green: the overrides and fevers held"
        )


def test_a_recompute_that_read_before_another_write_is_refused_and_done_again() -> None:
    """GIVEN a person with a fever fact WHEN one recomputation has read the person and their facts
    and, before it writes, another writes a case fact and stores red THEN the first write is
    refused (the person's version moved on), it starts again from a fresh read, and the stored
    colour is red with both reasons: the later update is not lost under the earlier one."""
    with fw.world_stack() as stack:
        clock.freeze(fw.BASE)
        account = ("stale-citizen", ("citizen",))
        form = {
            "name": "测试乙",
            "id_number": fw.id_number(902),
            "phone": "13900000902",
            "address": "贵州省贵阳市南明区中华南路1号",
            "region_code": fw.COUNTY,
            "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        }
        person_id = stack.call("POST", "/v1/codes", as_=account, json_body=form).json()["person_id"]
        start = fw.BASE - timedelta(hours=1)
        fever = colour.Fact(
            fact_id="fever#stale#1", kind=FactKind.FEVER, starts_at=start,
            expires_at=start + timedelta(hours=24), detail="checkpoint", recorded_at=start,
        )  # fmt: skip
        case = colour.Fact(
            fact_id="case#stale", kind=FactKind.CASE, starts_at=start, expires_at=None, detail="confirmed",
            recorded_at=start,
        )  # fmt: skip
        facts.save([facts.item_for(person_id, fever, recorded_at=start, source="scan#1")])
        other_may_write, stale_may_write = threading.Event(), threading.Event()
        held: list[str] = []
        refusals: list[str] = []

        def hold_the_stale_write(call: Any) -> float:
            if (
                threading.current_thread().name == "stale"
                and not held
                and call.operation in {"PutItem", "TransactWriteItems"}
                and "test-PersonsTable" in call.tables
            ):
                held.append(call.operation)
                other_may_write.set()
                assert stale_may_write.wait(10), "the other writer never finished"
            return 0.0

        real_save = persons.save

        def counting_save(person: Person, **kwargs: Any) -> Person:
            try:
                return real_save(person, **kwargs)
            except persons.ChangedMeanwhile:
                refusals.append(threading.current_thread().name)
                raise

        injector = FaultInjector(latency=hold_the_stale_write)
        persons_save = persons.save
        persons.save = counting_save
        try:
            with install(injector), injector.arming():
                stale = threading.Thread(
                    target=lambda: recolour.recompute(person_id, cause="fever"), name="stale"
                )
                stale.start()
                assert other_may_write.wait(10), "the first recomputation never got to its write"
                facts.save([facts.item_for(person_id, case, recorded_at=start, source="case-stale")])
                recolour.recompute(person_id, cause="case")
                stale_may_write.set()
                stale.join(10)
        finally:
            persons.save = persons_save
        stored = persons.get(person_id, consistent=True)
        assert stored is not None
        assert held and refusals == ["stale"], "the stale write was refused once, then done again"
        assert (stored.level, stored.colour) == (int(RiskLevel.RED), "red")
        assert {reason["fact_id"] for reason in stored.reasons or []} >= {"case#stale"}
        fw.check_history_of(person_id, fw.history_chain(stack)[person_id], "red")
