"""Check-ins (扫场所码): a citizen scans a venue's poster for themselves and the family members in
their care who have no phone; each person is one presence with their colour at that moment.

The hot path reads no venue item (the venue code carries what a check-in needs) and makes two
DynamoDB calls: one GetItem of the person (BatchGetItem with companions, and with the
Idempotency-Key's record when one is sent) and one PutItem of the scan (BatchWriteItem with
companions; a TransactWriteItems with the idempotency record when a key is sent). Only when a
person's stored colour has lapsed (its next change has come and the colour consumer has not yet
caught up) does ``recolour.current`` add a Query of their facts. A forged code or a device far
from the venue is refused before any DynamoDB call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.codes import keystore
from healthcode.errors import Forbidden, InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.policy import Policy
from healthcode.rules.venues import CheckinRequest, VenueCode, check_checkin, check_distance
from healthcode.rules.verdict import judge
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import idempotency, scan_reads, scans
from healthcode.storage.idempotency import check_key as check_idempotency_key
from healthcode.storage.persons import PersonView

__all__ = ["check_idempotency_key", "check_in", "new_scan_id", "retention_days"]

logger = get_logger("checkins")


def new_scan_id() -> str:
    return f"c-{uuid.uuid4().hex}"


def retention_days() -> int:
    """Days a presence is kept: the stack's setting, never shorter than tracing looks back."""
    return max(settings().retention_days, policy().tracing.lookback_days)


def _venue(request: CheckinRequest) -> VenueCode:
    """The venue the scanned code names: signed by this stack's venue keys, of this province,
    and near the device (before any DynamoDB call)."""
    verified = keystore.verify(request.venue_code, kinds=("venue",))
    venue = VenueCode.from_claims(verified.subject, verified.claims)
    if venue.province != settings().province:
        raise InvalidInput("venue code of another province", field="venue_code", code="invalid_venue_code")
    check_distance(request.location, venue, max_distance_m=policy().checkin_max_distance_m)
    return venue


def _people(request: CheckinRequest, found: Mapping[str, PersonView], who: Caller) -> list[PersonView]:
    """The persons the request names, each existing and in the caller's care; 404 / 403 naming
    the field of the first that is not."""
    people = []
    for person_id, field in request.people:
        person = found.get(person_id)
        if person is None:
            raise NotFound("person not found", field=field, code="person_not_found")
        if person.owner_sub != who.sub:
            raise Forbidden(
                "you may check in yourself and the people in your care only",
                field=field,
                code="not_your_person",
            )
        people.append(person)
    return people


def _presence(
    person: PersonView, venue: VenueCode, who: Caller, now: datetime, rules: Policy
) -> scans.ScanRecord:
    """The presence of one person, with their colour and the verdict at this moment."""
    judged = judge(recolour.current(person, now=now).level, None, rules)
    return scans.ScanRecord(
        scan_id=new_scan_id(),
        person_id=person.person_id,
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id,
        venue_type=venue.venue_type,
        region_code=venue.region_code,
        kind="checkin",
        actor=who.sub,
        at=now,
        level=int(judged.level),
        colour=judged.colour,
        verdict=judged.verdict,
        abnormal=judged.abnormal,
        name_masked=person.name_masked,
        id_masked=person.id_masked,
    )


def _answer(venue: VenueCode, records: list[scans.ScanRecord], now: datetime) -> dict[str, Any]:
    return {
        "venue": {
            "venue_id": venue.venue_id,
            "name": venue.name,
            "address": venue.address,
            "type": venue.venue_type,
        },
        "scanned_at": clock.show(now),
        "checkins": [
            {
                "person_id": record.person_id,
                "name_masked": record.name_masked,
                "colour": record.colour,
                "risk_level": record.level,
                "verdict": record.verdict,
            }
            for record in records
        ],
    }


def check_in(who: Caller, body: Mapping[str, Any], *, key: str | None) -> dict[str, Any]:
    """Check in the persons a ``POST /v1/checkins`` body names at the venue its code names: one
    presence each. The answer (the venue, the instant, each person's colour and verdict), or
    the first answer again for a retried Idempotency-Key."""
    request = check_checkin(body)
    venue = _venue(request)
    rules = policy()

    fingerprint = idempotency.fingerprint_of(body) if key else None
    reads = scan_reads.checkin_reads(
        request.person_ids, idempotency_of=(who.sub, key) if key else None, fingerprint=fingerprint
    )
    if reads.first_answer is not None:
        return reads.first_answer
    people = _people(request, reads.persons, who)

    now = clock.now()
    records = [_presence(person, venue, who, now, rules) for person in people]
    answer = _answer(venue, records, now)
    keep = retention_days()
    if key is not None:
        if not scans.put_with_answer(
            records,
            shards=venue.shards,
            retention_days=keep,
            actor=who.sub,
            key=key,
            answer=answer,
            fingerprint=fingerprint,
        ):
            answer = idempotency.recall(who.sub, key, fingerprint=fingerprint) or answer
    elif len(records) == 1:
        scans.put(records[0], shards=venue.shards, retention_days=keep)
    else:
        scans.put_many(records, shards=venue.shards, retention_days=keep)
    logger.info(
        "checked in",
        extra={
            "venue_id": venue.venue_id,
            "persons": len(records),
            "abnormal": sum(r.abnormal for r in records),
        },
    )
    return answer
