"""A local stack for the security suites and the people, venues and requests they act on,
all made through the API as a front end would make them.

``security_stack`` starts the stack with the local identity provider's signing key chosen here
(``LOCAL_CALLER_KEY_PEM``), so the token-attack suite can sign caller tokens with the genuine key
and show that the authorizer checks more than the signature. ``World`` caches caller tokens
(one per account and role set: the authorizer's answer does not depend on how often it is asked)
and creates resources on demand.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode import clock
from healthcode.rules.idcard import check_character

from infra.local.authorizer import CALLER_KEY_ENV
from tests.e2e.stack import Stack, running_stack

ROLES = ("citizen", "scanner", "venue_manager", "official", "admin")
#: A place in Guiyang (Nanming district) where the test venues stand.
VENUE_LOCATION = {"lat": 26.57, "lng": 106.71}
_serial = itertools.count(1)


@dataclass(frozen=True)
class SecurityStack:
    stack: Stack
    caller_key: ec.EllipticCurvePrivateKey


@contextmanager
def security_stack(province: str = "520000", *, extra: Sequence[str] = ()) -> Iterator[SecurityStack]:
    """A local stack of its own whose caller tokens are signed by a key this process holds."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    with ExitStack() as running:
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv(CALLER_KEY_ENV, pem)  # read once, when the stack process starts
            stack = running.enter_context(running_stack(province, extra=extra))
        try:
            yield SecurityStack(stack, key)
        finally:
            # everything the stack holds is in its memory: no need to wait for a polite shutdown
            stack.process.kill()


def unique_id_number(region: str = "520103", born: date = date(1980, 1, 1)) -> str:
    """A valid ID number never handed out before in this process (one birth day each)."""
    serial = next(_serial)
    first17 = f"{region}{born + timedelta(days=serial):%Y%m%d}{serial % 1000:03d}"
    return first17 + check_character(first17)


def child_id_number() -> str:
    return unique_id_number(born=date(2014, 1, 1))


def declaration(**changes: Any) -> dict[str, Any]:
    return {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False, **changes}


def application(id_number: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "王小明",
        "id_number": id_number or unique_id_number(),
        "phone": "13800000000",
        "address": "贵州省贵阳市云岩区中华北路1号",
        "region_code": "520103",
        "declaration": declaration(),
    }
    return {**body, **changes}


def venue_form(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "花果园购物中心",
        "type": "mall",
        "subject_name": "贵阳花果园商业管理有限公司",
        "credential_type": "uscc",
        "credential_number": "91440300708461136T",
        "region_code": "520102",
        "location": dict(VENUE_LOCATION),
        "address": "贵州省贵阳市南明区花果园大街1号",
        "manager_phone": f"139{next(_serial) % 10**8:08d}",
    }
    return {**body, **changes}


def account(role: str) -> str:
    """A fresh account id (``sub``) for ``role``."""
    return f"{role}-{uuid.uuid4().hex[:10]}"


@dataclass
class Person:
    person_id: str
    owner: str
    id_number: str


