"""Officials' decisions: manual colour overrides under the two-official rule, and answers to appeals.

An override is requested by one official and applied when a second one approves it (at once
where the province's policy does not ask for a second official); any official may reject a
pending one, the requester withdrawing it too. An applied override is a fact under the person,
and the person is recoloured at once so the answer shows it. An official is refused past the
policy's hourly limit of requests, and a metric the alarm watches is emitted.

Retries are safe: a request with an ``Idempotency-Key`` names the same override, and an official
who repeats a decision they made (their first answer lost on the way) gets the request as they
left it instead of a 409.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from healthcode.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import colour
from healthcode.rules.cases import OverrideRequest
from healthcode.rules.policy import RiskLevel
from healthcode.services import account_limits, approvals, areas, recolour
from healthcode.settings import policy, settings
from healthcode.storage import idempotency, persons
from healthcode.storage import overrides as request_store
from healthcode.storage.overrides import APPLIED, REJECTED, RequestView

__all__ = [
    "OVER_LIMIT_METRIC",
    "RequestView",
    "answer_appeal",
    "approve",
    "check_idempotency_key",
    "open_appeals",
    "override_id_for",
    "pending_overrides",
    "reject",
    "request",
    "request_override",
    "show",
]

logger = get_logger("cases")

#: Metric emitted (EMF, namespace HealthCode) when an official exceeds the hourly override limit.
OVER_LIMIT_METRIC: Final = "OverrideRequestsOverLimit"
APPEAL_OUTCOMES: Final = frozenset({"upheld", "dismissed"})


def check_idempotency_key(value: object) -> str | None:
    """The request's ``Idempotency-Key`` header, checked (None when absent)."""
    return idempotency.check_key(value)


def override_id_for(actor: str, idempotency_key: str | None) -> str:
    """A new override id; derived from (official, ``Idempotency-Key``) when the request has one,
    so a retried request names the same override."""
    if idempotency_key is None:
        return f"ovr-{uuid.uuid4().hex}"
    digest = hashlib.sha256(actor.encode("utf-8") + b"\x00" + idempotency_key.encode("utf-8")).hexdigest()
    return f"ovr-{digest[:32]}"


def _effect(
    request: RequestView | OverrideRequest, override_id: str, *, starts_at: datetime
) -> colour.Override:
    """The override an applied request puts on the person, from ``starts_at`` on."""
    if request.until is not None and request.until <= starts_at:
        raise Conflict("the override's end has passed; request a new one", code="override_expired")
    return colour.Override(
        override_id=override_id,
        level=RiskLevel(int(request.level or 0)),
        starts_at=starts_at,
        until=request.until,
        reason_code=str(request.reason_code),
    )


# -- requests ------------------------------------------------------------------------------------


def _check_rate(official: str, now: datetime) -> None:
    """429 ``rate_limited`` (and the metric the alarm watches) past the hourly limit: one atomic
    counter update per request (``account_limits.override_request``), never count-then-write."""
    rules = policy()
    if account_limits.override_request(official, now=now):
        return
    with single_metric(
        name=OVER_LIMIT_METRIC, unit=MetricUnit.Count, value=1, namespace="HealthCode"
    ) as metric:
        metric.add_dimension(name="province", value=settings().province)
        metric.add_metadata(key="official", value=official)
    logger.warning("override request refused: hourly limit", extra={"official": official})
    raise RateLimited(
        f"at most {rules.override_requests_per_hour_limit} override requests per hour",
        retry_after=account_limits.seconds_left(now, hours=1),
    )


