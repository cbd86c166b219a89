"""Officials' areas: what lies inside the area of the official or admin acting.

A caller's area is a GB/T 2260 code from its token (``protection.auth.Caller.area``); without
one it acts on the whole province. A person lies where they applied (``region_code`` of their
code), a venue where it is registered, a case where its person lies, a held act where its
person (or its risk area, or every person of its lab rows) lies. Outside the area: ``403
outside_area``. Lists keep only what lies inside (a page may then hold fewer rows than asked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from healthcode.errors import Forbidden
from healthcode.protection.auth import Caller
from healthcode.storage import persons
from healthcode.storage.overrides import RequestView

__all__ = ["requests_inside", "require_person", "require_persons", "require_request"]

T = TypeVar("T", bound=RequestView)


def _outside() -> Forbidden:
    return Forbidden("this lies outside your area", code="outside_area")


def require_persons(who: Caller, person_ids: Iterable[str]) -> None:
    """403 ``outside_area`` unless every one of the persons lies inside the caller's area (a
    person that cannot be found lies nowhere: outside any area)."""
    if who.area is None:
        return
    wanted = list(person_ids)
    found = persons.regions_of(wanted)
    if any(not who.covers(found.get(pid)) for pid in wanted):
        raise _outside()


def require_person(who: Caller, person_id: str | None) -> None:
    """403 ``outside_area`` unless the person lies inside the caller's area."""
    require_persons(who, (person_id or "",))


def _persons_of(request: RequestView) -> list[str] | None:
    """The persons a request acts on, or None when it acts on no person."""
    if request.person_id:
        return [request.person_id]
    rows = (request.action or {}).get("rows")
    if isinstance(rows, list) and rows:
        return [str(row.get("person_id")) for row in rows if isinstance(row, dict)]
    return None


def _region_of(request: RequestView) -> str | None:
    region = (request.action or {}).get("region_code")
    return str(region) if region else None


def require_request(who: Caller, request: RequestView) -> RequestView:
    """403 ``outside_area`` unless what the request (an override, an appeal, a held act) acts on
    lies inside the caller's area; a request whose place cannot be told is outside any area."""
    if who.area is None:
        return request
    people = _persons_of(request)
    if people is not None:
        require_persons(who, people)
        return request
    region = _region_of(request)
    if region is None or not who.covers(region):
        raise _outside()
    return request


def requests_inside(who: Caller, requests: Sequence[T]) -> list[T]:
    """The requests of a page that lie inside the caller's area (one BatchGetItem of their
    persons' regions)."""
    if who.area is None:
        return list(requests)
    people = {pid for request in requests for pid in (_persons_of(request) or ())}
    found = persons.regions_of(sorted(people))

    def keeps(request: RequestView) -> bool:
        named = _persons_of(request)
        if named is not None:
            return all(who.covers(found.get(pid)) for pid in named)
        return who.covers(_region_of(request))

    return [request for request in requests if keeps(request)]
