"""The storage-semantics suite: what HealthCode relies on DynamoDB for, asked of both engines
the local stack can run on (``infra.local.engine``): moto, as the stack runs it (one request at
a time, copy-free transactions), and DynamoDB Local, Amazon's own engine.

Every test takes ``engine`` and runs once per engine; tables are the template's own, created
per test module under a fresh stack name (so no test sees another's items). DynamoDB Local is
installed by ``make dynamodb-local`` (``make test`` does it first); where it is missing the
DynamoDB Local half is skipped with that reason, except under ``make test`` or CI
(``DYNAMODB_LOCAL_REQUIRED=1`` / ``CI``), where a missing engine fails the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import pytest

from infra.local import moto_patches
from infra.local.engine import (
    DYNAMODB_LOCAL,
    ENDPOINT_VARIABLES,
    MOTO,
    QUICK_START,
    DynamoDBLocal,
    EngineNotInstalled,
)
from infra.local.resources import create_tables
from infra.local.stack import free_port, serial_moto_server
from infra.local.template import ROOT_TEMPLATE, Template
from tests.conftest import PROVINCE, REGION


@dataclass
class Engine:
    """One running engine: its name, its endpoint and clients on it."""

    name: str
    endpoint: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = botocore.session.get_session().create_client(
                service,
                region_name=REGION,
                endpoint_url=self.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def streams(self) -> Any:
        return self.client("dynamodbstreams")


def _required() -> bool:
    return bool(os.environ.get("DYNAMODB_LOCAL_REQUIRED") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def moto_engine() -> Iterator[Engine]:
    """moto's server as the local stack runs it."""
    moto_patches.apply()
    port = free_port()
    server = serial_moto_server(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield Engine(MOTO, f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb_local_engine() -> Iterator[Engine]:
    try:
        server = DynamoDBLocal(java_options=QUICK_START)
    except EngineNotInstalled as missing:
        if _required():
            pytest.fail(f"{missing} (DYNAMODB_LOCAL_REQUIRED)")
        pytest.skip(str(missing))
    with server:
        yield Engine(DYNAMODB_LOCAL, server.endpoint)


@pytest.fixture(scope="module", params=[MOTO, DYNAMODB_LOCAL])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "moto_engine" if request.param == MOTO else "dynamodb_local_engine"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@dataclass
class Tables:
    """The template's tables, created on one engine under one stack name."""

    template: Template
    names: dict[str, str]

    def name(self, logical_id: str) -> str:
        return self.names[logical_id]

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.template.tables()[logical_id]


@pytest.fixture(scope="module")
def tables(engine: Engine) -> Tables:
    """Every table of template.yaml, as the local stack creates them (TTL left to the stack's
    sweeper, as on DynamoDB Local), under a stack name of this module's own."""
    template = Template(ROOT_TEMPLATE, f"st{uuid.uuid4().hex[:10]}", {"Province": PROVINCE}, REGION)
    return Tables(template, create_tables(template, engine.dynamodb, time_to_live=False))


@pytest.fixture
def storage_on(engine: Engine, tables: Tables, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """HealthCode's storage layer (pynamodb models, its connection, ``aws.client``) pointed at
    ``engine`` and at ``tables``, as a function of the local stack sees them."""
    from healthcode.storage.connection import TABLE_ENV

    for variable in ENDPOINT_VARIABLES:
        monkeypatch.setenv(variable, engine.endpoint)
    for logical_id, variable in TABLE_ENV.items():
        monkeypatch.setenv(variable, tables.name(logical_id))
    _forget_connections()
    try:
        yield engine
    finally:
        monkeypatch.undo()
        _forget_connections()


def _forget_connections() -> None:
    """Every cached client and model connection (each keeps the endpoint it was made with)."""
    from healthcode import aws
    from healthcode.storage import connection
    from pynamodb.models import Model

    aws.reset()
    connection.reset()
    waiting: list[type[Model]] = [Model]
    while waiting:
        model = waiting.pop()
        model._connection = None
        waiting.extend(model.__subclasses__())


def unique(prefix: str = "k") -> str:
    """A key no other test writes."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
