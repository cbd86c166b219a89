"""What contact tracing reads: presences (ScansTable) as the tracing rule's ``Presence`` values,
a page at a time where a task must be able to stop and resume, and the venues (VenuesTable) of
the complexes those presences lie in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from healthcode.rules.cases import VenueToSearch
from healthcode.rules.policy import Policy
from healthcode.rules.tracing import Presence
from healthcode.storage.base import InstantAttribute, instant_key
from healthcode.storage.connection import table
from healthcode.storage.models import Scan, Venue
from healthcode.storage.scans import partition

#: Where a page of presences resumes (DynamoDB's ``LastEvaluatedKey``; None: from the start).
Resume = Mapping[str, Any] | None


def _presence(scan: Scan) -> Presence:
    """A stored scan as a presence (its id is the scan id, its start the scan instant)."""
    instant, _, scan_id = str(scan.at_scan).partition("#")
    return Presence(
        presence_id=scan_id or str(scan.at_scan),
        person_id=str(scan.person_id),
        venue_id=str(scan.venue_id),
        complex_id=str(scan.root_venue_id or scan.venue_id),
        venue_type=str(scan.venue_type),
        start=InstantAttribute().deserialize(instant),
    )


def of_case_person(person_id: str, first: datetime, last: datetime) -> list[Presence]:
    """The person's presences with scan time in ``[first, last]`` (one Query on ``by_person``)."""
    window = Scan.at_scan.between(f"{instant_key(first)}#", f"{instant_key(last)}#\uffff")
    found = [_presence(scan) for scan in Scan.by_person.query(person_id, window)]
    return [p for p in found if p.person_id == person_id]


#: What a co-visitor page reads of each scan (a ProjectionExpression): a presence needs these
#: only, so a station's pages of 500 scans come back without verdicts, masked names, actors
#: and the rest: less to send and to parse.
PRESENCE_ATTRIBUTES: Final = (
    "venue_shard",
    "at_scan",
    "person_id",
    "venue_id",
    "root_venue_id",
    "venue_type",
)


def page_at(
    venue_id: str, shard: int, first: datetime, last: datetime, *, after: Resume, limit: int
) -> tuple[list[Presence], Resume]:
    """One page (at most ``limit``) of the presences in one write shard of a venue with scan time
    in ``[first, last]``, from ``after`` on; and where the next page resumes (None: shard done)."""
    answer = table(Scan).query(
        partition(venue_id, shard),
        range_key_condition=Scan.at_scan.between(f"{instant_key(first)}#", f"{instant_key(last)}#\uffff"),
        exclusive_start_key=dict(after) if after is not None else None,
        limit=limit,
        attributes_to_get=list(PRESENCE_ATTRIBUTES),
    )
    found = [_presence(Scan.from_raw_data(raw)) for raw in answer.get("Items", [])]
    return found, answer.get("LastEvaluatedKey")


def venues_by_complex(presences: Sequence[Presence], policy: Policy) -> dict[str, list[VenueToSearch]]:
    """The venues of each complex the presences lie in (one ``by_root`` Query per complex),
    with each presence's own venue added if the index does not list it."""

    def to_search(venue: Venue, fallback_type: str) -> VenueToSearch:
        venue_type = str(venue.type or fallback_type)
        return VenueToSearch(str(venue.venue_id), venue_type, int(venue.shards or policy.shards(venue_type)))

    found: dict[str, dict[str, VenueToSearch]] = {}
    for presence in presences:
        members = found.get(presence.complex_id)
        if members is None:
            members = {
                str(v.venue_id): to_search(v, presence.venue_type)
                for v in Venue.by_root.query(presence.complex_id)
            }
            found[presence.complex_id] = members
        if presence.venue_id not in members:
            try:
                members[presence.venue_id] = to_search(Venue.get(presence.venue_id), presence.venue_type)
            except Venue.DoesNotExist:
                members[presence.venue_id] = VenueToSearch(
                    presence.venue_id, presence.venue_type, policy.shards(presence.venue_type)
                )
    return {complex_id: list(members.values()) for complex_id, members in found.items()}
