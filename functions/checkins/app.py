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
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from healthcode import clock
from healthcode.codes import keystore
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.errors import Forbidden, InvalidInput, NotFound
from healthcode.protection.logs import get_logger
from healthcode.rules.venues import VenueCode, check_checkin, check_distance
from healthcode.rules.verdict import judge
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import idempotency, scans
from healthcode.storage import venues as store

logger = get_logger("checkins")
app = make_app()

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def new_scan_id() -> str:
    return f"c-{uuid.uuid4().hex}"


def retention_days() -> int:
    """Days a presence is kept: the stack's setting, never shorter than tracing looks back."""
    return max(settings().retention_days, policy().tracing.lookback_days)


@app.post(
    "/v1/checkins",
    summary="Scan a venue code: one presence per person (the caller and companions in their care)",
    description=(
        "Body: {venue_code, person_id, companions: [person_id]?, location: {lat, lng}}. Answer 201 "
        "{venue: {venue_id, name, address, type}, scanned_at, checkins: [{person_id, name_masked, colour, "
        "risk_level, verdict}]}. Honours Idempotency-Key."
    ),
    responses={201: {"description": "the check-ins"}, 403: _ERRORS, 404: _ERRORS, 422: _ERRORS},
)
def check_in() -> Response[str]:
    who = caller(app).require("citizen")
    key = idempotency.check_key(app.current_event.headers.get("idempotency-key"))
    body = json_body(app)
    request = check_checkin(body)
    verified = keystore.verify(request.venue_code, kinds=("venue",))
    venue = VenueCode.from_claims(verified.subject, verified.claims)
    if venue.province != settings().province:
        raise InvalidInput("venue code of another province", field="venue_code", code="invalid_venue_code")
    rules = policy()
    check_distance(request.location, venue, max_distance_m=rules.checkin_max_distance_m)

    fingerprint = idempotency.fingerprint_of(body) if key else None
    reads = store.checkin_reads(
        request.person_ids, idempotency_of=(who.sub, key) if key else None, fingerprint=fingerprint
    )
    if reads.first_answer is not None:
        return json_response(201, reads.first_answer)
    for person_id, field in request.people:
        person = reads.persons.get(person_id)
        if person is None:
            raise NotFound("person not found", field=field, code="person_not_found")
        if person.owner_sub != who.sub:
            raise Forbidden(
                "you may check in yourself and the people in your care only",
                field=field,
                code="not_your_person",
            )

    now = clock.now()
    records: list[scans.ScanRecord] = []
    checkins: list[dict[str, Any]] = []
    for person_id, _ in request.people:
        person = reads.persons[person_id]
        judged = judge(recolour.current(person, now=now).level, None, rules)
        records.append(
            scans.ScanRecord(
                scan_id=new_scan_id(),
                person_id=person_id,
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
        )
        checkins.append(
            {
                "person_id": person_id,
                "name_masked": person.name_masked,
                "colour": judged.colour,
                "risk_level": int(judged.level),
                "verdict": judged.verdict,
            }
        )
    answer: dict[str, Any] = {
        "venue": {
            "venue_id": venue.venue_id,
            "name": venue.name,
            "address": venue.address,
            "type": venue.venue_type,
        },
        "scanned_at": clock.show(now),
        "checkins": checkins,
    }
    keep = retention_days()
    if key is not None:
        items = [scans.item_for(r, shards=venue.shards, retention_days=keep) for r in records]
        if not idempotency.remember(who.sub, key, answer, with_items=items, fingerprint=fingerprint):
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
    return json_response(201, answer)


lambda_handler: Any = lambda_handler_for(app, logger)