@dataclass
class World:
    """The stack and what has been made on it; resources are created when first asked for."""

    stack: Stack
    _tokens: dict[tuple[str, tuple[str, ...], str | None], str] = field(default_factory=dict)
    _made: dict[str, Any] = field(default_factory=dict)

    # -- calling -------------------------------------------------------------------------------

    def token(self, sub: str, roles: Sequence[str], region: str | None = None) -> str:
        """A caller token (``region``: the caller's area claim, none by default)."""
        key = (sub, tuple(sorted(roles)), region)
        if key not in self._tokens:
            self._tokens[key] = self.stack.token(sub, list(key[1]), region)
        return self._tokens[key]

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, Sequence[str]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if as_ is not None:
            sent["Authorization"] = f"Bearer {self.token(*as_)}"
        return self.stack.http.request(method, f"{self.stack.url}{path}", json=json, headers=sent, timeout=60)

    def ok(self, method: str, path: str, *, as_: tuple[str, Sequence[str]], json: Any = None) -> Any:
        """Call a route that must succeed (setup), and its JSON answer."""
        answer = self.call(method, path, as_=as_, json=json)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def now(self) -> datetime:
        """The stack's clock: real time plus an offset (read once, until the clock is moved)."""
        if "clock_offset" not in self._made:
            answer = self.stack.http.get(f"{self.stack.url}/_local/clock", timeout=10)
            answer.raise_for_status()
            self._made["clock_offset"] = clock.parse_instant(answer.json()["now"]) - datetime.now(UTC)
        return datetime.now(UTC) + self._made["clock_offset"]  # type: ignore[no-any-return]

    def advance(self, seconds: float) -> None:
        self.stack.clock(advance_seconds=seconds)
        self._made.pop("clock_offset", None)

    # -- made on demand ------------------------------------------------------------------------

    def _once(self, name: str, make: Any) -> Any:
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    def apply(self, owner: str, **changes: Any) -> Person:
        body = application(**changes)
        answer = self.ok("POST", "/v1/codes", as_=(owner, ["citizen"]), json=body)
        return Person(answer["person_id"], owner, body["id_number"])

    def code_of(self, person: Person) -> str:
        return str(self.ok("GET", f"/v1/codes/{person.person_id}", as_=(person.owner, ["citizen"]))["token"])

    def register_venue(self, manager: str, **changes: Any) -> dict[str, Any]:
        return dict(
            self.ok("POST", "/v1/venues", as_=(manager, ["venue_manager"]), json=venue_form(**changes))
        )

    def report_case(self, person: Person, official: str | None = None) -> str:
        diagnosed = (self.now() - timedelta(hours=1)).isoformat()
        body = {"person_id": person.person_id, "status": "confirmed", "diagnosed_at": diagnosed}
        answer = self.ok("POST", "/v1/cases", as_=(official or account("official"), ["official"]), json=body)
        return str(answer["case_id"])

    def request_override(self, person: Person, official: str) -> str:
        body = {"colour": "green", "reason_code": "recovered", "evidence_ref": "EV-2022-0001"}
        answer = self.ok(
            "PUT", f"/v1/persons/{person.person_id}/colour", as_=(official, ["official"]), json=body
        )
        assert answer["status"] == "pending_approval", answer
        return str(answer["override_id"])

    def file_appeal(self, person: Person) -> str:
        answer = self.ok(
            "POST",
            f"/v1/codes/{person.person_id}/appeals",
            as_=(person.owner, ["citizen"]),
            json={"reason": "我已完成隔离，核酸阴性"},
        )
        return str(answer["appeal_id"])

    # the cast of the authorization matrix

    @property
    def citizen(self) -> str:
        """The account that manages ``person`` (its own code) and ``dependant`` (as guardian)."""
        return str(self._once("citizen", lambda: account("citizen")))

    @property
    def stranger_citizen(self) -> str:
        def make() -> str:
            sub = account("citizen")
            self.apply(sub)  # a real citizen with a code of their own
            return sub

        return str(self._once("stranger_citizen", make))

    @property
    def person(self) -> Person:
        """The citizen's own code, turned yellow by a declared contact (so it can be appealed)."""
        return self._once(  # type: ignore[no-any-return]
            "person", lambda: self.apply(self.citizen, declaration=declaration(contact_with_case=True))
        )

    @property
    def overridden(self) -> Person:
        """A yellow code of another account for officials' overrides to act on: an approved one
        turns it green, which must not happen to ``person`` (appeals need it yellow, in any order)."""
        return self._once(  # type: ignore[no-any-return]
            "overridden",
            lambda: self.apply(account("citizen"), declaration=declaration(contact_with_case=True)),
        )

    @property
    def dependant(self) -> Person:
        """A child in the citizen's care, also yellow."""
        return self._once(  # type: ignore[no-any-return]
            "dependant",
            lambda: self.apply(
                self.citizen,
                id_number=child_id_number(),
                dependant=True,
                declaration=declaration(symptoms=["cough"]),
            ),
        )

    @property
    def manager(self) -> str:
        return str(self._once("manager", lambda: account("venue_manager")))

    @property
    def stranger_manager(self) -> str:
        def make() -> str:
            sub = account("venue_manager")
            self.register_venue(sub, name="另一家超市", type="supermarket")
            return sub

        return str(self._once("stranger_manager", make))

    @property
    def venue(self) -> dict[str, Any]:
        """The manager's venue: ``venue_id`` and ``code``."""
        return self._once("venue", lambda: self.register_venue(self.manager))  # type: ignore[no-any-return]

    @property
    def official(self) -> str:
        return str(self._once("official", lambda: account("official")))

    @property
    def requesting_official(self) -> str:
        """The official who asks for overrides (and so may not approve them)."""
        return str(self._once("requesting_official", lambda: account("official")))

    @property
    def scanner(self) -> str:
        """A scanner assigned (by the manager) to ``venue``, where the matrix's scans happen."""

        def make() -> str:
            sub = account("scanner")
            self.assign(self.venue["venue_id"], sub, by=self.manager)
            return sub

        return str(self._once("scanner", make))

    def assign(self, venue_id: str, sub: str, *, by: str, roles: Sequence[str] = ("venue_manager",)) -> None:
        """Assign account ``sub`` to the venue as checkpoint staff."""
        self.ok("PUT", f"/v1/venues/{venue_id}/staff/{sub}", as_=(by, list(roles)))

    def of_role(self, role: str) -> str:
        """The account the matrix uses for ``role`` where no ownership is at stake."""
        cast = {
            "citizen": "citizen",
            "venue_manager": "manager",
            "official": "official",
            "scanner": "scanner",
        }
        if role in cast:
            return str(getattr(self, cast[role]))
        return str(self._once(role, lambda: account(role)))

    @property
    def appellant(self) -> Person:
        """Another account's yellow code, whose appeals officials answer."""
        return self._once(  # type: ignore[no-any-return]
            "appellant",
            lambda: self.apply(account("citizen"), declaration=declaration(contact_with_case=True)),
        )

    @property
    def patient(self) -> Person:
        """A person reported as a case by ``case_id``."""
        return self._once("patient", lambda: self.apply(account("citizen")))  # type: ignore[no-any-return]

    @property
    def case_id(self) -> str:
        return str(self._once("case_id", lambda: self.report_case(self.patient, self.official)))

    @property
    def paper_issued(self) -> bool:
        """A paper code issued for the person and for the dependant (paper.png needs one)."""

        def make() -> bool:
            for who in (self.person, self.dependant):
                self.ok("POST", f"/v1/codes/{who.person_id}/paper", as_=(self.citizen, ["citizen"]))
            return True

        return bool(self._once("paper", make))
