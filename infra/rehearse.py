"""Deploy rehearsal, offline: what ``sam deploy --config-env <province>`` would create, created in
moto's CloudFormation, then checked resource by resource through the services' own APIs.

``python -m infra.rehearse`` (``make rehearse``) rehearses every environment of samconfig.toml;
``--env fujian`` one. For each environment:

1. **Parameters**: the environment's ``parameter_overrides`` are checked as CloudFormation checks
   them (known names, required values, ``AllowedPattern``, ``MinValue``/``MaxValue``, lengths),
   and against the province: its policy file exists, the stack is ``healthcode-<province>``, the
   tags name the province, ``RetentionDays`` equals the policy's retention and covers tracing's
   lookback.
2. **Transform**: ``template.yaml`` is translated with samtranslator (``infra.translate``) with
   those parameter values and region, as CloudFormation's transform would.
3. **Package**: each function's ``CodeUri`` and the layer's ``ContentUri`` are zipped into moto S3
   where the translation points (what ``sam package`` uploads; the layer's sources go under
   ``python/``, its requirements are only listed, not installed: that is ``make build``'s job).
4. **What moto's CloudFormation cannot create** is never silently dropped. Secrets and the HTTP
   API are created with their services' APIs before the stack (so references get real ids);
   alarms, the API's stage and routes (the resolved OpenAPI body) and bucket policies after it,
   from the translation's properties with every reference resolved against the created stack.
   Custom resources are not run (moto would invoke the function in a container; the local stack
   runs the signing-key bootstrap through its function, see tests/e2e). Anything else moto does
   not know is stripped and listed. Properties moto's CloudFormation drops (TTL, table
   encryption and point-in-time recovery, function layers and architectures, managed policy
   ARNs) are checked in the translation, and each such check says so; TTL is then applied, as the
   local stack does.
5. **Stack**: ``create_stack`` with the environment's parameters, tags and capabilities; it must
   reach ``CREATE_COMPLETE``.
6. **Checks** through the moto APIs: every table's keys, attributes, indexes and stream; every
   function's handler present in the code it was created from (by hash), its imports present in
   the layer or its requirements; every stream mapping with ``ReportBatchItemFailures``, bisect,
   bounded retries and the on-failure queue; every role's policies (no ``dynamodb:*`` or data
   action on ``*``, no wildcard action); every route's function and invoke permission; the JWT
   authorizer's issuer and audience; every alarm's dimensions naming created resources, its
   topic and its runbook; an Errors and a Throttles alarm for every function and an
   IteratorAge alarm for every stream consumer; the dashboard; the export bucket; outputs; tags.

The rehearsal exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import functools
import hashlib
import io
import json
import os
import re
import shlex
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "samconfig.toml"
DEFAULT_TEMPLATE = ROOT / "template.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks"
ACCOUNT = "123456789012"
ARTIFACTS = "healthcode-artifacts"  # where infra.translate points every CodeUri/ContentUri

#: Stream-reading actions SAM's AWSLambdaDynamoDBExecutionRole grants on every resource.
STREAM_READ = frozenset(
    {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
)
#: The AWS managed policies SAM attaches to function roles, as AWS publishes them (moto's
#: CloudFormation does not attach managed policies, so their documents are known here).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                *sorted(STREAM_READ),
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}
#: Services whose actions touch data: never on every resource.
DATA_SERVICES = ("dynamodb:", "s3:", "kms:", "secretsmanager:", "sqs:", "sns:")
#: Modules the Lambda Python runtime provides (no need to ship them in the layer).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
#: What is done with each resource type moto's CloudFormation cannot create.
OUTSIDE_CLOUDFORMATION = {
    "AWS::SecretsManager::Secret": "created with the Secrets Manager API before the stack",
    "AWS::ApiGatewayV2::Api": "created with the API Gateway v2 API before the stack; its resolved OpenAPI "
    "body imported after it (routes and integrations)",
    "AWS::ApiGatewayV2::Stage": "created with the API Gateway v2 API after the stack",
    "AWS::CloudWatch::Alarm": "created with PutMetricAlarm after the stack, every reference resolved",
    "AWS::S3::BucketPolicy": "applied with PutBucketPolicy after the stack",
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


class Unresolvable(Exception):
    """An intrinsic function the rehearsal cannot evaluate."""


# --- samconfig.toml -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    name: str
    stack_name: str
    region: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: tuple[str, ...]
    confirm_changeset: bool


def _pairs(value: Any) -> dict[str, str]:
    """``"A=1 B='x y'"`` (or a list of ``A=1``) as samconfig's parameter_overrides and tags."""
    items = value if isinstance(value, list) else shlex.split(str(value or ""))
    pairs = {}
    for item in items:
        if item.startswith("ParameterKey="):
            found = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item, re.DOTALL)
            if not found:
                raise ValueError(f"cannot read {item!r}")
            name, text = found.groups()
        else:
            name, sep, text = item.partition("=")
            if not sep or not name:
                raise ValueError(f"expected NAME=VALUE, got {item!r}")
        pairs[name] = text
    return pairs


