"""Checkpoint verification (亮码核验): staff scan a personal code, or register a person without a
phone by ID number (手工登记); every verification is stored as a scan with its verdict.

The verdict comes from the person's *current* colour (``healthcode.services.recolour``), never from the
code: a code signed while green does not pass someone who has since turned red. The rule itself
(policy verdicts, fever threshold, abnormal) is ``healthcode.rules.verdict.judge``.

Hot path (``POST /v1/verifications``): the code's signature is checked in memory against the
stack's keys; then one BatchGetItem reads the person, the checkpoint venue and, when the request
has an ``Idempotency-Key``, the first answer to it; then one PutItem stores the scan — or, with
a key, one TransactWriteItems stores the scan and the answer together.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from healthcode import clock
from healthcode.codes import keystore
from healthcode.codes.tokens import CodeKind, VerifiedCode
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app
from healthcode.errors import Conflict, InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import verdict
from healthcode.rules.idcard import IdNumber, check_id_number, check_mobile
from healthcode.services import recolour
from healthcode.settings import policy, settings
from healthcode.storage import idempotency, persons, scans
from healthcode.storage.models import Person, Venue

logger = get_logger("verifications")
app = make_app()

#: A checkpoint accepts the dynamic personal code and the printed paper code, never a venue code.
CODE_KINDS: tuple[CodeKind, ...] = ("code", "paper")
MAX_ID_LENGTH = 128
MAX_CODE_LENGTH = 4096
MAX_NAME_LENGTH = 40
#: Characters a name may hold besides letters and combining marks: the middle dots of
#: transliterated names (买买提·艾力), spaces, hyphens, apostrophes and full stops.
NAME_PUNCTUATION = frozenset(" ·•‧・-'.")

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

_VERIFICATION_FIELDS = {"code": True, "checkpoint_id": True, "temperature": False}
_REGISTRATION_FIELDS = {
    "name": True,
    "id_number": True,
    "phone": True,
    "temperature": True,
    "checkpoint_id": True,
}


# -- request bodies ----------------------------------------------------------------------------


def _check_fields(body: Mapping[str, Any], fields: Mapping[str, bool]) -> None:
    """Unknown fields are refused (a misspelt optional field is never silently dropped)."""
    for name in body:
        if name not in fields:
            raise InvalidInput(f"unknown field {name[:40]!r}", field=name[:40], code="unknown_field")
    for name, required in fields.items():
        if required and body.get(name) is None:
            raise InvalidInput(f"{name} is required", field=name, code="missing_field")


def _identifier(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{field} must be an id string", field=field, code="invalid_input")
    return value.strip()


def _code(body: Mapping[str, Any]) -> str:
    value = body.get("code")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CODE_LENGTH:
        raise InvalidInput("code must be the scanned code's text", field="code", code="invalid_code")
    return value.strip()


def check_name(value: object, *, field: str = "name") -> str:
    """A person's name as written on their ID card: letters (any script) and combining marks,
    with the middle dot, spaces, hyphens and apostrophes of transliterated names; 1-40
    characters after trimming. Refused with ``invalid_name`` (the message never repeats it)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, code="invalid_name")
    name = unicodedata.normalize("NFC", " ".join(value.split()))
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInput(
            f"{field} must be 1 to {MAX_NAME_LENGTH} characters", field=field, code="invalid_name"
        )
    for character in name:
        category = unicodedata.category(character)
        if not (category.startswith("L") or category.startswith("M") or character in NAME_PUNCTUATION):
            raise InvalidInput(
                f"{field} may hold only letters, middle dots, spaces, hyphens and apostrophes",
                field=field,
                code="invalid_name",
            )
    if not unicodedata.category(name[0]).startswith("L"):
        raise InvalidInput(f"{field} must start with a letter", field=field, code="invalid_name")
    return name


def _idempotency_key() -> str | None:
    return idempotency.check_key(app.current_event.headers.get(idempotency.HEADER.lower()))


# -- the checkpoint ----------------------------------------------------------------------------


def _checkpoint(venue: Venue | None) -> Venue:
    if venue is None:
        raise NotFound("no such checkpoint", field="checkpoint_id", code="not_found")
    return venue


