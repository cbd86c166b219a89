"""One rehearsal of one environment: translate, package, create the stack in moto's
CloudFormation (and beside it what moto cannot create), then run every check.

``Rehearsal`` holds what was created and answers ``Ref``/``Fn::GetAtt`` about it; the checks of
each area live in their own modules (parameters, data, functions, access, monitoring).
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.local.intrinsics import (
    ACCOUNT,
    Intrinsics,
    Unresolvable,
    evaluate_conditions,
    partition,
    pseudo_parameters,
)
from infra.local.template import load_yaml
from infra.ops.environments import DEFAULT_CONFIG, Environment, load_environment
from infra.rehearsal import access, data, functions, monitoring, parameters, versions, web
from infra.rehearsal.packaging import zip_directory
from infra.rehearsal.report import Check, Report

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = ROOT / "template.yaml"
ARTIFACTS = "healthcode-artifacts"  # where infra.rehearsal.translate points every CodeUri/ContentUri

STOOD_IN = (
    "stood in by an id (moto has no CloudFront behind its CloudFormation); its configuration is "
    "resolved after the stack and checked (area web)"
)
#: What is done with each resource type moto's CloudFormation cannot create.
OUTSIDE_CLOUDFORMATION = {
    "AWS::SecretsManager::Secret": "created with the Secrets Manager API before the stack",
    "AWS::ApiGatewayV2::Api": "created with the API Gateway v2 API before the stack; its resolved OpenAPI "
    "body imported after it (routes and integrations)",
    "AWS::ApiGatewayV2::Stage": "created with the API Gateway v2 API after the stack",
    "AWS::CloudWatch::Alarm": "created with PutMetricAlarm after the stack, every reference resolved",
    "AWS::S3::BucketPolicy": "applied with PutBucketPolicy after the stack",
    "AWS::CloudFront::Distribution": STOOD_IN,
    "AWS::CloudFront::CloudFrontOriginAccessIdentity": STOOD_IN,
    "AWS::CloudFront::ResponseHeadersPolicy": STOOD_IN,
}
CUSTOM_RESOURCES = (
    "not run: moto would invoke its function in a container; the local stack runs it through the "
    "function with CloudFormation's response protocol (tests/e2e)"
)
ALARM_API_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


class RehearsalFailed(Exception):
    """A step after which nothing can be checked (the transform or the stack failed)."""


@contextmanager
def _offline_environment() -> Iterator[None]:
    """No endpoint override may send the rehearsal's calls anywhere but moto."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def _found_in_maps(body: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """``Fn::FindInMap`` looked up before the stack is created: moto passes a Number parameter's
    value as a number, which misses a mapping's (string) key; CloudFormation passes the string."""
    mappings = body.get("Mappings", {})

    def key(node: Any) -> str:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in parameters:
            return str(parameters[node["Ref"]])
        return str(node)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            found = node.get("Fn::FindInMap")
            if len(node) == 1 and isinstance(found, list) and found[0] in mappings:
                return mappings[found[0]][key(found[1])][key(found[2])]
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return {k: walk(v) if k == "Resources" else v for k, v in body.items()}


def _throttling(settings: dict[str, Any]) -> dict[str, Any]:
    """A stage's throttling settings as the API takes them (rate a double, burst an integer)."""
    return {k: float(v) if k == "ThrottlingRateLimit" else int(v) for k, v in settings.items()}


