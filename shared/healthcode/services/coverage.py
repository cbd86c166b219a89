"""Coverage counters from the VenuesTable stream: venues by type at county, prefecture and
province level, and per child region (read by ``GET /v1/reports/coverage``).

Idempotent under redelivery: a venue is counted in one transaction with a marker item that may
not exist yet (``storage.venues.count_in_coverage``), so a change delivered twice counts once.
Phone-guard items in the table are not venues and are skipped.

A venue registered under a unified social credit code is also noted under that code in the
market-entity register (``storage.registers.link_venue``, a set: delivered twice, noted once),
so the register's entities with a venue code are counted (``services.registers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from healthcode.rules.credentials import CredentialType
from healthcode.storage import registers
from healthcode.storage import venues as store

Operation = Literal["INSERT", "MODIFY", "REMOVE"]

_REGION = re.compile(r"[1-9][0-9]{5}")


@dataclass(frozen=True)
class Counted:
    """What the counters know of a venue."""

    venue_id: str
    venue_type: str
    region_code: str


class NotAVenue(ValueError):
    """A venue item without a type or a six-digit region: a poison record (sent to the DLQ)."""


def counted(image: Mapping[str, Any] | None) -> Counted | None:
    """The counted facts of a venue item's image; None for anything else (a phone guard)."""
    if not image:
        return None
    venue_id, venue_type, region_code = image.get("venue_id"), image.get("type"), image.get("region_code")
    if not isinstance(venue_id, str) or not venue_id.startswith("v-"):
        return None
    if (
        not isinstance(venue_type, str)
        or not isinstance(region_code, str)
        or not _REGION.fullmatch(region_code)
    ):
        raise NotAVenue(f"venue item {venue_id} has no valid type and region")
    return Counted(venue_id, venue_type, region_code)


def credit_code(image: Mapping[str, Any] | None) -> str | None:
    """The unified social credit code a venue item is registered under, if any."""
    if not image or not str(image.get("venue_id", "")).startswith("v-"):
        return None
    if image.get("credential_type") != CredentialType.USCC.value:
        return None
    code = image.get("credential_masked")  # an organisation's number is shown as it is
    return code if isinstance(code, str) and len(code) == 18 else None


def _register_links(
    operation: str, old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None
) -> None:
    venue_id = str((new_image or old_image or {}).get("venue_id", ""))
    before = credit_code(old_image) if operation != "INSERT" else None
    after = credit_code(new_image) if operation != "REMOVE" else None
    if before is not None and before != after:
        registers.unlink_venue(before, venue_id)
    if after is not None and (after != before or operation == "INSERT"):
        registers.link_venue(after, venue_id)


def apply(
    operation: Operation | str, old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None
) -> int:
    """Apply one change of the venues table to the counters; returns the change in venues counted."""
    _register_links(operation, old_image, new_image)
    old, new = counted(old_image), counted(new_image)
    change = 0
    if operation == "MODIFY" and old == new:
        return 0
    if old is not None and operation != "INSERT":
        change -= int(store.uncount_from_coverage(old.venue_id, old.venue_type, old.region_code))
    if new is not None and operation != "REMOVE":
        change += int(store.count_in_coverage(new.venue_id, new.venue_type, new.region_code))
    return change
