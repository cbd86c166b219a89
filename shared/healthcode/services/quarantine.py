"""Quarantine orders (集中 / 居家隔离医学观察): an official places one, red while it lasts.

``PUT /v1/persons/{person_id}/quarantine {kind, from, until?}`` by an official of the person's
area (``403 outside_area`` otherwise):

* placing a quarantine, or extending the one in force, applies at once (``200``): the person's
  ``quarantine`` fact (``rules.colour.quarantine_fact``; ``until`` defaults to ``from`` plus the
  policy's ``quarantine_days``) and the audit entry ``quarantine_placed`` in one transaction,
  then the colour is recomputed. A quarantine that turns a person red who was not under one
  counts against the official's hourly limit of persons coloured directly
  (``official_coloured_persons_per_hour_limit``, shared with cases and lab imports); past it the
  act waits for a second official (``202``, kind ``quarantine``);
* anything that ends a quarantine in force earlier than it would have ended (an earlier
  ``until``, a later ``from`` while it runs) lowers a colour ahead of the rules: it always waits
  for a second official (``202``, kind ``quarantine_lift``). Once approved, a quarantine that
  had not begun is removed, and one whose new end has passed ends at the approval.

Every act is one of the official's writes (``official_writes_per_hour_limit``). Retrying the
same act writes nothing new (the audit entry's id names the act).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from healthcode import clock
from healthcode.errors import InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.rules import colour
from healthcode.rules.cases import check_instant
from healthcode.rules.colour import ColourDecision
from healthcode.services import account_limits, approvals, recolour
from healthcode.settings import policy
from healthcode.storage import audit, persons, quarantines
from healthcode.storage.overrides import RequestView

__all__ = ["LIFT_KIND", "PLACE_KIND", "Order", "Placed", "check_order", "execute_held", "place"]

#: Kinds of held acts (``services.approvals``).
PLACE_KIND: Final = "quarantine"
LIFT_KIND: Final = "quarantine_lift"
#: Longest quarantine one order may set, and how far ahead it may begin.
MAX_DAYS: Final = 60
MAX_AHEAD: Final = timedelta(days=7)
#: Clock skew allowed on an ``until`` that is meant as "now".
SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class Order:
    """A checked quarantine order (``until`` None: the policy's length)."""

    kind: str
    starts_at: datetime
    until: datetime | None


@dataclass(frozen=True)
class Placed:
    """What an order did: the quarantine in force (``decision`` its colour), or the held act."""

    fact: colour.Fact | None
    decision: ColourDecision | None
    held: RequestView | None = None


def check_order(body: Mapping[str, Any], *, now: datetime) -> Order:
    """``{kind, from, until?}`` as the route's spec let it through: instants with an offset,
    ``from`` at most a week ahead, ``until`` after ``from``, not in the past, and at most
    ``MAX_DAYS`` after ``from``."""
    kind = body.get("kind")
    if kind not in colour.QUARANTINE_KINDS:
        raise InvalidInput(
            f"kind must be one of {list(colour.QUARANTINE_KINDS)}",
            field="kind",
            code="invalid_quarantine_kind",
        )
    starts_at = check_instant(body.get("from"), field="from")
    if starts_at > now + MAX_AHEAD:
        raise InvalidInput("from must be at most 7 days ahead", field="from", code="invalid_from")
    raw_until = body.get("until")
    until = None if raw_until is None else check_instant(raw_until, field="until")
    if until is not None:
        if until <= starts_at:
            raise InvalidInput("until must be after from", field="until", code="invalid_until")
        if until < now - SKEW:
            raise InvalidInput("until must not be in the past", field="until", code="invalid_until")
        if until > starts_at + timedelta(days=MAX_DAYS):
            raise InvalidInput(
                f"a quarantine lasts at most {MAX_DAYS} days", field="until", code="invalid_until"
            )
    return Order(kind=str(kind), starts_at=starts_at, until=until)


def _shortens(current: colour.Fact | None, new: colour.Fact, now: datetime) -> bool:
    """Whether ``new`` leaves out part of what remains of ``current`` from ``now`` on."""
    if current is None or current.expires_at is None or current.expires_at <= now:
        return False
    remaining_from = max(now, current.starts_at)
    return new.starts_at > remaining_from or _end(new) < current.expires_at


def _end(fact: colour.Fact) -> datetime:
    """A quarantine's end (always set: ``quarantine_fact`` gives one)."""
    assert fact.expires_at is not None
    return fact.expires_at


def _shown(fact: colour.Fact | None) -> tuple[str, str, str]:
    if fact is None:
        return ("", "", "")
    return (fact.detail, clock.show(fact.starts_at), clock.show(_end(fact)))


def _act_id(person_id: str, fact: colour.Fact, current: colour.Fact | None) -> str:
    """Names an order on the quarantine it finds: the same order repeated names the same act
    (written once), the same order after the quarantine changed is a new act."""
    text = "\x00".join((person_id, *_shown(fact), *_shown(current)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _action(person_id: str, fact: colour.Fact) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "kind": fact.detail,
        "from": clock.show(fact.starts_at),
        "until": clock.show(_end(fact)),
    }


def place(person_id: str, order: Order, *, who: Caller, now: datetime) -> Placed:
    """Place, extend or (with a second official) shorten the person's quarantine."""
    official = who.sub
    account_limits.official_write(official, now=now)
    person = persons.get(person_id, consistent=True)
    if person is None:
        raise NotFound("no such person", field="person_id", code="person_not_found")
    who.require_area(person.region_code)
    rules = policy()
    fact = colour.quarantine_fact(
        person_id, order.kind, starts_at=order.starts_at, until=order.until, policy=rules
    )
    current = quarantines.get(person_id)
    act = _act_id(person_id, fact, current)
    if _shortens(current, fact, now):
        held = approvals.hold(
            LIFT_KIND,
            actor=official,
            action=_action(person_id, fact),
            why="lowers_colour",
            now=now,
            person_id=person_id,
            seed=act,
        )
        return Placed(fact=current, decision=None, held=held)
    if current is not None and _shown(current) == _shown(fact):
        return Placed(
            fact=current, decision=recolour.recompute(person_id, now=now, actor=official, cause="quarantine")
        )
    already = current is not None and current.active(now)
    if not already and not approvals.within_limit(
        approvals.COLOURED_PERSONS,
        official,
        limit=rules.official_coloured_persons_per_hour_limit,
        now=now,
    ):
        held = approvals.hold(
            PLACE_KIND,
            actor=official,
            action=_action(person_id, fact),
            why="over_limit",
            now=now,
            person_id=person_id,
            seed=act,
        )
        return Placed(fact=current, decision=None, held=held)
    return _apply(
        person_id,
        fact,
        actor=official,
        approver=None,
        now=now,
        event="quarantine_placed",
        act=act,
        read=current,
    )


def _apply(
    person_id: str,
    fact: colour.Fact | None,
    *,
    actor: str,
    approver: str | None,
    now: datetime,
    event: str,
    act: str,
    read: colour.Fact | None,
) -> Placed:
    """Write the quarantine (None: remove it) with its audit entry, if the stored one is still
    ``read`` (409 otherwise), and recolour the person."""
    recorded = None
    details: dict[str, Any] = {}
    if fact is not None:
        recorded = colour.Fact(
            fact_id=fact.fact_id,
            kind=fact.kind,
            starts_at=fact.starts_at,
            expires_at=fact.expires_at,
            detail=fact.detail,
            recorded_at=now,
            learned_at=now,
        )
        details = {"kind": fact.detail, "from": clock.show(fact.starts_at), "until": clock.show(_end(fact))}
    if approver is not None:
        details["approved_by"] = approver
    entry = audit.person_entry(
        person_id,
        event,
        actor=actor,
        at=now,
        details=details,
        entry_id=act,
    )
    quarantines.write(person_id, recorded, entry, source=event, read=read)
    decision = recolour.recompute(person_id, now=now, actor=approver or actor, cause="quarantine")
    return Placed(fact=quarantines.get(person_id), decision=decision)


def execute_held(action: Mapping[str, Any], approval: approvals.Approval) -> dict[str, Any]:
    """Carry out a held quarantine order once a second official approved it: place it, or end
    the quarantine at its new ``until`` (at the approval if that has passed; removed if it had
    not begun)."""
    person_id = str(action["person_id"])
    starts_at = clock.parse_instant(str(action["from"]))
    until = max(clock.parse_instant(str(action["until"])), approval.now)
    fact: colour.Fact | None = None
    if until > starts_at:
        fact = colour.quarantine_fact(
            person_id, str(action["kind"]), starts_at=starts_at, until=until, policy=policy()
        )
    current = quarantines.get(person_id)
    lowering = current is not None and fact is not None and _shortens(current, fact, approval.now)
    event = "quarantine_lifted" if fact is None or lowering else "quarantine_placed"
    placed = _apply(
        person_id,
        fact,
        actor=approval.requested_by,
        approver=approval.approved_by,
        now=approval.now,
        event=event,
        act=approval.request_id,
        read=current,
    )
    shown = placed.fact
    return {
        "person_id": person_id,
        "quarantine": None
        if shown is None
        else {"kind": shown.detail, "from": clock.show(shown.starts_at), "until": clock.show(_end(shown))},
    }
