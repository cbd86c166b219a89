"""The expiry schedule (functions/expiry): stored colours and history follow facts that run out,
missed runs are caught up, and a run short of time leaves the rest for the next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import colour
from healthcode.rules.policy import FactKind
from healthcode.storage import audit, facts, persons

from infra.local.stack import LambdaContext, scheduled_event
from tests.handlers import epidemiology as epi
from tests.handlers.harness import InProcessStack

NOW = epi.BASE + timedelta(days=2)


@pytest.fixture
def stack(aws_stack: InProcessStack) -> InProcessStack:
    clock.freeze(NOW)
    return aws_stack


def exposed(kind: FactKind, ends_in: timedelta) -> str:
    """A person with one exposure fact that stops counting ``ends_in`` from now."""
    person_id, _ = epi.person()
    fact = colour.Fact(f"exposure#case-x#{person_id[-8:]}", kind, NOW - timedelta(days=1), NOW + ends_in)
    facts.save([facts.item_for(person_id, fact, recorded_at=NOW - timedelta(days=1))])
    return person_id


def stored(person_id: str) -> tuple[str, str | None]:
    person = persons.get(person_id, consistent=True)
    assert person is not None
    return str(person.colour), person.next_change_at


def run_expiry(stack: InProcessStack, context: Any = None) -> Any:
    event = scheduled_event("cn-north-1", "ExpiryFunction.Every5Minutes", clock.now())
    return stack.handler("ExpiryFunction")(
        event, context or LambdaContext("ExpiryFunction", "arn:x", 512, 120)
    )


def test_stored_colours_follow_expiry_and_missed_runs_catch_up(stack: InProcessStack) -> None:
    """GIVEN a secondary contact whose observation ends in an hour and a close contact whose
    quarantine ends in three days WHEN the schedule runs after the first end THEN only the
    first is rewritten green (history: cause expiry); WHEN runs were missed for hours past the
    second end THEN the next run still rewrites it."""
    secondary = exposed(FactKind.SECONDARY_CONTACT, timedelta(hours=1))
    close = exposed(FactKind.CLOSE_CONTACT, timedelta(days=3))
    epi.pump(stack).drain()
    assert stored(secondary)[0] == "yellow" and stored(close)[0] == "red"

    clock.advance(2 * 3600)
    assert run_expiry(stack) == {"recomputed": 1, "stopped_early": False}
    assert stored(secondary) == ("green", None)
    assert stored(close)[0] == "red"
    change = [e for e in audit.entries(audit.person_subject(secondary)) if e.kind == "colour_change"][-1]
    assert (change.details["to"], change.details["cause"]) == ("green", "expiry")

    clock.advance(3 * 86400 + 20 * 3600)  # the runs around the end were missed
    assert run_expiry(stack)["recomputed"] == 1
    assert stored(close) == ("green", None)
    assert run_expiry(stack)["recomputed"] == 0  # nothing left due


class Spent(LambdaContext):
    """Two minutes when the run starts, one second by the time it reaches the first person."""

    calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 120_000 if self.calls == 1 else 1_000


def test_a_run_short_of_time_leaves_the_rest_due(stack: InProcessStack) -> None:
    """GIVEN a due person and a run with no time left THEN nobody is recomputed and the person
    stays due for the next run."""
    person_id = exposed(FactKind.SECONDARY_CONTACT, timedelta(minutes=30))
    epi.pump(stack).drain()
    clock.advance(3600)
    assert run_expiry(stack, Spent("ExpiryFunction", "arn:x", 512, 120)) == {
        "recomputed": 0,
        "stopped_early": True,
    }
    assert stored(person_id)[0] == "yellow"
    assert run_expiry(stack)["recomputed"] == 1
    assert stored(person_id)[0] == "green"
