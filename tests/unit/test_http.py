"""The HTTP edge: one error envelope, strict JSON bodies checked against their route's spec, size
limits, unknown routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from healthcode.edge.http import MAX_BODY_BYTES, caller, json_body, json_response, make_app
from healthcode.edge.router import Response
from healthcode.errors import Conflict, InvalidInput, NotFound, Throttled
from hypothesis import given
from hypothesis import strategies as st

from infra.local.events import http_api_event

app = make_app()


@app.post("/echo")
def echo() -> Response[str]:
    return json_response(200, json_body(app))


@app.put("/v1/risk-areas/<region_code>")
def risk_area(region_code: str) -> Response[str]:
    return json_response(200, json_body(app))


@app.get("/raise/<kind>")
def raise_(kind: str) -> Response[str]:
    errors = {
        "invalid": InvalidInput("bad checksum", field="id_number", code="invalid_id_number"),
        "missing": NotFound("no such person", field="person_id"),
        "conflict": Conflict("already there"),
        "throttled": Throttled("slow down"),
    }
    raise errors[kind]


@app.get("/me")
def me() -> Response[str]:
    who = caller(app).require("official")
    return json_response(200, {"sub": who.sub})


def call(
    method: str,
    path: str,
    body: bytes = b"",
    claims: dict[str, str] | None = None,
    route_key: str | None = None,
) -> dict[str, Any]:
    event = http_api_event(
        method=method,
        raw_path=path,
        raw_query="",
        headers={"content-type": "application/json"},
        body=body,
        route_key=route_key or f"{method} {path}",
        path_parameters={},
        claims=claims,
        source_ip="127.0.0.1",
        api_id="t",
    )
    return app.resolve(event, None)  # type: ignore[arg-type]


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(answer["body"])
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("kind", "status", "code", "field"),
    [
        ("invalid", 422, "invalid_id_number", "id_number"),
        ("missing", 404, "not_found", "person_id"),
        ("conflict", 409, "conflict", None),
        ("throttled", 429, "throttled", None),
    ],
)
def test_domain_errors_map_to_the_envelope(kind: str, status: int, code: str, field: str | None) -> None:
    answer = call("GET", f"/raise/{kind}")
    assert answer["statusCode"] == status
    assert error_of(answer) | {"message": ""} == {"code": code, "field": field, "message": ""}


def test_json_round_trip_keeps_chinese() -> None:
    answer = call("POST", "/echo", json.dumps({"name": "张三"}, ensure_ascii=False).encode())
    assert answer["statusCode"] == 200 and "张三" in answer["body"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe", b'{"a": 1'],
)
def test_bad_bodies_are_400_invalid_json(body: bytes) -> None:
    answer = call("POST", "/echo", body)
    assert answer["statusCode"] == 400 and error_of(answer)["code"] == "invalid_json"


def test_deep_nesting_is_a_clear_400() -> None:
    answer = call("POST", "/echo", b"[" * 100_000 + b"]" * 100_000)
    assert answer["statusCode"] == 400


def test_oversized_bodies_are_413() -> None:
    answer = call("POST", "/echo", json.dumps({"a": "x" * MAX_BODY_BYTES}).encode())
    assert answer["statusCode"] == 413 and error_of(answer)["code"] == "payload_too_large"


@given(st.binary(max_size=200))
def test_no_body_ever_causes_an_unhandled_error(body: bytes) -> None:
    assert call("POST", "/echo", body)["statusCode"] in (200, 400)


def test_unknown_route_is_a_404_envelope() -> None:
    answer = call("GET", "/nowhere")
    assert answer["statusCode"] == 404 and error_of(answer)["code"] == "route_not_found"


def test_roles_are_checked() -> None:
    assert call("GET", "/me", claims={"sub": "a", "roles": "[official]"})["statusCode"] == 200
    denied = call("GET", "/me", claims={"sub": "a", "roles": "[citizen]"})
    assert denied["statusCode"] == 403 and error_of(denied)["code"] == "forbidden_role"
    assert call("GET", "/me")["statusCode"] == 401


@pytest.mark.parametrize("route_key", ["PUT /v1/risk-areas/{region_code}", "$default"])
def test_a_body_is_checked_against_its_routes_spec(route_key: str) -> None:
    # GIVEN a route with a request spec (found by API Gateway's routeKey, or by the path)
    path = "/v1/risk-areas/520102"
    # WHEN a body that fits it is sent THEN the handler gets it
    fits = call("PUT", path, json.dumps({"level": "high"}).encode(), route_key=route_key)
    assert fits["statusCode"] == 200 and json.loads(fits["body"]) == {"level": "high"}
    # AND one that does not is 422 naming the field, before the handler runs
    for body, code, field in (
        ({"level": "severe"}, "invalid_level", "level"),
        ({}, "missing_field", "level"),
        ({"level": "high", "since": "now"}, "unknown_field", "since"),
    ):
        answer = call("PUT", path, json.dumps(body).encode(), route_key=route_key)
        assert answer["statusCode"] == 422
        assert error_of(answer) | {"message": ""} == {"code": code, "field": field, "message": ""}


def test_a_route_without_a_spec_takes_any_object() -> None:
    assert call("POST", "/echo", b'{"anything": [1, {"goes": null}]}')["statusCode"] == 200
