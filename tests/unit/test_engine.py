"""The local stack's engine switch (infra/local/engine.py): only DynamoDB and its streams move."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from infra.local.engine import (
    DYNAMODB_LOCAL,
    MOTO,
    DynamoDBLocal,
    EngineNotInstalled,
    endpoint_environment,
    engine_from_environment,
    find_jar,
)
from infra.local.stack import LocalStack


def test_moto_is_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_ENGINE", raising=False)
    assert engine_from_environment() == MOTO
    monkeypatch.setenv("LOCAL_ENGINE", DYNAMODB_LOCAL)
    assert engine_from_environment() == DYNAMODB_LOCAL


def test_an_unknown_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_ENGINE", "localstack")
    with pytest.raises(ValueError, match="LOCAL_ENGINE"):
        engine_from_environment()
    with pytest.raises(ValueError, match="engine"):
        LocalStack(engine="cassandra")


def test_only_dynamodb_and_its_streams_go_to_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's per-service endpoint variables win over ``AWS_ENDPOINT_URL`` for those two
    services; every other client (KMS, SQS, S3, Secrets Manager, SNS) stays on moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    for name, value in endpoint_environment("http://127.0.0.1:8000").items():
        monkeypatch.setenv(name, value)
    session = botocore.session.get_session()

    def endpoint(service: str) -> str:
        return str(session.create_client(service, region_name="cn-north-1").meta.endpoint_url)

    assert endpoint("dynamodb") == "http://127.0.0.1:8000"
    assert endpoint("dynamodbstreams") == "http://127.0.0.1:8000"
    for service in ("kms", "sqs", "s3", "secretsmanager", "sns"):
        assert endpoint(service) == "http://127.0.0.1:5000", service


def test_a_configured_jar_is_used_and_a_missing_one_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jar = tmp_path / "DynamoDBLocal.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv("DYNAMODB_LOCAL_JAR", str(jar))
    assert find_jar() == jar
    server = DynamoDBLocal(port=8123)
    assert server.command()[-6:] == ["-jar", str(jar), "-inMemory", "-sharedDb", "-port", "8123"]
    monkeypatch.setenv("DYNAMODB_LOCAL_JAR", str(tmp_path / "absent.jar"))
    assert find_jar() is None
    with pytest.raises(EngineNotInstalled, match="make dynamodb-local"):
        DynamoDBLocal()
