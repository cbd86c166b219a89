"""Checks of the code: every function created from its packaged CodeUri, its handler defined, its
imports in the layer, its requirements or the runtime; every stream mapping's failure settings."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.rehearsal import versions
from infra.rehearsal.packaging import defines, python_sources, requirement_names, unresolved_imports

ROOT = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal


def check_functions(rehearsal: Rehearsal) -> None:
    lambda_ = rehearsal.client("lambda")
    layer_sources: dict[str, str] = {}
    layers = rehearsal.translated_of("AWS::Lambda::LayerVersion")
    for spec in layers.values():
        key = spec["Properties"]["Content"]["S3Key"]
        layer_sources.update(python_sources(rehearsal.artifacts[key]))
    requirements: set[str] = set()
    for path in {
        ROOT / "shared" / "requirements.txt",
        rehearsal.template_path.parent / "shared" / "requirements.txt",
    }:
        if path.is_file():
            requirements |= requirement_names(path)
    modules = {
        name.removeprefix("python/")[:-3].replace("/", ".").removesuffix(".__init__"): text
        for name, text in layer_sources.items()
    }
    layer_missing = unresolved_imports(layer_sources, modules, requirements)
    for logical, spec in rehearsal.translated_of("AWS::Lambda::Function").items():
        props = spec["Properties"]
        configuration = lambda_.get_function(FunctionName=rehearsal.physical[logical])["Configuration"]
        archive = rehearsal.artifacts.get(props["Code"].get("S3Key", ""), b"")
        digest = base64.b64encode(hashlib.sha256(archive).digest()).decode()
        rehearsal.check(
            "functions",
            f"{logical} code",
            configuration.get("CodeSha256") == digest,
            "created from the packaged CodeUri",
        )
        module, _, attribute = configuration["Handler"].rpartition(".")
        sources = python_sources(archive)
        source = sources.get(module.replace(".", "/") + ".py")
        rehearsal.check(
            "functions",
            f"{logical} handler",
            configuration["Handler"] == props["Handler"]
            and source is not None
            and defines(source, attribute),
            f"{configuration['Handler']} defined in {module.replace('.', '/')}.py",
        )
        rehearsal.check(
            "functions",
            f"{logical} runtime",
            configuration.get("Runtime") == props.get("Runtime") == "python3.12",
            f"{configuration.get('Runtime')}",
        )
        wanted_layers = [ref.get("Ref") if isinstance(ref, dict) else ref for ref in props.get("Layers", [])]
        rehearsal.check(
            "functions",
            f"{logical} layer",
            bool(wanted_layers)
            and all(name in layers for name in wanted_layers)
            and props.get("Architectures") == ["arm64"],
            f"{wanted_layers}, {props.get('Architectures')} "
            "(translation: moto's CloudFormation drops Layers and Architectures)",
        )
        missing = unresolved_imports(sources, modules, requirements) | layer_missing
        rehearsal.check(
            "functions",
            f"{logical} imports",
            not missing,
            f"not in the layer or its requirements: {sorted(missing)}"
            if missing
            else "all in the layer or runtime",
        )


def check_mappings(rehearsal: Rehearsal) -> None:
    lambda_ = rehearsal.client("lambda")
    declared = rehearsal.translated_of("AWS::Lambda::EventSourceMapping")
    by_function: dict[str, list[dict[str, Any]]] = {}
    for spec in declared.values():
        invoked = spec["Properties"]["FunctionName"]["Ref"]
        by_function.setdefault(invoked, []).append(spec["Properties"])
    queues = {rehearsal.attribute(k, "Arn") for k, v in rehearsal.types.items() if v == "AWS::SQS::Queue"}
    for invoked, sources in by_function.items():
        # a mapping invokes the function's alias (its published versions) or the function itself
        made = lambda_.list_event_source_mappings(FunctionName=rehearsal.physical[invoked])[
            "EventSourceMappings"
        ]
        function = versions.function_of(rehearsal, invoked)
        rehearsal.check(
            "streams",
            f"{function} mappings",
            len(made) == len(sources),
            f"{len(made)} of {len(sources)} to {invoked}",
        )
        for mapping in made:
            arn = mapping["EventSourceArn"]
            table = arn.split(":table/", 1)[1].split("/stream/", 1)[0]
            subject = f"{function} <- {next((k for k, v in rehearsal.physical.items() if v == table), table)}"
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
                rehearsal.attribute(t, "StreamArn")
                for t in rehearsal.translated_of("AWS::DynamoDB::Table")
                if "StreamSpecification" in rehearsal.translated["Resources"][t]["Properties"]
            }:
                problems.append(f"source {arn} is not a table stream of the stack")
            rehearsal.check(
                "streams",
                subject,
                not problems,
                "; ".join(problems)
                or f"batch {mapping.get('BatchSize')}, retries {retries}, bisect, "
                "ReportBatchItemFailures, on-failure queue of the stack",
            )
