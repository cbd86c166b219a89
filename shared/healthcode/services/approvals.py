"""Acts of one official that wait for a second one: nobody alone can bend many colours.

An official's act is *held* instead of done when it passes a per-official limit (the persons
their own acts turn red or yellow in an hour, the risk areas they raise), or when it is of a
kind that is never one official's (a prefecture- or province-level risk area, lowering a risk
area; issues 15/16 add a case recovered or excluded, a quarantine lifted early). A held act is
a request in the Requests table (``kind`` = what it does, ``action`` = the stored act, JSON
without personal data in clear) answered ``202 {request_id, status: pending_approval}``.

A *different* official approves it with ``POST /v1/overrides/{request_id}/approve`` (or
rejects it): the approval claims the request (``pending_approval`` → ``approved``, one
conditional write: of concurrent approvals one wins, the others get ``409 already_decided``),
carries the act out, then records what it did (``applied``, ``result``). Acts are idempotent
(a case by its id, a lab row by its id, an area's level), so an approval that stops half-way
is completed by its approver's retry, and the act takes effect exactly once.

A new kind plugs in with :func:`register` (``kind`` → the function that carries its stored
action out), or by a line in ``_EXECUTORS`` naming ``module:function`` (imported on first use).
"""

from __future__ import annotations

import hashlib
import importlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from healthcode.errors import Conflict, Forbidden, NotFound
from healthcode.protection.logs import get_logger
from healthcode.settings import settings
from healthcode.storage import limits
from healthcode.storage import overrides as request_store
from healthcode.storage.overrides import APPLIED, APPROVED, PENDING_APPROVAL, REJECTED, RequestView

__all__ = [
    "OVER_LIMIT_METRIC",
    "Approval",
    "approve",
    "hold",
    "is_request_id",
    "over_limit",
    "pending",
    "register",
    "reject",
    "show",
    "within_limit",
]

logger = get_logger("approvals")

#: Metric emitted (EMF, namespace HealthCode) each time an official's act passes their limit.
OVER_LIMIT_METRIC: Final = "OfficialActsOverLimit"

#: Limits (``storage.limits`` scopes): persons coloured directly, risk areas raised.
COLOURED_PERSONS: Final = "coloured_persons"
AREA_CHANGES: Final = "risk_area_changes"
HOUR: Final = 3600


@dataclass(frozen=True)
class Approval:
    """Who asked for the act and who approved it, when, under which request."""

    request_id: str
    requested_by: str
    approved_by: str
    now: datetime


Executor = Callable[[Mapping[str, Any], Approval], Mapping[str, Any]]

#: kind → "module:function" carrying out its stored action (imported when first needed, so
#: services that hold acts and this module do not import each other at start).
_EXECUTORS: dict[str, str] = {
    "case": "healthcode.services.cases:execute_held",
    "case_status": "healthcode.services.cases:execute_status_change",
    "lab_results": "healthcode.services.labs:execute_held",
    "quarantine": "healthcode.services.quarantine:execute_held",
    "quarantine_lift": "healthcode.services.quarantine:execute_held",
    "risk_area": "healthcode.services.riskareas:execute_held",
}
_registered: dict[str, Executor] = {}


def register(kind: str, execute: Executor) -> None:
    """Plug in a kind of held act: ``execute(action, approval)`` carries it out (idempotently)
    and answers what it did."""
    _registered[kind] = execute


def _executor(kind: str) -> Executor:
    if kind not in _registered:
        target = _EXECUTORS.get(kind)
        if target is None:
            raise NotFound("no such request", code="request_not_found")
        module, name = target.split(":")
        register(kind, getattr(importlib.import_module(module), name))
    return _registered[kind]


# -- limits --------------------------------------------------------------------------------------


def within_limit(scope: str, actor: str, *, limit: int, now: datetime, amount: int = 1) -> bool:
    """Count ``amount`` uses of the official's hourly ``scope`` (atomic, ``storage.limits``):
    True when within ``limit``; False (nothing counted, the metric the alarm watches emitted)
    when the act must wait for a second official."""
    if amount < 1:
        return True
    if limits.try_take(scope, actor, limit=limit, window_seconds=HOUR, now=now, amount=amount):
        return True
    over_limit(scope, actor, amount=amount)
    return False


def over_limit(scope: str, actor: str, *, amount: int) -> None:
    with single_metric(
        name=OVER_LIMIT_METRIC, unit=MetricUnit.Count, value=1, namespace="HealthCode"
    ) as metric:
        metric.add_dimension(name="province", value=settings().province)
        metric.add_metadata(key="official", value=actor)
        metric.add_metadata(key="limit", value=scope)
    logger.warning(
        "official's act held for a second official: limit", extra={"limit": scope, "amount": amount}
    )


