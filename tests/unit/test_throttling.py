"""Throttling on the HTTP API (issue 8, group 7): every write route and the identity read carry their
own rate and burst in ``template.yaml`` (``HttpApi`` ``RouteSettings``, route keys as API Gateway
writes them: ``"POST /v1/checkins"``), the limits are sane, and README's "Throttling" table says
what the template says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import ROOT_TEMPLATE, Template

TEMPLATE = Template(ROOT_TEMPLATE, "check", {}, "cn-north-1")
API = TEMPLATE.resources["HttpApi"]["Properties"]
ROUTE_SETTINGS: dict[str, dict[str, Any]] = API.get("RouteSettings", {})
ROUTES = {route.key for route in TEMPLATE.routes()}
WRITES = sorted(
    route.key for route in TEMPLATE.routes() if route.method in ("POST", "PUT", "PATCH", "DELETE")
)
#: Reads limited on their own: the official's full record shows a person's identity.
LIMITED_READS = ("GET /v1/persons/{person_id}",)
#: Officials' writes: people at a desk, never thousands a second.
OFFICIALS_WRITES = (
    "PUT /v1/persons/{person_id}/colour",
    "POST /v1/overrides/{override_id}/approve",
    "POST /v1/overrides/{override_id}/reject",
    "PUT /v1/risk-areas/{region_code}",
    "POST /v1/lab-results",
    "POST /v1/cases",
    "POST /v1/appeals/{appeal_id}/answer",
)
README = Path(ROOT_TEMPLATE).parent / "README.md"


def _default(parameter: str) -> float:
    return float(TEMPLATE.document["Parameters"][parameter]["Default"])


def rate(route: str) -> float:
    return float(ROUTE_SETTINGS[route]["ThrottlingRateLimit"])


def burst(route: str) -> int:
    return int(ROUTE_SETTINGS[route]["ThrottlingBurstLimit"])


def test_the_stage_default_is_set_from_parameters() -> None:
    """GIVEN the HTTP API THEN its stage default throttling comes from the stack parameters."""
    assert API["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottleRatePerSecond"},
        "ThrottlingBurstLimit": {"Ref": "ThrottleBurst"},
    }
    assert _default("ThrottleBurst") >= _default("ThrottleRatePerSecond") > 0


@pytest.mark.parametrize("route", [*WRITES, *LIMITED_READS])
def test_every_write_route_and_the_identity_read_have_explicit_limits(route: str) -> None:
    """GIVEN a write route of the template (or the audited identity read) THEN it has its own rate
    and burst; a new write route fails here until it gets them."""
    assert route in ROUTE_SETTINGS, f"{route} has no RouteSettings entry"
    assert set(ROUTE_SETTINGS[route]) == {"ThrottlingRateLimit", "ThrottlingBurstLimit"}


@pytest.mark.parametrize("route", sorted(ROUTE_SETTINGS))
def test_limits_name_real_routes_and_are_sane(route: str) -> None:
    """GIVEN a route's limits THEN the key is a route of the template in API Gateway's form
    ("METHOD /path"), the rate is positive, the burst a whole number at least the rate, and
    neither above the stage default."""
    assert re.fullmatch(r"(GET|POST|PUT|PATCH|DELETE) /\S*", route) and route in ROUTES, route
    raw = ROUTE_SETTINGS[route]["ThrottlingBurstLimit"]
    assert isinstance(raw, int) and not isinstance(raw, bool)
    assert 0 < rate(route) <= burst(route)
    assert rate(route) <= _default("ThrottleRatePerSecond") and burst(route) <= _default("ThrottleBurst")


def test_the_hot_paths_have_the_highest_limits_and_abusable_routes_low_ones() -> None:
    """GIVEN the write limits THEN check-ins and checkpoint scans (the busy day's traffic) are the
    highest writes; applications and manual registrations (a typed ID number: enumeration) are at
    most a tenth of check-ins; officials' writes and identity reads at most 20 a second."""
    others = [r for r in WRITES if r not in ("POST /v1/checkins", "POST /v1/verifications")]
    assert rate("POST /v1/checkins") >= rate("POST /v1/verifications") > max(rate(r) for r in others)
    for route in ("POST /v1/codes", "POST /v1/manual-registrations"):
        assert rate(route) <= rate("POST /v1/checkins") / 10
    for route in (*OFFICIALS_WRITES, *LIMITED_READS):
        assert rate(route) <= 20 and burst(route) <= 40, route


def _readme_rows() -> dict[str, tuple[float, int]]:
    """README's Throttling table: route -> (rate, burst); ``…/x`` repeats the previous route's
    path with its last segment replaced."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Throttling", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows: dict[str, tuple[float, int]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].isdigit():
            continue
        previous = ""
        for spec in re.findall(r"`([^`]+)`", cells[0]):
            route = previous.rsplit("/", 1)[0] + spec[1:] if spec.startswith("…/") else spec
            rows[route] = (float(cells[1]), int(cells[2]))
            previous = route
    return rows


def test_the_readme_table_says_what_the_template_says() -> None:
    """GIVEN README's Throttling table THEN it lists exactly the template's per-route limits."""
    assert _readme_rows() == {route: (rate(route), burst(route)) for route in ROUTE_SETTINGS}
