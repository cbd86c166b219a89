"""Per-account limits on the abuse-prone routes (policy, docs/policies.md), on moto: past one a
route answers 429 rate_limited with Retry-After and writes nothing; bad input is refused before
any count; another account, or the next window, is not affected."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.rules.policy import load_policy
from healthcode.storage import limits

from tests.codes_forms import adult_id, child_id, declaration, form
from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    SCANNER,
    assign,
    make_venue,
    module_stack,
    new_id_number,
    per_test_stack,
)
from tests.handlers.harness import Answer, InProcessStack

# 10:30 in Beijing: 30 minutes left in the hour, 13.5 hours in the day
NOW = datetime(2022, 5, 18, 2, 30, tzinfo=UTC)


@pytest.fixture
def stack(moto_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch) -> InProcessStack:
    clock.freeze(NOW)
    changed = dataclasses.replace(
        load_policy("520000"),
        applications_per_day_limit=2,
        appeals_per_day_limit=2,
        link_codes_per_hour_limit=2,
        manual_registrations_per_hour_limit=2,
        official_writes_per_hour_limit=2,
    )
    monkeypatch.setattr(settings, "load_policy", lambda _code: changed)
    return moto_stack


def citizen() -> tuple[str, list[str]]:
    return (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])


def official() -> tuple[str, list[str]]:
    return (f"official-{uuid.uuid4().hex[:8]}", ["official"])


def refused(answer: Answer, *, seconds: int) -> bool:
    return (
        answer.status == 429
        and answer.error_code == "rate_limited"
        and answer.headers.get("retry-after") == str(seconds)
    )


HOUR_LEFT = 30 * 60
DAY_LEFT = 13 * 3600 + 30 * 60


def test_applications_per_account_per_day(stack: InProcessStack) -> None:
    owner = citizen()
    assert stack.call("POST", "/v1/codes", as_=owner, json_body=form(adult_id())).status == 201
    assert stack.call("POST", "/v1/codes", as_=owner, json_body={"name": "x"}).status == 422  # not counted
    child = form(child_id(), dependant=True, name="张小宝")
    assert stack.call("POST", "/v1/codes", as_=owner, json_body=child).status == 201
    third = stack.call("POST", "/v1/codes", as_=owner, json_body=form(child_id(), dependant=True))
    assert refused(third, seconds=DAY_LEFT)
    assert len(stack.call("GET", "/v1/codes", as_=owner).json()["codes"]) == 2  # nothing written
    assert stack.call("POST", "/v1/codes", as_=citizen(), json_body=form(adult_id())).status == 201
    clock.freeze(NOW + timedelta(days=1))
    assert (
        stack.call("POST", "/v1/codes", as_=owner, json_body=form(child_id(), dependant=True)).status == 201
    )


def test_link_codes_per_account_per_hour(stack: InProcessStack) -> None:
    owner = citizen()
    person_id = stack.call("POST", "/v1/codes", as_=owner, json_body=form(adult_id())).json()["person_id"]
    for _ in range(2):
        assert stack.call("POST", f"/v1/codes/{person_id}/links", as_=owner).status in (200, 201)
    assert refused(stack.call("POST", f"/v1/codes/{person_id}/links", as_=owner), seconds=HOUR_LEFT)
    # a stranger's attempt is 404 before any count: it cannot use up the owner's budget
    assert stack.call("POST", f"/v1/codes/{person_id}/links", as_=citizen()).status == 404
    clock.freeze(NOW + timedelta(minutes=31))
    assert stack.call("POST", f"/v1/codes/{person_id}/links", as_=owner).status in (200, 201)


def test_appeals_per_account_per_day(stack: InProcessStack) -> None:
    owner = citizen()
    body = form(adult_id(), declaration=declaration(contact_with_case=True))
    person_id = stack.call("POST", "/v1/codes", as_=owner, json_body=body).json()["person_id"]
    path = f"/v1/codes/{person_id}/appeals"
    assert (
        stack.call(
            "POST", path, as_=owner, json_body={"reason": "a"}, headers={"Idempotency-Key": "k"}
        ).status
        == 201
    )
    # a retry of a filed appeal is not a new one
    assert (
        stack.call(
            "POST", path, as_=owner, json_body={"reason": "a"}, headers={"Idempotency-Key": "k"}
        ).status
        == 201
    )
    assert stack.call("POST", path, as_=owner, json_body={"reason": ""}).status == 422
    assert stack.call("POST", path, as_=owner, json_body={"reason": "b"}).status == 201
    assert refused(stack.call("POST", path, as_=owner, json_body={"reason": "c"}), seconds=DAY_LEFT)
    assert limits.used("appeals", owner[0], window_seconds=limits.DAY, now=NOW) == 2


def test_an_officials_writes_share_one_hourly_budget(stack: InProcessStack) -> None:
    writer = official()
    assert stack.call("PUT", "/v1/risk-areas/520102", as_=writer, json_body={"level": "bogus"}).status == 422
    assert stack.call("PUT", "/v1/risk-areas/520102", as_=writer, json_body={"level": "medium"}).status in (
        200,
        202,
    )
    lab = {
        "results": [
            {
                "id_number": adult_id(),
                "lab_id": "L-1",
                "sampled_at": "2022-05-18T09:00:00+08:00",
                "positive": False,
            }
        ]
    }
    assert stack.call("POST", "/v1/lab-results", as_=writer, json_body=lab).status < 300
    # the third write of any kind is refused, and writes nothing
    case = {"id_number": adult_id(), "status": "confirmed", "diagnosed_at": "2022-05-18T09:00:00+08:00"}
    assert refused(stack.call("POST", "/v1/cases", as_=writer, json_body=case), seconds=HOUR_LEFT)
    assert refused(
        stack.call("PUT", "/v1/risk-areas/520103", as_=writer, json_body={"level": "medium"}),
        seconds=HOUR_LEFT,
    )
    assert stack.call("GET", "/v1/risk-areas/520103", as_=writer).json()["level"] == "low"
    assert stack.call(
        "PUT", "/v1/risk-areas/520103", as_=official(), json_body={"level": "medium"}
    ).status in (
        200,
        202,
    )


def test_manual_registrations_per_scanner_per_hour(stack: InProcessStack) -> None:
    venue = make_venue()
    scanner = (f"scanner-{uuid.uuid4().hex[:8]}", ["scanner"])
    assign(venue.venue_id, scanner[0])  # the venue is staffed by SCANNER and ``scanner``

    def body(**changes: Any) -> dict[str, Any]:
        return {
            "name": "李四",
            "id_number": new_id_number(),
            "temperature": 36.5,
            "checkpoint_id": venue.venue_id,
            **changes,
        }

    assert (
        stack.call("POST", "/v1/manual-registrations", as_=scanner, json_body=body(temperature="hot")).status
        == 422
    )
    for _ in range(2):
        assert stack.call("POST", "/v1/manual-registrations", as_=scanner, json_body=body()).status == 201
    assert refused(
        stack.call("POST", "/v1/manual-registrations", as_=scanner, json_body=body()), seconds=HOUR_LEFT
    )
    # the venue's other scanner has a budget of its own
    assert stack.call("POST", "/v1/manual-registrations", as_=SCANNER, json_body=body()).status == 201
