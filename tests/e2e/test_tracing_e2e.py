"""Contact tracing end to end over HTTP on a Guizhou stack of its own (its clock is moved):
families check in at a mall's restaurant and supermarket and at another shop, one person is
confirmed a day later, and the colours follow the tracing rule (docs/api.md) — now, once observation has ended
and once quarantine has ended — in what the codes show and in the stored history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from healthcode import clock
from healthcode.rules import idcard

from tests.e2e.stack import Stack, running_stack

OFFICIAL = ("e2e-tracer", ["official"])
COUNTY, LAT, LNG, ADDRESS = "520102", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路1号"
_sequence = iter(range(100, 1000))


@pytest.fixture(scope="module")
def own() -> Iterator[Stack]:
    with running_stack("520000") as started:
        yield started


@pytest.fixture(scope="module")
def t0(own: Stack) -> datetime:
    """The next whole hour on the stack's clock (signing keys exist from now on: the clock only
    moves forward)."""
    now = clock.parse_instant(own.clock(advance_seconds=0))
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def account(role: str) -> tuple[str, list[str]]:
    return (f"e2e-{role}-{uuid.uuid4().hex[:8]}", [role])


def apply(stack: Stack, who: tuple[str, list[str]], *, dependant: bool) -> str:
    first17 = f"{COUNTY}{'20150601' if dependant else '19850301'}{next(_sequence):03d}"
    body = {
        "name": "王小红" if dependant else "王建华",
        "id_number": first17 + idcard.check_character(first17),
        "phone": "13800000000",
        "address": ADDRESS,
        "region_code": COUNTY,
        "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        "dependant": dependant,
    }
    answer = stack.call("POST", "/v1/codes", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["person_id"])


def family(stack: Stack, size: int) -> tuple[tuple[str, list[str]], list[str]]:
    """An account with its own code and ``size - 1`` dependants (they check in together)."""
    who = account("citizen")
    return who, [apply(stack, who, dependant=False)] + [
        apply(stack, who, dependant=True) for _ in range(size - 1)
    ]


def register(
    stack: Stack, who: tuple[str, list[str]], venue_type: str, parent: str | None = None
) -> dict[str, Any]:
    body = {
        "name": f"{venue_type} {uuid.uuid4().hex[:4]}",
        "type": venue_type,
        "subject_name": "贵阳星力百货集团有限公司",
        "credential_type": "uscc",
        "credential_number": "91330100799655058B",
        "region_code": COUNTY,
        "location": {"lat": LAT, "lng": LNG},
        "address": ADDRESS,
        "manager_phone": "13900000000",
    }
    if parent:
        body["parent_venue_id"] = parent
    answer = stack.call("POST", "/v1/venues", as_=who, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def check_in(
    stack: Stack, who: tuple[str, list[str]], venue: dict[str, Any], people: list[str], at: datetime
) -> None:
    stack.clock(now=at.isoformat())
    body = {
        "venue_code": venue["code"],
        "person_id": people[0],
        "companions": people[1:],
        "location": {"lat": LAT + 0.001, "lng": LNG},
    }
    answer = stack.call("POST", "/v1/checkins", as_=who, json=body)
    assert answer.status_code == 201, answer.text


def colours(stack: Stack, who: tuple[str, list[str]]) -> set[str]:
    answer = stack.call("GET", "/v1/codes", as_=who)
    assert answer.status_code == 200, answer.text
    return {code["colour"] for code in answer.json()["codes"]}


def test_colours_now_after_observation_and_after_quarantine(own: Stack, t0: datetime) -> None:
    # GIVEN a mall (restaurant and supermarket inside) and a shop elsewhere
    manager = account("venue_manager")
    mall = register(own, manager, "mall")
    restaurant = register(own, manager, "restaurant", parent=mall["venue_id"])
    supermarket = register(own, manager, "supermarket", parent=mall["venue_id"])
    shop = register(own, manager, "pharmacy")
    case_account, (case_person,) = family(own, 1)
    close = [family(own, 10), family(own, 10)]
    secondary_same = family(own, 10)  # at the restaurant, overlapping the case by 10 minutes
    secondary_complex = family(own, 10)  # at the supermarket of the same mall
    elsewhere = family(own, 10)  # at the shop: no contact

    # WHEN they check in: the case at 10:00 at the restaurant (90-minute dwell), the others around
    check_in(own, case_account, restaurant, [case_person], t0)
    check_in(own, close[0][0], restaurant, close[0][1], t0 + timedelta(minutes=5))
    check_in(own, close[1][0], restaurant, close[1][1], t0 + timedelta(minutes=60))
    check_in(own, secondary_same[0], restaurant, secondary_same[1], t0 + timedelta(minutes=80))
    check_in(own, secondary_complex[0], supermarket, secondary_complex[1], t0 + timedelta(minutes=30))
    check_in(own, elsewhere[0], shop, elsewhere[1], t0 + timedelta(minutes=10))
    # AND the next day an official confirms the case
    diagnosed = t0 + timedelta(days=1)
    own.clock(now=diagnosed.isoformat())
    reported = own.call(
        "POST",
        "/v1/cases",
        as_=OFFICIAL,
        json={"person_id": case_person, "status": "confirmed", "diagnosed_at": diagnosed.isoformat()},
    )
    assert reported.status_code == 202, reported.text
    assert (reported.json()["colour"], reported.json()["risk_level"]) == ("red", 2)  # at once
    case_id = reported.json()["case_id"]
    own.drain()

    # THEN tracing is done with 40 contacts, each listed once with the strongest kind
    case = own.call("GET", f"/v1/cases/{case_id}", as_=OFFICIAL).json()
    assert (case["tracing"], case["contacts_found"]) == ("done", 40)
    rows = own.call("GET", f"/v1/cases/{case_id}/contacts", as_=OFFICIAL).json()["contacts"]
    kinds = {row["person_id"]: row["kind"] for row in rows}
    assert len(kinds) == len(rows) == 40
    assert {kinds[p] for p in close[0][1] + close[1][1]} == {"close"}
    assert {kinds[p] for p in secondary_same[1] + secondary_complex[1]} == {"secondary"}
    assert not set(elsewhere[1]) & set(kinds)
    # AND the colours now: close red, secondary yellow, elsewhere green, the case red
    assert [colours(own, who) for who, _ in close] == [{"red"}, {"red"}]
    assert colours(own, secondary_same[0]) == colours(own, secondary_complex[0]) == {"yellow"}
    assert colours(own, elsewhere[0]) == {"green"} and colours(own, case_account) == {"red"}

    # WHEN observation has ended (7 days after the secondary exposures ended, 11:30 at the latest)
    own.clock(now=(t0 + timedelta(days=7, hours=2)).isoformat())
    # THEN secondary contacts show green at once (read time), close contacts are still red
    assert colours(own, secondary_same[0]) == colours(own, secondary_complex[0]) == {"green"}
    assert [colours(own, who) for who, _ in close] == [{"red"}, {"red"}]
    # AND once the expiry schedule has run, the stored history says so
    own.drain()
    history = own.call("GET", f"/v1/codes/{secondary_same[1][0]}/history", as_=secondary_same[0]).json()
    assert [(c["from"], c["to"]) for c in history["changes"]][-2:] == [
        ("green", "yellow"),
        ("yellow", "green"),
    ]
    assert history["changes"][-1]["cause"] == "expiry"

    # WHEN quarantine has ended (14 days after the close exposures ended at 11:30)
    own.clock(now=(t0 + timedelta(days=14, hours=2)).isoformat())
    own.drain()
    # THEN close contacts are green again; the case person stays red (a case ends by review)
    assert [colours(own, who) for who, _ in close] == [{"green"}, {"green"}]
    assert colours(own, case_account) == {"red"}
    history = own.call("GET", f"/v1/codes/{close[1][1][3]}/history", as_=close[1][0]).json()
    assert history["changes"][-1]["to"] == "green" and history["changes"][-1]["cause"] == "expiry"
    assert clock.parse_instant(history["changes"][-1]["at"]) >= t0 + timedelta(days=14)
