"""Checks of where data lives: every table's keys, attributes, indexes, stream, TTL, encryption and
recovery; the buckets' encryption, public access, lifecycle and TLS-only policy (the export
bucket's records expire with RetentionDays; the pages bucket keeps releases as versions)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from infra.rehearsal.access import as_list
from infra.rehearsal.web import pages_buckets

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


PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def check_buckets(rehearsal: Rehearsal) -> None:
    s3 = rehearsal.client("s3")
    pages = pages_buckets(rehearsal)
    for logical, spec in rehearsal.translated_of("AWS::S3::Bucket").items():
        if logical not in rehearsal.physical:
            continue  # its condition is false in this environment (listed as not created)
        name = rehearsal.physical[logical]
        props = spec["Properties"]
        encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = encryption["ApplyServerSideEncryptionByDefault"]
        if logical in pages:
            _check_pages_bucket(rehearsal, logical, props, default)
        elif logical in _access_log_buckets(rehearsal):
            _check_access_log_bucket(rehearsal, logical, props, default)
        else:
            _check_data_bucket(rehearsal, logical, props, default)
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


def _check_pages_bucket(
    rehearsal: Rehearsal, logical: str, props: dict[str, Any], default: dict[str, Any]
) -> None:
    """The pages are public files read by CloudFront's origin access identity, which reads
    SSE-S3 objects only; a release replaced stays a version for a rollback, then expires."""
    rehearsal.check(
        "buckets",
        f"{logical} encryption",
        default["SSEAlgorithm"] == "AES256",
        f"{default['SSEAlgorithm']} (public pages: SSE-S3, which CloudFront's origin access identity reads)",
    )
    block = props.get("PublicAccessBlockConfiguration", {})
    rehearsal.check(
        "buckets",
        f"{logical} public access",
        all(block.get(k) is True for k in PUBLIC_ACCESS_BLOCK),
        "all blocked: only the distribution reads it (translation: moto's CloudFormation drops it)",
    )
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    versioned = props.get("VersioningConfiguration", {}).get("Status") == "Enabled"
    rehearsal.check(
        "buckets",
        f"{logical} lifecycle",
        versioned and any("NoncurrentVersionExpiration" in r and r.get("Status") == "Enabled" for r in rules),
        "versioned; replaced releases expire (translation)",
    )


def _check_data_bucket(
    rehearsal: Rehearsal, logical: str, props: dict[str, Any], default: dict[str, Any]
) -> None:
    """Records (exports, reports) under the stack's key, expiring with RetentionDays."""
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
        all(block.get(k) is True for k in PUBLIC_ACCESS_BLOCK),
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


def _access_log_buckets(rehearsal: Rehearsal) -> set[str]:
    """Buckets other buckets deliver their S3 server access logs to."""
    targets = set()
    for spec in rehearsal.translated_of("AWS::S3::Bucket").values():
        target = spec["Properties"].get("LoggingConfiguration", {}).get("DestinationBucketName")
        if isinstance(target, dict) and "Ref" in target:
            targets.add(target["Ref"])
    return targets


def _check_access_log_bucket(
    rehearsal: Rehearsal, logical: str, props: dict[str, Any], default: dict[str, Any]
) -> None:
    """S3 delivers server access logs only to an SSE-S3 bucket; they expire with RetentionDays."""
    rehearsal.check(
        "buckets",
        f"{logical} encryption",
        default["SSEAlgorithm"] == "AES256",
        f"{default['SSEAlgorithm']} (S3 server access logs: SSE-S3 is the only encryption S3 delivers to)",
    )
    block = props.get("PublicAccessBlockConfiguration", {})
    rehearsal.check(
        "buckets",
        f"{logical} public access",
        all(block.get(k) is True for k in PUBLIC_ACCESS_BLOCK),
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
        "access logs expire after RetentionDays (translation)",
    )
