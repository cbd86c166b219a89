"""Residences: where an applicant lives, and what a case or close contact means for their building.

An application may give ``residence: {region_code, venue_id?, building?}``; it is kept under the
person (``storage.residences``). Where the province counts the building (policy
``same_building_days``, Shanxi 居住或暂住地同一楼道), a fact of one of the policy's
``same_building_sources`` (case, close contact) written for a person whose residence names a
residential venue and a building gives every other person registered in that building a
``same_building`` fact (``rules.colour.same_building_fact``). The colour consumer calls
:func:`spread` for such facts as they are written (whoever wrote them: a case report, a lab
import, tracing), so the building turns yellow however the fact came; the neighbours' facts
then recolour them through the same consumer. One GetItem and one Query on the building's
index, no Scan. The fact's id names the source person, so a redelivered record rewrites the
same facts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from healthcode.errors import InvalidInput
from healthcode.rules import colour
from healthcode.rules.applications import Residence
from healthcode.rules.policy import FactKind
from healthcode.settings import policy
from healthcode.storage import facts, residences

__all__ = ["RESIDENTIAL_TYPES", "SOURCE_KINDS", "check_venue", "record", "spread"]

#: Venue types a residence may name.
RESIDENTIAL_TYPES: Final = frozenset({"residential", "village"})


def check_venue(residence: Residence, *, field: str = "residence.venue_id") -> None:
    """The residence's venue must be a registered residential venue (422 ``unknown_venue``)."""
    if residence.venue_id is None:
        return
    from healthcode.storage import venues  # only here: the colour consumer never loads it

    venue = venues.get(residence.venue_id)
    if venue is None or venue.venue_type not in RESIDENTIAL_TYPES:
        raise InvalidInput(
            "venue_id must be a registered residential venue (a compound or a village)",
            field=field,
            code="unknown_venue",
        )


def record(person_id: str, residence: Residence, *, now: datetime) -> None:
    """Keep the person's residence (replacing the one before)."""
    residences.save(person_id, residence, recorded_at=now)


def spread(person_id: str, kind: str, *, learned_at: datetime) -> int:
    """Give the people of ``person_id``'s building a ``same_building`` fact for a fact of
    ``kind`` learned at ``learned_at``; how many were given one (0 when the policy does not
    count buildings, the kind is not a source, or the person's residence names no building)."""
    rules = policy()
    if kind not in {str(source) for source in rules.same_building_sources}:
        return 0
    fact = colour.same_building_fact(person_id, policy=rules, at=learned_at)
    if fact is None:
        return 0
    # the neighbours learn it now, whenever the source fact was learned: an override approved
    # for a neighbour before this write must not cover it
    fact = replace(fact, learned_at=None)
    residence = residences.get(person_id)
    key = None if residence is None else residence.key
    if key is None:
        return 0
    neighbours = sorted({other for other in residences.people_of(key) if other != person_id})
    if not neighbours:
        return 0
    return facts.add_in_batches(
        ((other, fact) for other in neighbours), recorded_at=learned_at, source=f"building#{person_id}"
    )


#: Kinds the consumer passes to :func:`spread` (the policy narrows them).
SOURCE_KINDS: Final = frozenset(
    str(kind) for kind in (FactKind.CASE, FactKind.CLOSE_CONTACT, FactKind.SECONDARY_CONTACT)
)
