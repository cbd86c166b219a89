"""Checks of what watches the stack: every alarm's dimensions naming created resources, its topic
and runbook; Errors and Throttles alarms for every function, IteratorAge for every stream
consumer; the alarm topic's subscriber; the dashboard showing every function; every function's
log group and the API's access log group created, kept as long as the stack's data."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal


def check_alarms(rehearsal: Rehearsal) -> None:
    cloudwatch = rehearsal.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    functions = {rehearsal.physical[k]: k for k in rehearsal.translated_of("AWS::Lambda::Function")}
    queues = {
        p.rsplit("/", 1)[1] for k, p in rehearsal.physical.items() if rehearsal.types[k] == "AWS::SQS::Queue"
    }
    apis = {v["ApiId"] for v in rehearsal.known.values() if "ApiId" in v}
    topics = {p for k, p in rehearsal.physical.items() if rehearsal.types[k] == "AWS::SNS::Topic"}
    watched: dict[str, set[str]] = {}
    for logical, spec in rehearsal.outside.items():
        if spec["Type"] != "AWS::CloudWatch::Alarm":
            continue
        name = rehearsal.known[logical]["Ref"]
        alarm = alarms.get(name)
        if alarm is None:
            continue  # PutMetricAlarm refused it: already reported
        dimensions = list(alarm.get("Dimensions", []))
        for metric in alarm.get("Metrics", []):
            dimensions += metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
        problems = []
        for dimension in dimensions:
            value = dimension["Value"]
            if dimension["Name"] == "FunctionName":
                if value not in functions:
                    problems.append(f"function {value} does not exist")
                watched.setdefault(functions.get(value, value), set()).add(str(alarm.get("MetricName")))
            elif dimension["Name"] == "QueueName" and value not in queues:
                problems.append(f"queue {value} does not exist")
            elif dimension["Name"] == "ApiId" and value not in apis:
                problems.append(f"API {value} does not exist")
            elif dimension["Name"] == "province" and value != rehearsal.env.parameters.get("Province"):
                problems.append(f"province {value}")
        actions = alarm.get("AlarmActions", [])
        if not actions or any(action not in topics for action in actions):
            problems.append(f"actions {actions} are not the stack's topics")
        runbook = re.search(r"docs/runbooks/([\w.-]+\.md)", alarm.get("AlarmDescription", ""))
        if (
            not runbook
            or not (rehearsal.template_path.parent / "docs" / "runbooks" / runbook.group(1)).is_file()
        ):
            problems.append("its description names no runbook that exists in docs/runbooks/")
        rehearsal.check(
            "alarms",
            logical,
            not problems,
            "; ".join(problems) or f"{alarm.get('MetricName') or 'metric math'}",
        )
    consumers = {
        spec["Properties"]["FunctionName"]["Ref"]
        for spec in rehearsal.translated_of("AWS::Lambda::EventSourceMapping").values()
    }
    for function in sorted(rehearsal.translated_of("AWS::Lambda::Function")):
        wanted = {"Errors", "Throttles"} | ({"IteratorAge"} if function in consumers else set())
        missing = wanted - watched.get(function, set())
        rehearsal.check(
            "alarms",
            f"{function} watched",
            not missing,
            f"missing {sorted(missing)}" if missing else ", ".join(sorted(wanted)),
        )
    sns = rehearsal.client("sns")
    email = rehearsal.env.parameters.get("AlarmEmail")
    for topic in sorted(topics):
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        endpoints = {(s["Protocol"], s["Endpoint"]) for s in subscriptions}
        if any(topic in a.get("AlarmActions", []) for a in alarms.values()):
            rehearsal.check(
                "alarms",
                f"topic {topic.rsplit(':', 1)[1]}",
                ("email", email) in endpoints,
                f"subscribers {sorted(endpoints)}",
            )


def check_dashboard(rehearsal: Rehearsal) -> None:
    cloudwatch = rehearsal.client("cloudwatch")
    names = {a["AlarmArn"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    functions = {rehearsal.physical[k] for k in rehearsal.translated_of("AWS::Lambda::Function")}
    for logical in rehearsal.translated_of("AWS::CloudWatch::Dashboard"):
        body = json.loads(
            cloudwatch.get_dashboard(DashboardName=rehearsal.physical[logical])["DashboardBody"]
        )
        problems = []
        shown = set()
        for widget in body.get("widgets", []):
            properties = widget.get("properties", {})
            for alarm in properties.get("alarms", []):
                if alarm not in names:
                    problems.append(f"alarm {alarm} does not exist")
            for metric in properties.get("metrics", []):
                cells = [c for c in metric if isinstance(c, str)]
                for name, value in zip(cells[2::2], cells[3::2], strict=False):
                    if name == "FunctionName":
                        shown.add(value)
                        if value not in functions:
                            problems.append(f"function {value} does not exist")
        hidden = sorted(functions - shown)
        if hidden:
            problems.append(f"functions not on it: {hidden}")
        rehearsal.check(
            "dashboard",
            logical,
            not problems,
            "; ".join(problems) or f"{len(body.get('widgets', []))} widgets",
        )


def check_log_groups(rehearsal: Rehearsal) -> None:
    """Every function logs into a group the stack created (not one Lambda makes on first use, kept
    forever), with the retention the template maps RetentionDays to."""
    logs = rehearsal.client("logs")
    groups: dict[str, Any] = {}
    for page in logs.get_paginator("describe_log_groups").paginate():
        groups.update({g["logGroupName"]: g.get("retentionInDays") for g in page["logGroups"]})
    days = str(rehearsal.parameter_values().get("RetentionDays", ""))
    wanted = rehearsal.translated.get("Mappings", {}).get("LogRetention", {}).get(days, {}).get("Days")
    names = {
        f"/aws/lambda/{rehearsal.physical[k]}": k for k in rehearsal.translated_of("AWS::Lambda::Function")
    }
    # and every other group the template declares (the API's access log), by its created name
    for logical in rehearsal.translated_of("AWS::Logs::LogGroup"):
        names.setdefault(rehearsal.physical.get(logical, logical), logical)
    for name, logical in sorted(names.items(), key=lambda item: item[1]):
        rehearsal.check(
            "logs",
            f"{logical} log group",
            name in groups and wanted is not None and groups[name] == int(wanted),
            f"{name}: kept {groups.get(name)} days (RetentionDays {days} -> {wanted})"
            if name in groups
            else f"{name}: not created by the stack",
        )
