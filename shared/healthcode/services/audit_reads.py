"""Reading the audit trail: a subject's entries or an actor's acts, newest first, paged.

Who reads what:

* an ``admin`` reads any subject's trail and any account's acts;
* an ``official`` reads the trail of a person or venue inside their area (a person lies where
  they applied, a venue where it is registered; elsewhere ``403 outside_area``), of an act held
  for a second official that acts inside it (``request#req-…``: the steps of a held act on no
  person, such as a risk-area change), and the acts of
  their own account only (another account's acts span areas: ``403 own_acts_only``; an admin
  reads them). An account's own trail (``account#<sub>``: searches that found nobody, reads of
  its acts) is the admin's to read, or the account's own.

Subjects are named as stored (``person#p-…``, ``venue#v-…``, ``request#req-…``,
``account#<sub>``) or by the bare id (``p-…``, ``v-…``, ``req-…``). Every read is itself audited before the
entries are read: an ``audit_read`` entry on the subject read (on ``account#<actor>`` for an
actor's acts), so a read shows up in the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from healthcode.errors import Forbidden, InvalidInput, Unauthorized
from healthcode.protection.auth import Caller, check_subject
from healthcode.rules.forms import check_page_size as page_size
from healthcode.services import areas
from healthcode.storage import audit, persons
from healthcode.storage import overrides as request_store
from healthcode.storage import venues as venue_store

__all__ = ["AUDIT_READ", "DEFAULT_PAGE", "MAX_PAGE", "AuditPage", "check_page_size", "read"]

#: Audit kind of a read of the trail.
AUDIT_READ: Final = "audit_read"
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500
ADMIN: Final = "admin"
_SUBJECT = re.compile(r"(person|venue|request|account)#([^#\s]{1,128})")
_BARE = re.compile(r"(p|v|req)-[A-Za-z0-9_-]{1,64}")
_BARE_KINDS: Final = {"p": "person", "v": "venue", "req": "request"}


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first, and the cursor of the next page (None at the end)."""

    entries: list[audit.Entry]
    next_cursor: str | None


def check_page_size(raw: str | None) -> int:
    """``?limit=``: 1-500, 100 when absent; anything else 422 ``invalid_limit``."""
    return page_size(raw, default=DEFAULT_PAGE, maximum=MAX_PAGE)


def _subject(value: str) -> tuple[str, str]:
    """(kind, stored subject) of a ``?subject=`` value; 422 ``invalid_subject`` otherwise."""
    bare = _BARE.fullmatch(value)
    if bare is not None:
        kind = _BARE_KINDS[bare.group(1)]
        return kind, f"{kind}#{value}"
    named = _SUBJECT.fullmatch(value)
    if named is None:
        raise InvalidInput(
            "subject must be a person id (p-…), a venue id (v-…), a request id (req-…), or person#…, "
            "venue#…, request#…, account#…",
            field="subject",
            code="invalid_subject",
        )
    return named.group(1), value


def _actor(value: str) -> str:
    try:
        return check_subject(value)
    except Unauthorized as error:
        raise InvalidInput("actor must be an account id", field="actor", code="invalid_actor") from error


def _require_subject(who: Caller, kind: str, subject: str) -> None:
    """403 unless the caller may read the subject's trail (module docstring)."""
    if who.has(ADMIN):
        return
    key = subject.split("#", 1)[1]
    if kind == "person":
        found = persons.get(key)
        who.require_area(found.region_code if found is not None else None)
    elif kind == "venue":
        venue = venue_store.get(key)
        who.require_area(venue.region_code if venue is not None else None)
    elif kind == "request":
        request = request_store.get(key) if request_store.is_request_id(key) else None
        if request is None:
            who.require_area(None)
        else:
            areas.require_request(who, request)
    elif key != who.sub:
        raise Forbidden("an account's own trail is read by an admin", field="subject", code="own_acts_only")


def read(
    who: Caller,
    *,
    subject: str | None,
    actor: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> AuditPage:
    """One page of the trail of ``subject`` or of the acts of ``actor`` (exactly one of them;
    422 ``invalid_query`` otherwise), for a caller allowed to read it; the read is audited first."""
    if (subject is None) == (actor is None):
        raise InvalidInput("give exactly one of subject and actor", field="subject", code="invalid_query")
    if subject is not None:
        kind, stored = _subject(subject)
        _require_subject(who, kind, stored)
        by: audit.By = "subject"
        key, trail = stored, stored
    else:
        assert actor is not None
        key = _actor(actor)
        if not who.has(ADMIN) and key != who.sub:
            raise Forbidden(
                "officials read their own acts; another account's acts are read by an admin",
                field="actor",
                code="own_acts_only",
            )
        by, trail = "actor", audit.account_subject(key)
    audit.check_cursor(cursor, by, key)  # a bad request writes nothing
    audit.append(
        trail,
        AUDIT_READ,
        actor=who.sub,
        at=now,
        details={"by": by, "route": "GET /v1/audit", "page": "next" if cursor else "first"},
    )
    entries, following = audit.page(by, key, limit=limit, cursor=cursor)
    return AuditPage(entries=entries, next_cursor=following)
