"""Quarantines placed by officials: the person's ``quarantine#<person>`` fact and its audit entry,
written together in one transaction (a quarantine is never in force without its trail)."""

from __future__ import annotations

from healthcode.errors import Conflict
from healthcode.rules import colour
from healthcode.rules.policy import FactKind
from healthcode.storage import audit, facts
from healthcode.storage.models import AuditEntry, Fact
from healthcode.storage.transactions import Transaction

__all__ = ["get", "write"]


def get(person_id: str) -> colour.Fact | None:
    """The person's quarantine fact, current, future or ended (one consistent GetItem)."""
    try:
        item = Fact.get(person_id, f"quarantine#{person_id}", consistent_read=True)
    except Fact.DoesNotExist:
        return None
    return colour.Fact(
        fact_id=item.fact_id,
        kind=FactKind(item.kind),
        starts_at=item.starts_at,
        expires_at=item.expires_at,
        detail=item.detail,
        recorded_at=item.recorded_at,
        learned_at=item.learned_at,
    )


def write(
    person_id: str, fact: colour.Fact | None, entry: audit.Entry, *, source: str, read: colour.Fact | None
) -> bool:
    """Put the quarantine ``fact`` (None: remove the person's quarantine) with ``entry``, only if
    the stored quarantine is still ``read`` (what the caller decided on: a concurrent order in
    between raises ``409 concurrent_update``, so a shorter order can never overwrite a longer one
    unseen); False when the entry is already written (a retry of the same act: nothing is
    written again)."""
    if fact is not None and fact.recorded_at is None:
        raise ValueError("a quarantine fact carries the instant it was recorded")
    unchanged = Fact.fact_id.does_not_exist() if read is None else Fact.recorded_at == read.recorded_at
    transaction = Transaction()
    if fact is None:
        transaction.delete("fact", Fact(person_id, f"quarantine#{person_id}"), condition=unchanged)
    else:
        item = facts.item_for(person_id, fact, recorded_at=fact.recorded_at or entry.at, source=source)
        transaction.save("fact", item, condition=unchanged)
    transaction.save("audit", audit.item_of(entry), condition=AuditEntry.entry.does_not_exist())
    refused = transaction.commit()
    if "audit" in refused:
        return False
    if "fact" in refused:
        raise Conflict(
            "the quarantine was changed meanwhile: read it and try again", code="concurrent_update"
        )
    return True
