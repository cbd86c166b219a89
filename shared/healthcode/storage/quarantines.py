"""Quarantines placed by officials: the person's ``quarantine#<person>`` fact and its audit entry,
written together in one transaction (a quarantine is never in force without its trail)."""

from __future__ import annotations

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


def write(person_id: str, fact: colour.Fact | None, entry: audit.Entry, *, source: str) -> bool:
    """Put the quarantine ``fact`` (None: remove the person's quarantine) with ``entry``; False
    when the entry is already written (a retry of the same act: nothing is written again)."""
    if fact is not None and fact.recorded_at is None:
        raise ValueError("a quarantine fact carries the instant it was recorded")
    transaction = Transaction()
    if fact is None:
        transaction.delete("fact", Fact(person_id, f"quarantine#{person_id}"))
    else:
        item = facts.item_for(person_id, fact, recorded_at=fact.recorded_at or entry.at, source=source)
        transaction.save("fact", item)
    transaction.save("audit", audit.item_of(entry), condition=AuditEntry.entry.does_not_exist())
    return not transaction.commit()
