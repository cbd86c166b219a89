"""template.yaml for the authority: only the counters publish isolate alerts (IAM and the topic
policy), the subscriber is optional, the daily report runs at 16:00 China time and writes only
under reports/daily-scans/; and the local stack reads that schedule as EventBridge does."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.stack import daily_time
from infra.local.template import ROOT_TEMPLATE, Template

TEMPLATE = Template(ROOT_TEMPLATE, "check", {}, "cn-north-1")
RESOURCES = TEMPLATE.resources


def _statements(logical_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in TEMPLATE.function_properties(logical_id).get("Policies", []):
        if isinstance(policy, dict):
            found.extend(policy.get("Statement", []))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_only_the_counters_may_publish_isolate_alerts() -> None:
    publishers = {
        logical_id
        for logical_id in TEMPLATE.functions()
        for statement in _statements(logical_id)
        if "sns:Publish" in _as_list(statement["Action"])
    }
    assert publishers == {"CountersFunction"}
    (statement,) = [s for s in _statements("CountersFunction") if "sns:Publish" in _as_list(s["Action"])]
    assert statement["Resource"] == {"Ref": "AlertsTopic"}
    policy = RESOURCES["AlertsTopicPolicy"]["Properties"]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "sns:Publish" and deny["Principal"] == "*"
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == {
        "Fn::GetAtt": ["CountersFunctionRole", "Arn"]
    }
    assert policy["Topics"] == [{"Ref": "AlertsTopic"}]


def test_the_alerts_topic_is_encrypted_and_its_subscriber_optional() -> None:
    assert RESOURCES["AlertsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    subscription = RESOURCES["AlertsTopicSubscription"]
    assert subscription["Condition"] == "HasAlertsSubscriber"
    assert TEMPLATE.document["Parameters"]["AlertsSubscriberEndpoint"]["Default"] == ""
    assert set(TEMPLATE.document["Parameters"]["AlertsSubscriberProtocol"]["AllowedValues"]) == {
        "email",
        "https",
    }
    counters = TEMPLATE.function_properties("CountersFunction")["Environment"]["Variables"]
    assert counters["ALERTS_TOPIC_ARN"] == {"Ref": "AlertsTopic"}


def test_officials_alerts_read_and_acknowledge_only() -> None:
    actions = {
        a for s in _statements("AlertsFunction") for a in _as_list(s["Action"]) if a.startswith("dynamodb:")
    }
    assert actions == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem"}
    (audit,) = [
        s for s in _statements("AlertsFunction") if s["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]}
    ]
    assert _as_list(audit["Action"]) == ["dynamodb:PutItem"]


def test_the_daily_report_runs_at_1600_china_time_and_writes_only_its_reports() -> None:
    (schedule,) = [s for s in TEMPLATE.schedules() if s.function == "DailyReportFunction"]
    assert daily_time(schedule.expression) == (8, 0)  # 08:00 UTC = 16:00 at +08:00
    (put,) = [s for s in _statements("DailyReportFunction") if "s3:PutObject" in _as_list(s["Action"])]
    assert put["Resource"] == {"Fn::Sub": "${ExportBucket.Arn}/reports/daily-scans/*"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 8 * * ? *)", (8, 0)),
        ("cron(30 23 * * ? *)", (23, 30)),
        ("cron(0 24 * * ? *)", None),
        ("cron(60 8 * * ? *)", None),
        ("cron(0 8 ? * MON *)", None),
        ("rate(5 minutes)", None),
    ],
)
def test_the_local_stack_reads_daily_cron_expressions(
    expression: str, expected: tuple[int, int] | None
) -> None:
    assert daily_time(expression) == expected
