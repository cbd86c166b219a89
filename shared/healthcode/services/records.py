"""A person's full record for officials: identity, colour and facts. Reading the identity is
itself put on the person's audit trail, before anything is decrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from healthcode import clock
from healthcode.errors import NotFound
from healthcode.protection.auth import Caller
from healthcode.rules.colour import ColourDecision
from healthcode.services import recolour
from healthcode.storage import audit, facts, persons

__all__ = ["IDENTITY_READ", "FullRecord", "full_record"]

#: Audit kind of a read of a person's identity.
IDENTITY_READ = "identity_read"


@dataclass(frozen=True)
class FullRecord:
    person: persons.PersonView
    identity: persons.Identity
    decision: ColourDecision
    state: facts.PersonState
    read_at: datetime


def full_record(person_id: str, *, who: Caller, route: str) -> FullRecord:
    """The person's record with their identity (``person_id`` already checked), for an official
    of the person's area (403 ``outside_area`` otherwise, nothing read); the read is audited
    (who, when, which fields, through which ``route``)."""
    official = who.sub
    person = persons.get(person_id, consistent=True)
    if person is None:
        raise NotFound("no such person", field="person_id", code="person_not_found")
    who.require_area(person.region_code)
    now = clock.now()
    audit.append(
        audit.person_subject(person.person_id),
        IDENTITY_READ,
        actor=official,
        at=now,
        details={"fields": ["name", "id_number", "phone", "address"], "route": route},
    )
    identity = persons.identity(person)
    decision = recolour.current(person, now=now)
    state = facts.state_of(person.person_id, consistent=False)
    return FullRecord(person=person, identity=identity, decision=decision, state=state, read_at=now)
