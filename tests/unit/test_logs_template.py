"""template.yaml's logs and what the IaC scanner (checkov, `make checkov`) is told: every function
has a log group kept as long as the stack's data, the HTTP API's access log names no person and
carries no token, the buckets' access is logged, the alarm topic is encrypted, the consumers that
fan out are capped, and every scanner finding skipped in the template says why."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.local.template import ROOT_TEMPLATE, Template

TEMPLATE = Template(ROOT_TEMPLATE, "healthcode-520000", {}, "cn-north-1")
RESOURCES = TEMPLATE.resources
PARAMETERS = TEMPLATE.document["Parameters"]
FUNCTIONS = sorted(TEMPLATE.functions())
#: What CloudWatch Logs accepts as RetentionInDays (up to a year: RetentionDays' maximum).
CLOUDWATCH_RETENTIONS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365}
#: The only request facts the API's access log may hold: no path (it names persons and venues),
#: no query string, no source IP or user agent, no claims, no header.
ACCESS_LOG_VARIABLES = {
    "requestId",
    "requestTimeEpoch",
    "routeKey",
    "status",
    "integrationStatus",
    "responseLatency",
    "integrationLatency",
    "responseLength",
    "protocol",
    "error.message",
    "authorizer.error",
    "integrationErrorMessage",
}


def _log_groups() -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in TEMPLATE.of_type("AWS::Logs::LogGroup").items()}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_its_log_group_kept_as_long_as_the_data(function: str) -> None:
    # GIVEN the log groups the stack creates
    named = {json.dumps(props.get("LogGroupName"), sort_keys=True): props for props in _log_groups().values()}
    # THEN the function's own group (Lambda's name for it) is one of them, created with the stack
    key = json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"}, sort_keys=True)
    assert key in named, f"{function}: add a {function}LogGroup (operations section, logs)"
    # AND it is kept as the mapping of RetentionDays says, not forever
    assert named[key]["RetentionInDays"] == {
        "Fn::FindInMap": ["LogRetention", {"Ref": "RetentionDays"}, "Days"]
    }


def test_log_retention_is_defined_for_every_allowed_retention_and_never_longer() -> None:
    # GIVEN the retentions a stack may be deployed with
    allowed = [int(v) for v in PARAMETERS["RetentionDays"]["AllowedValues"]]
    mapping = TEMPLATE.document["Mappings"]["LogRetention"]
    # THEN each maps to a retention CloudWatch Logs accepts, never longer than the data's
    assert sorted(int(k) for k in mapping) == sorted(allowed)
    for days in allowed:
        kept = int(mapping[str(days)]["Days"])
        assert kept in CLOUDWATCH_RETENTIONS and kept <= days, days
        # AND the longest such period: logs are not thrown away sooner than they must be
        assert kept == max(r for r in CLOUDWATCH_RETENTIONS if r <= days), days
    # AND the default is one of them (samconfig's provinces deploy with 28)
    assert int(PARAMETERS["RetentionDays"]["Default"]) in allowed


def test_the_api_access_log_holds_no_personal_data_and_no_token() -> None:
    # GIVEN the HTTP API's access log settings
    settings = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    fmt = settings["Format"]
    # THEN it uses only allowed request facts ($context only: no $request header or query string)
    used = set(re.findall(r"\$context\.([A-Za-z.]+)", fmt))
    assert used <= ACCESS_LOG_VARIABLES, used - ACCESS_LOG_VARIABLES
    assert "$request" not in fmt and "$input" not in fmt and "$stageVariables" not in fmt
    # AND each request is one JSON line with the route's template, not the path
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", fmt))
    assert {"requestId", "route", "status"} <= set(line)
    assert "$context.routeKey" in fmt and "$context.path" not in fmt
    # AND the access log group is kept as long as the function logs
    group = RESOURCES["HttpApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Fn::FindInMap": ["LogRetention", {"Ref": "RetentionDays"}, "Days"]}


def test_export_bucket_is_versioned_and_its_access_logged() -> None:
    bucket = RESOURCES["ExportBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LogsBucket"}
    # a version replaced or expired does not outlive the retention by more than a day
    exports = next(r for r in bucket["LifecycleConfiguration"]["Rules"] if r["Prefix"] == "exports/")
    assert exports["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_logs_bucket_takes_s3_access_logs_and_keeps_them_as_long_as_the_data() -> None:
    logs = RESOURCES["LogsBucket"]["Properties"]
    # S3 delivers server access logs only to an SSE-S3 bucket
    rule = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(logs["PublicAccessBlockConfiguration"].values())
    expiry = [r for r in logs["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert [r["ExpirationInDays"] for r in expiry] == [{"Ref": "RetentionDays"}]
    statements = RESOURCES["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    delivery = next(s for s in statements if s["Effect"] == "Allow")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"] == {"aws:SecureTransport": "false"}
        for s in statements
    )


def test_alarm_topic_is_encrypted_with_a_key_only_this_accounts_alarms_may_use() -> None:
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = RESOURCES["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert [s["Principal"]["Service"] for s in services] == ["cloudwatch.amazonaws.com"]
    assert sorted(services[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert services[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # AND the data key still trusts no service principal
    data_key = RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert all("Service" not in s["Principal"] for s in data_key)


@pytest.mark.parametrize("function", ["TracingFunction", "ColourFunction"])
def test_consumers_that_fan_out_have_reserved_concurrency(function: str) -> None:
    reserved = TEMPLATE.function_properties(function)["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": [
            "ReservesConsumerConcurrency",
            {"Ref": "ConsumerReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert TEMPLATE.document["Conditions"]["ReservesConsumerConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ConsumerReservedConcurrency"}, 0]}]
    }
    assert int(PARAMETERS["ConsumerReservedConcurrency"]["Default"]) > 0


def _skips() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, spec in RESOURCES.items():
        for skip in (spec.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            found.append((logical, skip))
    return found


def test_every_scanner_skip_names_a_check_and_says_why() -> None:
    skips = _skips()
    assert skips
    for logical, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (logical, skip)
        assert len(str(skip.get("comment", "")).split()) >= 5, f"{logical} {skip['id']}: give the reason"


def test_a_checkins_access_log_line_is_json_and_small() -> None:
    # GIVEN the bench's rendering of a check-in's access log line (CloudWatch bills every byte)
    from infra.bench.run import CHECKIN_CONTEXT, access_log

    class Stack:
        template = TEMPLATE

    fmt = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: CHECKIN_CONTEXT.get(m.group(1), "-"), fmt)
    assert json.loads(line)["route"] == "POST /v1/checkins"
    # THEN one line costs at most 256 bytes as billed: $0.128 per million check-ins
    figures = access_log(Stack())  # type: ignore[arg-type]
    assert figures["cost.access_log_bytes"] == len(line.encode()) + 26 <= 256
    assert figures["cost.access_log_usd_per_million_checkins"] <= 0.128
