"""What every model shares: its Meta defaults, UTC time attributes, TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import Attribute, NumberAttribute
from pynamodb.constants import STRING

from healthcode import clock
from healthcode.storage.connection import TableRegion


class BaseMeta:
    """Meta defaults: region from the environment; endpoint from AWS_ENDPOINT_URL (botocore).
    Each model's ``table_name`` is a ``TableName``: read from the environment when used, so
    importing a model never fixes its table."""

    region = TableRegion()
    max_retry_attempts = 3
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


class InstantAttribute(Attribute[datetime]):
    """An aware instant stored as fixed-width UTC ISO 8601 (sorts as text, ``Z`` suffix)."""

    attr_type = STRING

    def serialize(self, value: Any) -> str:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("InstantAttribute takes timezone-aware datetimes only")
        return instant_key(value)

    def deserialize(self, value: Any) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def region_key_prefix(region_code: str) -> str | None:
    """``begins_with`` on a ``<county>#…`` range key for the items of a region: None for a whole
    province, the first four digits for a prefecture, ``<county>#`` for a county."""
    if region_code.endswith("0000"):
        return None
    if region_code.endswith("00"):
        return region_code[:4]
    return f"{region_code}#"


def instant_key(value: datetime) -> str:
    """The sortable text form of an instant used in keys: ``2022-05-18T02:00:00.000000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ttl_after(instant: datetime, days: int) -> int:
    """Epoch seconds ``days`` after ``instant``: a TTL value (DynamoDB TTL wants seconds)."""
    return int((instant + timedelta(days=days)).timestamp())


class EpochAttribute(NumberAttribute):
    """TTL attribute: whole epoch seconds (what DynamoDB TTL reads)."""


def now() -> datetime:
    return clock.now()
