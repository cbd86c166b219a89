"""Finding a person by ID number, for officials and admins.

The number comes in a request body (never a URL, so never an access log) and is looked up by its
keyed hash (``storage.persons.holder_of``: one person holds an ID number). Only a person inside
the caller's area is answered; anyone else — elsewhere in the province or nowhere — is the same
empty answer, so a search never tells whether a person exists outside the area. Each search is
audited like a record read: an entry on every person found (the person id, never the number),
or, when nobody is found, one on the searching account (``account#<sub>``). A per-account hourly limit
(``person_searches_per_hour_limit``) stops one account from walking the ID-number space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from healthcode.protection.auth import Caller
from healthcode.rules.documents import Document, check_document
from healthcode.services import account_limits, recolour
from healthcode.storage import audit, persons

__all__ = ["ROUTE", "SEARCHED", "Match", "search"]

#: Audit kind of a search (on each person found, and on the searching account).
SEARCHED: Final = "person_search"
ROUTE: Final = "POST /v1/persons/search"
#: The document types a search can look up (the keyed hash covers resident ID numbers).


@dataclass(frozen=True)
class Match:
    """A person found, masked."""

    person_id: str
    name_masked: str
    id_masked: str
    colour: str
    risk_level: int
    region_code: str


def _document(body: Mapping[str, Any], *, now: datetime) -> Document:
    """The document searched for, checked like one given in an application (a passport with
    its ``nationality``); 422 naming the field otherwise."""
    return check_document(
        body.get("id_number"), body.get("id_type"), today=now.date(), nationality=body.get("nationality")
    )


def search(who: Caller, body: Mapping[str, Any], *, now: datetime) -> list[Match]:
    """The persons holding the body's ID number inside the caller's area (at most one), masked;
    audited. A well-formed number counts against the account's hourly searches before anything
    is looked up (429 ``rate_limited`` past the limit); a malformed one is refused writing nothing."""
    document = _document(body, now=now)
    account_limits.person_search(who.sub, now=now)
    holder = persons.holder_of(document.number, document.id_type.value)
    found = [holder] if holder is not None and who.covers(holder.region_code) else []
    if not found:  # a search that found nobody is on the searching account's trail
        audit.append(
            audit.account_subject(who.sub),
            SEARCHED,
            actor=who.sub,
            at=now,
            details={"route": ROUTE, "matches": 0},
        )
    matches = []
    for person in found:
        audit.append(
            audit.person_subject(person.person_id),
            SEARCHED,
            actor=who.sub,
            at=now,
            details={"route": ROUTE, "fields": ["name_masked", "id_masked"]},
        )
        decision = recolour.current(person, now=now)
        matches.append(
            Match(
                person_id=person.person_id,
                name_masked=person.name_masked,
                id_masked=person.id_masked,
                colour=decision.colour,
                risk_level=int(decision.level),
                region_code=person.region_code,
            )
        )
    return matches
