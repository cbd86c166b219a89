"""Fuzzing the HTTP API from its served OpenAPI document (schemathesis) on a local stack.

Every operation of ``GET /v1/openapi.json`` is called with requests generated from its schemas:
bodies, query and header parameters that fit them (positive) and that break them (negative),
as the role that may call it. Positive requests are, at random, made *realistic*: fields and
path ids the world below knows (the caller's own person, a real venue code, a fresh personal
code, valid ID numbers, a county code...) replace what was generated, so requests get past the
checksums and signatures into storage, where a 500 would hide. Checks, on every answer:

* no 5xx;
* every 4xx a function answers is the envelope ``{"error": {"code", "message", "field"}}`` with a
  snake_case code; the one exception is the authorizer's own ``401 {"message": "Unauthorized"}``
  (API Gateway cannot customise it; README), which must be exactly that;
* the status is one the document lists, the content type and the JSON body conform to it
  (answers list the fields docs/api.md promises);
* a request the schema forbids is refused (so the document is never looser than the handlers).

Bounded and seeded: hypothesis is derandomized (the same cases every run) with
``FUZZ_EXAMPLES`` examples per operation (default 15; ``FUZZ_EXAMPLES=2000 make fuzz`` for a
long run). The counts per operation are printed (``-s``) and recorded as ``fuzz_cases``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from healthcode import clock
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.e2e.stack import ROOT
from tests.security.http.fuzz_world import COUNTY, ROLE_OF, VENUE_LOCATION, World, running_world

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
DOCUMENT = ROOT / "shared" / "healthcode" / "data" / "openapi.json"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")
AUTHORIZER_401 = {"message": "Unauthorized"}

CONFIG_SETTINGS: dict[str, Any] = {
    "checks": {
        # API Gateway answers a method a path does not have with 404 {"message": "Not Found"}
        # (HTTP APIs have no 405); the authorization suite covers tokens and roles.
        "unsupported_method": {"enabled": False},
        "ignored_auth": {"enabled": False},
        # Bodies that fit the schemas are still refused for what a schema cannot say (check
        # characters, signatures, current region codes): acceptance is not a property here.
        "positive_data_acceptance": {"enabled": False},
    },
    "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
    "generation": {
        # Unknown query parameters are ignored, as HTTP APIs do; the caller token is ours.
        "allow-extra-parameters": False,
        "with-security-parameters": False,
    },
}
CONFIG = schemathesis.Config.from_dict(CONFIG_SETTINGS)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
#: The coverage phase: deterministic boundary cases of every constraint (a string one over its
#: maxLength, each required field missing, each type wrong...), about 1,200; the larger setting.
BOUNDARIES = FUZZ_EXAMPLES >= 100
boundary_schema = schemathesis.openapi.from_path(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            **CONFIG_SETTINGS,
            "phases": {
                "examples": {"enabled": False},
                "fuzzing": {"enabled": False},
                "coverage": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    ),
)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_world() as started:
        yield started


# -- realistic values --------------------------------------------------------------------------


def realistic_values(world: World, data: st.DataObject) -> dict[str, Any]:
    """Known-good values by field name; drawn where there is a choice."""
    now = clock.now()
    recent = clock.show(now - timedelta(hours=data.draw(st.integers(1, 240), label="hours ago")))
    return {
        "person_id": data.draw(st.sampled_from([world.person_id, world.dependant_id]), label="person"),
        "companions": [world.dependant_id],
        "venue_code": world.venue_code,
        "venue_id": world.venue_id,
        "checkpoint_id": world.venue_id,
        "case_id": world.case_id,
        "override_id": world.override_id,
        "appeal_id": world.appeal_id,
        "id_number": data.draw(st.sampled_from(world.id_numbers), label="id number"),
        "phone": "13800000000",
        "manager_phone": "13900000000",
        "region_code": COUNTY,
        "location": {"lat": VENUE_LOCATION["lat"] + 0.001, "lng": VENUE_LOCATION["lng"]},
        "left_at": recent,
        "diagnosed_at": recent,
        "sampled_at": recent,
        "until": clock.show(now + timedelta(days=3)),
        "name": "李四",
        "address": "贵州省贵阳市南明区花果园大街2号",
        "subject_name": "贵阳某某商贸有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "type": "supermarket",
        "colour": data.draw(st.sampled_from(["green", "yellow", "red"]), label="colour"),
        "evidence_ref": "EV-2022-0002",
    }


def substitute(value: Any, known: dict[str, Any], world: World, pick: Any) -> Any:
    """``value`` with known-good values put in place of generated ones, field by field (``pick``
    decides each); a generated ``null`` stays (it means "absent", e.g. one of person_id or
    id_number), and the personal ``code`` is fetched fresh."""
    if isinstance(value, list):
        return [substitute(item, known, world, pick) for item in value]
    if not isinstance(value, dict):
        return value
    replaced = {}
    for name, item in value.items():
        if item is not None and (name in known or name == "code") and pick(name):
            replaced[name] = world.personal_code() if name == "code" else known[name]
        else:
            replaced[name] = substitute(item, known, world, pick)
    return replaced


def make_realistic(case: schemathesis.Case, world: World, data: st.DataObject) -> str:
    """Put known-good values into a positive case: all of them, some of them, or none."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return "negative"
    how = data.draw(st.sampled_from(["generated", "realistic", "mixed"]), label="how")
    if how == "generated":
        return how
    known = realistic_values(world, data)

    def pick(name: str) -> bool:
        return how == "realistic" or data.draw(st.booleans(), label=f"replace {name}")

    for name in list(case.path_parameters or {}):
        if name in known and pick(name):
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict | list):
        case.body = substitute(case.body, known, world, pick)
    return how


