"""Per-account limits on the abuse-prone writes, from the province policy (docs/policies.md).

Each is one atomic counter update (``storage.limits``): call it first in a use case, before
anything is written; over the limit it raises 429 ``rate_limited`` with ``Retry-After`` (the
seconds until the account's window ends) and nothing is written. The stage-wide throttles of
the HTTP API stay the outer fence; these stop one account, whatever its rate.

A request refused later for another reason (a conflict, a bad reference) has still used its
count: the counter is charged first so that no concurrent requests can all slip past it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from healthcode.settings import policy
from healthcode.storage import limits

__all__ = [
    "APPEALS",
    "APPLICATIONS",
    "ASSISTED_APPLICATIONS",
    "LINK_CODES",
    "MANUAL_REGISTRATIONS",
    "OFFICIAL_WRITES",
    "OVERRIDE_REQUESTS",
    "PERSON_SEARCHES",
    "appeal",
    "application",
    "assisted_application",
    "link_code",
    "manual_registration",
    "official_write",
    "override_request",
    "person_search",
    "seconds_left",
]

#: Limit scopes (the first part of a counter's key).
APPLICATIONS: Final = "applications"
APPEALS: Final = "appeals"
LINK_CODES: Final = "link_codes"
MANUAL_REGISTRATIONS: Final = "manual_registrations"
ASSISTED_APPLICATIONS: Final = "assisted_applications"
OFFICIAL_WRITES: Final = "official_writes"
OVERRIDE_REQUESTS: Final = "override_requests"
PERSON_SEARCHES: Final = "person_searches"


def application(account: str, *, now: datetime) -> None:
    """An application filed by ``account`` (own code, dependant, or assisted by staff)."""
    limits.take(
        APPLICATIONS, account, limit=policy().applications_per_day_limit, window_seconds=limits.DAY, now=now
    )


def appeal(account: str) -> limits.Limit:
    """The appeals limit of ``account``, charged in the same transaction as the appeal it files
    (``storage.appeals.file``): a retry of a filed appeal is then never counted, even when it
    races its first attempt."""
    return limits.Limit(APPEALS, account, policy().appeals_per_day_limit, limits.DAY)


def link_code(account: str, *, now: datetime) -> None:
    limits.take(
        LINK_CODES, account, limit=policy().link_codes_per_hour_limit, window_seconds=limits.HOUR, now=now
    )


def manual_registration(scanner: str, *, now: datetime) -> None:
    limits.take(
        MANUAL_REGISTRATIONS,
        scanner,
        limit=policy().manual_registrations_per_hour_limit,
        window_seconds=limits.HOUR,
        now=now,
    )


def assisted_application(staff: str, *, now: datetime) -> None:
    """An application staff make for someone without a phone: staff register people in person,
    so it has the budget of manual registrations (its own counter)."""
    limits.take(
        ASSISTED_APPLICATIONS,
        staff,
        limit=policy().manual_registrations_per_hour_limit,
        window_seconds=limits.HOUR,
        now=now,
    )


def official_write(official: str, *, now: datetime) -> None:
    """One write by an official: a case, a lab import, a risk area, a colour request, an
    approval or rejection, an appeal answer (one budget for all)."""
    limits.take(
        OFFICIAL_WRITES,
        official,
        limit=policy().official_writes_per_hour_limit,
        window_seconds=limits.HOUR,
        now=now,
    )


def person_search(account: str, *, now: datetime) -> None:
    """One search for a person by ID number (an official or an admin)."""
    limits.take(
        PERSON_SEARCHES,
        account,
        limit=policy().person_searches_per_hour_limit,
        window_seconds=limits.HOUR,
        now=now,
    )


def seconds_left(now: datetime, *, hours: int) -> int:
    """Seconds from ``now`` to the end of its ``hours``-long window (a refusal's Retry-After)."""
    return limits.window_of(now, hours * limits.HOUR).retry_after(now)


def override_request(official: str, *, now: datetime) -> bool:
    """Count one override request by ``official``: False (nothing counted) when the official
    has made ``override_requests_per_hour_limit`` this hour."""
    return limits.try_take(
        OVERRIDE_REQUESTS,
        official,
        limit=policy().override_requests_per_hour_limit,
        window_seconds=limits.HOUR,
        now=now,
    )