def environments(config: Path = DEFAULT_CONFIG) -> list[str]:
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    return [name for name, section in document.items() if isinstance(section, dict) and "deploy" in section]


def load_environment(name: str, config: Path = DEFAULT_CONFIG) -> Environment:
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    section = document.get(name)
    if not isinstance(section, dict) or "deploy" not in section:
        raise KeyError(f"{config.name} has no [{name}.deploy.parameters]")
    deploy = {
        **document.get("default", {}).get("deploy", {}).get("parameters", {}),
        **section["deploy"]["parameters"],
    }
    region = deploy.get("region") or section.get("global", {}).get("parameters", {}).get("region")
    region = region or document.get("default", {}).get("global", {}).get("parameters", {}).get("region")
    capabilities = deploy.get("capabilities", [])
    return Environment(
        name=name,
        stack_name=str(deploy["stack_name"]),
        region=str(region),
        parameters=_pairs(deploy.get("parameter_overrides", "")),
        tags=_pairs(deploy.get("tags", "")),
        capabilities=tuple(capabilities if isinstance(capabilities, list) else str(capabilities).split()),
        confirm_changeset=bool(deploy.get("confirm_changeset", False)),
    )


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    area: str
    subject: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    environment: str
    stack_name: str
    region: str
    checks: list[Check] = field(default_factory=list)
    #: what was done instead of CloudFormation -> the resources it was done for
    outside: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def passed(self, area: str) -> list[Check]:
        return [check for check in self.checks if check.area == area and check.ok]

    def render(self, verbose: bool = False) -> str:
        lines = [f"rehearsal of {self.environment}: stack {self.stack_name} in {self.region} (moto)"]
        areas: dict[str, list[Check]] = {}
        for check in self.checks:
            areas.setdefault(check.area, []).append(check)
        for area, checks in areas.items():
            failed = [c for c in checks if not c.ok]
            lines.append(f"  {area:<12} {len(checks) - len(failed):>3}/{len(checks)} ok")
            for check in checks if verbose else failed:
                mark = "ok  " if check.ok else "FAIL"
                lines.append(f"      {mark} {check.subject}: {check.detail}".rstrip(": "))
        if self.outside:
            lines.append("  not created by moto's CloudFormation, and what was done instead:")
            for how, logical_ids in self.outside.items():
                names = ", ".join(logical_ids) if len(logical_ids) <= 3 else f"{len(logical_ids)} resources"
                lines.append(f"      - {how} ({names})")
        verdict = "PASSED" if self.ok else f"FAILED ({len(self.failures())} checks)"
        lines.append(f"  {verdict}: {len(self.checks)} checks in {self.seconds:.1f} s")
        return "\n".join(lines)


# --- intrinsic functions -----------------------------------------------------------------------


