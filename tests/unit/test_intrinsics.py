"""The one intrinsic-function evaluator the local stack and the deploy rehearsal share
(infra.local.intrinsics): full evaluation, and partial evaluation that keeps for CloudFormation
what it cannot answer."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.intrinsics import Intrinsics, Unresolvable, pseudo_parameters

NAMES = {"Table": "stack-Table", "Stage": "prod", **pseudo_parameters("cn-north-1", "stack")}
ATTRIBUTES = {("Table", "Arn"): "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/stack-Table"}


def ref(name: str) -> str:
    if name not in NAMES:
        raise Unresolvable(name)
    return NAMES[name]


def attribute(logical: str, name: str) -> str:
    if (logical, name) not in ATTRIBUTES:
        raise Unresolvable(f"{logical}.{name}")
    return ATTRIBUTES[(logical, name)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Table"}, "stack-Table"),
        ({"Ref": "AWS::Partition"}, "aws-cn"),
        ({"Fn::GetAtt": ["Table", "Arn"]}, ATTRIBUTES[("Table", "Arn")]),
        ({"Fn::GetAtt": "Table.Arn"}, ATTRIBUTES[("Table", "Arn")]),
        ({"Fn::Sub": "${AWS::StackName}-${Stage}"}, "stack-prod"),
        ({"Fn::Sub": "${Table.Arn}/index/*"}, ATTRIBUTES[("Table", "Arn")] + "/index/*"),
        ({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]}, "prod-x"),
        ({"Fn::Sub": "${!Literal} ${Stage}"}, "${Literal} prod"),
        ({"Fn::Join": ["-", [{"Ref": "Stage"}, "a"]]}, "prod-a"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Properties": [{"Ref": "Stage"}, 3, None]}, {"Properties": ["prod", 3, None]}),
    ],
)
def test_what_both_stacks_evaluate(value: Any, expected: Any) -> None:
    assert Intrinsics(ref, attribute).resolve(value) == expected
    assert Intrinsics(ref, attribute, partial=True).resolve(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Unknown"},
        {"Fn::GetAtt": ["Table", "StreamArn"]},
        {"Fn::Sub": "${Unknown}"},
        {"Fn::If": ["Cond", "a", "b"]},
        {"Fn::Join": ["", [{"Ref": "Unknown"}]]},
    ],
)
def test_full_evaluation_refuses_what_it_cannot_answer(value: Any) -> None:
    with pytest.raises(Unresolvable):
        Intrinsics(ref, attribute).resolve(value)


def test_partial_evaluation_keeps_the_rest_for_cloudformation() -> None:
    partial = Intrinsics(ref, attribute, partial=True)
    assert partial.resolve({"Ref": "Unknown"}) == {"Ref": "Unknown"}
    assert partial.resolve({"Fn::Sub": "${Stage}-${Unknown}"}) == {"Fn::Sub": "prod-${Unknown}"}
    assert partial.resolve({"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "Stage"}, "B": {"Ref": "Unknown"}}]}) == {
        "Fn::Sub": ["prod-${B}", {"B": {"Ref": "Unknown"}}]
    }
    assert partial.resolve({"Fn::Join": ["", [{"Ref": "Stage"}, {"Ref": "Unknown"}]]}) == {
        "Fn::Join": ["", ["prod", {"Ref": "Unknown"}]]
    }
    assert partial.resolve({"Fn::If": ["Cond", {"Ref": "Stage"}, "b"]}) == {"Fn::If": ["Cond", "prod", "b"]}
