"""The deploy rehearsal of published versions: with SnapStart=On (a region that has it) every
function runs under the alias ``live`` on a version published from its packaged code, SnapStart
applies to published versions, and every route and mapping invokes the alias; a template whose
events bypass the alias, or whose function publishes no version, fails the rehearsal."""

from __future__ import annotations

import textwrap
from pathlib import Path

from infra.local.template import Template
from infra.ops.environments import DEFAULT_CONFIG
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE, rehearse
from infra.rehearsal.report import Report


def _checks(report: Report, area: str) -> dict[str, tuple[bool, str]]:
    return {c.subject: (c.ok, c.detail) for c in report.checks if c.area == area}


def test_snapstart_on_rehearses_with_every_event_on_the_published_alias(tmp_path: Path) -> None:
    # GIVEN Henan's environment in a region that has SnapStart for Python, with SnapStart=On
    config = tmp_path / "samconfig.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    henan = text[text.index("[henan.deploy.parameters]") :].split("\n\n", 1)[0]
    moved = henan.replace('region = "cn-northwest-1"', 'region = "ap-southeast-1"').replace(
        'parameter_overrides = "Province=410000', 'parameter_overrides = "SnapStart=On Province=410000'
    )
    assert moved.count("ap-southeast-1") == 1 and "SnapStart=On" in moved
    config.write_text("version = 0.1\n\n" + moved + "\n", encoding="utf-8")
    # WHEN it is rehearsed
    report = rehearse("henan", config=config)
    # THEN every check passes
    assert report.ok, report.render()
    versions = _checks(report, "versions")
    functions = Template(DEFAULT_TEMPLATE, "x", {}, "ap-southeast-1").functions()
    for function in functions:
        assert versions[f"{function} SnapStart"][0]
        assert "ApplyOn PublishedVersions with SnapStart=On" in versions[f"{function} SnapStart"][1]
        ok, detail = versions[f"{function} alias live"]
        assert ok and "version 1" in detail  # published, not $LATEST
    # and every route reaches an alias (GetPolicy of the alias allowed the API to invoke it)
    routes = [detail for subject, (ok, detail) in _checks(report, "api").items() if " /" in subject]
    assert routes and all("Aliaslive, invoke permitted" in detail for detail in routes)


BYPASS = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Province: {Type: String, Default: "410000"}
  SnapStart: {Type: String, AllowedValues: ["On", "Off"], Default: "Off"}
Conditions:
  SnapStartOn: !Equals [!Ref SnapStart, "On"]
Globals:
  Function:
    Runtime: python3.12
    Architectures: [arm64]
    Layers: [!Ref SharedLayer]
    SnapStart:
      ApplyOn: !If [SnapStartOn, PublishedVersions, None]
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: shared/
      CompatibleRuntimes: [python3.12]
  PublishedFunction:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      CodeUri: functions/good/
      Handler: app.lambda_handler
  UnpublishedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/good/
      Handler: app.lambda_handler
  StraightToLatest:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref PublishedFunction
      Principal: events.amazonaws.com
"""

SAMCONFIG = """\
version = 0.1
[bypass.deploy.parameters]
stack_name = "healthcode-410000"
region = "cn-northwest-1"
capabilities = "CAPABILITY_IAM"
parameter_overrides = "Province=410000"
tags = "project=healthcode province=410000"
"""


def test_an_event_past_the_alias_and_a_function_without_versions_fail(tmp_path: Path) -> None:
    # GIVEN a template with one function that publishes no version and a permission that names
    # a published function itself ($LATEST, which SnapStart never snapshots)
    (tmp_path / "template.yaml").write_text(BYPASS, encoding="utf-8")
    (tmp_path / "samconfig.toml").write_text(SAMCONFIG, encoding="utf-8")
    for name, text in {
        "shared/requirements.txt": "",
        "shared/healthcode/__init__.py": "",
        "functions/good/app.py": "def lambda_handler(event, context):\n    return None\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    # WHEN it is rehearsed
    report = rehearse("bypass", template=tmp_path / "template.yaml", config=tmp_path / "samconfig.toml")
    versions = _checks(report, "versions")
    # THEN the published function's alias is fine, and both defects are named
    assert versions["PublishedFunction alias live"][0], report.render(verbose=True)
    assert not versions["UnpublishedFunction alias"][0]
    ok, detail = versions["StraightToLatest invokes an alias"]
    assert not ok and "bypasses the alias of ['PublishedFunction']" in detail
    assert not report.ok
