"""`make demo` (infra.demo) on a fresh local stack: it seeds a province through the HTTP API only,
and every main list of the console then has something in it for the accounts it prints; run
again, it fails nothing and registers nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.demo import Account, Api, Demo, main
from tests.e2e.stack import Stack, running_stack


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Stack, Demo]]:
    """A stack of its own (the demo moves colours and counts that other tests read)."""
    with running_stack("520000") as stack:
        demo = Demo(Api(stack.url), "520000")
        demo.run()
        yield stack, demo


def _get(stack: Stack, demo: Demo, path: str, who: Account) -> Any:
    answer = stack.http.get(
        f"{stack.url}{path}",
        headers={"Authorization": f"Bearer {stack.token(who.sub, who.roles, who.region)}"},
        timeout=60,
    )
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def test_the_demo_leaves_every_main_console_list_non_empty(seeded: tuple[Stack, Demo]) -> None:
    stack, demo = seeded
    summary = demo.summary
    assert not [n for n in summary.notes if "report case" in n], summary.notes
    # venue manager: the venues (a complex with two stores, a restaurant, a bus) and the staff
    venues = _get(stack, demo, "/v1/venues", demo.manager)["venues"]
    assert {"mall", "supermarket", "library_museum", "restaurant", "vehicle"} <= {v["type"] for v in venues}
    plaza = summary.venues["演示广场购物中心"]
    assert _get(stack, demo, f"/v1/venues/{plaza}/staff", demo.manager)["staff"]
    # official: alerts, the case and its contacts, overrides, appeals, risk areas
    alerts = _get(stack, demo, "/v1/alerts", demo.official)["alerts"]
    assert {a["verdict"] for a in alerts} >= {"isolate"} and any(a["temperature"] >= 37.3 for a in alerts)
    assert summary.case_id is not None
    contacts = _get(stack, demo, f"/v1/cases/{summary.case_id}/contacts", demo.official)["contacts"]
    assert {c["kind"] for c in contacts} == {"close", "secondary"}
    assert _get(stack, demo, "/v1/overrides", demo.second_official)["overrides"]
    assert _get(stack, demo, "/v1/appeals", demo.official)["appeals"]
    assert _get(stack, demo, f"/v1/risk-areas/{demo.place.other_county}", demo.official)["level"] == "medium"
    # reports: a day with scans, coverage against the register, entities without a code
    units = _get(stack, demo, "/v1/reports/daily-scans", demo.admin)["units"]
    assert sum(u["scans"] for u in units) > 0
    coverage = _get(stack, demo, f"/v1/reports/coverage?region_code={demo.place.county}", demo.admin)
    assert coverage["entities"] >= 4 and coverage["with_code"] >= 1
    uncovered = _get(stack, demo, "/v1/reports/uncovered-entities", demo.admin)["entities"]
    assert uncovered
    # citizens: each colour the demo promises
    assert summary.colours == {
        "patient": "red",
        "contact": "red",
        "neighbour": "yellow",
        "cough": "yellow",
        "green": "green",
    }


def test_running_the_demo_again_fails_nothing_and_registers_nothing_twice(
    seeded: tuple[Stack, Demo], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, demo = seeded
    before = len(_get(stack, demo, "/v1/venues?limit=500", demo.official)["venues"])
    assert main(["--local", stack.url]) == 0
    printed = capsys.readouterr().out
    assert "demo-official" in printed and "demo-manager" in printed and "/console/" in printed
    assert len(_get(stack, demo, "/v1/venues?limit=500", demo.official)["venues"]) == before
