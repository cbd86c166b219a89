"""template.yaml's operations section: every function watched, every alarm with a runbook and a
topic someone reads, the override alarm on the metric as it is really emitted, the dashboard
complete, the export least-privileged. (The deploy rehearsal checks the same on created resources;
these say, without moto, what to add when a function is added.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import ROOT_TEMPLATE, Template

TEMPLATE = Template(ROOT_TEMPLATE, "healthcode-520000", {}, "cn-north-1")
RESOURCES = TEMPLATE.resources
FUNCTIONS = sorted(TEMPLATE.functions())
CONSUMERS = sorted({source.function for source in TEMPLATE.stream_sources()})
ALARMS = TEMPLATE.of_type("AWS::CloudWatch::Alarm")
RUNBOOKS = ROOT_TEMPLATE.parent / "docs" / "runbooks"

ALARM_BLOCK = """\
  {f}{kind}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{f}-{suffix}
      AlarmDescription: {f} ... Runbook docs/runbooks/{runbook}
      Namespace: AWS/Lambda
      MetricName: {kind}
      Dimensions: [{{Name: FunctionName, Value: !Ref {f}}}]
      ... (copy the other properties from an existing {kind} alarm in the operations section)"""


def _watched() -> dict[str, set[str]]:
    """Function logical id -> the AWS/Lambda metrics its alarms watch."""
    watched: dict[str, set[str]] = {}
    for spec in ALARMS.values():
        props = spec["Properties"]
        if props.get("Namespace") != "AWS/Lambda":
            continue
        for dimension in props.get("Dimensions", []):
            if dimension["Name"] == "FunctionName" and isinstance(dimension["Value"], dict):
                watched.setdefault(dimension["Value"]["Ref"], set()).add(props["MetricName"])
    return watched


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_error_and_throttle_alarms(function: str) -> None:
    # GIVEN a function of the template THEN alarms watch its Errors and Throttles (by !Ref)
    missing = {"Errors", "Throttles"} - _watched().get(function, set())
    blocks = [
        ALARM_BLOCK.format(f=function, kind=kind, suffix=kind.lower(), runbook=f"lambda-{kind.lower()}.md")
        for kind in sorted(missing)
    ]
    assert not missing, "add to the operations section of template.yaml:\n" + "\n\n".join(blocks)


@pytest.mark.parametrize("function", CONSUMERS)
def test_every_stream_consumer_has_an_iterator_age_alarm(function: str) -> None:
    assert "IteratorAge" in _watched().get(function, set()), (
        "add to the operations section of template.yaml:\n"
        + ALARM_BLOCK.format(
            f=function, kind="IteratorAge", suffix="iterator-age", runbook="stream-iterator-age.md"
        )
    )


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_names_its_runbook_and_tells_a_subscribed_topic(alarm: str) -> None:
    props = ALARMS[alarm]["Properties"]
    runbook = re.search(r"docs/runbooks/([\w.-]+\.md)", props.get("AlarmDescription", ""))
    assert runbook and (RUNBOOKS / runbook.group(1)).is_file(), f"{alarm}: no runbook in its description"
    actions = props.get("AlarmActions", [])
    assert actions, f"{alarm}: notifies nobody"
    for action in actions:
        topic = RESOURCES[action["Ref"]]
        assert topic["Type"] == "AWS::SNS::Topic" and topic["Properties"].get("Subscription"), (
            f"{alarm}: topic {action['Ref']} has no subscriber"
        )


def test_every_runbook_an_alarm_names_has_the_three_parts() -> None:
    for page in {
        re.search(r"runbooks/([\w.-]+\.md)", a["Properties"]["AlarmDescription"]) for a in ALARMS.values()
    }:
        if page is None:
            continue
        text = (RUNBOOKS / page.group(1)).read_text(encoding="utf-8")
        for heading in ("## What it means", "## First three things to check", "## How to recover"):
            assert heading in text, f"{page.group(1)}: missing {heading!r}"


def test_alarms_go_to_the_alarm_email() -> None:
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    assert "Default" not in TEMPLATE.document["Parameters"]["AlarmEmail"]  # every province names its own


def test_the_override_alarm_watches_the_metric_as_powertools_emits_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the cases function's service name, as the template sets it
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    service = TEMPLATE.function_properties("CasesFunction")["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # WHEN the metric is emitted the way functions/cases emits it (a single metric + province)
    with single_metric(
        name="OverrideRequestsOverLimit", unit=MetricUnit.Count, value=1, namespace="HealthCode"
    ) as m:
        m.add_dimension(name="province", value="410000")
    emitted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    dimension_set = set(emitted["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])
    # THEN the alarm names exactly that dimension set (CloudWatch matches dimension sets exactly)
    props = ALARMS["ManualOverrideRateAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("HealthCode", "OverrideRequestsOverLimit")
    dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    assert set(dimensions) == dimension_set
    assert dimensions["province"] == {"Ref": "Province"} and dimensions["service"] == service


def _dashboard() -> dict[str, Any]:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return dict(json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: m.group(1), body)))


def test_the_dashboard_shows_every_function_and_the_stack_alarms() -> None:
    shown: set[str] = set()
    alarms: set[str] = set()
    for widget in _dashboard()["widgets"]:
        properties = widget["properties"]
        alarms.update(a.removesuffix(".Arn") for a in properties.get("alarms", []))
        for metric in properties.get("metrics", []):
            cells = [c for c in metric if isinstance(c, str)]
            shown.update(
                value for name, value in zip(cells[2::2], cells[3::2], strict=False) if name == "FunctionName"
            )
    assert set(FUNCTIONS) <= shown, f"not on the dashboard: {sorted(set(FUNCTIONS) - shown)}"
    assert {"ApiServerErrorRateAlarm", "StreamFailureQueueDepthAlarm", "ManualOverrideRateAlarm"} <= alarms
    assert alarms <= set(ALARMS)


def test_the_export_writes_only_under_exports_and_reads_both_streams() -> None:
    props = TEMPLATE.function_properties("ExportFunction")
    statements = props["Policies"][0]["Statement"]
    s3 = [s for s in statements if str(s["Action"]).startswith("s3:")]
    assert s3 == [
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Sub": "${ExportBucket.Arn}/exports/*"},
        }
    ]
    assert not any(
        "kms:Encrypt" in str(s["Action"]) or "dynamodb:Query" in str(s["Action"]) for s in statements
    )
    assert sorted(s.table for s in TEMPLATE.stream_sources() if s.function == "ExportFunction") == [
        "ScansTable",
        "VenuesTable",
    ]
    bucket = RESOURCES["ExportBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "RetentionDays"}


def test_the_schema_document_lists_every_exported_field() -> None:
    from healthcode.services import export

    document = (ROOT_TEMPLATE.parent / "docs" / "export-schema.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", document, flags=re.MULTILINE))
    assert set(export.SCHEMA.values()) <= set(re.findall(r"healthcode\.export\.\w+/\d+", document))
    for name in ("scan_id", "scanner_hash", "subject_hash", "manager_hash", "seq", "changed_at", "presented"):
        assert name in documented
    assert Path(export.__file__).name == "export.py"