# -- the checks --------------------------------------------------------------------------------


def error_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every 4xx is the envelope with a snake_case code, or the authorizer's exact 401."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"{response.status_code} with a body that is not JSON: {response.text[:200]!r}"
        ) from None
    if response.status_code == 401 and body == AUTHORIZER_401:
        return None
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error envelope: {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "field"}, (
        f"envelope fields: {error!r}"
    )
    assert isinstance(error["code"], str) and SNAKE_CASE.fullmatch(error["code"]), f"code: {error['code']!r}"
    assert isinstance(error["message"], str) and error["message"], f"message: {error['message']!r}"
    assert error["field"] is None or isinstance(error["field"], str), f"field: {error['field']!r}"
    return None


# -- the suite ---------------------------------------------------------------------------------


def test_the_fuzzed_document_is_the_served_one(world: World) -> None:
    # GIVEN the stack WHEN its document is fetched THEN it is the file the fuzzer reads
    served = world.stack.http.get(f"{world.stack.url}/v1/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT.read_text(encoding="utf-8"))


def test_every_operation_has_a_role() -> None:
    # GIVEN the document WHEN its operations are listed THEN each has a row in ROLE_OF, and the
    # public ones (no security) are exactly those with no role
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    operations = {
        f"{method.upper()} {path}": bool(operation["security"])
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == set(ROLE_OF)
    assert {key for key, secured in operations.items() if not secured} == {
        key for key, role in ROLE_OF.items() if role is None
    }


@pytest.fixture
def tally(request: pytest.FixtureRequest, record_property: Any) -> Iterator[Counter[str]]:
    """Counts the cases one operation ran (per generation mode and status)."""
    counted: Counter[str] = Counter()
    started = time.monotonic()
    yield counted
    cases = counted["cases"]
    record_property("fuzz_cases", cases)
    statuses = {k: v for k, v in sorted(counted.items()) if k != "cases"}
    print(f"\nfuzz {request.node.name}: {cases} cases in {time.monotonic() - started:.1f} s {statuses}")


@schema.given(data=st.data())
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # the world and the tally are per operation, not per example; a call to the stack is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzz(case: schemathesis.Case, data: st.DataObject, world: World, tally: Counter[str]) -> None:
    # GIVEN a generated request (made realistic at random) and the role the route is for
    how = make_realistic(case, world, data)
    role = ROLE_OF[f"{case.method.upper()} {case.path}"]
    # WHEN it is sent THEN no 5xx, errors in the envelope, answers as documented
    response = case.call_and_validate(
        base_url=world.stack.url,
        session=world.stack.http,
        headers=world.headers(role),
        additional_checks=[error_envelope],
        timeout=60,
    )
    tally["cases"] += 1
    tally[f"{how} {response.status_code}"] += 1


def boundaries(case: schemathesis.Case, world: World, tally: Counter[str]) -> None:
    # GIVEN a boundary case of the document
    scenario = case.meta.phase.data.scenario if case.meta is not None else None
    if getattr(scenario, "value", scenario) == "unspecified_http_method":
        return  # a method the path lacks never reaches a function: API Gateway answers it itself
    role = ROLE_OF[f"{case.method.upper()} {case.path}"]
    # WHEN it is sent THEN no 5xx, errors in the envelope, answers as documented
    response = case.call_and_validate(
        base_url=world.stack.url,
        session=world.stack.http,
        headers=world.headers(role),
        additional_checks=[error_envelope],
        timeout=60,
    )
    tally["cases"] += 1
    tally[f"{case.meta.generation.mode.value if case.meta else '?'} {response.status_code}"] += 1


if BOUNDARIES:  # the larger setting only (make fuzz): about 1,200 cases
    test_boundaries = boundary_schema.parametrize()(
        settings(database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])(
            boundaries
        )
    )
