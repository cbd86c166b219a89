"""Strict caller identity (issue 13): roles compared exactly, internal subjects refused."""

from __future__ import annotations

import pytest
from healthcode.errors import Unauthorized
from healthcode.protection.auth import SUB_MAX, caller_from_claims, parse_roles
from hypothesis import given
from hypothesis import strategies as st

from infra.local.authorizer import flatten_claims

SPOOFED = [" official", "official ", "Official", "OFFICIAL", '"official"', "official\n", "\tofficial",
           "offi cial", "official\u200b", "ｏｆｆｉｃｉａｌ", "official,", ",official",
           "official\x00"]  # fmt: skip


@pytest.mark.parametrize("role", SPOOFED)
def test_a_role_not_spelt_exactly_is_no_role(role: str) -> None:
    # GIVEN a token whose role is almost "official", as a list, flattened by API Gateway, or bare
    for shape in ([role], flatten_claims({"roles": [role]})["roles"], role):
        # THEN it is no role
        assert parse_roles(shape) == frozenset(), (role, shape)
    # AND beside a genuine role only the genuine one counts (unless flattening made it ambiguous)
    assert parse_roles(["citizen", role]) == {"citizen"}


def test_a_flattened_list_with_an_empty_item_counts_no_role() -> None:
    # GIVEN API Gateway's rendering of ["citizen", " official"]: "[citizen  official]"
    flattened = flatten_claims({"roles": ["citizen", " official"]})["roles"]
    # THEN neither counts: the claim cannot be read unambiguously
    assert parse_roles(flattened) == frozenset()
    assert parse_roles("[ official]") == parse_roles("[official ]") == parse_roles("[]") == frozenset()


@given(st.lists(st.sampled_from(["citizen", "scanner", "venue_manager", "official", "admin"]), unique=True))
def test_genuine_flattened_lists_still_parse(roles: list[str]) -> None:
    assert parse_roles(flatten_claims({"roles": roles})["roles"]) == set(roles)


@pytest.mark.parametrize(
    "sub",
    [
        "unclaimed#p-0123",
        "owner#alice#self",
        "a#b",
        "",
        " alice",
        "alice ",
        "ali\x00ce",
        "ali\nce",
        "ali\u200bce",
        "ali\u202ece",
        "x" * (SUB_MAX + 1),
        None,
        42,
        ["alice"],
    ],
)
def test_subjects_the_system_uses_internally_are_refused(sub: object) -> None:
    with pytest.raises(Unauthorized) as caught:
        caller_from_claims({"sub": sub, "roles": "[citizen]"})
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


@pytest.mark.parametrize(
    "sub", ["alice", "x" * SUB_MAX, "5b1c2f0e-8d7a-4c3e-9f1a-2b3c4d5e6f70", "张三", "a.b-c_d@e"]
)
def test_ordinary_subjects_pass(sub: str) -> None:
    assert caller_from_claims({"sub": sub, "roles": "[citizen]"}).sub == sub
