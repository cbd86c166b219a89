"""The deploy rehearsal (infra.rehearsal): the real template rehearsed for a province, and a
deliberately broken template whose every defect the rehearsal must catch."""

from __future__ import annotations

import textwrap

import pytest

from infra.local.template import Template
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE, rehearse
from infra.rehearsal.report import Report

# --- the real template ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def henan() -> Report:
    """The Henan environment of samconfig.toml rehearsed with template.yaml (about 5 s)."""
    return rehearse("henan")


def test_the_henan_deploy_rehearses_cleanly(henan: Report) -> None:
    # WHEN template.yaml is deployed into moto as `sam deploy --config-env henan` would
    # THEN every check passes (the report says which did not, and why)
    assert henan.ok, henan.render()


def test_the_rehearsal_checked_every_resource_it_claims_to(henan: Report) -> None:
    # GIVEN what template.yaml declares
    template = Template(DEFAULT_TEMPLATE, "x", {}, "cn-northwest-1")
    tables = template.of_type("AWS::DynamoDB::Table")
    functions = template.functions()
    sources = template.stream_sources()
    # THEN the rehearsal looked at each of them through moto, not at a subset
    subjects = {check.subject for check in henan.checks}
    for table in tables:
        assert {f"{table} keys", f"{table} indexes", f"{table} stream", f"{table} encryption"} <= subjects
    for table, props in template.tables().items():
        if (props.get("TimeToLiveSpecification") or {}).get("Enabled"):
            assert f"{table} TTL" in subjects
    for function in functions:
        assert {
            f"{function} handler",
            f"{function} imports",
            f"{function} watched",
            f"{function}Role",
        } <= subjects
    assert len(henan.passed("streams")) >= len(sources) + len({s.function for s in sources})
    assert {route.key for route in template.routes()} <= subjects


def test_what_moto_cannot_create_is_listed_not_hidden(henan: Report) -> None:
    # THEN the custom resource and the resource types moto's CloudFormation lacks are named
    listed = " ".join(henan.outside)
    for kind in (
        "Custom::SigningKeys",
        "AWS::SecretsManager::Secret",
        "AWS::CloudWatch::Alarm",
        "AWS::ApiGatewayV2::Api",
    ):
        assert kind in listed
    rendered = henan.render()
    assert "not created by moto's CloudFormation" in rendered and "SigningKeysBootstrap" in rendered


# --- a broken template ---------------------------------------------------------------------------

BROKEN = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Province: {Type: String, AllowedPattern: "^[1-8][0-9]0000$"}
  RetentionDays: {Type: Number, MinValue: 1, MaxValue: 365, Default: 28}
  AlarmEmail: {Type: String}
Globals:
  Function:
    Runtime: python3.12
    Architectures: [arm64]
    Layers: [!Ref SharedLayer]
