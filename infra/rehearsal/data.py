"""Checks of where data lives: every table's keys, attributes, indexes, stream, TTL, encryption and
recovery; the export bucket's encryption, public access, lifecycle and TLS-only policy."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from infra.rehearsal.access import as_list

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal


def check_tables(rehearsal: Rehearsal) -> None:
    dynamodb = rehearsal.client("dynamodb")
    for logical, spec in rehearsal.translated_of("AWS::DynamoDB::Table").items():
        props = rehearsal.intrinsics().resolve(spec["Properties"])
        table = dynamodb.describe_table(TableName=rehearsal.physical[logical])["Table"]
        keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
        rehearsal.check(
            "tables",
            f"{logical} keys",
            keys == {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]},
            str(keys),
        )
        attributes = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        wanted = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        rehearsal.check("tables", f"{logical} attributes", attributes == wanted, str(sorted(attributes)))
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
        rehearsal.check("tables", f"{logical} indexes", made == declared, ", ".join(sorted(made)) or "none")
        stream = props.get("StreamSpecification")
        got = table.get("StreamSpecification") or {}
        if stream:
            rehearsal.check(
                "tables",
                f"{logical} stream",
                got.get("StreamEnabled") is True and got.get("StreamViewType") == stream["StreamViewType"],
                str(got.get("StreamViewType")),
            )
        else:
            rehearsal.check(
                "tables", f"{logical} stream", not got.get("StreamEnabled"), "none declared, none made"
            )
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            name = rehearsal.physical[logical]
            before = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            applied = before.get("TimeToLiveStatus") != "ENABLED"
            if applied:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            after = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            rehearsal.check(
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
        data_key = rehearsal.attribute("DataKey", "Arn") if "DataKey" in rehearsal.physical else None
        key = sse.get("KMSMasterKeyId")
        rehearsal.check(
            "tables",
            f"{logical} encryption",
            sse.get("SSEEnabled") is True
            and sse.get("SSEType") == "KMS"
            and key in (rehearsal.physical.get("DataKey"), data_key),
            "KMS with the stack's key (translation: moto's CloudFormation drops SSESpecification)",
        )
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is True
        kept = spec.get("DeletionPolicy") == "Retain"
        # Tables of short-lived records only (every item has a TTL) may go without both.
        disposable = bool(ttl.get("Enabled")) and not pitr and not kept
        rehearsal.check(
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


def check_buckets(rehearsal: Rehearsal) -> None:
    s3 = rehearsal.client("s3")
    for logical, spec in rehearsal.translated_of("AWS::S3::Bucket").items():
        name = rehearsal.physical[logical]
        props = spec["Properties"]
        encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = encryption["ApplyServerSideEncryptionByDefault"]
        rehearsal.check(
            "buckets",
            f"{logical} encryption",
            default["SSEAlgorithm"] == "aws:kms"
            and default.get("KMSMasterKeyID") == rehearsal.attribute("DataKey", "Arn"),
            f"{default['SSEAlgorithm']} with the stack's key",
        )
        block = props.get("PublicAccessBlockConfiguration", {})
        rehearsal.check(
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
        rehearsal.check(
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
            for s in as_list(policy.get("Statement"))
        )
        rehearsal.check("buckets", f"{logical} TLS only", secure, "denies requests without TLS")
