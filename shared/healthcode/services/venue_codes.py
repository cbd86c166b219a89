"""Venue codes over a venue's life: sign the compact code, keep the stored one current, reissue
it (the previous one is refused from then on) and close the venue.

* A venue's code is a compact signed JWT naming the venue and a *generation*
  (``healthcode.codes.tokens.sign_venue_code``); the poster's QR holds it as a URL on the
  stack's code base. The venue item keeps the current code and generation.
* **Reissue** (``reissue``): a damaged, forwarded or outdated poster is replaced. The generation
  moves on, the new code is stored, and a check-in with any code of an older generation is
  refused (``venue_code_revoked``) from the venue item it reads with the persons. An edit that
  changes what the poster shows reissues too.
* **Older posters**: codes printed before compact codes carry no generation; they count as
  generation 0. Venues registered before keep generation 0 (their stored code is re-signed in
  the compact form at generation 0, which revokes nothing), so their printed posters keep
  working until the first reissue moves the generation to 1.
* **Re-signing** (``current``): a stored code signed by a venue key that no longer signs is
  signed again at the same generation, so a poster printed now is never signed by a key on its
  way out of the JWKS; codes of the same generation stay valid side by side.
* **Close** (``close``): the venue and every venue under it (a complex's doors and stores, found
  with one Query on the complex root) get ``closed_at``; their codes are refused
  (``venue_closed``) and nothing is deleted: presences stay for tracing. Each venue closed is
  audited under its own subject. A door or store registered under a closed venue is refused.
* Who may: the venue's own manager; for a roadside checkpoint, any official whose area covers it.
"""

from __future__ import annotations

from typing import Any

from healthcode import clock
from healthcode.codes import jws, keystore
from healthcode.errors import Conflict, Forbidden, NotFound
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules.venues import CHECKPOINT, REISSUE_REASONS, check_venue_id, code_url
from healthcode.settings import settings
from healthcode.storage import audit
from healthcode.storage import venues as store
from healthcode.storage.venues import VenueView

__all__ = ["FIRST_GENERATION", "REISSUE_REASONS", "close", "current", "reissue", "sign", "url_of"]

logger = get_logger("venue_codes")

#: Attempts at storing a new code when other requests change the venue at the same moment.
STORE_ATTEMPTS = 3
#: The generation of a newly registered venue's code (0 is that of codes printed before).
FIRST_GENERATION = 1


def sign(venue_id: str, generation: int) -> str:
    """A compact venue code for ``venue_id`` at ``generation``."""
    return keystore.sign_venue(venue_id, generation)


def url_of(code: str) -> str:
    """The URL a poster's QR holds for ``code``: ``https://<CodeBaseUrl>/v/<code>``."""
    return code_url(code, base_url=settings().code_base_url)


def _signed_by_current_key(code: str | None) -> bool:
    if not code:
        return False
    try:
        header = jws.header(code)
    except jws.JWSError:
        return False
    return "typ" not in header and header.get("kid") == keystore.venue_signing_kid()


def current(venue: VenueView) -> VenueView:
    """``venue`` with a compact code of its current generation signed by the key that signs now
    (re-signed and stored when it was not: an older code's form, or a key rotated out). A
    closed venue is returned as it is."""
    if venue.closed or _signed_by_current_key(venue.code):
        return venue
    try:
        return store.store_code(
            venue, code=sign(venue.venue_id, venue.code_generation), generation=venue.code_generation
        )
    except (store.VenueChanged, store.VenueClosed):
        fresh = store.get(venue.venue_id)  # another request re-signed or changed it first
        if fresh is None:
            raise NotFound("venue not found", field="venue_id", code="venue_not_found") from None
        return fresh


