"""Checkpoint verification (亮码核验): staff scan a personal code, or register a person without a
phone by ID number (手工登记); every verification is stored as a scan with its verdict.

The verdict comes from the person's *current* colour (``healthcode.services.recolour``), never
from the code: a code signed while green does not pass someone who has since turned red. The
rule itself (policy verdicts, fever threshold, abnormal) is ``healthcode.rules.verdict.judge``.

Staff act only at checkpoints they are assigned to (``healthcode.services.staff``): directly, or
through the complex the checkpoint belongs to. Anyone else is refused with ``403 not_assigned``
before anything is written. The ``scanner`` role is checked by the route; the assignment here.

Hot path (:func:`verify`): the code's signature is checked in memory against the stack's keys;
then one BatchGetItem reads the person, the checkpoint venue, the caller's assignment to it and,
when the request has an ``Idempotency-Key``, the first answer to it; then one PutItem stores the
scan — or, with a key, one TransactWriteItems stores the scan and the answer together. A scanner
assigned through a complex costs one GetItem more (the complex's assignment).

A manual registration proves nothing it cannot check: for an ID number already registered the
typed name must be the stored one (compared on ``healthcode.rules.forms.name_key``), else
``409 identity_mismatch`` and nothing is written; its answer never carries the person's id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from healthcode import clock
from healthcode.codes import keystore
from healthcode.codes.tokens import CodeKind, VerifiedCode
from healthcode.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import verdict
from healthcode.rules.documents import Document
from healthcode.rules.forms import same_name
from healthcode.services import account_limits, recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, idempotency, persons, scan_reads, scans, staff
from healthcode.storage.idempotency import check_key as check_idempotency_key
from healthcode.storage.persons import PersonView
from healthcode.storage.venues import VenueView

__all__ = ["CODE_KINDS", "check_idempotency_key", "register", "retention_days", "verify"]

logger = get_logger("verifications")

#: A checkpoint accepts the dynamic personal code and the printed paper code, never a venue code.
CODE_KINDS: tuple[CodeKind, ...] = ("code", "paper")
#: The colour a foreign compact code's level is shown as: it carries the level only (the issuing
#: province's palette may name a level otherwise); its older full form carried the colour.
LEVEL_COLOURS: dict[int, str] = {0: "green", 1: "yellow", 2: "red"}


def retention_days() -> int:
    """Days a scan is kept: the stack's RetentionDays, never shorter than tracing looks back."""
    return max(settings().retention_days, policy().tracing.lookback_days)


# -- the checkpoint ----------------------------------------------------------------------------


def _checkpoint(venue: VenueView | None) -> VenueView:
    if venue is None:
        raise NotFound("no such checkpoint", field="checkpoint_id", code="not_found")
    return venue


def _at_post(found: scan_reads.CheckpointLookup, who: Caller) -> VenueView:
    """The checkpoint the lookup found, if ``who`` is assigned to it or to its complex and it is
    open; 404 for no such checkpoint, ``403 not_assigned``, ``422 venue_closed`` for a closed one
    (or one of a closed complex: closing writes every door and store). Nothing is written."""
    venue = _checkpoint(found.venue)
    root = venue.root_venue_id or venue.venue_id
    if not staff.assigned(venue.venue_id, root, who.sub, direct=found.assigned_directly):
        raise Forbidden("you are not assigned to this checkpoint", field="checkpoint_id", code="not_assigned")
    if venue.closed:
        raise InvalidInput("this checkpoint is closed", field="checkpoint_id", code="venue_closed")
    return venue


def _at_post_reads(
    person_id: str | None, checkpoint_id: str, who: Caller, key: str | None, fingerprint: str | None
) -> tuple[scan_reads.CheckpointLookup, VenueView]:
    """The one BatchGetItem before a checkpoint write (person, checkpoint, the caller's assignment,
    a retried key's first answer), then the assignment check of ``_at_post``."""
    found = scan_reads.lookup(
        person_id,
        checkpoint_id,
        staff=who.sub,
        idempotency_of=(who.sub, key) if key else None,
        fingerprint=fingerprint,
    )
    return found, _at_post(found, who)


def _holder(person: PersonView | None, code: VerifiedCode) -> PersonView:
    """The person a verified code names; a replaced paper code or a removed person is refused."""
    if person is None:
        raise InvalidInput("code refused: it names no registered person", field="code", code="invalid_code")
    if code.kind == "paper" and code.claims.get("jti") != person.paper_code_id:
        raise InvalidInput(
            "code refused: this paper code was replaced by a newer one", field="code", code="invalid_code"
        )
    return person


def _shards(venue: VenueView) -> int:
    stored = int(venue.shards or 0)
    return stored if stored >= 1 else policy().shards(venue.venue_type or "other")


