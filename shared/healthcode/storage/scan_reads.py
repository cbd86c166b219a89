"""What a presence reads before it is written, in one call.

A check-in reads the persons it names and the venue its code names in one BatchGetItem (with the
Idempotency-Key's record when the request has one, :func:`checkin_reads`); a checkpoint reads the
person whose code was scanned, the checkpoint venue, the scanner's assignment to it and the
idempotency record in one BatchGetItem (:func:`lookup`). Keys DynamoDB leaves unprocessed
(throttling) are asked for again with a short backoff; persons and venues come back as their views.

A check-in's reads are eventually consistent, persons and venue alike: each item under 4 KB is
half a read unit, so the usual one-person check-in costs 1.0. A venue's reissue or closing is
seen within the table's replication delay (well under a second), inside the 60 seconds the
contract allows; no venue is cached between requests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthcode.errors import Throttled
from healthcode.rules.venues import ScannedVenue
from healthcode.storage import idempotency, persons
from healthcode.storage.connection import client, table_name
from healthcode.storage.models import Person, Venue
from healthcode.storage.persons import PersonView
from healthcode.storage.staff import key_of as staff_key
from healthcode.storage.venues import SCANNED_ATTRIBUTES, SCANNED_NAMES, VenueView, scanned_of
from healthcode.storage.venues import view_of as venue_view

#: BatchGetItem takes at most 100 keys.
MAX_BATCH_GET = 100
#: BatchGetItem rounds for keys DynamoDB leaves unprocessed (throttling) before giving up.
LOOKUP_ATTEMPTS = 4
#: Rounds of re-requesting the keys of a check-in's read left unprocessed before giving up.
MAX_UNPROCESSED_ROUNDS = 5


# -- what a check-in reads before it writes --------------------------------------------------------


@dataclass(frozen=True)
class CheckinReads:
    """What a check-in reads before it writes: the persons it names that exist, the venue its
    code names (None when there is no such venue), and the first answer to its Idempotency-Key
    if there was one."""

    persons: dict[str, PersonView]
    venue: ScannedVenue | None
    first_answer: dict[str, Any] | None


def checkin_reads(
    person_ids: Sequence[str],
    venue_id: str,
    *,
    idempotency_of: tuple[str, str] | None,
    fingerprint: str | None = None,
) -> CheckinReads:
    """The persons and the venue of a check-in and, with ``idempotency_of`` = (caller, key), the
    stored first answer: one BatchGetItem across the tables (the record read consistently, the
    venue through a projection of what a check-in needs)."""
    unique = list(dict.fromkeys(person_ids))
    extra = 2 if idempotency_of is not None else 1
    if len(unique) + extra > MAX_BATCH_GET:
        raise ValueError(f"at most {MAX_BATCH_GET - extra} persons per call")
    persons_table, venues_table = table_name("PersonsTable"), table_name("VenuesTable")
    records_table = table_name("IdempotencyTable")
    request: dict[str, Any] = {
        persons_table: {"Keys": [{"person_id": {"S": person_id}} for person_id in unique]},
        venues_table: {
            "Keys": [{"venue_id": {"S": venue_id}}],
            "ProjectionExpression": ", ".join(SCANNED_ATTRIBUTES),
            "ExpressionAttributeNames": dict(SCANNED_NAMES),
        },
    }
    if idempotency_of is not None:
        request[records_table] = {"Keys": [idempotency.record_key(*idempotency_of)], "ConsistentRead": True}
    items: dict[str, list[dict[str, Any]]] = {persons_table: [], venues_table: [], records_table: []}
    dynamodb = client()
    for round_ in range(MAX_UNPROCESSED_ROUNDS):
        answer = dynamodb.batch_get_item(RequestItems=request)
        for table, found in answer.get("Responses", {}).items():
            items.setdefault(table, []).extend(found)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        time.sleep(min(0.05 * 2**round_, 0.5))
    else:
        raise Throttled("too many requests at once: try again in a moment", code="throttled")
    found_persons = {}
    for raw in items[persons_table]:
        person = persons.view_of(Person.from_raw_data(raw))
        found_persons[person.person_id] = person
    venue = scanned_of(items[venues_table][0]) if items[venues_table] else None
    record = items[records_table][0] if items[records_table] else None
    return CheckinReads(
        persons=found_persons,
        venue=venue,
        first_answer=idempotency.answer_from_item(record, fingerprint=fingerprint),
    )


# -- what a checkpoint reads before it writes ------------------------------------------------------


def names_a_person(subject: str) -> bool:
    """Whether a code's subject can be a person id: the persons table holds other items too,
    under keys with ``#``, and no code may name one of them."""
    return bool(subject) and "#" not in subject


@dataclass(frozen=True)
class CheckpointLookup:
    """The person whose code was scanned and the checkpoint venue, each None when it does not
    exist (or was not asked for); whether the caller is assigned to the checkpoint itself (None
    when not asked); and the first answer to the request's Idempotency-Key, if it has one."""

    person: PersonView | None
    venue: VenueView | None
    first_answer: dict[str, Any] | None
    assigned_directly: bool | None = None


def lookup(
    person_id: str | None,
    venue_id: str,
    *,
    staff: str | None = None,
    idempotency_of: tuple[str, str] | None = None,
    fingerprint: str | None = None,
) -> CheckpointLookup:
    """Read the person (strongly consistent: a colour changed a moment ago counts), the venue,
    with ``staff`` the assignment of that account to the venue (consistent: a removal counts at
    once) and, with ``idempotency_of`` = (caller, key), the first answer to the key, in one
    BatchGetItem; unprocessed keys are asked for again with a short backoff. ``person_id`` None:
    no person is read (a manual registration finds its person by ID number)."""
    if person_id is not None and not names_a_person(person_id):
        raise ValueError("not a person id")
    persons_table, venues_table = table_name("PersonsTable"), table_name("VenuesTable")
    records_table, staff_table = table_name("IdempotencyTable"), table_name("StaffTable")
    request: dict[str, Any] = {venues_table: {"Keys": [{"venue_id": {"S": venue_id}}]}}
    if person_id is not None:
        request[persons_table] = {"Keys": [{"person_id": {"S": person_id}}], "ConsistentRead": True}
    if staff is not None:
        request[staff_table] = {"Keys": [staff_key(venue_id, staff)], "ConsistentRead": True}
    if idempotency_of is not None:
        request[records_table] = {"Keys": [idempotency.record_key(*idempotency_of)], "ConsistentRead": True}
    found: dict[str, list[dict[str, Any]]] = {}
    dynamodb = client()
    for attempt in range(LOOKUP_ATTEMPTS):
        answer = dynamodb.batch_get_item(RequestItems=request)
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        time.sleep(0.05 * 2**attempt)
    else:
        raise Throttled("the checkpoint is busy; try again in a moment", code="throttled")
    person = found.get(persons_table, [])
    venue = found.get(venues_table, [])
    prior = found.get(records_table, [])
    return CheckpointLookup(
        person=persons.view_of(Person.from_raw_data(person[0])) if person else None,
        venue=venue_view(Venue.from_raw_data(venue[0])) if venue else None,
        first_answer=idempotency.answer_from_item(prior[0] if prior else None, fingerprint=fingerprint),
        assigned_directly=None if staff is None else bool(found.get(staff_table)),
    )
