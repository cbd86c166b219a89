"""The request specs (healthcode.edge.specs): every body spec compiles, and a body that does not
fit is refused naming the first mistake by its dotted path, with one code per mistake."""

from __future__ import annotations

import re
from typing import Any

import pytest
from healthcode.edge import specs
from healthcode.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.template import ROOT_TEMPLATE, Template
from tests.codes_forms import declaration as base_declaration
from tests.codes_forms import form as base_form

TRIP = {"region_code": "420106", "left_at": "2022-05-10T09:00:00+08:00"}
CODES = "POST /v1/codes"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


def declaration(**changes: Any) -> dict[str, Any]:
    return base_declaration(**{"travel": [TRIP], **changes})


def form(**changes: Any) -> dict[str, Any]:
    return base_form(**{"declaration": declaration(), **changes})


def refusal(key: str, body: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        specs.check_body(key, body)
    return caught.value


def test_every_template_route_has_a_spec_and_every_spec_a_route() -> None:
    routes = {route.key for route in Template(ROOT_TEMPLATE, "check", {}, "cn-north-1").routes()}
    assert set(specs.OPERATIONS) == routes


@pytest.mark.parametrize("key", sorted(k for k, op in specs.OPERATIONS.items() if op.body is not None))
def test_every_body_spec_compiles_and_is_a_closed_object(key: str) -> None:
    body = specs.OPERATIONS[key].body
    assert body is not None and body["type"] == "object" and body["additionalProperties"] is False
    with pytest.raises(InvalidInput) as caught:
        specs.check_body(key, {"surely not a field": 1})
    assert caught.value.code in ("unknown_field", "missing_field")


def test_every_error_code_a_spec_names_is_snake_case() -> None:
    def codes(value: Any) -> list[str]:
        if isinstance(value, dict):
            found = [
                c for k, v in value.items() if k in ("x-error-code", "x-missing-code") for c in _codes(v)
            ]
            return found + [c for v in value.values() for c in codes(v)]
        if isinstance(value, list):
            return [c for v in value for c in codes(v)]
        return []

    every = codes([specs.COMPONENTS, [op.body for op in specs.OPERATIONS.values()]])
    assert every and all(SNAKE_CASE.fullmatch(code) for code in every)


def _codes(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value.values())


def test_a_body_that_fits_passes() -> None:
    specs.check_body(CODES, form())
    specs.check_body(CODES, form(dependant=None, link_code=None))
    specs.check_body("POST /v1/verifications", {"code": "x", "checkpoint_id": "v-1", "temperature": None})


MISTAKES: list[tuple[str, str, Any, str | None, str]] = [
    # unknown fields, first in name order, at any depth, before anything else is looked at
    ("unknown", CODES, form(zzz=1, aaa=2), "aaa", "unknown_field"),
    ("unknown before missing", CODES, {"nickname": "小张"}, "nickname", "unknown_field"),
    ("unknown nested", CODES, form(declaration=declaration(mood="fine")), "declaration.mood",
     "unknown_field"),
    (
        "unknown in a list item",
        CODES,
        form(declaration=declaration(travel=[{**TRIP, "by": "train"}])),
        "declaration.travel.0.by",
        "unknown_field",
    ),
    # missing: absent, null, or blank where the form says so
    ("absent", CODES, {k: v for k, v in form().items() if k != "address"}, "address", "missing_field"),
    ("null", CODES, form(name=None), "name", "missing_field"),
    ("blank", CODES, form(address=""), "address", "missing_field"),
    ("whitespace", CODES, form(name="   "), "name", "missing_field"),
    (
        "absent nested",
        CODES,
        form(declaration={k: v for k, v in declaration().items() if k != "symptoms"}),
        "declaration.symptoms",
        "missing_field",
    ),
    (
        "absent in a list item",
        CODES,
        form(declaration=declaration(travel=[{"region_code": "420106"}])),
        "declaration.travel.0.left_at",
        "missing_field",
    ),
    ("a code of its own when absent", "PUT /v1/persons/{person_id}/colour",
     {"colour": "red", "evidence_ref": "e"}, "reason_code", "invalid_reason_code"),
    # wrong type
    ("object expected", CODES, form(declaration=[]), "declaration", "invalid_type"),
    ("boolean expected", CODES, form(dependant="yes"), "dependant", "invalid_type"),
    ("list item type", CODES, form(declaration=declaration(travel=["420106"])), "declaration.travel.0",
     "invalid_type"),
    # the property's own code, for every failure of it (nullable ones included)
    ("name", CODES, form(name=12), "name", "invalid_name"),
    ("name too long", CODES, form(name="张" * 51), "name", "invalid_name"),
    ("id number", CODES, form(id_number="5201"), "id_number", "invalid_id_number"),
    ("id type", CODES, form(id_type="driving_licence"), "id_type", "invalid_id_type"),
    ("nationality", CODES, form(id_type="passport", nationality="US"), "nationality", "invalid_nationality"),
    ("phone", CODES, form(phone=13800000000), "phone", "invalid_phone"),
    ("temperature type", CODES, form(declaration=declaration(temperature="36.5")), "declaration.temperature",
     "invalid_temperature"),
    ("temperature range", CODES, form(declaration=declaration(temperature=43.1)), "declaration.temperature",
     "invalid_temperature"),
    ("link code", CODES, form(link_code=12345), "link_code", "invalid_link_code"),
    (
        "region code in a list item",
        CODES,
        form(declaration=declaration(travel=[{**TRIP, "region_code": "5201"}])),
        "declaration.travel.0.region_code",
        "invalid_region_code",
    ),
    # a code per keyword; for a list's items, named on the list
    ("too many trips", CODES, form(declaration=declaration(travel=[TRIP] * 31)), "declaration.travel",
     "too_many_trips"),
    ("unknown symptom", CODES, form(declaration=declaration(symptoms=["hiccups"])), "declaration.symptoms",
     "unknown_symptom"),
    # a value coded as a whole answers for what is inside it
    ("inside a location", "POST /v1/checkins", {"venue_code": "c", "person_id": "p-1",
     "location": {"lat": 26.5, "lng": 200}}, "location", "invalid_location"),
    ("absent inside a location", "POST /v1/checkins", {"venue_code": "c", "person_id": "p-1",
     "location": {"lat": 26.5}}, "location", "invalid_location"),
    # an object's own keyword, put on the field it names
    ("neither person_id nor id_number", "POST /v1/cases", {"status": "confirmed",
     "diagnosed_at": "2022-05-18T09:00:00+08:00"}, "person_id", "person_required"),
    # anything else: invalid_<field>
    ("other constraint", "POST /v1/codes/{person_id}/appeals", {"reason": "x" * 501}, "reason",
     "invalid_reason"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "key", "body", "field", "code"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_has_one_code_and_names_its_field(
    case: str, key: str, body: Any, field: str | None, code: str
) -> None:
    error = refusal(key, body)
    assert (error.status, error.field, error.code) == (422, field, code), (case, error.message)


def test_a_refusal_never_repeats_the_value() -> None:
    for body, secret in (
        (form(phone="1380000000"), "1380000000"),
        (form(id_number="5201"), "5201"),
        (form(name="张" * 60), "张" * 60),
    ):
        assert secret not in refusal(CODES, body).message


def test_a_route_is_found_by_its_route_key_or_its_path() -> None:
    assert specs.route_of(CODES, "POST", "/anything") == CODES
    assert specs.route_of(None, "post", "/v1/codes/p-1/appeals") == "POST /v1/codes/{person_id}/appeals"
    assert specs.route_of("$default", "PUT", "/v1/risk-areas/520102") == "PUT /v1/risk-areas/{region_code}"
    assert specs.route_of(None, "POST", "/v1/nowhere") is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
WITH_BODY = sorted(k for k, op in specs.OPERATIONS.items() if op.body is not None)


@settings(max_examples=300)
@given(st.sampled_from(WITH_BODY), JSON, st.data())
def test_any_body_passes_or_is_refused_in_the_envelope(key: str, noise: Any, data: st.DataObject) -> None:
    # GIVEN a body near the spec's (a known field replaced by anything) or anything at all
    spec = specs.OPERATIONS[key].body
    assert spec is not None
    known = sorted(spec["properties"])
    body = {name: data.draw(JSON, label=name) for name in data.draw(st.lists(st.sampled_from(known)))}
    for candidate in (body, noise):
        # WHEN checked THEN it passes or is one InvalidInput with a snake_case code and a dotted field
        try:
            specs.check_body(key, candidate)
        except InvalidInput as error:
            assert SNAKE_CASE.fullmatch(error.code) and error.message
            assert error.field is None or all(error.field.split("."))