class Resolver:
    """Evaluates Ref, GetAtt, Sub, Join, Select and Split against what ``ref``/``attribute`` know."""

    def __init__(self, ref: Callable[[str], Any], attribute: Callable[[str, str], str]) -> None:
        self.ref = ref
        self.attribute = attribute

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.attribute(logical, attribute)
            if key == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(text, names)
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(part) for part in self.resolve(parts))
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self.resolve(arg)
                return str(text).split(str(separator))
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(f"{key} is not evaluated by the rehearsal")
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub(self, text: str, names: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                return str(names[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.attribute(logical, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def substitute(value: Any, known: Mapping[str, Mapping[str, str]]) -> Any:
    """``value`` with every Ref/GetAtt (also inside Sub strings) of a resource in ``known``
    replaced by its value; other intrinsics are left for CloudFormation."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and arg in known:
            return known[arg]["Ref"]
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            if logical in known:
                return known[logical].get(attribute, f"unrehearsed:{logical}.{attribute}")
        if key == "Fn::Sub":
            text, names = (arg, None) if isinstance(arg, str) else (arg[0], arg[1])

            def replace(match: re.Match[str]) -> str:
                logical, _, attribute = match.group(1).partition(".")
                if logical not in known or (names and match.group(1) in names):
                    return match.group(0)
                return known[logical].get(attribute or "Ref", f"unrehearsed:{match.group(1)}")

            replaced = re.sub(r"\$\{([^}!]+)\}", replace, text)
            return {"Fn::Sub": replaced if names is None else [replaced, substitute(names, known)]}
    if isinstance(value, dict):
        return {k: substitute(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, known) for v in value]
    return value


# --- packaging ----------------------------------------------------------------------------------


def _zip(directory: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue
            if any(part.endswith(".egg-info") for part in relative.parts):
                continue
            archive.write(path, prefix + relative.as_posix())
    return buffer.getvalue()


def _sources(archive: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name).decode("utf-8") for name in opened.namelist() if name.endswith(".py")}


def _defines(source: str, name: str) -> bool:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
    return False


@functools.cache
def _bound_names(source: str) -> set[str]:
    """Names a module defines or imports at its top level."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _unresolved_imports(
    sources: Mapping[str, str], modules: Mapping[str, str], requirements: set[str]
) -> set[str]:
    """Imports in ``sources`` that neither ``modules`` (the layer's, by dotted name), the standard
    library, the Lambda runtime nor a distribution named in ``requirements`` provides."""
    missing: set[str] = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            wanted: list[tuple[str, str | None]]
            if isinstance(node, ast.Import):
                wanted = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                wanted = [(node.module, alias.name) for alias in node.names]
            else:
                continue
            for module, name in wanted:
                top = module.split(".")[0]
                if top in modules or top == "healthcode":
                    if module not in modules:
                        missing.add(module)
                    elif (
                        name
                        and f"{module}.{name}" not in modules
                        and name not in _bound_names(modules[module])
                    ):
                        missing.add(f"{module}.{name}")
                elif top not in sys.stdlib_module_names and top not in RUNTIME_PROVIDED:
                    if not _distribution_of(top) & requirements:
                        missing.add(module)
    return missing


def _requirement_names(path: Path) -> set[str]:
    """Distributions ``pip install -r path`` installs: those named and, transitively, what they
    require (extras named in a line included; environment markers other than extras ignored)."""
    from importlib.metadata import PackageNotFoundError, requires

    wanted: list[tuple[str, set[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            found = re.match(r"([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?", line)
            if found:
                extras = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()}
                wanted.append((found.group(1), extras))
    names: set[str] = set()
    while wanted:
        name, extras = wanted.pop()
        normal = name.lower().replace("_", "-")
        if normal in names:
            continue
        names.add(normal)
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue
        for requirement in declared:
            marker = requirement.partition(";")[2]
            extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if extra and extra.group(1) not in extras:
                continue
            found = re.match(r"[A-Za-z0-9._-]+", requirement)
            if found:
                wanted.append((found.group(0), set()))
    return names


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def _distribution_of(module: str) -> set[str]:
    return {name.lower().replace("_", "-") for name in _distributions().get(module, [])}


# --- the rehearsal ------------------------------------------------------------------------------


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


def _throttling(settings: dict[str, Any]) -> dict[str, Any]:
    """A stage's throttling settings as the API takes them (rate a double, burst an integer)."""
    return {k: float(v) if k == "ThrottlingRateLimit" else int(v) for k, v in settings.items()}


class Rehearsal:
    def __init__(self, environment: Environment, template: Path) -> None:
        from infra.local.template import load_yaml

        self.source = load_yaml(template)
        self.env = environment
        self.template_path = template
        self.report = Report(environment.name, environment.stack_name, environment.region)
        self.partition = "aws-cn" if environment.region.startswith("cn-") else "aws"
        self.known: dict[str, dict[str, str]] = {}  # created outside CloudFormation
        self.physical: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.clients: dict[str, Any] = {}
        self.artifacts: dict[str, bytes] = {}  # S3 key -> zip

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

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.env.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.env.stack_name,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NoValue": "",
        }

    def ref(self, name: str) -> Any:
        if name in self.known:
            return self.known[name]["Ref"]
        pseudo = self.pseudo()
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
        if kind == "AWS::SNS::Topic" and attribute in ("TopicArn", "TopicName"):
            return physical if attribute == "TopicArn" else physical.rsplit(":", 1)[1]
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return str(self.client("iam").get_role(RoleName=physical)["Role"]["Arn"])
        raise Unresolvable(f"GetAtt {logical}.{attribute} ({kind}) is not evaluated by the rehearsal")

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> Report:
        from moto import mock_aws

        started = time.monotonic()
        try:
            self.check_parameters()
            with _offline_environment(), mock_aws():
                self.translated = self.translate()
                self.package()
                body = self.prepare()
                self.create_stack(body)
                self.finish_outside()
                self.check_tables()
                self.check_functions()
                self.check_mappings()
                self.check_roles()
                self.check_api()
                self.check_alarms()
                self.check_dashboard()
                self.check_buckets()
                self.check_stack()
        except RehearsalFailed as stopped:
            self.check("stack", "rehearsal", False, str(stopped))
        self.report.seconds = time.monotonic() - started
        return self.report

    def check_parameters(self) -> None:
        from healthcode.rules.policy import PolicyError, load_policy

        declared = self.source.get("Parameters", {})
        env = self.env
        unknown = sorted(set(env.parameters) - set(declared))
        self.check("parameters", "names", not unknown, f"not in the template: {unknown}" if unknown else "")
        for name, spec in declared.items():
            value = env.parameters.get(name, spec.get("Default"))
            if value is None:
                self.check("parameters", name, False, "no value and no default (sam deploy would stop)")
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
            self.check("parameters", name, not problems, "; ".join(problems) or text)
        province = str(env.parameters.get("Province", ""))
        self.check(
            "parameters",
            "stack name",
            env.stack_name == f"healthcode-{province}",
            f"{env.stack_name} (expected healthcode-{province})",
        )
        self.check("parameters", "tags", env.tags.get("province") == province, f"{env.tags}")
        self.check(
            "parameters",
            "capabilities",
            "CAPABILITY_IAM" in env.capabilities and env.confirm_changeset,
            f"{list(env.capabilities)}, confirm_changeset={env.confirm_changeset}",
        )
        try:
            policy = load_policy(province)
        except PolicyError as error:
            self.check("parameters", "policy", False, str(error))
            return
        text = str(env.parameters.get("RetentionDays", declared.get("RetentionDays", {}).get("Default", "")))
        retention = int(text) if text.isdigit() else -1
        self.check(
            "parameters",
            "RetentionDays vs policy",
            retention == policy.retention_days and retention >= policy.tracing.lookback_days,
            f"{text} days; policy retention {policy.retention_days}, "
            f"tracing lookback {policy.tracing.lookback_days}",
        )

    def translate(self) -> dict[str, Any]:
        from infra.translate import translate

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
                archive = _zip(root / props["CodeUri"])
            elif spec["Type"] == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
                archive = _zip(root / props["ContentUri"], prefix="python/")
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
        self.outside: dict[str, dict[str, Any]] = {}
        pre = Resolver(self.ref, self.attribute)
        for logical, spec in list(resources.items()):
            kind = spec["Type"]
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
            else:
                self.known[logical] = {"Ref": f"unrehearsed:{logical}"}
            how = OUTSIDE_CLOUDFORMATION.get(kind)
            if kind.startswith("Custom::"):
                how = CUSTOM_RESOURCES
            done = f"{kind}: {how or 'not created: moto has no support for it'}"
            self.report.outside.setdefault(done, []).append(logical)
        body = dict(substitute(body, self.known))
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
        resolver = Resolver(self.ref, self.attribute)
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

    # -- checks ----------------------------------------------------------------------------

    def translated_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.translated["Resources"].items() if v["Type"] == kind}

    def check_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for logical, spec in self.translated_of("AWS::DynamoDB::Table").items():
            props = Resolver(self.ref, self.attribute).resolve(spec["Properties"])
            table = dynamodb.describe_table(TableName=self.physical[logical])["Table"]
            keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
            self.check(
                "tables",
                f"{logical} keys",
                keys == {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]},
                str(keys),
            )
            attributes = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
            wanted = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
            self.check("tables", f"{logical} attributes", attributes == wanted, str(sorted(attributes)))
            made = {
                i["IndexName"]: (
                    [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]],
                    i["Projection"]["ProjectionType"],
                )
                for i in table.get("GlobalSecondaryIndexes", [])
            }
            declared = {
                i["IndexName"]: (
                    [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]],
                    i["Projection"]["ProjectionType"],
                )
                for i in props.get("GlobalSecondaryIndexes", [])
            }
            self.check("tables", f"{logical} indexes", made == declared, ", ".join(sorted(made)) or "none")
            stream = props.get("StreamSpecification")
            got = table.get("StreamSpecification") or {}
            if stream:
                self.check(
                    "tables",
                    f"{logical} stream",
                    got.get("StreamEnabled") is True
                    and got.get("StreamViewType") == stream["StreamViewType"],
                    str(got.get("StreamViewType")),
                )
            else:
                self.check(
                    "tables", f"{logical} stream", not got.get("StreamEnabled"), "none declared, none made"
                )
            ttl = props.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled"):
                name = self.physical[logical]
                before = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                applied = before.get("TimeToLiveStatus") != "ENABLED"
                if applied:
                    dynamodb.update_time_to_live(
                        TableName=name,
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                    )
                after = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                self.check(
                    "tables",
                    f"{logical} TTL",
                    after.get("TimeToLiveStatus") == "ENABLED"
                    and after.get("AttributeName") == ttl["AttributeName"],
                    f"{ttl['AttributeName']}"
                    + (
                        " (applied by the rehearsal: moto's CloudFormation drops TimeToLiveSpecification)"
                        if applied
                        else ""
                    ),
                )
            sse = props.get("SSESpecification") or {}
            data_key = self.attribute("DataKey", "Arn") if "DataKey" in self.physical else None
            key = sse.get("KMSMasterKeyId")
            self.check(
                "tables",
                f"{logical} encryption",
                sse.get("SSEEnabled") is True
                and sse.get("SSEType") == "KMS"
                and key in (self.physical.get("DataKey"), data_key),
                "KMS with the stack's key (translation: moto's CloudFormation drops SSESpecification)",
            )
            pitr = (props.get("PointInTimeRecoverySpecification") or {}).get(
                "PointInTimeRecoveryEnabled"
            ) is True
            kept = spec.get("DeletionPolicy") == "Retain"
            # Tables of short-lived records only (every item has a TTL) may go without both.
            disposable = bool(ttl.get("Enabled")) and not pitr and not kept
            self.check(
                "tables",
                f"{logical} recovery",
                (pitr and kept) or disposable,
                (
                    "point-in-time recovery, DeletionPolicy Retain"
                    if pitr and kept
                    else f"pitr={pitr}, retain={kept}"
                )
                + " (translation: moto's CloudFormation drops PointInTimeRecoverySpecification)",
            )

    def check_functions(self) -> None:
        lambda_ = self.client("lambda")
        layer_sources: dict[str, str] = {}
        layers = self.translated_of("AWS::Lambda::LayerVersion")
        for spec in layers.values():
            key = spec["Properties"]["Content"]["S3Key"]
            layer_sources.update(_sources(self.artifacts[key]))
        requirements: set[str] = set()
        for path in {
            ROOT / "shared" / "requirements.txt",
            self.template_path.parent / "shared" / "requirements.txt",
        }:
            if path.is_file():
                requirements |= _requirement_names(path)
        modules = {
            name.removeprefix("python/")[:-3].replace("/", ".").removesuffix(".__init__"): text
            for name, text in layer_sources.items()
        }
        layer_missing = _unresolved_imports(layer_sources, modules, requirements)
        for logical, spec in self.translated_of("AWS::Lambda::Function").items():
            props = spec["Properties"]
            configuration = lambda_.get_function(FunctionName=self.physical[logical])["Configuration"]
            archive = self.artifacts.get(props["Code"].get("S3Key", ""), b"")
            digest = base64.b64encode(hashlib.sha256(archive).digest()).decode()
            self.check(
                "functions",
                f"{logical} code",
                configuration.get("CodeSha256") == digest,
                "created from the packaged CodeUri",
            )
            module, _, attribute = configuration["Handler"].rpartition(".")
            sources = _sources(archive)
            source = sources.get(module.replace(".", "/") + ".py")
            self.check(
                "functions",
                f"{logical} handler",
                configuration["Handler"] == props["Handler"]
                and source is not None
                and _defines(source, attribute),
                f"{configuration['Handler']} defined in {module.replace('.', '/')}.py",
            )
            self.check(
                "functions",
                f"{logical} runtime",
                configuration.get("Runtime") == props.get("Runtime") == "python3.12",
                f"{configuration.get('Runtime')}",
            )
            wanted_layers = [
                ref.get("Ref") if isinstance(ref, dict) else ref for ref in props.get("Layers", [])
            ]
            self.check(
                "functions",
                f"{logical} layer",
                bool(wanted_layers)
                and all(name in layers for name in wanted_layers)
                and props.get("Architectures") == ["arm64"],
                f"{wanted_layers}, {props.get('Architectures')} "
                "(translation: moto's CloudFormation drops Layers and Architectures)",
            )
            missing = _unresolved_imports(sources, modules, requirements) | layer_missing
            self.check(
                "functions",
                f"{logical} imports",
                not missing,
                f"not in the layer or its requirements: {sorted(missing)}"
                if missing
                else "all in the layer or runtime",
            )

    def check_mappings(self) -> None:
        lambda_ = self.client("lambda")
        declared = self.translated_of("AWS::Lambda::EventSourceMapping")
        by_function: dict[str, list[dict[str, Any]]] = {}
        for spec in declared.values():
            function = spec["Properties"]["FunctionName"]["Ref"]
            by_function.setdefault(function, []).append(spec["Properties"])
        queues = {self.attribute(k, "Arn") for k, v in self.types.items() if v == "AWS::SQS::Queue"}
        for function, sources in by_function.items():
            made = lambda_.list_event_source_mappings(FunctionName=self.physical[function])[
                "EventSourceMappings"
            ]
            self.check(
                "streams", f"{function} mappings", len(made) == len(sources), f"{len(made)} of {len(sources)}"
            )
            for mapping in made:
                arn = mapping["EventSourceArn"]
                table = arn.split(":table/", 1)[1].split("/stream/", 1)[0]
                subject = f"{function} <- {next((k for k, v in self.physical.items() if v == table), table)}"
                destination = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                retries = mapping.get("MaximumRetryAttempts", -1)
                problems = []
                if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
                    problems.append("no ReportBatchItemFailures")
                if not mapping.get("BisectBatchOnFunctionError"):
                    problems.append("no bisect")
                if not 0 <= int(retries) <= 10:
                    problems.append(f"MaximumRetryAttempts {retries} (unbounded or above 10)")
                if destination not in queues:
                    problems.append(f"on-failure destination {destination}")
                if arn not in {
                    self.attribute(t, "StreamArn")
                    for t in self.translated_of("AWS::DynamoDB::Table")
                    if "StreamSpecification" in self.translated["Resources"][t]["Properties"]
                }:
                    problems.append(f"source {arn} is not a table stream of the stack")
                self.check(
                    "streams",
                    subject,
                    not problems,
                    "; ".join(problems)
                    or f"batch {mapping.get('BatchSize')}, retries {retries}, bisect, "
                    "ReportBatchItemFailures, on-failure queue of the stack",
                )

    def check_roles(self) -> None:
        iam = self.client("iam")
        for logical, spec in self.translated_of("AWS::IAM::Role").items():
            name = self.physical[logical]
            statements: list[tuple[str, dict[str, Any]]] = []
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                if isinstance(document, str):
                    # moto keeps a CloudFormation role's inline policy as the repr of a dict
                    try:
                        document = json.loads(document)
                    except ValueError:
                        document = ast.literal_eval(document)
                statements += [(policy_name, s) for s in _list(document.get("Statement"))]
            unknown_managed = []
            for arn in spec["Properties"].get("ManagedPolicyArns", []):
                managed = str(arn).rsplit("/", 1)[1]
                if managed in MANAGED_POLICIES:
                    statements += [
                        (f"{managed} (managed, from the translation)", s) for s in MANAGED_POLICIES[managed]
                    ]
                else:
                    unknown_managed.append(str(arn))
            problems, notes = [], []
            for source, statement in statements:
                if statement.get("Effect") != "Allow":
                    continue
                actions = _list(statement.get("Action"))
                resources = _list(statement.get("Resource"))
                for action in actions:
                    if action == "*" or action.endswith(":*"):
                        problems.append(f"{source}: wildcard action {action}")
                    if "*" in resources and action.startswith(DATA_SERVICES):
                        if action in STREAM_READ:
                            notes.append(action.split(":", 1)[1])
                        else:
                            problems.append(f"{source}: {action} on *")
            if unknown_managed:
                problems.append(f"managed policies not reviewed: {unknown_managed}")
            trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
            principals = {
                str(p)
                for s in _list(trust.get("Statement"))
                for p in _list(s.get("Principal", {}).get("Service"))
            }
            if principals != {"lambda.amazonaws.com"}:
                problems.append(f"trusted by {sorted(principals)}")
            detail = "; ".join(problems) or f"{len(statements)} statements, no dynamodb:* or data action on *"
            if notes and not problems:
                detail += " (stream reads on * come from SAM's AWSLambdaDynamoDBExecutionRole)"
            self.check("roles", logical, not problems, detail)

    def check_api(self) -> None:
        from infra.local.template import Template

        apis = {k: v for k, v in self.outside.items() if v["Type"] == "AWS::ApiGatewayV2::Api"}
        gateway = self.client("apigatewayv2")
        lambda_ = self.client("lambda")
        parameters = {k: str(v) for k, v in self.parameter_values().items()}
        routes = {
            r.key: r
            for r in Template(self.template_path, self.env.stack_name, parameters, self.env.region).routes()
        }
        functions = {self.attribute(k, "Arn"): k for k in self.translated_of("AWS::Lambda::Function")}
        for logical, spec in apis.items():
            api_id = self.known[logical]["ApiId"]
            made = {r["RouteKey"]: r for r in gateway.get_routes(ApiId=api_id)["Items"]}
            integrations = {i["IntegrationId"]: i for i in gateway.get_integrations(ApiId=api_id)["Items"]}
            self.check(
                "api",
                f"{logical} routes",
                set(made) == set(routes),
                f"{len(made)} routes, as template.yaml declares",
            )
            for key, route in made.items():
                integration = integrations.get(route.get("Target", "").removeprefix("integrations/"), {})
                uri = str(integration.get("IntegrationUri", ""))
                target = next(
                    (name for arn, name in functions.items() if f"/functions/{arn}/invocations" in uri), None
                )
                permitted = False
                if target is not None:
                    policy = json.loads(lambda_.get_policy(FunctionName=self.physical[target])["Policy"])
                    method, path = key.split(" ", 1)
                    source_arn = f"{api_id}/*/{method}{re.sub(r'[{][^}]+[}]', '*', path)}"
                    for statement in policy.get("Statement", []):
                        text = json.dumps(statement)
                        if "apigateway.amazonaws.com" in text and source_arn in text:
                            permitted = True
                declared = routes.get(key)
                problems = []
                if declared is None or target != declared.function:
                    problems.append(
                        f"integrates {target}, template.yaml says {declared and declared.function}"
                    )
                if not permitted:
                    problems.append("the function's policy does not let this API invoke it")
                self.check("api", key, not problems, "; ".join(problems) or f"-> {target}, invoke permitted")
            body = spec["Properties"].get("Body", {})
            schemes = body.get("components", {}).get("securitySchemes", {})
            for name, scheme in schemes.items():
                jwt = scheme.get("x-amazon-apigateway-authorizer", {}).get("jwtConfiguration", {})
                issuer = Resolver(self.ref, self.attribute).resolve(jwt.get("issuer"))
                audience = Resolver(self.ref, self.attribute).resolve(jwt.get("audience"))
                self.check(
                    "api",
                    f"authorizer {name}",
                    issuer == parameters.get("CallerIssuer")
                    and audience == [parameters.get("CallerAudience")],
                    f"issuer {issuer}, audience {audience} (translation: moto does not import authorizers)",
                )
            open_routes = sorted(
                f"{method.upper()} {path}"
                for path, methods in body.get("paths", {}).items()
                for method, operation in methods.items()
                if isinstance(operation, dict) and {"NONE": []} in operation.get("security", [{"NONE": []}])
            )
            self.check(
                "api",
                "public routes",
                open_routes == sorted(key for key, route in routes.items() if not route.authorized),
                ", ".join(open_routes),
            )

    def check_alarms(self) -> None:
        cloudwatch = self.client("cloudwatch")
        alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
        functions = {self.physical[k]: k for k in self.translated_of("AWS::Lambda::Function")}
        queues = {p.rsplit("/", 1)[1] for k, p in self.physical.items() if self.types[k] == "AWS::SQS::Queue"}
        apis = {v["ApiId"] for v in self.known.values() if "ApiId" in v}
        topics = {p for k, p in self.physical.items() if self.types[k] == "AWS::SNS::Topic"}
        watched: dict[str, set[str]] = {}
        for logical, spec in self.outside.items():
            if spec["Type"] != "AWS::CloudWatch::Alarm":
                continue
            name = self.known[logical]["Ref"]
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
                elif dimension["Name"] == "province" and value != self.env.parameters.get("Province"):
                    problems.append(f"province {value}")
            actions = alarm.get("AlarmActions", [])
            if not actions or any(action not in topics for action in actions):
                problems.append(f"actions {actions} are not the stack's topics")
            runbook = re.search(r"docs/runbooks/([\w.-]+\.md)", alarm.get("AlarmDescription", ""))
            if (
                not runbook
                or not (self.template_path.parent / "docs" / "runbooks" / runbook.group(1)).is_file()
            ):
                problems.append("its description names no runbook that exists in docs/runbooks/")
            self.check(
                "alarms",
                logical,
                not problems,
                "; ".join(problems) or f"{alarm.get('MetricName') or 'metric math'}",
            )
        consumers = {
            spec["Properties"]["FunctionName"]["Ref"]
            for spec in self.translated_of("AWS::Lambda::EventSourceMapping").values()
        }
        for function in sorted(self.translated_of("AWS::Lambda::Function")):
            wanted = {"Errors", "Throttles"} | ({"IteratorAge"} if function in consumers else set())
            missing = wanted - watched.get(function, set())
            self.check(
                "alarms",
                f"{function} watched",
                not missing,
                f"missing {sorted(missing)}" if missing else ", ".join(sorted(wanted)),
            )
        sns = self.client("sns")
        email = self.env.parameters.get("AlarmEmail")
        for topic in sorted(topics):
            subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            endpoints = {(s["Protocol"], s["Endpoint"]) for s in subscriptions}
            if any(topic in a.get("AlarmActions", []) for a in alarms.values()):
                self.check(
                    "alarms",
                    f"topic {topic.rsplit(':', 1)[1]}",
                    ("email", email) in endpoints,
                    f"subscribers {sorted(endpoints)}",
                )

    def check_dashboard(self) -> None:
        cloudwatch = self.client("cloudwatch")
        names = {a["AlarmArn"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
        functions = {self.physical[k] for k in self.translated_of("AWS::Lambda::Function")}
        for logical in self.translated_of("AWS::CloudWatch::Dashboard"):
            body = json.loads(cloudwatch.get_dashboard(DashboardName=self.physical[logical])["DashboardBody"])
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
            self.check(
                "dashboard",
                logical,
                not problems,
                "; ".join(problems) or f"{len(body.get('widgets', []))} widgets",
            )

    def check_buckets(self) -> None:
        s3 = self.client("s3")
        for logical, spec in self.translated_of("AWS::S3::Bucket").items():
            name = self.physical[logical]
            props = spec["Properties"]
            encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][
                0
            ]
            default = encryption["ApplyServerSideEncryptionByDefault"]
            self.check(
                "buckets",
                f"{logical} encryption",
                default["SSEAlgorithm"] == "aws:kms"
                and default.get("KMSMasterKeyID") == self.attribute("DataKey", "Arn"),
                f"{default['SSEAlgorithm']} with the stack's key",
            )
            block = props.get("PublicAccessBlockConfiguration", {})
            self.check(
                "buckets",
                f"{logical} public access",
                all(
                    block.get(k) is True
                    for k in (
                        "BlockPublicAcls",
                        "BlockPublicPolicy",
                        "IgnorePublicAcls",
                        "RestrictPublicBuckets",
                    )
                ),
                "all blocked (translation: moto's CloudFormation drops it)",
            )
            rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
            self.check(
                "buckets",
                f"{logical} lifecycle",
                any(
                    r.get("ExpirationInDays") == {"Ref": "RetentionDays"} and r.get("Status") == "Enabled"
                    for r in rules
                ),
                "objects expire after RetentionDays (translation)",
            )
            try:
                policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
            except Exception:  # noqa: BLE001 - no policy
                policy = {}
            secure = any(
                s.get("Effect") == "Deny"
                and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                for s in _list(policy.get("Statement"))
            )
            self.check("buckets", f"{logical} TLS only", secure, "denies requests without TLS")

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


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def rehearse(environment: str, *, template: Path = DEFAULT_TEMPLATE, config: Path = DEFAULT_CONFIG) -> Report:
    """Rehearse one environment of ``config`` with ``template``; never touches AWS."""
    return Rehearsal(load_environment(environment, config), template).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="samconfig environment (repeatable; default: all)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--verbose", "-v", action="store_true", help="list every check, not only failures")
    args = parser.parse_args(argv)
    names = args.env or environments(args.config)
    failed = 0
    for name in names:
        report = rehearse(name, template=args.template, config=args.config)
        print(report.render(verbose=args.verbose), flush=True)
        failed += not report.ok
    print(f"{len(names) - failed} of {len(names)} environments rehearsed cleanly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
