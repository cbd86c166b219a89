"""The authorization table: who may call each route of ``template.yaml``, whose resource it is,
and what every kind of caller is answered (docs/api.md "Conventions": 401 no or invalid caller token,
403 wrong role or not your resource, 404 unknown id).

One row per route. ``tests/security/http/test_authorization_matrix.py`` calls every route as every
role and as the resource's owner, a guardian and a stranger, and fails when the template has a
route with no row here or a row names a route the template no longer has.

Deliberate departures from the contract's "403 not your resource", kept and explained:

* Personal codes (``/v1/codes/{person_id}…``) answer a stranger ``404 code_not_found`` exactly as
  for an id that does not exist (functions/codes: "any other account gets 404, as if it did not
  exist"). A 403 would confirm that a person id is real; OWASP API1:2023 (BOLA) recommends not
  disclosing existence for personal records. The contract's 404 "unknown id" is the answer a stranger
  cannot tell apart from it.
* Venues answer a stranger manager ``403 not_venue_manager``: a venue is public (its poster hangs
  at the door) and its id is printed in its code, so existence discloses nothing.
* Verifications and manual registrations answer a scanner not assigned to the checkpoint
  ``403 not_assigned`` (tests/security/http/test_staff_attacks.py); the matrix's scanner is assigned to
  the matrix's venue.
* Check-ins answer ``403 not_your_person`` for another account's person in the body, as docs/api.md
  says ("the caller must own (or be guardian of) every person").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ROLES: tuple[str, ...] = ("citizen", "scanner", "venue_manager", "official", "admin", "lab")


class Area(StrEnum):
    """What an official (or admin) of another area is answered on a route acting on something
    that lies in a region (docs/api.md "Areas"): the matrix's persons applied in 520103 and its
    venue stands in 520102, so a prefecture token (520100) reaches them and 520300 does not."""

    FORBIDDEN = "forbidden"  # 403 outside_area
    EMPTY = "empty"  # 200 without what lies outside (a list, a search: existence is never told)
    ROW = "row"  # 200 with each row outside rejected as outside_area (lab-result imports)


class Ownership(StrEnum):
    """Whose resource a route acts on, beyond the role."""

    NONE = "none"  # the role is enough (or the route acts on the caller's own account only)
    OWNER = "owner"  # the account that manages the code: the applicant, or the guardian of a dependant
    VENUE_MANAGER = "venue_manager"  # the account that registered the venue
    SECOND_OFFICIAL = "second_official"  # an official other than the one who requested the override


@dataclass(frozen=True)
class RouteRule:
    method: str
    path: str
    #: Roles that may call the route; empty for a public route (no authorizer).
    roles: frozenset[str]
    ownership: Ownership = Ownership.NONE
    #: Allowed roles the ownership rule does not bind (officials reading any venue, officials
    #: printing anyone's paper code with a reason).
    unbound_roles: frozenset[str] = frozenset()
    #: Status of a call by the owner (or any caller of an allowed role when there is no owner).
    success: int = 200
    #: Status and error code for a caller of a bound role who is not the owner.
    stranger: tuple[int, str] | None = None
    #: Status and error code for a well-formed id that does not exist (routes with an id).
    unknown: tuple[int, str] | None = None
    #: How an official or admin of another area is answered (None: the route acts on nothing with
    #: a region, or on the caller's own account only).
    area: Area | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def guardian_applies(self) -> bool:
        """Owner rows hold for guardians too: the test repeats the owner call on a dependant."""
        return self.ownership is Ownership.OWNER

    def bound_roles(self) -> frozenset[str]:
        if self.ownership is Ownership.NONE:
            return frozenset()
        return self.roles - self.unbound_roles

    def expected(self, role: str) -> int:
        """What a caller with only ``role`` is answered, acting as the owner where there is one."""
        if self.public or role in self.roles:
            return self.success
        return 403


def _rule(
    method: str,
    path: str,
    roles: Iterable[str],
    *,
    ownership: Ownership = Ownership.NONE,
    unbound_roles: Iterable[str] = (),
    success: int = 200,
    stranger: tuple[int, str] | None = None,
    unknown: tuple[int, str] | None = None,
    area: Area | None = None,
) -> RouteRule:
    return RouteRule(
        method,
        path,
        frozenset(roles),
        ownership=ownership,
        unbound_roles=frozenset(unbound_roles),
        success=success,
        stranger=stranger,
        unknown=unknown,
        area=area,
    )


_CODE_STRANGER = (404, "code_not_found")
_VENUE_STRANGER = (403, "not_venue_manager")
_VENUE_UNKNOWN = (404, "venue_not_found")

TABLE: tuple[RouteRule, ...] = (
    # public
    _rule("GET", "/v1/health", set()),
    _rule("GET", "/.well-known/jwks.json", set()),
    _rule("GET", "/v1/openapi.json", set()),
    # citizens: their own codes and their dependants'
    # staff (scanner, official) apply only with assisted: true (test_assisted_applications.py);
    # the matrix's plain application from them is 403 forbidden_role
    _rule("POST", "/v1/codes", {"citizen"}, success=201),
    _rule("GET", "/v1/codes", {"citizen"}),
    *(
        _rule(
            "GET",
            f"/v1/codes/{{person_id}}{suffix}",
            {"citizen"},
            ownership=Ownership.OWNER,
            stranger=_CODE_STRANGER,
            unknown=_CODE_STRANGER,
        )
        for suffix in ("", "/qr.png", "/qr.svg", "/history", "/appeals")
    ),
    _rule(
        "POST",
        "/v1/codes/{person_id}/appeals",
        {"citizen"},
        ownership=Ownership.OWNER,
        success=201,
        stranger=_CODE_STRANGER,
        unknown=_CODE_STRANGER,
    ),
    _rule(
        "POST",
        "/v1/codes/{person_id}/links",
        {"citizen", "official"},
        ownership=Ownership.OWNER,
        unbound_roles={"official"},
        success=201,
        stranger=_CODE_STRANGER,
        unknown=_CODE_STRANGER,
        area=Area.FORBIDDEN,
    ),
    # paper codes: the managing account, or an official with a reason (audited); a scanner never
    # (staff get one only with a manual registration they make, issue_paper_code: true)
    _rule(
        "POST",
        "/v1/codes/{person_id}/paper",
        {"citizen", "official"},
        ownership=Ownership.OWNER,
        unbound_roles={"official"},
        success=201,
        stranger=_CODE_STRANGER,
        unknown=_CODE_STRANGER,
        area=Area.FORBIDDEN,
    ),
    _rule(
        "GET",
        "/v1/codes/{person_id}/paper.png",
        {"citizen", "official"},
        ownership=Ownership.OWNER,
        unbound_roles={"official"},
        stranger=_CODE_STRANGER,
        unknown=_CODE_STRANGER,
        area=Area.FORBIDDEN,
    ),
    _rule(
        "POST",
        "/v1/checkins",
        {"citizen"},
        ownership=Ownership.OWNER,
        success=201,
        stranger=(403, "not_your_person"),
        unknown=(404, "person_not_found"),
    ),
    # checkpoint staff
    _rule("POST", "/v1/verifications", {"scanner"}),
    _rule("POST", "/v1/manual-registrations", {"scanner"}, success=201),
    # venue managers (officials may read any venue and print its poster)
    _rule("POST", "/v1/venues", {"venue_manager"}, success=201),
    *(
        _rule(
            "GET",
            f"/v1/venues/{{venue_id}}{suffix}",
            {"venue_manager", "official"},
            ownership=Ownership.VENUE_MANAGER,
            unbound_roles={"official"},
            stranger=_VENUE_STRANGER,
            unknown=_VENUE_UNKNOWN,
            area=Area.FORBIDDEN,
        )
        for suffix in ("", "/poster.png", "/poster.svg")
    ),
    *(
        _rule(
            "GET",
            f"/v1/venues/{{venue_id}}/{view}",
            {"venue_manager"},
            ownership=Ownership.VENUE_MANAGER,
            stranger=_VENUE_STRANGER,
            unknown=_VENUE_UNKNOWN,
        )
        for view in ("stats", "alerts")
    ),
    # venue lists: a manager's own, an official's or admin's area (a list: outside it, nothing)
    _rule("GET", "/v1/venues", {"venue_manager", "official", "admin"}, area=Area.EMPTY),
    # a venue changed, a join code for a store's own manager: the venue's manager only
    _rule(
        "PATCH",
        "/v1/venues/{venue_id}",
        {"venue_manager"},
        ownership=Ownership.VENUE_MANAGER,
        stranger=_VENUE_STRANGER,
        unknown=_VENUE_UNKNOWN,
    ),
    _rule(
        "POST",
        "/v1/venues/{venue_id}/join-codes",
        {"venue_manager"},
        ownership=Ownership.VENUE_MANAGER,
        success=201,
        stranger=_VENUE_STRANGER,
        unknown=_VENUE_UNKNOWN,
    ),
    # a venue's code reissued, the venue closed: its manager; officials for roadside checkpoints
    # of their area (the matrix's official acts on a checkpoint, a manager on a mall)
    *(
        _rule(
            method,
            path,
            {"venue_manager", "official"},
            ownership=Ownership.VENUE_MANAGER,
            unbound_roles={"official"},
            success=success,
            stranger=_VENUE_STRANGER,
            unknown=_VENUE_UNKNOWN,
            area=Area.FORBIDDEN,
        )
        for method, path, success in (
            ("POST", "/v1/venues/{venue_id}/code", 201),
            ("DELETE", "/v1/venues/{venue_id}", 204),
        )
    ),
    # checkpoint staff of a venue: its manager, or an official
    *(
        _rule(
            method,
            path,
            {"venue_manager", "official"},
            ownership=Ownership.VENUE_MANAGER,
            unbound_roles={"official"},
            success=success,
            stranger=_VENUE_STRANGER,
            unknown=_VENUE_UNKNOWN,
            area=Area.FORBIDDEN,
        )
        for method, path, success in (
            ("PUT", "/v1/venues/{venue_id}/staff/{sub}", 200),
            ("DELETE", "/v1/venues/{venue_id}/staff/{sub}", 204),
            ("GET", "/v1/venues/{venue_id}/staff", 200),
        )
    ),
    # health officials
    _rule("POST", "/v1/cases", {"official"}, success=202, area=Area.FORBIDDEN),
    _rule("GET", "/v1/cases/{case_id}", {"official"}, unknown=(404, "case_not_found"), area=Area.FORBIDDEN),
    # closing a case (excluded) waits for a second official: 202 each time (the same request)
    _rule(
        "PATCH",
        "/v1/cases/{case_id}",
        {"official"},
        success=202,
        unknown=(404, "case_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule(
        "GET",
        "/v1/cases/{case_id}/contacts",
        {"official"},
        unknown=(404, "case_not_found"),
        area=Area.FORBIDDEN,
    ),
    # a laboratory system posts its results
    _rule("POST", "/v1/lab-results", {"official", "lab"}, area=Area.ROW),
    _rule("PUT", "/v1/risk-areas/{region_code}", {"official"}, area=Area.FORBIDDEN),
    _rule("GET", "/v1/risk-areas/{region_code}", {"official"}),
    _rule(
        "PUT",
        "/v1/persons/{person_id}/colour",
        {"official"},
        success=202,
        unknown=(404, "person_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule(
        "PUT",
        "/v1/persons/{person_id}/quarantine",
        {"official"},
        unknown=(404, "person_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule(
        "GET", "/v1/persons/{person_id}", {"official"}, unknown=(404, "person_not_found"), area=Area.FORBIDDEN
    ),
    # finding a person by ID number, reading the audit trail: officials and admins
    _rule("POST", "/v1/persons/search", {"official", "admin"}, area=Area.EMPTY),
    _rule("GET", "/v1/audit", {"official", "admin"}, area=Area.FORBIDDEN),
    _rule("GET", "/v1/overrides", {"official"}, area=Area.EMPTY),
    _rule(
        "GET",
        "/v1/overrides/{override_id}",
        {"official"},
        unknown=(404, "override_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule(
        "POST",
        "/v1/overrides/{override_id}/approve",
        {"official"},
        ownership=Ownership.SECOND_OFFICIAL,
        stranger=(403, "cannot_approve_own"),
        unknown=(404, "override_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule(
        "POST",
        "/v1/overrides/{override_id}/reject",
        {"official"},
        unknown=(404, "override_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule("GET", "/v1/appeals", {"official"}, area=Area.EMPTY),
    _rule(
        "POST",
        "/v1/appeals/{appeal_id}/answer",
        {"official"},
        unknown=(404, "appeal_not_found"),
        area=Area.FORBIDDEN,
    ),
    # reports: officials and admins (who read but never act on colours), inside their area
    _rule("GET", "/v1/reports/daily-scans", {"official", "admin"}, area=Area.FORBIDDEN),
    # alerts to the authority: officials of the venue's area (tests/security/http/test_alerts_http.py)
    _rule("GET", "/v1/alerts", {"official"}, area=Area.EMPTY),
    _rule(
        "POST",
        "/v1/alerts/{alert_id}/acknowledge",
        {"official"},
        unknown=(404, "alert_not_found"),
        area=Area.FORBIDDEN,
    ),
    _rule("GET", "/v1/reports/coverage", {"official", "admin"}, area=Area.FORBIDDEN),
    # registers and indicators: officials and admins of the area (tests/handlers/test_registers.py)
    _rule("PUT", "/v1/registers/entities", {"official", "admin"}, area=Area.ROW),
    _rule("PUT", "/v1/registers/population", {"official", "admin"}, area=Area.FORBIDDEN),
    _rule("GET", "/v1/reports/uncovered-entities", {"official", "admin"}, area=Area.FORBIDDEN),
    _rule("GET", "/v1/reports/indicators", {"official", "admin"}, area=Area.FORBIDDEN),
)

RULES: dict[str, RouteRule] = {rule.key: rule for rule in TABLE}
assert len(RULES) == len(TABLE), "a route has two rows"
