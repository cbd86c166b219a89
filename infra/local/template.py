"""Read template.yaml as the deployed stack would see it: tags, Globals, intrinsics.

Intrinsics are evaluated by ``infra.local.intrinsics`` (shared with the deploy rehearsal) with
this stack's answers: ``Ref`` to parameters and resources, ``GetAtt`` ``Arn``/``StreamArn``.
Physical names are ``<stack>-<LogicalId>``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.local.intrinsics import ACCOUNT, Intrinsics, partition, pseudo_parameters

ROOT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns !Ref, !GetAtt, !Sub ... into their long forms."""


def _construct(tag: str):  # type: ignore[no-untyped-def]
    def build(loader: _CfnLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref" if tag == "Ref" else f"Fn::{tag}": value}

    return build


for _tag in (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "If",
    "Equals",
    "Select",
    "Split",
    "FindInMap",
    "Not",
    "And",
    "Or",
    "Base64",
    "ImportValue",
    "GetAZs",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    return copy.deepcopy(override)


@dataclass
class Route:
    method: str
    path: str
    function: str
    authorized: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class StreamSource:
    function: str
    table: str
    batch_size: int
    max_retries: int
    bisect: bool
    report_item_failures: bool
    on_failure_queue: str | None
    starting_position: str
    filters: list[dict[str, Any]] = field(default_factory=list)
    max_batching_window_s: int = 0
    #: Concurrent batches per shard (``ParallelizationFactor``), order kept per partition key.
    parallelization: int = 1


@dataclass
class Schedule:
    function: str
    expression: str
    name: str


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    #: ``AutoPublishAlias``: in AWS its events invoke this alias on a published version (what
    #: SnapStart snapshots); locally they invoke the handler itself, there are no versions.
    alias: str | None = None


class Template:
    """A SAM template with its parameters resolved for one local deployment."""

    def __init__(self, path: Path, stack_name: str, parameters: Mapping[str, str], region: str) -> None:
        self.path = path
        self.root = path.parent
        self.document = load_yaml(path)
        self.stack_name = stack_name
        self.region = region
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in self.document.get("Parameters", {}).items()
        }
        unknown = set(parameters) - set(self.parameters)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        self.parameters.update(parameters)
        self.resources: dict[str, dict[str, Any]] = self.document["Resources"]
        globals_ = self.document.get("Globals", {}).get("Function", {})
        self._function_globals: dict[str, Any] = globals_
        #: Real ids of created resources (KMS key id, queue URL, secret ARN) once they exist.
        self.created_refs: dict[str, str] = {}
        self.created_arns: dict[str, str] = {}

    # -- names and intrinsics ------------------------------------------------------------

    @property
    def partition(self) -> str:
        return partition(self.region)

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        if logical_id in self.created_arns:
            return self.created_arns[logical_id]
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        prefix = f"arn:{self.partition}:{{svc}}:{self.region}:{ACCOUNT}"
        by_type = {
            "AWS::DynamoDB::Table": f"{prefix.format(svc='dynamodb')}:table/{name}",
            "AWS::SQS::Queue": f"{prefix.format(svc='sqs')}:{name}",
            "AWS::Serverless::Function": f"{prefix.format(svc='lambda')}:function:{name}",
            "AWS::SNS::Topic": f"{prefix.format(svc='sns')}:{name}",
            "AWS::KMS::Key": f"{prefix.format(svc='kms')}:key/{name}",
            "AWS::SecretsManager::Secret": f"{prefix.format(svc='secretsmanager')}:secret:{name}",
        }
        return by_type.get(kind, f"{prefix.format(svc='cloudformation')}:{name}")

    def ref(self, name: str) -> str:
        pseudo = pseudo_parameters(self.region, self.stack_name)
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.created_refs:
            return self.created_refs[name]
        if name in self.resources:
            return self.physical_name(name)
        function, _, published = name.partition(".")
        if published in ("Alias", "Version") and function in self.of_type("AWS::Serverless::Function"):
            return self._published_ref(function, published)
        raise KeyError(f"Ref to unknown name {name}")

    def _published_ref(self, function: str, published: str) -> str:
        """SAM's ``!Ref <Function>.Alias`` / ``.Version``: the alias's (or version's) ARN. The
        local stack runs one copy of each handler, so both name what the function itself runs."""
        alias = self.function_properties(function).get("AutoPublishAlias")
        if alias is None:
            raise KeyError(f"Ref {function}.{published}: {function} has no AutoPublishAlias")
        qualifier = self.resolve(alias) if published == "Alias" else "$LATEST"
        return f"{self.arn(function)}:{qualifier}"

    def attribute(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "StreamArn":
            return self.arn(logical_id) + "/stream/local"
        return self.physical_name(logical_id)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic the local stack can answer evaluated (others kept)."""
        return Intrinsics(self.ref, self.attribute, partial=True).resolve(value)

    # -- what the local stack serves -------------------------------------------------------

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.resources.items() if spec["Type"] == kind}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        props = self.resources[logical_id].get("Properties", {})
        merged: dict[str, Any] = _merge(copy.deepcopy(self._function_globals), props)
        return merged

    def functions(self) -> dict[str, Function]:
        found = {}
        for logical_id in self.of_type("AWS::Serverless::Function"):
            props = self.function_properties(logical_id)
            variables = props.get("Environment", {}).get("Variables", {})
            found[logical_id] = Function(
                logical_id=logical_id,
                code_uri=(self.root / props["CodeUri"]).resolve(),
                handler=props["Handler"],
                environment={k: str(self.resolve(v)) for k, v in variables.items()},
                memory_mb=int(props.get("MemorySize", 128)),
                timeout_s=int(props.get("Timeout", 3)),
                alias=self.resolve(props["AutoPublishAlias"]) if "AutoPublishAlias" in props else None,
            )
        return found

    def _events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        events = []
        for logical_id in self.of_type("AWS::Serverless::Function"):
            props = self.function_properties(logical_id)
            for name, event in (props.get("Events") or {}).items():
                if event.get("Type") == event_type:
                    events.append((logical_id, name, event.get("Properties", {})))
        return events

    def routes(self) -> list[Route]:
        apis = self.of_type("AWS::Serverless::HttpApi")
        default_auth = {
            name: spec.get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
            for name, spec in apis.items()
        }
        routes = []
        for function, _, props in self._events("HttpApi"):
            api = props.get("ApiId", {}).get("Ref") if isinstance(props.get("ApiId"), dict) else None
            authorizer = (props.get("Auth") or {}).get("Authorizer", default_auth.get(api or "", None))
            routes.append(
                Route(
                    method=str(props["Method"]).upper(),
                    path=str(props["Path"]),
                    function=function,
                    authorized=authorizer not in (None, "NONE"),
                )
            )
        return routes

    def stream_sources(self) -> list[StreamSource]:
        sources = []
        for function, name, props in self._events("DynamoDB"):
            stream = props["Stream"]
            if not (isinstance(stream, dict) and "Fn::GetAtt" in stream):
                raise ValueError(f"{function}.{name}: Stream must be !GetAtt <Table>.StreamArn")
            table = stream["Fn::GetAtt"][0]
            on_failure = (props.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
            queue = None
            if isinstance(on_failure, dict) and "Fn::GetAtt" in on_failure:
                queue = on_failure["Fn::GetAtt"][0]
            sources.append(
                StreamSource(
                    function=function,
                    table=table,
                    batch_size=int(props.get("BatchSize", 100)),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                    report_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    on_failure_queue=queue,
                    starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                    filters=list((props.get("FilterCriteria") or {}).get("Filters") or []),
                    max_batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                    parallelization=int(props.get("ParallelizationFactor", 1)),
                )
            )
        return sources

    def schedules(self) -> list[Schedule]:
        return [
            Schedule(function=function, expression=str(props["Schedule"]), name=name)
            for function, name, props in [*self._events("Schedule"), *self._events("ScheduleV2")]
        ]

    def tables(self) -> dict[str, dict[str, Any]]:
        return {
            name: self.resolve(spec.get("Properties", {}))
            for name, spec in self.of_type("AWS::DynamoDB::Table").items()
        }
