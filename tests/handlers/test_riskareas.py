"""Risk areas (PUT /v1/risk-areas and the RiskAreasTable consumer, functions/riskareas): people
whose declared travel a changed area covers are recoloured, up and down, found through the
travel index — never a scan — and large changes carry on through sweep items."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import colour
from healthcode.services import recolour, riskareas
from healthcode.storage import facts, persons
from healthcode.storage.models import RiskArea

from infra.local.stack import LambdaContext
from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

NOW = epi.BASE + timedelta(days=1)


@pytest.fixture
def stack(aws_stack: InProcessStack) -> InProcessStack:
    clock.freeze(NOW)
    return aws_stack


@pytest.fixture
def swept(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Persons the risk-area consumer recomputed (the colour consumer's calls not counted)."""
    calls: list[str] = []
    real = recolour.recompute

    def recording(person_id: str, **kwargs: Any) -> Any:
        if kwargs.get("cause") == "risk_area":
            calls.append(person_id)
        return real(person_id, **kwargs)

    monkeypatch.setattr(recolour, "recompute", recording)
    return calls


def traveller(region: str, days_ago: float) -> str:
    person_id, _ = epi.person()
    trip = colour.Travel(region_code=region, left_at=NOW - timedelta(days=days_ago))
    facts.save([facts.travel_item(person_id, trip, recorded_at=NOW, keep_days=30)])
    return person_id


def colours(*people: str) -> list[str]:
    found = []
    for person_id in people:
        person = persons.get(person_id, consistent=True)
        assert person is not None
        found.append(str(person.colour))
    return found


def set_level(stack: InProcessStack, region: str, level: str) -> None:
    """Set a level; a wide area or a lowering waits for a second official, who approves it."""
    answer = stack.call("PUT", f"/v1/risk-areas/{region}", as_=epi.OFFICIAL, json_body={"level": level})
    if answer.status == 202:
        assert answer.json()["status"] == "pending_approval"
        request_id = answer.json()["request_id"]
        answer = stack.call("POST", f"/v1/overrides/{request_id}/approve", as_=epi.SECOND_OFFICIAL)
        assert answer.status == 200 and answer.json()["status"] == "applied", answer.body
        return
    assert answer.status == 200, answer.body


def test_levels_raise_and_lower_the_colours_they_cause(stack: InProcessStack, swept: list[str]) -> None:
    """GIVEN trips to Nanming (520102) and Yunyan (520103) three days ago, to Nanming three weeks
    ago and to Chengdu WHEN levels are set on Nanming, on Guiyang (520100) and on Guizhou
    (520000), raised and lowered THEN each traveller's colour follows the most specific level
    covering their trip, a stale trip and an unchanged level recolour nobody."""
    nanming, yunyan = traveller("520102", 3), traveller("520103", 3)
    stale, chengdu, zunyi = traveller("520102", 21), traveller("510104", 2), traveller("520302", 1)
    pump = epi.pump(stack)
    pump.drain()
    everyone = (nanming, yunyan, stale, chengdu, zunyi)
    assert colours(*everyone) == ["green"] * 5

    steps = [
        ("520102", "high", ["red", "green", "green", "green", "green"]),
        (
            "520100",
            "medium",
            ["red", "yellow", "green", "green", "green"],
        ),  # a prefecture covers its districts
        ("520102", "low", ["green", "yellow", "green", "green", "green"]),  # the most specific level wins
        ("520100", "low", ["green", "green", "green", "green", "green"]),
        # a province covers every code in it, except where a more specific level is set (low here)
        ("520000", "high", ["green", "green", "green", "green", "red"]),
        ("520000", "medium", ["green", "green", "green", "green", "yellow"]),
    ]
    for region, level, expected in steps:
        set_level(stack, region, level)
        pump.drain()
        assert colours(*everyone) == expected, (region, level)
    assert stale not in swept and chengdu not in swept
    before = len(swept)
    set_level(stack, "520000", "medium")  # the same level again
    pump.drain()
    assert len(swept) == before


class ShortOfTime(LambdaContext):
    def __init__(self) -> None:
        super().__init__("RiskAreasFunction", "arn:RiskAreasFunction", 512, 60)
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 60_000 if self.calls <= 2 else 1_000


def test_a_large_change_carries_on_through_sweep_items(
    stack: InProcessStack, swept: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN five travellers to Guiyang districts, trips read one per page, and invocations that
    run out of time after one page WHEN Guiyang turns high THEN the change hands over through
    sweep items until everyone is red, each recomputed once."""
    monkeypatch.setattr(riskareas, "TRIP_PAGE_SIZE", 1)
    people = [traveller(region, 1) for region in ("520102", "520103", "520111", "520102", "520115")]

    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function == "RiskAreasFunction":
            return stack.handler(function)(event, ShortOfTime())
        return stack.invoke(function, event)

    pump = epi.pump(stack, invoke)
    pump.drain()
    set_level(stack, "520100", "high")
    pump.drain()
    assert colours(*people) == ["red"] * 5
    assert sorted(swept) == sorted(people)
    sweeps = [
        raw["region_code"]["S"]
        for raw in stack.clients["dynamodb"].query(
            TableName=RiskArea.Meta.table_name,
            KeyConditionExpression="region_code = :k",
            ExpressionAttributeValues={":k": {"S": "sweep#520100#v1#00001"}},
        )["Items"]
    ]
    assert sweeps == ["sweep#520100#v1#00001"]


def test_malformed_records_reach_the_failure_queue(stack: InProcessStack) -> None:
    """GIVEN an item that is neither an area nor a sweep, and a damaged sweep item WHEN the
    stream is pumped THEN both end in the StreamFailureQueue after their retries."""
    table = RiskArea.Meta.table_name
    client = stack.clients["dynamodb"]
    client.put_item(TableName=table, Item={"region_code": {"S": "guiyang"}, "level": {"S": "high"}})
    client.put_item(
        TableName=table, Item={"region_code": {"S": "sweep#520100#v1#00001"}, "sweep": {"S": "{}"}}
    )
    epi.pump(stack, only=frozenset({"RiskAreasFunction"})).drain()
    url = stack.template.ref("StreamFailureQueue")
    messages = stack.clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert messages
    for message in messages:
        body = json.loads(message["Body"])
        assert body["requestContext"]["functionArn"].endswith("RiskAreasFunction")
        assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