class Rehearsal:
    def __init__(self, environment: Environment, template: Path) -> None:
        self.source = load_yaml(template)
        self.env = environment
        self.template_path = template
        self.report = Report(environment.name, environment.stack_name, environment.region)
        self.partition = partition(environment.region)
        self.known: dict[str, dict[str, str]] = {}  # created outside CloudFormation
        self.physical: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.clients: dict[str, Any] = {}
        self.artifacts: dict[str, bytes] = {}  # S3 key -> zip
        self.outside: dict[str, dict[str, Any]] = {}  # logical id -> what moto cannot create
        self.translated: dict[str, Any] = {}  # the SAM transform's CloudFormation

    # -- plumbing ----------------------------------------------------------------------------

    def check(self, area: str, subject: str, ok: bool, detail: str = "") -> bool:
        self.report.checks.append(Check(area, subject, bool(ok), detail))
        return bool(ok)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            import boto3
            from botocore.config import Config

            session: Any = boto3.session.Session(
                aws_access_key_id="rehearsal",
                aws_secret_access_key="rehearsal",
                region_name=self.env.region,
            )
            # no account-based endpoints: moto (and the rehearsal) need the service's own URL
            config = Config(account_id_endpoint_mode="disabled")
            self.clients[service] = session.client(service, config=config)
        return self.clients[service]

    def parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self.source.get("Parameters", {}).items():
            if name in self.env.parameters:
                values[name] = self.env.parameters[name]
            elif "Default" in spec:
                values[name] = str(spec["Default"])
        return values

    def typed(self, name: str, value: str) -> Any:
        if self.source.get("Parameters", {}).get(name, {}).get("Type") == "Number":
            return float(value) if "." in value else int(value)
        return value

    def ref(self, name: str) -> Any:
        if name in self.known:
            return self.known[name]["Ref"]
        pseudo = pseudo_parameters(self.env.region, self.env.stack_name)
        if name in pseudo:
            return pseudo[name]
        values = self.parameter_values()
        if name in values:
            return self.typed(name, values[name])
        if name in self.physical:
            return self.physical[name]
        raise Unresolvable(f"Ref {name}: no such parameter or created resource")

    def attribute(self, logical: str, attribute: str) -> str:
        if logical in self.known:
            if attribute not in self.known[logical]:
                raise Unresolvable(f"{logical}.{attribute} is not known for a resource created outside")
            return self.known[logical][attribute]
        if logical not in self.physical:
            raise Unresolvable(f"GetAtt {logical}.{attribute}: {logical} was not created")
        kind, physical = self.types[logical], self.physical[logical]
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return str(
                self.client("lambda").get_function(FunctionName=physical)["Configuration"]["FunctionArn"]
            )
        if kind == "AWS::SQS::Queue":
            if attribute == "Arn":
                answer = self.client("sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"]
                )
                return str(answer["Attributes"]["QueueArn"])
            if attribute == "QueueName":
                return physical.rsplit("/", 1)[1]
            if attribute == "QueueUrl":
                return physical
        if kind == "AWS::DynamoDB::Table" and attribute in ("Arn", "StreamArn"):
            table = self.client("dynamodb").describe_table(TableName=physical)["Table"]
            return str(table["TableArn" if attribute == "Arn" else "LatestStreamArn"])
        if kind == "AWS::KMS::Key" and attribute in ("Arn", "KeyId"):
            # ListKeys, not DescribeKey: moto keeps a CloudFormation key's policy as a dict and
            # then fails to parse it in DescribeKey.
            for key in self.client("kms").list_keys()["Keys"]:
                if key["KeyId"] == physical:
                    return str(key["KeyArn"] if attribute == "Arn" else key["KeyId"])
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{self.partition}:s3:::{physical}"
        if kind == "AWS::S3::Bucket" and attribute == "RegionalDomainName":
            return (
                f"{physical}.s3.{self.env.region}.{pseudo_parameters(self.env.region, '')['AWS::URLSuffix']}"
            )
        if kind == "AWS::SNS::Topic" and attribute in ("TopicArn", "TopicName"):
            return physical if attribute == "TopicArn" else physical.rsplit(":", 1)[1]
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:{self.partition}:logs:{self.env.region}:{ACCOUNT}:log-group:{physical}:*"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return str(self.client("iam").get_role(RoleName=physical)["Role"]["Arn"])
        raise Unresolvable(f"GetAtt {logical}.{attribute} ({kind}) is not evaluated by the rehearsal")

    def intrinsics(self) -> Intrinsics:
        """Evaluates intrinsics against the created stack; raises ``Unresolvable`` otherwise."""
        return Intrinsics(self.ref, self.attribute, conditions=self.conditions())

    def conditions(self) -> dict[str, bool]:
        """The template's conditions for this environment's parameters."""
        declared = (self.translated or self.source).get("Conditions", {})
        return evaluate_conditions(declared, Intrinsics(self.ref, self.attribute))

    def known_only(self) -> Intrinsics:
        """Evaluates ``Ref``/``GetAtt`` of what was created outside CloudFormation, keeping every
        other intrinsic for CloudFormation (a missing attribute becomes ``unrehearsed:...``)."""

        def ref(name: str) -> str:
            if name not in self.known:
                raise Unresolvable(name)
            return self.known[name]["Ref"]

        def attribute(logical: str, name: str) -> str:
            if logical not in self.known:
                raise Unresolvable(logical)
            return self.known[logical].get(name, f"unrehearsed:{logical}.{name}")

        return Intrinsics(ref, attribute, partial=True)

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> Report:
        from moto import mock_aws

        started = time.monotonic()
        try:
            parameters.check_parameters(self)
            with _offline_environment(), mock_aws():
                versions.teach_moto()
                self.translated = self.translate()
                self.package()
                body = self.prepare()
                self.create_stack(body)
                self.finish_outside()
                data.check_tables(self)
                functions.check_functions(self)
                functions.check_mappings(self)
                versions.check_versions(self)
                access.check_roles(self)
                access.check_api(self)
                monitoring.check_alarms(self)
                monitoring.check_dashboard(self)
                monitoring.check_log_groups(self)
                data.check_buckets(self)
                web.check_distribution(self)
                self.check_stack()
        except RehearsalFailed as stopped:
            self.check("stack", "rehearsal", False, str(stopped))
        self.report.seconds = time.monotonic() - started
        return self.report

    def translate(self) -> dict[str, Any]:
        from infra.rehearsal.translate import translate

        values = {k: str(v) for k, v in self.parameter_values().items()}
        try:
            translated = translate(self.template_path, self.env.region, values)
        except SystemExit as failed:
            raise RehearsalFailed(str(failed)) from None
        self.check("transform", "samtranslator", "Transform" not in translated, "AWS::Serverless translated")
        return translated

    def package(self) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": self.env.region})
        root = self.template_path.parent
        for logical, spec in self.source["Resources"].items():
            props = spec.get("Properties", {})
            if spec["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
                archive = zip_directory(root / props["CodeUri"])
            elif spec["Type"] == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
                archive = zip_directory(root / props["ContentUri"], prefix="python/")
            else:
                continue
            key = f"{logical}.zip"
            s3.put_object(Bucket=ARTIFACTS, Key=key, Body=archive)
            self.artifacts[key] = archive

    def prepare(self) -> dict[str, Any]:
        """The translation minus what moto's CloudFormation cannot create; creates what can be
        created before the stack so references get real values."""
        from moto.cloudformation.parsing import get_model_map

        supported = set(get_model_map())
        body = copy.deepcopy(self.translated)
        resources = body["Resources"]
        pre = self.intrinsics()
        conditions = self.conditions()
        for logical, spec in list(resources.items()):
            kind = spec["Type"]
            if not conditions.get(spec.get("Condition", ""), True):
                resources.pop(logical)
                self.report.outside.setdefault(f"{kind}: not created: its condition is false", []).append(
                    logical
                )
                continue
            if kind in supported and not kind.startswith("Custom::"):
                continue
            self.outside[logical] = resources.pop(logical)
            props = spec.get("Properties", {})
            if kind == "AWS::SecretsManager::Secret":
                value = props.get("SecretString")
                if value is None:
                    spec_ = props.get("GenerateSecretString", {})
                    password = self.client("secretsmanager").get_random_password(
                        PasswordLength=int(spec_.get("PasswordLength", 32)),
                        ExcludePunctuation=bool(spec_.get("ExcludePunctuation", False)),
                    )["RandomPassword"]
                    document = json.loads(spec_.get("SecretStringTemplate", "{}"))
                    document[spec_.get("GenerateStringKey", "password")] = password
                    value = json.dumps(document)
                arn = self.client("secretsmanager").create_secret(
                    Name=f"{self.env.stack_name}-{logical}", SecretString=str(value)
                )["ARN"]
                self.known[logical] = {"Ref": arn, "Id": arn}
            elif kind == "AWS::ApiGatewayV2::Api":
                api = self.client("apigatewayv2").create_api(
                    Name=f"{self.env.stack_name}-{logical}", ProtocolType="HTTP"
                )
                self.known[logical] = {
                    "Ref": api["ApiId"],
                    "ApiId": api["ApiId"],
                    "ApiEndpoint": api["ApiEndpoint"],
                }
            elif kind == "AWS::CloudWatch::Alarm":
                name = pre.resolve(props.get("AlarmName", f"{self.env.stack_name}-{logical}"))
                arn = f"arn:{self.partition}:cloudwatch:{self.env.region}:{ACCOUNT}:alarm:{name}"
                self.known[logical] = {"Ref": name, "Arn": arn}
            elif kind.startswith("AWS::CloudFront::"):
                self.known[logical] = web.stand_in(logical, kind, self.partition)
            else:
                self.known[logical] = {"Ref": f"unrehearsed:{logical}"}
            how = OUTSIDE_CLOUDFORMATION.get(kind)
            if kind.startswith("Custom::"):
                how = CUSTOM_RESOURCES
            done = f"{kind}: {how or 'not created: moto has no support for it'}"
            self.report.outside.setdefault(done, []).append(logical)
        body["Outputs"] = {
            name: output
            for name, output in body.get("Outputs", {}).items()
            if conditions.get(output.get("Condition", ""), True)
        }
        body = dict(self.known_only().resolve(_found_in_maps(body, self.parameter_values())))
        leftovers = sorted(set(re.findall(r"unrehearsed:([A-Za-z0-9.]+)", json.dumps(body))))
        self.check(
            "stack",
            "references",
            not leftovers,
            f"refer to resources the rehearsal could not create: {leftovers}"
            if leftovers
            else "all resolvable",
        )
        return body

    def create_stack(self, body: dict[str, Any]) -> None:
        import warnings

        cloudformation = self.client("cloudformation")
        parameters = [
            {"ParameterKey": k, "ParameterValue": str(v)}
            for k, v in self.parameter_values().items()
            if k in body.get("Parameters", {})
        ]
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                cloudformation.create_stack(
                    StackName=self.env.stack_name,
                    TemplateBody=json.dumps(body),
                    Parameters=parameters,
                    Capabilities=list(self.env.capabilities),
                    Tags=[{"Key": k, "Value": v} for k, v in self.env.tags.items()],
                )
            except Exception as error:  # whatever moto raises, the stack failed
                raise RehearsalFailed(f"create_stack failed: {error}") from error
        skipped = [str(w.message) for w in warned if "not supported by moto" in str(w.message)]
        stack = cloudformation.describe_stacks(StackName=self.env.stack_name)["Stacks"][0]
        if not self.check("stack", "status", stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]):
            raise RehearsalFailed(f"stack {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        self.check("stack", "unsupported types", not skipped, "; ".join(skipped) or "none silently skipped")
        for resource in cloudformation.list_stack_resources(StackName=self.env.stack_name)[
            "StackResourceSummaries"
        ]:
            self.physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
            self.types[resource["LogicalResourceId"]] = resource["ResourceType"]
        missing = sorted(set(body["Resources"]) - set(self.physical))
        self.check(
            "stack", "resources", not missing, f"missing: {missing}" if missing else f"{len(self.physical)}"
        )

    def finish_outside(self) -> None:
        """Create, after the stack, what needs the stack's resources."""
        resolver = self.intrinsics()
        for logical, spec in self.outside.items():
            kind = spec["Type"]
            try:
                props = resolver.resolve(spec.get("Properties", {}))
            except Unresolvable as error:
                self.check("outside", logical, False, str(error))
                continue
            if kind == "AWS::CloudWatch::Alarm":
                request = {k: v for k, v in props.items() if k in ALARM_API_FIELDS}
                request["AlarmName"] = self.known[logical]["Ref"]
                try:
                    self.client("cloudwatch").put_metric_alarm(**request)
                except Exception as error:  # noqa: BLE001 - boto3's validation or moto's refusal
                    self.check("alarms", logical, False, f"PutMetricAlarm refused it: {error}")
            elif kind == "AWS::S3::BucketPolicy":
                try:
                    self.client("s3").put_bucket_policy(
                        Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
                    )
                except Exception as error:  # noqa: BLE001
                    self.check("buckets", logical, False, f"PutBucketPolicy refused it: {error}")
            elif kind == "AWS::ApiGatewayV2::Api" and "Body" in props:
                self.client("apigatewayv2").reimport_api(
                    ApiId=self.known[logical]["ApiId"], Body=json.dumps(props["Body"])
                )
            elif kind == "AWS::ApiGatewayV2::Stage":
                self.client("apigatewayv2").create_stage(
                    ApiId=props["ApiId"],
                    StageName=props["StageName"],
                    AutoDeploy=bool(props.get("AutoDeploy", False)),
                    DefaultRouteSettings=_throttling(props.get("DefaultRouteSettings", {})),
                    RouteSettings={
                        route: _throttling(limits) for route, limits in props.get("RouteSettings", {}).items()
                    },
                )

    def translated_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.translated["Resources"].items() if v["Type"] == kind}

    def check_stack(self) -> None:
        stack = self.client("cloudformation").describe_stacks(StackName=self.env.stack_name)["Stacks"][0]
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        self.check("stack", "tags", tags == self.env.tags, str(tags))
        for output in stack.get("Outputs", []):
            value = str(output.get("OutputValue", ""))
            self.check(
                "stack",
                f"output {output['OutputKey']}",
                bool(value) and "unrehearsed:" not in value and "${" not in value,
                value,
            )


def rehearse(environment: str, *, template: Path = DEFAULT_TEMPLATE, config: Path = DEFAULT_CONFIG) -> Report:
    """Rehearse one environment of ``config`` with ``template``; never touches AWS."""
    return Rehearsal(load_environment(environment, config), template).run()
