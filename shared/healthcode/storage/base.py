"""What every model shares: table names from the environment, UTC time attributes, TTL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pynamodb.attributes import Attribute, NumberAttribute
from pynamodb.connection import Connection
from pynamodb.constants import STRING
from pynamodb.models import Model

from healthcode import clock

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
}


def table_name(logical_id: str) -> str:
    """The physical name of a template table, from its environment variable."""
    return os.environ.get(TABLE_ENV[logical_id], f"unset-{TABLE_ENV[logical_id]}")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"


class BaseMeta:
    """Meta defaults: region from the environment; endpoint from AWS_ENDPOINT_URL (botocore)."""

    region = region()
    max_retry_attempts = 3
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


def bind(model: type[Model], logical_id: str) -> None:
    """Point ``model`` at its table (names are known only once the environment is set)."""
    name = table_name(logical_id)
    if getattr(model.Meta, "table_name", None) != name:
        model.Meta.table_name = name
        model.Meta.region = region()
        model._connection = None


class InstantAttribute(Attribute[datetime]):
    """An aware instant stored as fixed-width UTC ISO 8601 (sorts as text, ``Z`` suffix)."""

    attr_type = STRING

    def serialize(self, value: Any) -> str:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("InstantAttribute takes timezone-aware datetimes only")
        return instant_key(value)

    def deserialize(self, value: Any) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def instant_key(value: datetime) -> str:
    """The sortable text form of an instant used in keys: ``2022-05-18T02:00:00.000000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ttl_after(instant: datetime, days: int) -> int:
    """Epoch seconds ``days`` after ``instant``: a TTL value (DynamoDB TTL wants seconds)."""
    return int((instant + timedelta(days=days)).timestamp())


class EpochAttribute(NumberAttribute):
    """TTL attribute: whole epoch seconds (what DynamoDB TTL reads)."""


@cache
def connection() -> Connection:
    """One low-level connection per container, for writes pynamodb models cannot express alone
    (TransactWriteItems across tables), with the models' region, retries and timeouts."""
    return Connection(
        region=region(),
        max_retry_attempts=BaseMeta.max_retry_attempts,
        connect_timeout_seconds=BaseMeta.connect_timeout_seconds,
        read_timeout_seconds=BaseMeta.read_timeout_seconds,
    )


def now() -> datetime:
    return clock.now()