def _record(
    *,
    who: Caller,
    venue: VenueView,
    person_id: str,
    kind: str,
    presented: str,
    judged: verdict.CheckpointVerdict,
    temperature: float | None,
    now: datetime,
    name_masked: str | None = None,
    id_masked: str | None = None,
) -> scans.ScanRecord:
    return scans.ScanRecord(
        scan_id=f"s-{uuid.uuid4().hex}",
        person_id=person_id,
        venue_id=venue.venue_id,
        root_venue_id=venue.root_venue_id or venue.venue_id,
        venue_type=venue.venue_type or "other",
        region_code=str(venue.region_code),
        kind=kind,
        actor=who.sub,
        at=now,
        level=int(judged.level),
        colour=judged.colour,
        verdict=judged.verdict,
        abnormal=judged.abnormal,
        temperature=temperature,
        name_masked=name_masked,
        id_masked=id_masked,
        presented=presented,
    )


def _scan(
    *,
    who: Caller,
    venue: VenueView,
    person: PersonView,
    kind: str,
    presented: str,
    temperature: float | None,
    now: datetime,
) -> tuple[scans.ScanRecord, verdict.CheckpointVerdict]:
    """The scan of a person of this stack: their colour now, judged with the reading."""
    decision = recolour.current(person, now=now)
    judged = verdict.judge(decision.level, temperature, policy())
    record = _record(
        who=who,
        venue=venue,
        person_id=person.person_id,
        kind=kind,
        presented=presented,
        judged=judged,
        temperature=temperature,
        now=now,
        name_masked=person.name_masked,
        id_masked=person.id_masked,
    )
    return record, judged


