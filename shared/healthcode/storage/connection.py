"""The one way storage reaches DynamoDB: table names from the environment, one connection.

Table names are read when a table is used, never at import, so a test or the local stack may set
the environment after importing the models. ``connection()`` is the low-level connection for
writes a single model cannot express (TransactWriteItems across tables) and for raw requests;
``table(model)`` is a model's own connection (it knows the table's key schema, so no
DescribeTable is ever sent); ``client()`` is the botocore client under both.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

#: Environment variable naming each table (set by template.yaml on the functions that use it).
TABLE_ENV = {
    "PersonsTable": "PERSONS_TABLE",
    "FactsTable": "FACTS_TABLE",
    "AuditTable": "AUDIT_TABLE",
    "VenuesTable": "VENUES_TABLE",
    "ScansTable": "SCANS_TABLE",
    "StatsTable": "STATS_TABLE",
    "CasesTable": "CASES_TABLE",
    "RequestsTable": "REQUESTS_TABLE",
    "RiskAreasTable": "RISK_AREAS_TABLE",
    "IdempotencyTable": "IDEMPOTENCY_TABLE",
    "StaffTable": "STAFF_TABLE",
    "LimitsTable": "LIMITS_TABLE",
    "AlertsTable": "ALERTS_TABLE",
    "RegistersTable": "REGISTERS_TABLE",
}

#: What a failed DynamoDB request raises, for callers outside storage that carry on past one.
StorageError = PynamoDBException

MAX_RETRY_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5


def table_name(logical_id: str) -> str:
    """The physical name of a template table, from its environment variable."""
    return os.environ.get(TABLE_ENV[logical_id], f"unset-{TABLE_ENV[logical_id]}")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"


class TableName:
    """A model's ``Meta.table_name``: the template table's name, read from the environment on
    each use (pynamodb reconnects when the name it sees changes)."""

    def __init__(self, logical_id: str) -> None:
        self.logical_id = logical_id

    def __get__(self, instance: object, owner: type | None = None) -> str:
        return table_name(self.logical_id)


class TableRegion:
    """A model's ``Meta.region``, read from the environment on each use."""

    def __get__(self, instance: object, owner: type | None = None) -> str:
        return region()


@cache
def connection() -> Connection:
    """One low-level connection per container, with the models' region, retries and timeouts."""
    return Connection(
        region=region(),
        max_retry_attempts=MAX_RETRY_ATTEMPTS,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
    )


def table(model: type[Model]) -> TableConnection:
    """``model``'s table connection (pynamodb keeps one per model class)."""
    return model._get_connection()


def client() -> Any:
    """The botocore DynamoDB client, for requests written by hand (update expressions)."""
    from healthcode import aws

    return aws.client("dynamodb")


def reset() -> None:
    """Forget the cached connection (tests that switch endpoints)."""
    connection.cache_clear()
