"""CloudFormation intrinsic functions, evaluated against one stack's names.

One evaluator for the local stack (``infra.local.template``) and the deploy rehearsal
(``infra.rehearsal``); each supplies how its stack answers ``Ref`` and ``Fn::GetAtt``.
``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select`` and ``Fn::Split`` are
evaluated, and ``Fn::If`` when the stack's conditions are given (:func:`evaluate_conditions`).
What cannot be evaluated — a name the lookups refuse with :class:`Unresolvable`, any other
function — raises, or with ``partial`` is kept (its arguments evaluated) for CloudFormation to
evaluate later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

ACCOUNT = "123456789012"
#: ``${Name}`` and ``${Logical.Attribute}`` in ``Fn::Sub`` text (``${!Literal}`` is not one).
SUB_NAME = re.compile(r"\$\{([^}!]+)\}")


class Unresolvable(Exception):
    """An intrinsic function, or a name it refers to, that cannot be evaluated."""


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def pseudo_parameters(region: str, stack_name: str) -> dict[str, str]:
    """``AWS::Region``, ``AWS::AccountId``, ... of a stack in ``region``."""
    part = partition(region)
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": part,
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com.cn" if part == "aws-cn" else "amazonaws.com",
        "AWS::NoValue": "",
    }


def _evaluated(value: Any) -> bool:
    """No intrinsic function left anywhere in ``value``."""
    if isinstance(value, dict):
        if (len(value) == 1 and next(iter(value)) in ("Ref", "Condition")) or any(
            str(k).startswith("Fn::") for k in value
        ):
            return False
        return all(_evaluated(v) for v in value.values())
    if isinstance(value, list):
        return all(_evaluated(v) for v in value)
    return True


class Intrinsics:
    """Evaluates intrinsic functions with ``ref(name)`` and ``attribute(logical, name)``, which
    raise :class:`Unresolvable` for what they do not know."""

    def __init__(
        self,
        ref: Callable[[str], Any],
        attribute: Callable[[str, str], Any],
        *,
        partial: bool = False,
        conditions: Mapping[str, bool] | None = None,
    ) -> None:
        self.ref = ref
        self.attribute = attribute
        self.partial = partial
        self.conditions = conditions

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._lookup(value, lambda: self.ref(str(arg)))
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._lookup(value, lambda: self.attribute(logical, attribute))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key in ("Fn::Join", "Fn::Select", "Fn::Split"):
                return self._function(key, self.resolve(arg))
            if key == "Fn::If" and self.conditions is not None:
                name, when_true, when_false = arg
                return self.resolve(when_true if self.conditions[str(name)] else when_false)
            if key.startswith("Fn::") or key == "Condition":
                if not self.partial:
                    raise Unresolvable(f"{key} is not evaluated")
                return {key: self.resolve(arg)}
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _lookup(self, node: Any, find: Callable[[], Any]) -> Any:
        try:
            return find()
        except Unresolvable:
            if self.partial:
                return node
            raise

    def _function(self, key: str, arg: Any) -> Any:
        if not _evaluated(arg):
            if self.partial:
                return {key: arg}
            raise Unresolvable(f"{key} of unevaluated arguments")
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(str(part) for part in parts)
        if key == "Fn::Select":
            index, items = arg
            return items[int(index)]
        separator, text = arg
        return str(text).split(str(separator))

    def _sub(self, arg: Any) -> Any:
        text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        kept: dict[str, Any] = {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                if _evaluated(names[name]):
                    return str(names[name])
                kept[name] = names[name]
                return match.group(0)
            logical, _, attribute = name.partition(".")
            try:
                return str(self.attribute(logical, attribute) if attribute else self.ref(name))
            except Unresolvable:
                if not self.partial:
                    raise
                return match.group(0)

        replaced = SUB_NAME.sub(replace, text)
        if self.partial and SUB_NAME.search(replaced):
            return {"Fn::Sub": [replaced, kept] if kept else replaced}
        return replaced.replace("${!", "${")  # the escape for a literal ${


def evaluate_conditions(conditions: Mapping[str, Any], intrinsics: Intrinsics) -> dict[str, bool]:
    """A template's ``Conditions`` (or a rule's condition and assertions) as CloudFormation
    evaluates them: ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Fn::Contains`` and
    ``Condition`` over values ``intrinsics`` resolves (parameters, pseudo parameters)."""
    decided: dict[str, bool] = {}

    def truth(node: Any) -> bool:
        ((key, arg),) = node.items()
        if key == "Condition":
            name = str(arg)
            if name not in decided:
                decided[name] = truth(conditions[name])
            return decided[name]
        if key == "Fn::Equals":
            left, right = (intrinsics.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Contains":
            items, item = (intrinsics.resolve(a) for a in arg)
            return str(item) in [str(i) for i in items]
        if key == "Fn::Not":
            return not truth(arg[0])
        if key == "Fn::And":
            return all(truth(a) for a in arg)
        if key == "Fn::Or":
            return any(truth(a) for a in arg)
        raise Unresolvable(f"{key} in a condition is not evaluated")

    for name in conditions:
        truth({"Condition": name})
    return decided


def condition_holds(node: Mapping[str, Any], conditions: Mapping[str, Any], intrinsics: Intrinsics) -> bool:
    """One condition expression (a rule's ``RuleCondition`` or ``Assert``) against a template's
    named ``Conditions``."""
    return evaluate_conditions({**conditions, "__expression__": node}, intrinsics)["__expression__"]