# -- holding -------------------------------------------------------------------------------------


def is_request_id(request_id: str) -> bool:
    return request_store.is_request_id(request_id)


def _request_id(kind: str, actor: str, seed: str | None) -> str:
    if seed is None:
        return f"req-{uuid.uuid4().hex}"
    digest = hashlib.sha256("\x00".join((kind, actor, seed)).encode("utf-8")).hexdigest()
    return f"req-{digest[:32]}"


def hold(
    kind: str,
    *,
    actor: str,
    action: Mapping[str, Any],
    why: str,
    now: datetime,
    person_id: str | None = None,
    seed: str | None = None,
) -> RequestView:
    """Store the act for a second official. ``seed`` names the act (a case id, a set of lab
    rows, an area change): the same official asking again while it waits gets the same request."""
    if kind not in _EXECUTORS and kind not in _registered:
        raise ValueError(f"no executor for held acts of kind {kind!r}")
    request_id = _request_id(kind, actor, seed)
    for attempt in range(2):
        made = request_store.add_pending(
            request_id, kind=kind, actor=actor, person_id=person_id, action=action, why=why, now=now
        )
        if made is not None:
            logger.info("act held for a second official", extra={"kind": kind, "request_id": request_id})
            return made
        existing = request_store.get(request_id)
        if (
            existing is not None
            and existing.requested_by == actor
            and existing.kind == kind
            and existing.status == PENDING_APPROVAL
        ):
            return existing  # asked again while it waits
        if attempt == 0:
            request_id = _request_id(kind, actor, None)  # decided before: a new request
    raise Conflict("the request could not be stored; try again", code="concurrent_change")  # pragma: no cover


# -- deciding ------------------------------------------------------------------------------------


def show(request_id: str) -> RequestView:
    request = request_store.get(request_id) if is_request_id(request_id) else None
    if request is None or request.kind in (request_store.OVERRIDE, request_store.APPEAL):
        raise NotFound("no such request", field="request_id", code="request_not_found")
    return request


def pending(kind: str, *, limit: int, after: str | None) -> tuple[list[RequestView], str | None]:
    _executor(kind)  # 404 for a kind nobody holds
    return request_store.pending_acts(kind, limit=limit, after=after)


def _already_decided(request: RequestView) -> Conflict:
    return Conflict(f"the request is already {request.status}", code="already_decided")


def _carry_out(request: RequestView, *, approver: str, now: datetime) -> RequestView:
    execute = _executor(request.kind)
    approval = Approval(request.request_id, request.requested_by, approver, now)
    result = execute(dict(request.action or {}), approval)
    logger.info("held act carried out", extra={"kind": request.kind, "request_id": request.request_id})
    return request_store.finish(request, result=result)


def approve(request_id: str, *, approver: str, now: datetime) -> RequestView:
    """A second official approves a held act, which is carried out once: 403
    ``cannot_approve_own`` for its requester, 409 ``already_decided`` once someone decided it
    (its approver's retry completes and answers it)."""
    request = show(request_id)
    if request.decided_by == approver and request.status in (APPROVED, APPLIED):
        return request if request.status == APPLIED else _carry_out(request, approver=approver, now=now)
    if request.requested_by == approver:
        raise Forbidden("an act held for approval needs a second official", code="cannot_approve_own")
    if request.status != PENDING_APPROVAL:
        raise _already_decided(request)
    if not request_store.claim(request, approver=approver, now=now):
        decided = request_store.get(request_id)
        assert decided is not None
        if decided.decided_by == approver and decided.status in (APPROVED, APPLIED):
            return decided  # the same approval sent twice at once: the other one carries it out
        raise _already_decided(decided)
    claimed = request_store.get(request_id)
    assert claimed is not None
    return _carry_out(claimed, approver=approver, now=now)


def reject(request_id: str, *, official: str, reason: str | None, now: datetime) -> RequestView:
    """Close a held act without effect (any official; its requester withdrawing it too)."""
    request = show(request_id)
    if request.status == REJECTED and request.decided_by == official:
        return request
    if request.status != PENDING_APPROVAL:
        raise _already_decided(request)
    if not request_store.reject_pending(request, official=official, reason=reason, now=now):
        decided = request_store.get(request_id)
        assert decided is not None
        if decided.status == REJECTED and decided.decided_by == official:
            return decided
        raise _already_decided(decided)
    found = request_store.get(request_id)
    assert found is not None
    return found
