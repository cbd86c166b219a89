"""The colour consumer (FactsTable stream → recolour.recompute) and recolour itself, on moto:
stored colour kept in step, one recomputation per person per batch, failures per person, TTL
removals, idempotent redelivery, optimistic locking, risk-area changes, reads without writes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.policy import FactKind, RiskLevel
from healthcode.services import recolour
from healthcode.storage import audit, facts, persons, registers, stats
from healthcode.storage.models import Fact, Person, RiskArea

from infra.local.events import stream_record
from tests.codes_forms import adult_id, declaration, form
from tests.handlers.checkpoint_support import StreamReader, dynamodb_calls, module_stack, per_test_stack
from tests.handlers.harness import InProcessStack

# One moto stack per module (``moto_stack``): every test writes under fresh accounts and ID numbers.
__all__ = ["module_stack", "per_test_stack"]


def start_clock() -> datetime:
    t0 = (clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    clock.freeze(t0)
    return t0


def new_person(stack: InProcessStack, **declared: Any) -> str:
    who = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    answer = stack.call(
        "POST", "/v1/codes", as_=who, json_body=form(adult_id(), declaration=declaration(**declared))
    )
    assert answer.status == 201, answer.body
    return str(answer.json()["person_id"])


def add_fact(person_id: str, kind: FactKind, *, days: int | None = 14, fact_id: str | None = None) -> str:
    now = clock.now()
    fact = colour.Fact(
        fact_id=fact_id or f"{kind}#{uuid.uuid4().hex[:8]}",
        kind=kind,
        starts_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    facts.save([facts.item_for(person_id, fact, recorded_at=now)])
    return fact.fact_id


def history(person_id: str) -> list[tuple[str | None, str, str]]:
    entries = audit.entries(audit.person_subject(person_id), kinds=frozenset({recolour.HISTORY_KIND}))
    return [(e.details["from"], e.details["to"], e.details["cause"]) for e in entries]


def stored(person_id: str) -> Any:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return person


def stored_item(person_id: str) -> Person:
    """The stored item itself, to edit behind the services' back."""
    return Person.get(person_id, consistent_read=True)


def facts_stream(stack: InProcessStack) -> StreamReader:
    reader = StreamReader(stack, stack.template.physical_name("FactsTable"))
    reader.read()  # start after what earlier tests wrote
    return reader