def request_override(
    *,
    override_id: str,
    person_id: str,
    actor: str,
    change: OverrideRequest,
    now: datetime,
    second_official_required: bool,
) -> tuple[RequestView, bool]:
    """Record an override request (and its audit entry); with ``second_official_required``
    False it is applied at once. Returns the request and whether it was created now (False: a
    retry with the same id found the first one, which must be the same official's)."""
    applied = None if second_official_required else _effect(change, override_id, starts_at=now)
    created = request_store.add_override(
        override_id, person_id=person_id, actor=actor, change=change, now=now, applied=applied
    )
    if created is not None:
        return created, True
    existing = request_store.get(override_id)
    if existing is None or existing.kind != request_store.OVERRIDE or existing.requested_by != actor:
        raise Conflict("this override id is taken", code="override_exists")
    if existing.person_id != person_id:
        raise InvalidInput(
            "this Idempotency-Key was already used for another person",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return existing, False


def request(
    person_id: str, change: OverrideRequest, *, who: Caller, idempotency_key: str | None, now: datetime
) -> RequestView:
    """An official asks for ``change`` to the person's colour (``person_id`` already checked;
    403 ``outside_area`` for a person outside the official's area).
    A retry with the same ``Idempotency-Key`` answers the first request."""
    official = who.sub
    account_limits.official_write(official, now=now)
    person = persons.get(person_id, consistent=True)
    if person is None:
        raise NotFound("no such person", field="person_id", code="person_not_found")
    who.require_area(person.region_code)
    override_id = override_id_for(official, idempotency_key)
    if idempotency_key is not None:
        first = request_store.get(override_id)
        if first is not None and first.requested_by == official and first.person_id == person.person_id:
            return first
    _check_rate(official, now)
    made, _ = request_override(
        override_id=override_id,
        person_id=person.person_id,
        actor=official,
        change=change,
        now=now,
        second_official_required=policy().override_requires_second_official,
    )
    if made.status == APPLIED:
        recolour.recompute(person.person_id, now=now, actor=official, cause="override")
    return made


def show(override_id: str, who: Caller) -> RequestView:
    """An override (or a held act), for an official of the area it acts in."""
    if approvals.is_request_id(override_id):
        return areas.require_request(who, approvals.show(override_id))
    request = request_store.get(override_id) if request_store.is_override_id(override_id) else None
    if request is None or request.kind != request_store.OVERRIDE:
        raise NotFound("no such override", field="override_id", code="override_not_found")
    return areas.require_request(who, request)


def pending_overrides(who: Caller, *, limit: int, after: str | None) -> tuple[list[RequestView], str | None]:
    """Overrides waiting for a second official, oldest first, those of the official's area
    only (a page may hold fewer); and the token of the next page."""
    page, following = request_store.pending_overrides(limit=limit, after=after)
    return areas.requests_inside(who, page), following


# -- decisions -----------------------------------------------------------------------------------


def _pending(override_id: str) -> RequestView:
    if not request_store.is_override_id(override_id):
        raise NotFound("no such override", field="override_id", code="override_not_found")
    request = request_store.get(override_id)
    if request is None or request.kind != request_store.OVERRIDE:
        raise NotFound("no such override", code="override_not_found")
    return request


def _refuse_unless_open(request: RequestView) -> None:
    if request.status != request_store.PENDING_APPROVAL:
        raise Conflict(f"the override is already {request.status}", code="already_decided")


def _closed_by(request: RequestView, *, status: str, official: str) -> bool:
    """Whether ``official`` already closed ``request`` with ``status``: their retried decision
    (the first answer lost on the way) answers as the first one did, instead of a 409."""
    return request.status == status and request.decided_by == official


def _reread(request_id: str) -> RequestView:
    request = request_store.get(request_id)
    if request is None:  # pragma: no cover - requests are never deleted
        raise NotFound("the request vanished", code="request_not_found")
    return request


def _decide(
    request: RequestView, *, status: str, actor: str, now: datetime, kind: str, answer: str | None
) -> RequestView:
    applied = _effect(request, request.request_id, starts_at=now) if status == APPLIED else None
    if not request_store.close_override(
        request, status=status, actor=actor, now=now, kind=kind, answer=answer, applied=applied
    ):
        decided = _reread(request.request_id)
        if _closed_by(decided, status=status, official=actor):
            return decided  # the same decision, sent twice at once
        raise Conflict("the override was decided meanwhile", code="already_decided")
    return _reread(request.request_id)


def approve(override_id: str, *, who: Caller, now: datetime) -> RequestView:
    """A second official applies a pending override and the person is recoloured (403
    ``cannot_approve_own`` for the requester; 409 ``already_decided`` if it is already
    decided — unless this official applied it: a retry gets the override as applied). A
    ``req-…`` id is an official's act held for approval (``services.approvals``). What lies
    outside the approver's area: 403 ``outside_area``."""
    approver = who.sub
    account_limits.official_write(approver, now=now)
    if approvals.is_request_id(override_id):
        areas.require_request(who, approvals.show(override_id))
        return approvals.approve(override_id, approver=approver, now=now)
    request = areas.require_request(who, _pending(override_id))
    if not _closed_by(request, status=APPLIED, official=approver):
        _refuse_unless_open(request)
        if request.requested_by == approver:
            raise Forbidden("an override needs a second official's approval", code="cannot_approve_own")
        request = _decide(
            request,
            status=APPLIED,
            actor=approver,
            now=now,
            kind=request_store.OVERRIDE_APPROVED,
            answer=None,
        )
    assert request.person_id is not None, "an override is on one person"
    recolour.recompute(request.person_id, now=now, actor=approver, cause="override")
    return request


def reject(override_id: str, *, who: Caller, reason: str | None, now: datetime) -> RequestView:
    """Close a pending override without effect (any official of its area, the requester
    withdrawing it too); a retry by the official who rejected it gets the override as rejected."""
    official = who.sub
    account_limits.official_write(official, now=now)
    if approvals.is_request_id(override_id):
        areas.require_request(who, approvals.show(override_id))
        return approvals.reject(override_id, official=official, reason=reason, now=now)
    request = areas.require_request(who, _pending(override_id))
    if _closed_by(request, status=REJECTED, official=official):
        return request
    _refuse_unless_open(request)
    return _decide(
        request, status=REJECTED, actor=official, now=now, kind=request_store.OVERRIDE_REJECTED, answer=reason
    )


# -- appeals -------------------------------------------------------------------------------------


def open_appeals(who: Caller, *, limit: int, after: str | None) -> tuple[list[RequestView], str | None]:
    """Appeals no official has answered yet, oldest first, those of the official's area only (a
    page may hold fewer); and the token of the next page."""
    page, following = request_store.open_appeals(limit=limit, after=after)
    return areas.requests_inside(who, page), following


def answer_appeal(appeal_id: str, *, who: Caller, outcome: str, answer: str, now: datetime) -> RequestView:
    """An official answers an open appeal; its status becomes the outcome (``upheld``: the
    colour is to be corrected, by an override under the two-official rule; ``dismissed``: it
    stands). An appeal of a person outside the official's area: 403 ``outside_area``."""
    official = who.sub
    if not request_store.is_appeal_id(appeal_id):
        raise NotFound("no such appeal", field="appeal_id", code="appeal_not_found")
    if outcome not in APPEAL_OUTCOMES:
        raise InvalidInput(
            f"outcome must be one of {sorted(APPEAL_OUTCOMES)}", field="outcome", code="invalid_outcome"
        )
    account_limits.official_write(official, now=now)
    appeal = request_store.get(appeal_id)
    if appeal is None or appeal.kind != request_store.APPEAL:
        raise NotFound("no such appeal", code="appeal_not_found")
    areas.require_request(who, appeal)
    if _closed_by(appeal, status=outcome, official=official):
        return appeal  # a retried answer: the appeal as first answered
    if appeal.status != request_store.APPEAL_OPEN:
        raise Conflict(f"the appeal is already {appeal.status}", code="already_decided")
    if not request_store.answer_appeal(appeal, outcome=outcome, official=official, answer=answer, now=now):
        answered = _reread(appeal_id)
        if _closed_by(answered, status=outcome, official=official):
            return answered  # the same answer, sent twice at once
        raise Conflict("the appeal was answered meanwhile", code="already_decided")
    return _reread(appeal_id)


def pending_acts(
    who: Caller, kind: str, *, limit: int, after: str | None
) -> tuple[list[RequestView], str | None]:
    """Acts of ``kind`` held for a second official (``services.approvals``), oldest first, those
    of the official's area only (a page may hold fewer); and the token of the next page."""
    page, following = approvals.pending(kind, limit=limit, after=after)
    return areas.requests_inside(who, page), following
