"""Translate template.yaml with samtranslator, offline, into plain CloudFormation.

cfn-lint on the SAM source cannot see inside ``AWS::Serverless::*`` resources; linting this
translation (``make template-check``) catches what the transform would produce wrongly. The
deploy rehearsal creates the same translation as a stack in moto's CloudFormation.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from infra.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]


class OfflinePolicyLoader:
    """samtranslator asks IAM for managed policy ARNs; offline we know them by name."""

    def __init__(self, partition: str) -> None:
        self.partition = partition

    def load(self) -> dict[str, str]:
        names = ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole", "AWSXrayWriteOnlyAccess"]
        return {n: f"arn:{self.partition}:iam::aws:policy/service-role/{n}" for n in names}


def translate(
    template_path: Path = ROOT / "template.yaml",
    region: str = "cn-north-1",
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The CloudFormation the SAM transform makes of the template. ``parameters`` are the stack's
    parameter values (the transform inlines some, e.g. into layer names; defaults otherwise)."""
    document = load_yaml(template_path)
    # What `sam package` does: local code folders become S3 artifacts.
    for logical_id, resource in document["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://healthcode-artifacts/{logical_id}.zip"
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    values = {
        **(parameters or {}),
        "AWS::Region": region,
        "AWS::Partition": partition,
        "AWS::AccountId": "123456789012",
    }
    session = boto3.session.Session(
        region_name=region, aws_access_key_id="offline", aws_secret_access_key="offline"
    )
    translator = Translator(OfflinePolicyLoader(partition).load(), Parser(), boto_session=session)
    try:
        translated: dict[str, Any] = translator.translate(document, values)
    except InvalidDocumentException as exc:
        problems = "; ".join(str(cause) for cause in exc.causes)
        raise SystemExit(f"{template_path.name}: the SAM transform failed: {problems}") from exc
    return translated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--region", default="cn-north-1")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(translate(args.template, args.region), indent=1, sort_keys=True))
    print(f"translated {args.template.name} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