def _holder(person: Person | None, code: VerifiedCode) -> Person:
    """The person a verified code names; a replaced paper code or a removed person is refused."""
    if person is None:
        raise InvalidInput("code refused: it names no registered person", field="code", code="invalid_code")
    if code.kind == "paper" and code.claims.get("jti") != person.paper_code_id:
        raise InvalidInput(
            "code refused: this paper code was replaced by a newer one", field="code", code="invalid_code"
        )
    return person


def retention_days() -> int:
    """Days a scan is kept: the stack's RetentionDays, never shorter than tracing looks back."""
    return max(settings().retention_days, policy().tracing.lookback_days)


def _shards(venue: Venue) -> int:
    stored = int(venue.shards or 0)
    return stored if stored >= 1 else policy().shards(venue.type or "other")


def _scan(
    *,
    who: Caller,
    venue: Venue,
    person: Person,
    kind: str,
    presented: str,
    temperature: float | None,
    now: datetime,
) -> tuple[scans.ScanRecord, verdict.CheckpointVerdict]:
    decision = recolour.current(person, now=now)
    judged = verdict.judge(decision.level, temperature, policy())
    record = scans.ScanRecord(
        scan_id=f"s-{uuid.uuid4().hex}",
        person_id=person.person_id,
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id or venue.venue_id,
        venue_type=venue.type or "other",
        region_code=str(venue.region_code),
        kind=kind,
        actor=who.sub,
        at=now,
        level=int(judged.level),
        colour=judged.colour,
        verdict=judged.verdict,
        abnormal=judged.abnormal,
        temperature=temperature,
        name_masked=person.name_masked,
        id_masked=person.id_masked,
        presented=presented,
    )
    return record, judged


def _answer(
    record: scans.ScanRecord,
    judged: verdict.CheckpointVerdict,
    venue: Venue,
    *,
    person: dict[str, str | None],
) -> dict[str, Any]:
    """What staff see for a stored scan (the same for every way a person is checked)."""
    return {
        "scan_id": record.scan_id,
        "verdict": judged.verdict,
        "colour": judged.colour,
        "risk_level": int(judged.level),
        "abnormal": judged.abnormal,
        "fever": judged.fever,
        "temperature": record.temperature,
        "scanned_at": clock.show(record.at),
        "checkpoint_id": venue.venue_id,
        "person": person,
    }


def _store(
    record: scans.ScanRecord,
    venue: Venue,
    answer: dict[str, Any],
    *,
    who: Caller,
    key: str | None,
    fingerprint: str | None,
) -> dict[str, Any]:
    """Store the scan (with the answer when the request has a key); the answer to send."""
    retention = retention_days()
    if key is None:
        scans.put(record, shards=_shards(venue), retention_days=retention)
        return answer
    item = scans.item_for(record, shards=_shards(venue), retention_days=retention)
    if idempotency.remember(who.sub, key, answer, with_items=[item], fingerprint=fingerprint):
        return answer
    first = idempotency.recall(who.sub, key, fingerprint=fingerprint)
    if first is None:
        raise Conflict("this request is being retried too fast; try again", code="idempotency_conflict")
    return first


# -- routes ------------------------------------------------------------------------------------