Resources:
  DataKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
  FailureQueue:
    Type: AWS::SQS::Queue
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      BillingMode: PAY_PER_REQUEST
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref DataKey}
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: expires_ttl, Enabled: true}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: shared/
      CompatibleRuntimes: [python3.12]
  GoodFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/good/
      Handler: app.lambda_handler
      Policies:
        - Statement:
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt FailureQueue.Arn
      Events:
        Items:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRetryAttempts: 5
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt FailureQueue.Arn}}
  BadFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/bad/
      Handler: app.lambda_handler
      Policies:
        - Statement:
            - Effect: Allow
              Action: dynamodb:*
              Resource: "*"
      Events:
        Items:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRetryAttempts: -1
  AlarmTopic:
    Type: AWS::SNS::Topic
    Properties:
      Subscription: [{Protocol: email, Endpoint: !Ref AlarmEmail}]
  GoodFunctionErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: Errors. Runbook docs/runbooks/lambda-errors.md
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref GoodFunction}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 5
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref AlarmTopic]
  GoodFunctionThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: Throttles. Runbook docs/runbooks/lambda-errors.md
      Namespace: AWS/Lambda
      MetricName: Throttles
      Dimensions: [{Name: FunctionName, Value: !Ref GoodFunction}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 10
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref AlarmTopic]
  GoodFunctionIteratorAgeAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: Behind. Runbook docs/runbooks/lambda-errors.md
      Namespace: AWS/Lambda
      MetricName: IteratorAge
      Dimensions: [{Name: FunctionName, Value: !Ref GoodFunction}]
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 5
      Threshold: 60000
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: [!Ref AlarmTopic]
  BadFunctionErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: Errors, and no runbook to say what to do.
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref BadFunction}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 5
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref AlarmTopic]
"""

SAMCONFIG = """\
version = 0.1
[broken.deploy.parameters]
stack_name = "healthcode-410000"
region = "cn-northwest-1"
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
parameter_overrides = "Province=410000 RetentionDays=28 AlarmEmail=ops@example.gov.cn"
tags = "project=healthcode province=410000"
"""


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("broken")
    (root / "template.yaml").write_text(BROKEN, encoding="utf-8")
    (root / "samconfig.toml").write_text(SAMCONFIG, encoding="utf-8")
    files = {
        "shared/requirements.txt": "",
        "shared/healthcode/__init__.py": "",
        "shared/healthcode/clock.py": "def now() -> None:\n    return None\n",
        "functions/good/app.py": "from healthcode import clock\n\n\ndef lambda_handler(event, context):\n"
        "    return {'batchItemFailures': []}\n",
        "functions/bad/app.py": "import healthcode.nowhere\n\n\ndef handler(event, context):\n"
        "    return None\n",
        "docs/runbooks/lambda-errors.md": "# Errors\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return rehearse("broken", template=root / "template.yaml", config=root / "samconfig.toml")


def _check(report: Report, subject: str) -> tuple[bool, str]:
    found = [c for c in report.checks if c.subject == subject]
    assert len(found) == 1, f"no single check {subject!r} in:\n{report.render(verbose=True)}"
    return found[0].ok, found[0].detail


def test_a_role_with_dynamodb_star_on_every_resource_fails(broken: Report) -> None:
    ok, detail = _check(broken, "BadFunctionRole")
    assert not ok and "dynamodb:* on *" in detail and "wildcard action dynamodb:*" in detail
    assert _check(broken, "GoodFunctionRole")[0]


def test_a_stream_mapping_without_the_failure_settings_fails(broken: Report) -> None:
    ok, detail = _check(broken, "BadFunction <- Table")
    assert not ok
    for problem in (
        "no ReportBatchItemFailures",
        "no bisect",
        "MaximumRetryAttempts -1",
        "on-failure destination None",
    ):
        assert problem in detail
    assert _check(broken, "GoodFunction <- Table")[0]


def test_a_handler_that_does_not_exist_and_an_import_the_layer_lacks_fail(broken: Report) -> None:
    ok, detail = _check(broken, "BadFunction handler")
    assert not ok and "app.lambda_handler" in detail
    ok, detail = _check(broken, "BadFunction imports")
    assert not ok and "healthcode.nowhere" in detail
    assert _check(broken, "GoodFunction handler")[0] and _check(broken, "GoodFunction imports")[0]


def test_an_unwatched_function_and_an_alarm_without_a_runbook_fail(broken: Report) -> None:
    ok, detail = _check(broken, "BadFunction watched")
    assert not ok and "IteratorAge" in detail and "Throttles" in detail
    ok, detail = _check(broken, "BadFunctionErrorsAlarm")
    assert not ok and "runbook" in detail
    assert _check(broken, "GoodFunction watched")[0] and _check(broken, "GoodFunctionErrorsAlarm")[0]


def test_ttl_dropped_by_moto_is_applied_and_said_so(broken: Report) -> None:
    ok, detail = _check(broken, "Table TTL")
    assert ok and "applied by the rehearsal" in detail


def test_the_broken_template_fails_the_rehearsal_as_a_whole(broken: Report) -> None:
    assert not broken.ok
    assert "FAILED" in broken.render()
