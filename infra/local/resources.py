"""Create the template's resources in moto: tables (keys, GSIs, streams, SSE, and TTL, which
moto's CloudFormation drops), queues, SNS topics, KMS keys and secrets. Used by the local stack
and by the handler tests, so tests and infrastructure cannot drift apart.

SNS topics are created without their subscriptions (no mailbox or endpoint exists locally):
what was published to a topic stays in moto and :func:`published` reads it back, which is how
tests (and the local stack's ``GET /_local/published?topic=<logical id>``) see it."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from infra.local.template import Template


def table_request(name: str, props: dict[str, Any], kms_key_id: str | None = None) -> dict[str, Any]:
    """CreateTable arguments from a CloudFormation ``AWS::DynamoDB::Table``'s properties."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    indexes = []
    for gsi in props.get("GlobalSecondaryIndexes", []):
        index = {
            "IndexName": gsi["IndexName"],
            "KeySchema": gsi["KeySchema"],
            "Projection": gsi["Projection"],
        }
        if request["BillingMode"] == "PROVISIONED":
            index["ProvisionedThroughput"] = gsi["ProvisionedThroughput"]
        indexes.append(index)
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse and sse.get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True, "SSEType": sse.get("SSEType", "KMS")}
        if kms_key_id:
            request["SSESpecification"]["KMSMasterKeyId"] = kms_key_id
    return request


def create_tables(template: Template, dynamodb: Any, *, time_to_live: bool = True) -> dict[str, str]:
    """Create every table; returns logical id → physical table name. ``time_to_live=False``
    leaves TTL off in the engine (DynamoDB Local would expire items on the wall clock, not the
    stack's, with malformed stream records): ``streams.TtlSweeper`` reads it from the template."""
    names = {}
    for logical_id, props in template.tables().items():
        name = template.physical_name(logical_id)
        kms = (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
        dynamodb.create_table(**table_request(name, props, kms if isinstance(kms, str) else None))
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") and time_to_live:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        names[logical_id] = name
        template.created_arns[logical_id] = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    return names


def _generated_secret(spec: dict[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template_text = spec.get("SecretStringTemplate")
    if template_text:
        document = json.loads(template_text)
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


def create_resources(template: Template, clients: dict[str, Any], *, time_to_live: bool = True) -> None:
    """KMS keys and aliases, secrets and queues first (tables refer to the key), then tables
    (``time_to_live``: see :func:`create_tables`)."""
    for logical_id in template.of_type("AWS::KMS::Key"):
        key = clients["kms"].create_key(Description=template.physical_name(logical_id))["KeyMetadata"]
        template.created_refs[logical_id] = key["KeyId"]
        template.created_arns[logical_id] = key["Arn"]
    for logical_id, spec in template.of_type("AWS::KMS::Alias").items():
        props = template.resolve(spec["Properties"])
        clients["kms"].create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        template.created_refs[logical_id] = props["AliasName"]
    for logical_id, spec in template.of_type("AWS::SecretsManager::Secret").items():
        props = template.resolve(spec.get("Properties", {}))
        value = props.get("SecretString")
        if value is None:
            value = _generated_secret(props.get("GenerateSecretString", {}))
        created = clients["secretsmanager"].create_secret(
            Name=template.physical_name(logical_id), SecretString=value
        )
        template.created_refs[logical_id] = created["ARN"]
        template.created_arns[logical_id] = created["ARN"]
    for logical_id in template.of_type("AWS::SQS::Queue"):
        url = clients["sqs"].create_queue(QueueName=template.physical_name(logical_id))["QueueUrl"]
        arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        template.created_refs[logical_id] = url
        template.created_arns[logical_id] = arn
    for logical_id in template.of_type("AWS::S3::Bucket"):
        name = template.physical_name(logical_id).lower()
        # S3 wants the region named for a bucket anywhere but us-east-1 (cn-north-1 included).
        where = (
            {}
            if template.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": template.region}}
        )
        clients["s3"].create_bucket(Bucket=name, **where)
        template.created_refs[logical_id] = name
        template.created_arns[logical_id] = f"arn:{template.partition}:s3:::{name}"
    if "sns" in clients:
        for logical_id, spec in template.of_type("AWS::SNS::Topic").items():
            props = template.resolve(spec.get("Properties", {}))
            attributes = {"DisplayName": str(props["DisplayName"])} if props.get("DisplayName") else {}
            arn = clients["sns"].create_topic(Name=template.physical_name(logical_id), Attributes=attributes)[
                "TopicArn"
            ]
            template.created_refs[logical_id] = arn  # Ref of a topic is its ARN
            template.created_arns[logical_id] = arn
    create_tables(template, clients["dynamodb"], time_to_live=time_to_live)


def published(topic_arn: str) -> list[dict[str, Any]]:
    """Every message published to a topic of the moto in this process, oldest first:
    ``{message_id, subject, message, attributes}``."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    region = topic_arn.split(":")[3]
    account = topic_arn.split(":")[4] or DEFAULT_ACCOUNT_ID
    topic = sns_backends[account][region].topics.get(topic_arn)
    if topic is None:
        return []
    return [
        {"message_id": message_id, "subject": subject, "message": message, "attributes": attributes or {}}
        for message_id, message, subject, attributes, _group in list(topic.sent_notifications)
    ]
