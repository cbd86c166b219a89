"""Check-ins (扫场所码): a citizen scans a venue's poster for themselves and the family members in
their care who have no phone; each person is one presence with their colour at that moment.

The scanned code is the poster's URL or the bare code: a compact code naming the venue and its
generation, or a code printed before compact codes (generation 0). A forged code is refused
before any DynamoDB call. The hot path then makes two DynamoDB calls: one BatchGetItem of the
persons and the venue (with the Idempotency-Key's record when one is sent; the venue through a
projection, eventually consistent: the usual one-person check-in reads 1.0 unit) and one PutItem
of the scan (BatchWriteItem with companions; a TransactWriteItems with the idempotency record
when a key is sent). Only when a person's stored colour has lapsed (its next change has come and
the colour consumer has not yet caught up) does ``recolour.current`` add a Query of their facts.

The venue item decides: an unknown venue → ``invalid_venue_code``, a closed one (or one under a
closed complex: closing writes every door and store) → ``venue_closed``, a code of an older
generation → ``venue_code_revoked``, a device farther than the policy allows from the venue's
registered position → ``location_mismatch``. A mobile venue (``mobile_venue_types``: a bus, a
taxi) has no fixed position: the distance is not checked and the presence keeps the device's
position rounded to about 100 m. No position is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.codes import keystore
from healthcode.codes.tokens import VenueCodeRef
from healthcode.errors import Forbidden, InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.geo import Location
from healthcode.rules.policy import Policy
from healthcode.rules.venues import (
    CheckinRequest,
    ScannedVenue,
    VenueCode,
    check_checkin,
    check_distance,
    check_scanned_venue,
    is_mobile,
    rounded_location,
    scanned_code,
)
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


def _code(request: CheckinRequest) -> VenueCodeRef:
    """The venue and generation the scanned code names, signed by this stack's venue keys
    (before any DynamoDB call); a code printed before compact codes must also be of this
    province."""
    code = keystore.verify_venue(scanned_code(request.venue_code, base_url=settings().code_base_url))
    if not code.compact:
        printed = VenueCode.from_claims(code.venue_id, code.claims)
        if printed.province != settings().province:
            raise InvalidInput(
                "venue code of another province", field="venue_code", code="invalid_venue_code"
            )
    return code


def _venue(
    request: CheckinRequest, code: VenueCodeRef, found: ScannedVenue | None, rules: Policy
) -> ScannedVenue:
    """The venue read with the persons, if a check-in may go ahead there: known, open, the
    code's generation current and, unless it moves, the device near its registered position."""
    venue = check_scanned_venue(found, code_generation=code.generation)
    if not is_mobile(rules, venue.venue_type) and venue.location is not None:
        check_distance(request.location, venue.location, max_distance_m=rules.checkin_max_distance_m)
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
    person: PersonView,
    venue: ScannedVenue,
    who: Caller,
    now: datetime,
    rules: Policy,
    device: Location | None,
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
        device_location=device,
    )


def _answer(venue: ScannedVenue, records: list[scans.ScanRecord], now: datetime) -> dict[str, Any]:
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
    code = _code(request)
    rules = policy()

    fingerprint = idempotency.fingerprint_of(body) if key else None
    reads = scan_reads.checkin_reads(
        request.person_ids,
        code.venue_id,
        idempotency_of=(who.sub, key) if key else None,
        fingerprint=fingerprint,
    )
    if reads.first_answer is not None:
        return reads.first_answer
    venue = _venue(request, code, reads.venue, rules)
    people = _people(request, reads.persons, who)
    # a moving venue has no registered position to compare with: keep where the device was, coarsely
    device = rounded_location(request.location) if is_mobile(rules, venue.venue_type) else None

    now = clock.now()
    records = [_presence(person, venue, who, now, rules, device) for person in people]
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