@app.post(
    "/v1/verifications",
    summary="Verify a scanned personal or paper code at a checkpoint (亮码核验)",
    description=(
        "Body: {code, checkpoint_id, temperature?} (temperature in °C, 34-43). The verdict follows the "
        "person's current colour and the province policy; a temperature at or above the threshold never "
        "passes. Answer 200 {scan_id, verdict, colour, risk_level, abnormal, fever, temperature, scanned_at, "
        "checkpoint_id, person: {name_masked, id_masked}}. Forged or replaced codes: 422 invalid_code; "
        "expired: 422 code_expired; unknown checkpoint: 404. Honours Idempotency-Key."
    ),
    responses={
        200: {"description": "the verdict and the stored scan"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
    },
)
def verify() -> Response[str]:
    """Verify a scanned code: signature, expiry, the holder's current colour, the verdict, the scan."""
    who = caller(app).require("scanner")
    body = json_body(app)
    _check_fields(body, _VERIFICATION_FIELDS)
    token = _code(body)
    checkpoint_id = _identifier(body, "checkpoint_id")
    reading = body.get("temperature")
    temperature = verdict.check_temperature(reading) if reading is not None else None
    key = _idempotency_key()
    fingerprint = idempotency.fingerprint_of(body) if key else None
    now = clock.now()

    try:
        code = keystore.verify(token, kinds=CODE_KINDS, foreign=True)
    except InvalidInput:
        # A retry of a request that succeeded may carry a code that has expired since.
        first = idempotency.recall(who.sub, key, fingerprint=fingerprint) if key else None
        if first is not None:
            return json_response(200, first)
        raise
    if "#" in code.subject:
        raise InvalidInput("code refused: it names no person", field="code", code="invalid_code")
    if code.issuer != settings().code_issuer:
        return _foreign(
            code,
            who=who,
            checkpoint_id=checkpoint_id,
            temperature=temperature,
            key=key,
            fingerprint=fingerprint,
            now=now,
        )
    found = scans.lookup(
        code.subject,
        checkpoint_id,
        idempotency_key=idempotency.record_key(who.sub, key) if key else None,
    )
    first = idempotency.answer_from_item(found.idempotency_item, fingerprint=fingerprint)
    if first is not None:
        return json_response(200, first)
    venue = _checkpoint(found.venue)
    person = _holder(found.person, code)

    record, judged = _scan(
        who=who,
        venue=venue,
        person=person,
        kind="verification",
        presented=code.kind,
        temperature=temperature,
        now=now,
    )
    answer = _answer(
        record, judged, venue, person={"name_masked": person.name_masked, "id_masked": person.id_masked}
    )
    answer = _store(record, venue, answer, who=who, key=key, fingerprint=fingerprint)
    logger.info(
        "verification",
        extra={"venue_id": venue.venue_id, "verdict": answer["verdict"], "abnormal": answer["abnormal"]},
    )
    return json_response(200, answer)


def _foreign(
    code: VerifiedCode,
    *,
    who: Caller,
    checkpoint_id: str,
    temperature: float | None,
    key: str | None,
    fingerprint: str | None,
    now: datetime,
) -> Response[str]:
    """A dynamic code from a province on the trust list (national mutual recognition).

    Its holder is not a person of this stack: the level is the one the issuing province signed
    minutes ago (the code lives no longer than that), judged under this province's policy. The
    presence is still stored, under a pseudonymous foreign id, so tracing here can find it."""
    first = idempotency.recall(who.sub, key, fingerprint=fingerprint) if key else None
    if first is not None:
        return json_response(200, first)
    level = code.claims.get("lvl")
    if isinstance(level, bool) or level not in (0, 1, 2):
        raise InvalidInput("code refused: it carries no risk level", field="code", code="invalid_code")
    venue = _checkpoint(scans.checkpoint(checkpoint_id))
    judged = verdict.judge(level, temperature, policy())
    province = code.issuer.rsplit(":", 1)[-1]
    record = scans.ScanRecord(
        scan_id=f"s-{uuid.uuid4().hex}",
        person_id=f"foreign-{province}-{code.subject}",
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id or venue.venue_id,
        venue_type=venue.type or "other",
        region_code=str(venue.region_code),
        kind="verification",
        actor=who.sub,
        at=now,
        level=int(judged.level),
        colour=judged.colour,
        verdict=judged.verdict,
        abnormal=judged.abnormal,
        temperature=temperature,
        presented="foreign_code",
    )
    answer = {
        **_answer(record, judged, venue, person={"name_masked": None, "id_masked": None}),
        "issuer_province": province,
        "issuer_colour": code.claims.get("col"),
    }
    answer = _store(record, venue, answer, who=who, key=key, fingerprint=fingerprint)
    logger.info("foreign verification", extra={"venue_id": venue.venue_id, "issuer": province})
    return json_response(200, answer)


def _registrant_id(who: Caller, key: str | None) -> str | None:
    """A person id fixed by (scanner, Idempotency-Key), so a retried registration cannot create
    the person twice; None (a random id) without a key."""
    if key is None:
        return None
    digest = hashlib.sha256(f"{idempotency.record_id(who.sub, key)}#person".encode()).hexdigest()
    return f"p-{digest[:32]}"


def _registrant(
    who: Caller, venue: Venue, id_number: IdNumber, *, name: str, phone: str, key: str | None, now: datetime
) -> Person:
    """The person holding the ID number, registered with staff help if they have no code yet
    (offline application, Guizhou: 线下申领 … 由工作人员协助). Such a person belongs to no
    account until someone applies with their ID number and takes the code over."""
    existing = persons.holder_of(id_number.number)
    if existing is not None:
        return existing
    person_id = _registrant_id(who, key) or persons.new_person_id()
    person = persons.build(
        owner_sub=persons.unclaimed_owner(person_id),
        dependant=False,
        name=name,
        id_number=id_number.number,
        phone=phone,
        address=None,
        region_code=str(venue.region_code),
        birth_year=id_number.birth_date.year,
        now=now,
        person_id=person_id,
    )
    registered = persons.audit_entry(
        person_id,
        "registered_at_checkpoint",
        actor=who.sub,
        at=now,
        details={"checkpoint_id": venue.venue_id, "channel": "checkpoint"},
        entry_id=person_id,
    )
    try:
        return persons.create(person, entries=[registered])
    except Conflict:
        # Registered a moment ago by a concurrent request (a retry, or another checkpoint).
        holder = persons.holder_of(id_number.number)
        if holder is None:
            raise
        return holder


@app.post(
    "/v1/manual-registrations",
    summary="Register a person without a phone at a checkpoint by ID number (手工登记)",
    description=(
        "Body: {name, id_number, phone, temperature, checkpoint_id}. The person is looked up by ID number, "
        "or registered (held by no account until they apply), then verified like a scanned code. Answer 201 "
        "{scan_id, verdict, colour, risk_level, abnormal, fever, temperature, scanned_at, checkpoint_id, "
        "person_id, person: {name_masked, id_masked}}. Honours Idempotency-Key."
    ),
    responses={
        201: {"description": "the verdict and the stored scan"},
        403: _ERRORS,
        404: _ERRORS,
        422: _ERRORS,
    },
)
def register() -> Response[str]:
    """Register a person without a phone at a checkpoint (name, ID number, phone, temperature):
    they are looked up by ID number — or registered — and verified like a scanned code."""
    who = caller(app).require("scanner")
    body = json_body(app)
    _check_fields(body, _REGISTRATION_FIELDS)
    name = check_name(body.get("name"))
    id_number = check_id_number(body["id_number"], today=clock.now().astimezone(clock.CHINA).date())
    phone = check_mobile(body["phone"])
    temperature = verdict.check_temperature(body.get("temperature"))
    checkpoint_id = _identifier(body, "checkpoint_id")
    key = _idempotency_key()
    fingerprint = idempotency.fingerprint_of(body) if key else None
    if key:
        first = idempotency.recall(who.sub, key, fingerprint=fingerprint)
        if first is not None:
            return json_response(201, first)
    now = clock.now()

    venue = _checkpoint(scans.checkpoint(checkpoint_id))
    person = _registrant(who, venue, id_number, name=name, phone=phone, key=key, now=now)
    record, judged = _scan(
        who=who,
        venue=venue,
        person=person,
        kind="manual",
        presented="id_number",
        temperature=temperature,
        now=now,
    )
    answer = {
        **_answer(
            record, judged, venue, person={"name_masked": person.name_masked, "id_masked": person.id_masked}
        ),
        "person_id": person.person_id,
    }
    answer = _store(record, venue, answer, who=who, key=key, fingerprint=fingerprint)
    logger.info(
        "manual registration",
        extra={"venue_id": venue.venue_id, "verdict": answer["verdict"], "abnormal": answer["abnormal"]},
    )
    return json_response(201, answer)


lambda_handler: Any = lambda_handler_for(app, logger)