def _answer(
    record: scans.ScanRecord,
    judged: verdict.CheckpointVerdict,
    venue: VenueView,
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
    venue: VenueView,
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
    if scans.put_with_answer(
        [record],
        shards=_shards(venue),
        retention_days=retention,
        actor=who.sub,
        key=key,
        answer=answer,
        fingerprint=fingerprint,
    ):
        return answer
    first = idempotency.recall(who.sub, key, fingerprint=fingerprint)
    if first is None:
        raise Conflict("this request is being retried too fast; try again", code="idempotency_conflict")
    return first


# -- a scanned code ----------------------------------------------------------------------------


def verify(
    who: Caller,
    *,
    code: str,
    checkpoint_id: str,
    temperature: float | None,
    key: str | None,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """Verify a scanned code at a checkpoint: signature, expiry, the holder's current colour, the
    verdict; the scan is stored. The answer staff see (the first one again for a retried key)."""
    fingerprint = idempotency.fingerprint_of(body) if key else None
    now = clock.now()

    try:
        verified = keystore.verify(code, kinds=CODE_KINDS, foreign=True)
    except InvalidInput:
        # A retry of a request that succeeded may carry a code that has expired since.
        first = idempotency.recall(who.sub, key, fingerprint=fingerprint) if key else None
        if first is not None:
            return first
        raise
    if not scan_reads.names_a_person(verified.subject):
        raise InvalidInput("code refused: it names no person", field="code", code="invalid_code")
    if verified.issuer != settings().code_issuer:
        return _foreign(
            verified,
            who=who,
            checkpoint_id=checkpoint_id,
            temperature=temperature,
            key=key,
            fingerprint=fingerprint,
            now=now,
        )
    found, venue = _at_post_reads(verified.subject, checkpoint_id, who, key, fingerprint)
    if found.first_answer is not None:
        return found.first_answer
    person = _holder(found.person, verified)

    record, judged = _scan(
        who=who,
        venue=venue,
        person=person,
        kind="verification",
        presented=verified.kind,
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
    return answer


def _foreign(
    code: VerifiedCode,
    *,
    who: Caller,
    checkpoint_id: str,
    temperature: float | None,
    key: str | None,
    fingerprint: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A dynamic code from a province on the trust list (national mutual recognition).

    Its holder is not a person of this stack: the level is the one the issuing province signed
    minutes ago (the code lives no longer than that), judged under this province's policy. The
    presence is still stored, under a pseudonymous foreign id, so tracing here can find it."""
    found, venue = _at_post_reads(None, checkpoint_id, who, key, fingerprint)
    if found.first_answer is not None:
        return found.first_answer
    level = code.claims.get("lvl")
    if isinstance(level, bool) or level not in (0, 1, 2):
        raise InvalidInput("code refused: it carries no risk level", field="code", code="invalid_code")
    judged = verdict.judge(level, temperature, policy())
    province = code.issuer.rsplit(":", 1)[-1]
    record = _record(
        who=who,
        venue=venue,
        person_id=f"foreign-{province}-{code.subject}",
        kind="verification",
        presented="foreign_code",
        judged=judged,
        temperature=temperature,
        now=now,
    )
    answer = {
        **_answer(record, judged, venue, person={"name_masked": None, "id_masked": None}),
        "issuer_province": province,
        "issuer_colour": code.claims.get("col") or LEVEL_COLOURS[level],
    }
    answer = _store(record, venue, answer, who=who, key=key, fingerprint=fingerprint)
    logger.info("foreign verification", extra={"venue_id": venue.venue_id, "issuer": province})
    return answer


# -- a person without a phone --------------------------------------------------------------------


def _registrant_id(who: Caller, key: str | None) -> str | None:
    """A person id fixed by (scanner, Idempotency-Key), so a retried registration cannot create
    the person twice; None (a random id) without a key."""
    if key is None:
        return None
    digest = hashlib.sha256(f"{idempotency.record_id(who.sub, key)}#person".encode()).hexdigest()
    return f"p-{digest[:32]}"


def _paper_issue_id(who: Caller, key: str | None) -> str | None:
    """The ``jti`` of the paper code a keyed registration issues, fixed by (scanner, key): two
    concurrent tries of one request issue one code, not a second that revokes the first's."""
    if key is None:
        return None
    digest = hashlib.sha256(f"{idempotency.record_id(who.sub, key)}#paper".encode()).hexdigest()
    return f"r-{digest[:22]}"


def _same_person(person: PersonView, name: str) -> PersonView:
    """``person``, if ``name`` is the name they are registered under; else 409
    ``identity_mismatch`` (the stored name is decrypted only to compare, never shown)."""
    if not same_name(name, persons.name_of(person)):
        raise Conflict(
            "this ID number is registered under another name", field="name", code="identity_mismatch"
        )
    return person


def _registrant(
    who: Caller,
    venue: VenueView,
    id_number: Document,
    *,
    name: str,
    phone: str | None,
    key: str | None,
    now: datetime,
) -> PersonView:
    """The person holding the ID number — if the typed name is theirs — or, if nobody holds it
    yet, the person registered now with staff help (offline application, Guizhou: 线下申领 …
    由工作人员协助). Such a person belongs to no account until someone applies with their ID
    number and the same name."""
    existing = persons.holder_of(id_number.number, id_number.id_type.value)
    if existing is not None:
        return _same_person(existing, name)
    person_id = _registrant_id(who, key) or persons.new_person_id()
    person = persons.build(
        owner_sub=persons.unclaimed_owner(person_id),
        dependant=False,
        name=name,
        id_number=id_number.number,
        phone=phone,
        address=None,
        region_code=str(venue.region_code),
        birth_year=None if id_number.birth_date is None else id_number.birth_date.year,
        now=now,
        person_id=person_id,
        id_type=id_number.id_type.value,
        nationality=id_number.nationality,
    )
    registered = audit.person_entry(
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
        # Registered a moment ago by a concurrent request (a retry, or another checkpoint):
        # the name typed here must still be theirs.
        holder = persons.holder_of(id_number.number, id_number.id_type.value)
        if holder is None:
            raise
        return _same_person(holder, name)


def register(
    who: Caller,
    *,
    name: str,
    id_number: Document,
    phone: str | None,
    temperature: float,
    checkpoint_id: str,
    issue_paper_code: bool = False,
    key: str | None,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """Register a person without a phone at a checkpoint the caller is assigned to: looked up by
    ID number (the typed name must be theirs) — or registered, held by no account until they
    apply — and verified like a scanned code. The answer staff see, never with the person's id;
    with ``issue_paper_code`` also the person's new printable paper code (the first answer again
    for a retried key)."""
    fingerprint = idempotency.fingerprint_of(body) if key else None
    found, venue = _at_post_reads(None, checkpoint_id, who, key, fingerprint)
    if found.first_answer is not None:
        return found.first_answer
    now = clock.now()
    account_limits.manual_registration(who.sub, now=now)  # 429 rate_limited past the hourly limit

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
    answer = _answer(
        record, judged, venue, person={"name_masked": person.name_masked, "id_masked": person.id_masked}
    )
    if issue_paper_code:
        # imported here: the paper card (Pillow, the font) stays off the verification's cold start
        from healthcode.services import codes

        answer["paper_code"] = codes.issue_paper_for_registration(
            person.person_id, who.sub, venue.venue_id, now, issue_id=_paper_issue_id(who, key)
        )
    answer = _store(record, venue, answer, who=who, key=key, fingerprint=fingerprint)
    logger.info(
        "manual registration",
        extra={"venue_id": venue.venue_id, "verdict": answer["verdict"], "abnormal": answer["abnormal"]},
    )
    return answer
