"""Callers from the authorizer's claims, in both the list and API Gateway's flattened form."""

from __future__ import annotations

import pytest
from healthcode.errors import Forbidden, Unauthorized
from healthcode.protection.auth import ROLES, Caller, caller_from_event, parse_roles
from hypothesis import given
from hypothesis import strategies as st


def event(claims: dict[str, object] | None) -> dict[str, object]:
    context: dict[str, object] = {}
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {"requestContext": context}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["citizen", "scanner"], {"citizen", "scanner"}),
        ("[citizen scanner]", {"citizen", "scanner"}),
        ("official", {"official"}),
        ("citizen,venue_manager", {"citizen", "venue_manager"}),
        (["superuser", "citizen"], {"citizen"}),
        (None, set()),
        (42, set()),
    ],
)
def test_roles_in_every_shape(value: object, expected: set[str]) -> None:
    assert parse_roles(value) == expected


@given(st.lists(st.sampled_from(sorted(ROLES)), unique=True))
def test_flattened_and_list_forms_agree(roles: list[str]) -> None:
    assert parse_roles(roles) == parse_roles("[" + " ".join(roles) + "]") == set(roles)


def test_cognito_groups_count_as_roles() -> None:
    caller = caller_from_event(event({"sub": "a", "cognito:groups": "[official]"}))
    assert caller == Caller(sub="a", roles=frozenset({"official"}))


def test_no_claims_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        caller_from_event(event(None))
    with pytest.raises(Unauthorized):
        caller_from_event(event({"roles": "[citizen]"}))


def test_require_refuses_other_roles() -> None:
    caller = Caller(sub="a", roles=frozenset({"citizen"}))
    assert caller.require("citizen", "official") is caller
    with pytest.raises(Forbidden) as caught:
        caller.require("official")
    assert caught.value.status == 403
