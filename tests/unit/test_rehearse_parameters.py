"""samconfig.toml's province environments, read and checked as CloudFormation and the province
policies would check them (infra.rehearsal: the parameter step, no moto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from healthcode.rules.policy import load_policy
from hypothesis import given
from hypothesis import strategies as st

from infra.ops.environments import DEFAULT_CONFIG, Environment, environments, load_environment, read_pairs
from infra.rehearsal.parameters import check_parameters
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE, Rehearsal

SEEDS = {"fujian": "350000", "henan": "410000", "shanxi": "140000", "jiangxi": "360000", "guizhou": "520000"}


def parameter_checks(env: Environment) -> dict[str, tuple[bool, str]]:
    rehearsal = Rehearsal(env, DEFAULT_TEMPLATE)
    check_parameters(rehearsal)
    return {c.subject: (c.ok, c.detail) for c in rehearsal.report.checks}


def test_there_is_one_environment_per_seed_province() -> None:
    assert sorted(environments()) == sorted(SEEDS)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_each_province_environment_is_complete_and_valid(name: str) -> None:
    # GIVEN the province's deploy environment
    env = load_environment(name)
    # THEN it names its stack, region, parameters, tags and asks before changing anything
    assert env.stack_name == f"healthcode-{SEEDS[name]}"
    assert env.region == "cn-northwest-1"
    assert env.parameters["Province"] == SEEDS[name]
    assert {"RetentionDays", "CallerIssuer", "CallerAudience", "AlarmEmail"} <= set(env.parameters)
    assert env.parameters["CallerIssuer"].startswith("https://")
    assert env.tags == {"project": "healthcode", "province": SEEDS[name]}
    assert env.confirm_changeset and "CAPABILITY_IAM" in env.capabilities
    # AND every parameter passes the template's constraints and the province policy
    checks = parameter_checks(env)
    assert all(ok for ok, _ in checks.values()), {k: v for k, v in checks.items() if not v[0]}
    assert int(env.parameters["RetentionDays"]) == load_policy(SEEDS[name]).retention_days


def _env(**parameters: str) -> Environment:
    base = load_environment("henan")
    return Environment(
        name="broken",
        stack_name=base.stack_name,
        region=base.region,
        parameters={**base.parameters, **parameters},
        tags=base.tags,
        capabilities=base.capabilities,
        confirm_changeset=True,
    )


@pytest.mark.parametrize(
    ("override", "subject", "problem"),
    [
        ({"Province": "41000"}, "Province", "does not match"),
        ({"RetentionDays": "0"}, "RetentionDays", "below 1"),
        ({"RetentionDays": "four"}, "RetentionDays", "not a number"),
        ({"RetentionDays": "7"}, "RetentionDays vs policy", "policy retention 28"),
        ({"AlarmEmail": "ops at example"}, "AlarmEmail", "does not match"),
        ({"Provinces": "410000"}, "names", "not in the template"),
        ({"Province": "990000"}, "policy", "no policy file"),
    ],
)
def test_a_wrong_parameter_fails_the_rehearsal_before_anything_is_created(
    override: dict[str, str], subject: str, problem: str
) -> None:
    # GIVEN an environment with one wrong value WHEN its parameters are checked THEN that check fails
    checks = parameter_checks(_env(**override))
    ok, detail = checks[subject]
    assert not ok and problem in detail


def test_a_missing_required_parameter_fails() -> None:
    env = _env()
    del env.parameters["AlarmEmail"]
    ok, detail = parameter_checks(env)["AlarmEmail"]
    assert not ok and "no value and no default" in detail


def test_a_stack_that_does_not_carry_its_province_fails() -> None:
    env = _env()
    wrong = Environment(**{**env.__dict__, "stack_name": "healthcode-350000", "tags": {"province": "350000"}})
    checks = parameter_checks(wrong)
    assert not checks["stack name"][0] and not checks["tags"][0]


_value = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@given(pairs=st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True), _value, max_size=5))
def test_parameter_overrides_read_back_whatever_is_quoted(pairs: dict[str, str]) -> None:
    # GIVEN NAME=VALUE pairs written as sam does (values shell-quoted) THEN they read back exactly
    import shlex

    text = " ".join(f"{name}={shlex.quote(value)}" for name, value in pairs.items())
    assert read_pairs(text) == pairs
    assert read_pairs([f"ParameterKey={k},ParameterValue={v}" for k, v in pairs.items()]) == pairs


def test_a_config_file_without_the_environment_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(KeyError, match=r"no \[hainan\.deploy\.parameters\]"):
        load_environment("hainan", config)
