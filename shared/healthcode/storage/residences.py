"""Where people live: one residence item per person under their facts, and who lives in a building.

A person's residence (``POST /v1/codes``'s optional ``residence``) is stored as the item
``residence`` under the person in FactsTable. When it names a residential venue and a building,
the item carries ``residence_key`` = ``<venue_id>#<building>``, the hash key of the sparse index
``by_residence`` (range key ``person_id``): the people of one building are one Query, never a
Scan. A residence without a venue or a building is kept (its region) but indexes nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from healthcode.rules.applications import Residence
from healthcode.storage import facts
from healthcode.storage.models import Fact

__all__ = ["RESIDENCE", "Residence", "building_key", "get", "people_of", "save"]

#: Stored kind and fact id of a residence item.
RESIDENCE = "residence"


def building_key(venue_id: str, building: str) -> str:
    return Residence(region_code="", venue_id=venue_id, building=building).key or ""


def save(person_id: str, residence: Residence, *, recorded_at: datetime) -> None:
    """Write (or replace) the person's residence item (a BatchWriteItem, like declared facts)."""
    facts.save(
        [
            Fact(
                person_id,
                RESIDENCE,
                kind=RESIDENCE,
                starts_at=recorded_at,
                recorded_at=recorded_at,
                region_code=residence.region_code,
                residence_key=residence.key,
                detail=residence.building or "",
                source=residence.venue_id,
            )
        ]
    )


def get(person_id: str) -> Residence | None:
    """The person's residence (one GetItem), or None."""
    try:
        item = Fact.get(person_id, RESIDENCE)
    except Fact.DoesNotExist:
        return None
    return Residence(
        region_code=str(item.region_code or ""),
        venue_id=item.source,
        building=item.detail or None,
    )


def people_of(key: str) -> Iterator[str]:
    """The person ids registered in the building ``key`` (one paged Query on ``by_residence``)."""
    for item in Fact.by_residence.query(key):
        yield str(item.person_id)
