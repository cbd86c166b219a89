"""template.yaml is the truth: these checks keep it honest (cfn-lint and `sam validate --lint` run
in `make template-check`; this file checks what they cannot know about this project)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from healthcode.storage.connection import TABLE_ENV
from healthcode.storage.models import ALL_MODELS

from infra.local.template import ROOT_TEMPLATE, Template

TEMPLATE = Template(ROOT_TEMPLATE, "check", {}, "cn-north-1")
RESOURCES = TEMPLATE.resources
FUNCTIONS = TEMPLATE.functions()


def _statements(logical_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in TEMPLATE.function_properties(logical_id).get("Policies", []):
        if isinstance(policy, dict):
            found.extend(policy.get("Statement", []))
    return found


def test_runtime_architecture_and_layer() -> None:
    globals_ = TEMPLATE.document["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12" and globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [{"Ref": "SharedLayer"}]
    assert RESOURCES["SharedLayer"]["Properties"]["ContentUri"] == "shared/"


def test_parameters() -> None:
    assert {"Province", "RetentionDays", "CallerIssuer", "CallerAudience"} <= set(
        TEMPLATE.document["Parameters"]
    )


def test_http_api_has_a_jwt_authorizer_and_throttling() -> None:
    api = RESOURCES["HttpApi"]["Properties"]
    auth = api["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["JwtConfiguration"]["issuer"] == {"Ref": "CallerIssuer"}
    assert authorizer["JwtConfiguration"]["audience"] == [{"Ref": "CallerAudience"}]
    assert (
        api["DefaultRouteSettings"]["ThrottlingRateLimit"]
        and api["DefaultRouteSettings"]["ThrottlingBurstLimit"]
    )


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.of_type("AWS::DynamoDB::Table")))
def test_tables_are_on_demand_recoverable_and_kms_encrypted(logical_id: str) -> None:
    props = RESOURCES[logical_id]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Ref": "DataKey"},
    }
    if logical_id not in ("IdempotencyTable", "LimitsTable"):  # short-lived items: nothing to recover
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_model_has_its_table_and_environment_variable() -> None:
    tables = set(TEMPLATE.of_type("AWS::DynamoDB::Table"))
    assert set(ALL_MODELS) <= tables
    assert set(TABLE_ENV) <= tables
    # every function variable naming a table points at that table
    for fn in FUNCTIONS.values():
        props = TEMPLATE.function_properties(fn.logical_id)
        for name, value in props.get("Environment", {}).get("Variables", {}).items():
            if name in TABLE_ENV.values():
                logical = next(k for k, v in TABLE_ENV.items() if v == name)
                assert value == {"Ref": logical}, f"{fn.logical_id}: {name}"


def test_model_keys_match_the_template() -> None:
    for logical_id, model in ALL_MODELS.items():
        schema = {k["KeyType"]: k["AttributeName"] for k in RESOURCES[logical_id]["Properties"]["KeySchema"]}
        assert model._hash_key_attribute().attr_name == schema["HASH"], logical_id
        range_key = model._range_key_attribute()
        assert (range_key.attr_name if range_key else None) == schema.get("RANGE"), logical_id
        declared = {
            i["IndexName"] for i in RESOURCES[logical_id]["Properties"].get("GlobalSecondaryIndexes", [])
        }
        used = {index.Meta.index_name for index in model._indexes.values()}
        assert used <= declared, f"{logical_id}: indexes {used - declared} are not in the template"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_is_importable(logical_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.local.stack import load_handler

    fn = FUNCTIONS[logical_id]
    for name, value in fn.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    handler = load_handler(logical_id, fn.code_uri, fn.handler)
    assert callable(handler)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_policies_are_least_privilege(logical_id: str) -> None:
    for statement in _statements(logical_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            assert not action.endswith(":*"), f"{logical_id}: wildcard action {action}"
            if action.startswith(("dynamodb:", "kms:", "secretsmanager:", "sqs:", "s3:")):
                assert "*" not in resources, f"{logical_id}: {action} on every resource"
        if any(a in ("dynamodb:UpdateItem", "dynamodb:DeleteItem") for a in actions):
            assert {"Fn::GetAtt": ["AuditTable", "Arn"]} not in resources, (
                f"{logical_id}: audit is append-only"
            )


def test_limit_counters_are_only_updated_by_the_functions_that_keep_limits() -> None:
    """LimitsTable: TTL on, and only atomic counter updates (no reads, puts, deletes, scans)."""
    props = RESOURCES["LimitsTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    users = set()
    for logical_id in FUNCTIONS:
        for statement in _statements(logical_id):
            resources = statement["Resource"]
            if "LimitsTable" in str(resources):
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                assert set(actions) <= {"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}, logical_id
                users.add(logical_id)
    variables = {
        logical_id
        for logical_id in FUNCTIONS
        if "LIMITS_TABLE" in TEMPLATE.functions()[logical_id].environment
    }
    assert users == variables
    assert users >= {"CodesFunction", "VerificationsFunction", "CasesFunction"}


def test_stream_consumers_report_failures_bisect_retry_boundedly_and_keep_failures() -> None:
    for source in TEMPLATE.stream_sources():
        assert source.report_item_failures, source.function
        assert source.bisect, source.function
        assert 0 <= source.max_retries <= 10, source.function
        assert source.on_failure_queue == "StreamFailureQueue", source.function


def test_tables_with_consumers_have_streams() -> None:
    for source in TEMPLATE.stream_sources():
        assert "StreamSpecification" in RESOURCES[source.table]["Properties"], source.table


def test_no_local_only_route_is_deployed() -> None:
    assert not [r for r in TEMPLATE.routes() if r.path.startswith("/_local")]


def test_public_routes_are_exactly_the_public_ones() -> None:
    public = {r.key for r in TEMPLATE.routes() if not r.authorized}
    assert public == {"GET /v1/health", "GET /.well-known/jwks.json", "GET /v1/openapi.json"}


def test_openapi_document_is_up_to_date() -> None:
    from infra.openapi import OUTPUT, render

    os.environ.setdefault("PROVINCE", "520000")
    assert OUTPUT.read_text(encoding="utf-8") == render(), "stale: run `make openapi`"