def _acting_on(venue_id: str, who: Caller) -> VenueView:
    """The venue, if ``who`` may reissue its code or close it: its manager, or for a roadside
    checkpoint an official of its area. 404 / 403."""
    check_venue_id(venue_id)
    venue = store.get(venue_id)
    if venue is None:
        raise NotFound("venue not found", field="venue_id", code="venue_not_found")
    if who.has("venue_manager") and venue.manager_sub == who.sub:
        return venue
    if venue.venue_type == CHECKPOINT and who.has("official"):
        who.require_area(venue.region_code or "")
        return venue
    raise Forbidden("this venue is managed by another account", field="venue_id", code="not_venue_manager")


def _closed(venue_id: str) -> Conflict:
    return Conflict("this venue is closed: its code is not reissued", field="venue_id", code="venue_closed")


def reissue(venue_id: str, who: Caller, reason: str) -> dict[str, Any]:
    """Issue a new code for the venue and revoke every earlier one (the generation moves on);
    audited with ``reason``. The answer: ``{venue_id, code, code_url, generation, reissued_at}``.
    409 ``venue_closed`` for a closed venue."""
    venue = _acting_on(venue_id, who)
    for _ in range(STORE_ATTEMPTS):
        if venue.closed:
            raise _closed(venue_id)
        generation = venue.code_generation + 1
        try:
            venue = store.store_code(venue, code=sign(venue_id, generation), generation=generation)
            break
        except store.VenueClosed:
            raise _closed(venue_id) from None
        except store.VenueChanged:
            fresh = store.get(venue_id)
            if fresh is None:
                raise NotFound("venue not found", field="venue_id", code="venue_not_found") from None
            venue = fresh
    else:
        raise Conflict("the venue is being changed: try again", field="venue_id", code="venue_changed")
    now = clock.now()
    audit.append(
        audit.venue_subject(venue_id),
        "venue_code_reissued",
        actor=who.sub,
        details={"generation": venue.code_generation, "reason": reason},
        at=now,
    )
    logger.info("venue code reissued", extra={"venue_id": venue_id, "generation": venue.code_generation})
    code = str(venue.code)
    return {
        "venue_id": venue_id,
        "code": code,
        "code_url": url_of(code),
        "generation": venue.code_generation,
        "reissued_at": clock.show(now),
    }


def _under(venue_id: str, members: list[VenueView]) -> list[str]:
    """The venue and every venue below it in its complex (by their parent links), top first."""
    children: dict[str, list[str]] = {}
    for member in members:
        if member.parent_venue_id is not None:
            children.setdefault(member.parent_venue_id, []).append(member.venue_id)
    found, queue = [venue_id], [venue_id]
    while queue:
        for child in sorted(children.get(queue.pop(0), [])):
            if child not in found:
                found.append(child)
                queue.append(child)
    return found


def close(venue_id: str, who: Caller) -> None:
    """Close the venue and every door and store under it (one Query on its complex root finds
    them). Each venue's closing is audited once, at the instant it closed: closing again (a
    retry after a failure half-way) closes what is still open under it, audits what the first
    attempt did not, and otherwise changes nothing."""
    venue = _acting_on(venue_id, who)
    members = {member.venue_id: member for member in store.complex_members(venue.root_venue_id or venue_id)}
    members[venue_id] = venue
    now = clock.now()
    audited = 0
    for member_id in _under(venue_id, list(members.values())):
        closed_at = members[member_id].closed_at if member_id in members else None
        if closed_at is None:
            if store.close(member_id, now=now):
                closed_at = now
            else:  # closed a moment ago by another request (the index lags the table)
                fresh = store.get(member_id)
                closed_at = fresh.closed_at if fresh is not None else None
        if closed_at is None:
            continue
        details = {"closed_with": venue_id}
        if audit.append_once(
            audit.venue_subject(member_id),
            "venue_closed",
            actor=who.sub,
            details=details,
            at=closed_at,
            entry_id="closed",
        ):
            audited += 1
    logger.info("venue closed", extra={"venue_id": venue_id, "venues_closed": audited})
