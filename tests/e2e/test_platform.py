"""The real template on the local stack: public routes and the signed-code keys."""

from __future__ import annotations

import jwt

from tests.e2e.stack import Stack


def test_health(stack: Stack) -> None:
    answer = stack.call("GET", "/v1/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "province": "520000"}


def test_jwks_has_the_bootstrapped_code_paper_and_venue_keys(stack: Stack) -> None:
    keys = stack.call("GET", "/.well-known/jwks.json").json()["keys"]
    assert {k["hc_use"] for k in keys} == {"code", "paper", "venue"}
    for key in keys:
        assert key["alg"] == "ES256" and "d" not in key
        jwt.PyJWK(key)  # a valid public JWK


def test_openapi_describes_every_template_route(stack: Stack) -> None:
    from infra.local.template import ROOT_TEMPLATE, Template

    document = stack.call("GET", "/v1/openapi.json").json()
    template = Template(ROOT_TEMPLATE, "x", {}, "cn-north-1")
    for route in template.routes():
        assert route.method.lower() in document["paths"][route.path], route.key


def test_local_routes_are_not_in_the_template() -> None:
    from infra.local.template import ROOT_TEMPLATE, Template

    routes = Template(ROOT_TEMPLATE, "x", {}, "cn-north-1").routes()
    assert not [r for r in routes if r.path.startswith("/_local")]


def test_a_province_without_a_valid_policy_does_not_start() -> None:
    import pytest

    from tests.e2e.stack import running_stack

    with pytest.raises(RuntimeError) as caught, running_stack("990000"):
        pass
    assert "no policy file for province 990000" in str(caught.value)
