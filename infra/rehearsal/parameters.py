"""The parameter step: an environment's ``parameter_overrides`` checked as CloudFormation checks
them (known names, required values, patterns, bounds, lengths) and against its province policy
(stack ``healthcode-<province>``, tags, ``RetentionDays`` equal to the policy's retention)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal


def check_parameters(rehearsal: Rehearsal) -> None:
    from healthcode.rules.policy import PolicyError, load_policy

    declared = rehearsal.source.get("Parameters", {})
    env = rehearsal.env
    unknown = sorted(set(env.parameters) - set(declared))
    rehearsal.check("parameters", "names", not unknown, f"not in the template: {unknown}" if unknown else "")
    for name, spec in declared.items():
        value = env.parameters.get(name, spec.get("Default"))
        if value is None:
            rehearsal.check("parameters", name, False, "no value and no default (sam deploy would stop)")
            continue
        text = str(value)
        problems = []
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, text):
            problems.append(f"does not match {pattern}")
        if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"not one of {spec['AllowedValues']}")
        if spec.get("Type") == "Number":
            try:
                number = float(text)
            except ValueError:
                problems.append("not a number")
            else:
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problems.append(f"below {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    problems.append(f"above {spec['MaxValue']}")
        if "MinLength" in spec and len(text) < int(spec["MinLength"]):
            problems.append(f"shorter than {spec['MinLength']}")
        if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
            problems.append(f"longer than {spec['MaxLength']}")
        rehearsal.check("parameters", name, not problems, "; ".join(problems) or text)
    _check_rules(rehearsal)
    province = str(env.parameters.get("Province", ""))
    rehearsal.check(
        "parameters",
        "stack name",
        env.stack_name == f"healthcode-{province}",
        f"{env.stack_name} (expected healthcode-{province})",
    )
    rehearsal.check("parameters", "tags", env.tags.get("province") == province, f"{env.tags}")
    rehearsal.check(
        "parameters",
        "capabilities",
        "CAPABILITY_IAM" in env.capabilities and env.confirm_changeset,
        f"{list(env.capabilities)}, confirm_changeset={env.confirm_changeset}",
    )
    try:
        policy = load_policy(province)
    except PolicyError as error:
        rehearsal.check("parameters", "policy", False, str(error))
        return
    text = str(env.parameters.get("RetentionDays", declared.get("RetentionDays", {}).get("Default", "")))
    retention = int(text) if text.isdigit() else -1
    rehearsal.check(
        "parameters",
        "RetentionDays vs policy",
        retention == policy.retention_days and retention >= policy.tracing.lookback_days,
        f"{text} days; policy retention {policy.retention_days}, "
        f"tracing lookback {policy.tracing.lookback_days}",
    )


def _check_rules(rehearsal: Rehearsal) -> None:
    """The template's ``Rules`` as CloudFormation applies them before creating anything: where a
    rule's condition holds, each assertion must (e.g. a China region's console needs a domain)."""
    from infra.local.intrinsics import Intrinsics, Unresolvable, condition_holds

    declared = rehearsal.source.get("Conditions", {})
    values = Intrinsics(rehearsal.ref, rehearsal.attribute)
    for name, rule in rehearsal.source.get("Rules", {}).items():
        try:
            applies = "RuleCondition" not in rule or condition_holds(rule["RuleCondition"], declared, values)
            failed = [
                str(a.get("AssertDescription", a["Assert"]))
                for a in rule.get("Assertions", [])
                if applies and not condition_holds(a["Assert"], declared, values)
            ]
        except (Unresolvable, KeyError, ValueError) as error:
            rehearsal.check("parameters", f"rule {name}", False, f"not evaluated: {error}")
            continue
        rehearsal.check("parameters", f"rule {name}", not failed, "; ".join(failed) or "holds")