def deliver(stack: InProcessStack, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = stack.invoke("ColourFunction", {"Records": records})
    return answer


def failed(answer: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


# -- the consumer ----------------------------------------------------------------------------------


def test_a_case_written_as_a_fact_turns_the_stored_colour_red(moto_stack: InProcessStack) -> None:
    # GIVEN a green person and the stream of facts
    person_id = new_person(moto_stack)
    stream = facts_stream(moto_stack)
    # WHEN officials write a case fact and the consumer gets the record
    add_fact(person_id, FactKind.CASE, days=None)
    records = stream.read()
    answer = deliver(moto_stack, records)
    # THEN no failures, the stored colour is red with its reason, and the change is in the history
    assert failed(answer) == []
    person = stored(person_id)
    assert (person.colour, person.level) == ("red", 2)
    assert [r["code"] for r in person.reasons] == ["case"]
    assert history(person_id) == [(None, "green", "application"), ("green", "red", "case")]
    # WHEN the same records are delivered again THEN nothing changes (idempotent)
    version = person.version
    assert failed(deliver(moto_stack, records)) == []
    assert stored(person_id).version == version
    assert len(history(person_id)) == 2


def test_each_person_is_recomputed_once_per_batch(moto_stack: InProcessStack, monkeypatch: Any) -> None:
    # GIVEN two people with three new facts each in one batch
    first, second = new_person(moto_stack), new_person(moto_stack)
    stream = facts_stream(moto_stack)
    for person_id in (first, second):
        add_fact(person_id, FactKind.FEVER)
        add_fact(person_id, FactKind.SECONDARY_CONTACT)
        add_fact(person_id, FactKind.CLOSE_CONTACT)
    records = stream.read()
    assert len(records) == 6
    calls: list[dict[str, str]] = []
    reads: list[str] = []
    real, real_state = recolour.recompute_many, facts.state_of

    def counted(causes: dict[str, str], **kwargs: Any) -> Any:
        calls.append(dict(causes))
        return real(causes, **kwargs)

    def read(person_id: str, **kwargs: Any) -> Any:
        reads.append(person_id)
        return real_state(person_id, **kwargs)

    monkeypatch.setattr(recolour, "recompute_many", counted)
    monkeypatch.setattr(facts, "state_of", read)
    # WHEN the batch is delivered
    assert failed(deliver(moto_stack, records)) == []
    # THEN each person was recomputed once, with every cause the batch held for them
    cause = "close_contact,fever,secondary_contact"
    assert calls == [{first: cause, second: cause}]
    assert sorted(reads) == sorted([first, second])
    assert stored(first).colour == stored(second).colour == "red"
    assert history(first)[-1] == ("green", "red", cause)


def test_a_failing_person_fails_only_their_records(moto_stack: InProcessStack, monkeypatch: Any) -> None:
    # GIVEN a batch with facts of two people, one of whom cannot be recomputed
    healthy, broken = new_person(moto_stack), new_person(moto_stack)
    stream = facts_stream(moto_stack)
    add_fact(broken, FactKind.CASE)
    add_fact(healthy, FactKind.CASE)
    add_fact(broken, FactKind.FEVER)
    records = stream.read()
    real = facts.state_of

    def flaky(person_id: str, **kwargs: Any) -> Any:
        if person_id == broken:
            raise TimeoutError("DynamoDB did not answer")
        return real(person_id, **kwargs)

    monkeypatch.setattr(facts, "state_of", flaky)
    # WHEN it is delivered THEN exactly the broken person's records are reported failed
    answer = deliver(moto_stack, records)
    broken_records = [
        r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["person_id"]["S"] == broken
    ]
    assert sorted(failed(answer)) == sorted(broken_records) and len(broken_records) == 2
    assert stored(healthy).colour == "red" and stored(broken).colour == "green"


def test_a_fact_removed_by_ttl_recomputes_with_cause_expiry(moto_stack: InProcessStack) -> None:
    # GIVEN a person yellow for a fever fact which expires, and which TTL removes later still
    start_clock()
    person_id = new_person(moto_stack)
    fact_id = add_fact(person_id, FactKind.FEVER, days=1)
    recolour.recompute(person_id, cause="fever")
    assert stored(person_id).colour == "yellow"
    stream = facts_stream(moto_stack)
    clock.advance(2 * 86400)
    table = moto_stack.template.physical_name("FactsTable")
    moto_stack.clients["dynamodb"].delete_item(
        TableName=table, Key={"person_id": {"S": person_id}, "fact_id": {"S": fact_id}}
    )
    # WHEN the REMOVE record arrives as DynamoDB's TTL writes it (userIdentity: the service)
    arn = moto_stack.clients["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (raw,) = [r for r in stream.read() if r["eventName"] == "REMOVE"]
    ttl_record = stream_record(
        {k: raw[k] for k in ("eventID", "eventName", "eventVersion", "dynamodb")},
        stream_arn=arn,
        region="cn-north-1",
        ttl_delete=True,
    )
    assert failed(deliver(moto_stack, [ttl_record])) == []
    # THEN the person is green again, the change put down to expiry
    assert stored(person_id).colour == "green"
    assert history(person_id)[-1] == ("yellow", "green", "expiry")


def test_records_of_unknown_people_succeed_and_write_nothing(moto_stack: InProcessStack) -> None:
    # GIVEN facts under a person id that has no person (an application that failed half-way)
    stream = facts_stream(moto_stack)
    orphan = persons.new_person_id()
    add_fact(orphan, FactKind.SYMPTOMS)
    # WHEN delivered THEN no failure and no person appears
    assert failed(deliver(moto_stack, stream.read())) == []
    assert persons.get(orphan) is None
    assert recolour.recompute(orphan, cause="symptoms") is None


# -- recompute, current ----------------------------------------------------------------------------


def test_recompute_starts_again_when_someone_wrote_meanwhile(
    moto_stack: InProcessStack, monkeypatch: Any
) -> None:
    # GIVEN a person, and another writer who changes the person between our read and our write
    person_id = new_person(moto_stack)
    add_fact(person_id, FactKind.CLOSE_CONTACT)
    real_state_of = facts.state_of
    reads: list[str] = []

    def state_with_a_concurrent_write(pid: str, **kwargs: Any) -> facts.PersonState:
        reads.append(pid)
        if len(reads) == 1:
            other = stored_item(pid)
            other.paper_code_id = "jti-from-another-request"
            persons.save(other)
        return real_state_of(pid, **kwargs)

    monkeypatch.setattr(facts, "state_of", state_with_a_concurrent_write)
    # WHEN the colour is recomputed
    decision = recolour.recompute(person_id, cause="close_contact")
    # THEN it read twice, kept the other writer's change, and logged the change once
    assert decision is not None and decision.colour == "red"
    assert len(reads) == 2
    person = stored(person_id)
    assert (person.colour, person.paper_code_id) == ("red", "jti-from-another-request")
    assert history(person_id)[-1] == ("green", "red", "close_contact")
    assert len(history(person_id)) == 2


def test_a_stale_copy_is_never_saved_over_a_newer_one(moto_stack: InProcessStack) -> None:
    # GIVEN two copies of a person read at the same version
    person_id = new_person(moto_stack)
    first, second = stored_item(person_id), stored_item(person_id)
    first.paper_code_id = "a"
    persons.save(first)
    # WHEN the stale copy is saved THEN 409 concurrent_update, and the first write stands
    second.paper_code_id = "b"
    with pytest.raises(persons.ChangedMeanwhile) as caught:
        persons.save(second)
    assert (caught.value.status, caught.value.code) == (409, "concurrent_update")
    assert stored(person_id).paper_code_id == "a"


def test_a_delayed_recompute_does_not_overwrite_a_newer_decision(moto_stack: InProcessStack) -> None:
    # GIVEN a colour decided now
    t0 = start_clock()
    person_id = new_person(moto_stack)
    add_fact(person_id, FactKind.CASE)
    recolour.recompute(person_id, cause="case")
    version = stored(person_id).version
    # WHEN a delayed caller recomputes for an earlier instant THEN nothing is written
    recolour.recompute(person_id, now=t0 - timedelta(minutes=5), cause="late")
    assert stored(person_id).version == version


def test_current_reads_nothing_while_the_stored_colour_holds(moto_stack: InProcessStack) -> None:
    # GIVEN a person yellow for 14 days from T0 (declared symptoms)
    t0 = start_clock()
    person_id = new_person(moto_stack, symptoms=["cough"])
    person = stored(person_id)
    # WHEN the colour is asked for during those days THEN no DynamoDB call, the stored decision
    with dynamodb_calls() as log:
        decision = recolour.current(person, now=t0 + timedelta(days=13))
    assert log.calls == []
    assert (decision.colour, decision.level, [r.code for r in decision.reasons]) == (
        "yellow",
        RiskLevel.YELLOW,
        ["symptoms"],
    )
    assert decision.next_change_at == t0 + timedelta(days=14)
    # WHEN asked after the stored next change THEN the facts are read (one Query) and nothing is written
    with dynamodb_calls() as log:
        later = recolour.current(person, now=t0 + timedelta(days=14))
    assert log.calls == ["Query"]
    assert (later.colour, later.next_change_at) == ("green", None)
    assert stored(person_id).colour == "yellow"


def test_a_risk_area_change_recolours_travellers(moto_stack: InProcessStack) -> None:
    # GIVEN a person back from Wuchang (420106) two days ago, while it was not a risk area
    start_clock()
    left = clock.show(clock.now() - timedelta(days=2))
    person_id = new_person(moto_stack, travel=[{"region_code": "420106", "left_at": left}])
    assert stored(person_id).colour == "green"
    # WHEN officials make the whole of Wuhan (420100) high risk, and the risk-area consumer
    # finds the traveller through index by_travel_region and recomputes
    RiskArea("420100", level="high", updated_at=clock.now(), updated_by="official-1").save()
    found = {item.person_id for item in Fact.by_travel_region.query("420106")}
    assert person_id in found
    with dynamodb_calls() as log:
        decision = recolour.recompute(person_id, cause="risk_area")
    # THEN they are red for high-risk travel until 14 days after leaving, the change in the history
    assert decision is not None and decision.colour == "red"
    assert [r.code for r in decision.reasons] == ["high_risk_travel"]
    assert decision.next_change_at == clock.parse_instant(left) + timedelta(days=14)
    assert history(person_id)[-1] == ("green", "red", "risk_area")
    # AND it cost a GetItem, a Query, one BatchGetItem of the areas and one transaction
    assert log.calls == ["GetItem", "Query", "BatchGetItem", "TransactWriteItems"]


# -- many people at once ---------------------------------------------------------------------------


def test_a_batch_of_people_is_written_in_few_calls(moto_stack: InProcessStack) -> None:
    # GIVEN sixty people, each with a new close-contact fact
    people = [new_person(moto_stack) for _ in range(60)]
    for person_id in people:
        add_fact(person_id, FactKind.CLOSE_CONTACT)
    # WHEN their colours are recomputed together
    with dynamodb_calls() as log:
        outcomes = recolour.recompute_many(dict.fromkeys(people, "close_contact"))
    # THEN all are red with their history entry, written two transactions (a person and their
    # entry are two items: fifty people a transaction), read in one BatchGetItem, a Query each
    assert outcomes == dict.fromkeys(people, None)
    assert all(stored(p).colour == "red" for p in people)
    assert all(history(p)[-1] == ("green", "red", "close_contact") for p in people)
    assert log.calls.count("TransactWriteItems") == 2
    assert log.calls.count("BatchGetItem") == 1
    assert log.calls.count("Query") == 60
    assert log.calls.count("GetItem") == 0 and log.calls.count("PutItem") == 0
    # AND recomputing again changes nothing and writes nothing
    versions = {p: stored(p).version for p in people}
    with dynamodb_calls() as log:
        assert recolour.recompute_many(dict.fromkeys(people, "close_contact")) == dict.fromkeys(people, None)
    assert "TransactWriteItems" not in log.calls
    assert {p: stored(p).version for p in people} == versions


def test_a_person_written_meanwhile_is_recomputed_alone(moto_stack: InProcessStack, monkeypatch: Any) -> None:
    # GIVEN three people with a new fact, one of whom another request writes between the batch's
    # read and its write
    people = [new_person(moto_stack) for _ in range(3)]
    for person_id in people:
        add_fact(person_id, FactKind.CLOSE_CONTACT)
    busy = people[1]
    real_state_of = facts.state_of
    written: list[str] = []

    def state_with_a_concurrent_write(pid: str, **kwargs: Any) -> facts.PersonState:
        if pid == busy and not written:
            written.append(pid)
            other = stored_item(pid)
            other.paper_code_id = "jti-from-another-request"
            persons.save(other)
        return real_state_of(pid, **kwargs)

    monkeypatch.setattr(facts, "state_of", state_with_a_concurrent_write)
    # WHEN their colours are recomputed together
    with dynamodb_calls() as log:
        outcomes = recolour.recompute_many(dict.fromkeys(people, "close_contact"))
    # THEN the transaction refused only the busy person: the others went again without them,
    # and the busy one was read afresh and written alone, keeping the other request's change
    assert outcomes == dict.fromkeys(people, None)
    assert all(stored(p).colour == "red" for p in people)
    assert stored(busy).paper_code_id == "jti-from-another-request"
    assert all(len(history(p)) == 2 for p in people)
    assert log.calls.count("TransactWriteItems") == 3


def test_timeliness_counters_are_added_once_per_counter_item(moto_stack: InProcessStack) -> None:
    # GIVEN forty people of one county, each turned red by a close-contact fact learned at T0
    t0 = start_clock()
    people = [new_person(moto_stack) for _ in range(40)]
    for person_id in people:
        add_fact(person_id, FactKind.CLOSE_CONTACT)
    region = stored(people[0]).region_code
    day = stats.day_of(t0)
    before = registers.indicator_counters(region, day, day).timeliness.get("close_contact", {})
    # WHEN recomputed together at T0
    with dynamodb_calls() as log:
        recolour.recompute_many(dict.fromkeys(people, "close_contact"), now=t0)
    # THEN the counters took one ADD per level (county, prefecture, province), not one per
    # person and level, and counted every change
    assert log.calls.count("UpdateItem") == 3
    after = registers.indicator_counters(region, day, day).timeliness["close_contact"]
    assert after.get(0, 0) - before.get(0, 0) == 40
