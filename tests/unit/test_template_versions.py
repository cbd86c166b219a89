"""Published versions in template.yaml: what SnapStart=On snapshots, and when a deploy publishes.

SnapStart applies to published versions only, so every function publishes one and every event
names its alias; a version must be published exactly when what it runs changed (code, layer,
the SnapStart setting, a parameter in its environment), never on a deploy that changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import Template
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE
from infra.rehearsal.translate import translate

REGION = "ap-southeast-1"  # SnapStart for Python exists here (the China regions lack it)


def _translated(parameters: dict[str, str], template: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    resources: dict[str, Any] = translate(template, REGION, parameters)["Resources"]
    return resources


def _of(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def off() -> dict[str, Any]:
    return _translated({"SnapStart": "Off"})


@pytest.fixture(scope="module")
def on() -> dict[str, Any]:
    return _translated({"SnapStart": "On"})


def _versions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function logical id -> its AWS::Lambda::Version resource (with its logical id)."""
    found = {}
    for logical, spec in _of(resources, "AWS::Lambda::Version").items():
        found[spec["Properties"]["FunctionName"]["Ref"]] = {"logical": logical, **spec}
    return found


def _layer_moved(tmp_path: Path, key: str) -> Path:
    """template.yaml as `sam package` leaves it after the shared layer's content changed."""
    text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    assert text.count("ContentUri: shared/") == 1
    path = tmp_path / f"template-{key}.yaml"
    path.write_text(text.replace("ContentUri: shared/", f"ContentUri: s3://artifacts/{key}.zip"), "utf-8")
    return path


def test_every_function_publishes_a_version_under_the_alias_live(off: dict[str, Any]) -> None:
    functions = _of(off, "AWS::Lambda::Function")
    aliases = _of(off, "AWS::Lambda::Alias")
    versions = _versions(off)
    assert set(versions) == set(functions)
    for function in functions:
        alias = aliases[f"{function}Aliaslive"]["Properties"]
        assert alias["FunctionName"] == {"Ref": function}
        assert alias["FunctionVersion"] == {"Fn::GetAtt": [versions[function]["logical"], "Version"]}
        # a replaced version stays: a rollback, or an in-flight invoke, may still need it
        assert versions[function]["DeletionPolicy"] == "Retain"


def test_snapstart_applies_to_published_versions_only_when_on(
    off: dict[str, Any], on: dict[str, Any]
) -> None:
    for resources in (off, on):
        for spec in _of(resources, "AWS::Lambda::Function").values():
            assert spec["Properties"]["SnapStart"] == {
                "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
            }


def test_events_invoke_the_alias_never_latest(off: dict[str, Any]) -> None:
    functions = set(_of(off, "AWS::Lambda::Function"))
    for kind in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
        for logical, spec in _of(off, kind).items():
            named = spec["Properties"]["FunctionName"]["Ref"]
            assert named.endswith("Aliaslive") and named not in functions, (logical, named)
    for logical, spec in _of(off, "AWS::Events::Rule").items():
        for target in spec["Properties"]["Targets"]:
            assert target["Arn"]["Ref"].endswith("Aliaslive"), logical
    body = json.dumps(_of(off, "AWS::ApiGatewayV2::Api"))
    for function in functions:
        assert f"${{{function}.Arn}}" not in body  # an integration straight to the function
    assert "Aliaslive}/invocations" in body


def test_an_unchanged_deploy_publishes_nothing(off: dict[str, Any]) -> None:
    # WHEN the same template and parameters are translated again (a deploy with no change)
    again = _versions(_translated({"SnapStart": "Off"}))
    # THEN every version keeps its logical id, so CloudFormation publishes no new version
    assert {f: v["logical"] for f, v in again.items()} == {f: v["logical"] for f, v in _versions(off).items()}


def test_a_change_to_the_shared_layer_alone_publishes_every_function(tmp_path: Path) -> None:
    # GIVEN the same functions' code, and the shared layer packaged twice with other content
    first = _versions(_translated({}, _layer_moved(tmp_path, "layer-a")))
    second = _versions(_translated({}, _layer_moved(tmp_path, "layer-b")))
    # THEN every function's version is a new resource: the alias moves to code with the new layer
    assert set(first) == set(second)
    for function in first:
        assert first[function]["logical"] != second[function]["logical"], function


def test_turning_snapstart_on_replaces_the_versions_in_that_deploy(
    off: dict[str, Any], on: dict[str, Any]
) -> None:
    # A version's Description can only change by replacement (a new version, which is the one
    # SnapStart snapshots); it names SnapStart and the parameters the functions' environment holds.
    parameters = {"SnapStart": "On", "RetentionDays": "28", "CodeBaseUrl": "hc.local"}
    for function, version in _versions(on).items():
        description = version["Properties"]["Description"]["Fn::Sub"]
        rendered = description.replace("${", "{").format(**parameters)
        assert rendered == "SnapStart On, retention 28 d, codes at hc.local", function
        assert len(rendered.replace("hc.local", "x" * 18)) <= 256
        assert _versions(off)[function]["Properties"]["Description"] == version["Properties"]["Description"]


def test_the_local_stack_loads_handlers_and_knows_their_alias() -> None:
    template = Template(DEFAULT_TEMPLATE, "healthcode-520000", {}, "cn-northwest-1")
    functions = template.functions()
    assert functions and all(f.alias == "live" for f in functions.values())
    for function in functions.values():
        assert (function.code_uri / (function.handler.rsplit(".", 1)[0] + ".py")).is_file()
    arn = template.resolve({"Ref": "CodesFunction.Alias"})
    assert arn == template.arn("CodesFunction") + ":live"
    with pytest.raises(KeyError):
        template.resolve({"Ref": "NoSuchFunction.Alias"})
