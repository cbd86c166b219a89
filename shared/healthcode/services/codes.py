"""Personal codes after applying: who may see one, fresh signed codes and their QR images, the
colour history, paper codes for people without smartphones.

A code is visible only to the account that manages it (``owner_sub``: the applicant, or the
guardian of a dependant); any other account gets 404, as if it did not exist. Paper codes may
also be issued and printed by community workers (``COMMUNITY_WORKERS``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from healthcode import clock
from healthcode.codes import keystore, qr
from healthcode.errors import NotFound
from healthcode.protection.auth import Caller
from healthcode.rules.applications import Application
from healthcode.rules.colour import ColourDecision
from healthcode.services import applications, recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, persons
from healthcode.storage.persons import Edit, PersonView

#: Roles that may issue and print paper codes for anyone (community workers).
COMMUNITY_WORKERS: Final = ("official", "scanner")

#: Governed steps shown to the citizen beside the colour changes (every step of a manual
#: override is audited and shown in the person's history), with what each may show.
STEP_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "override_requested": ("override_id", "colour", "reason_code", "until"),
    "override_approved": ("override_id", "colour", "reason_code", "until"),
    "override_rejected": ("override_id", "colour", "reason_code"),
    "appeal_answered": ("appeal_id", "outcome"),
}


@dataclass(frozen=True)
class Code:
    """A person's colour now with a fresh dynamic code: pseudonymous subject, level, colour,
    province; nothing personal."""

    person: PersonView
    decision: ColourDecision
    token: str
    expires_at: datetime
    created: bool = False


@dataclass(frozen=True)
class Image:
    content_type: str
    body: bytes
    expires_at: datetime


@dataclass(frozen=True)
class History:
    """Colour changes (oldest first) and the steps of overrides and appeals about the person."""

    changes: list[dict[str, Any]]
    steps: list[dict[str, Any]]


@dataclass(frozen=True)
class PaperCode:
    person: PersonView
    token: str
    expires_at: datetime


def managed(person_id: str, who: Caller, *, community_workers: bool = False) -> PersonView:
    """The person if ``who`` manages their code (or is a community worker, where allowed); 404
    otherwise, so another account learns nothing about whether the code exists."""
    person = persons.get(person_id)
    if person is None or not (
        person.owner_sub == who.sub or (community_workers and who.has(*COMMUNITY_WORKERS))
    ):
        raise NotFound("no such code", code="code_not_found")
    return person


def _signed(person_id: str, decision: ColourDecision) -> tuple[str, datetime]:
    return keystore.sign(
        "code",
        subject=person_id,
        claims={"lvl": int(decision.level), "col": decision.colour, "prv": settings().province},
        lifetime=timedelta(seconds=policy().code_lifetime_seconds),
    )


def _code(person: PersonView, decision: ColourDecision, *, created: bool = False) -> Code:
    token, expires_at = _signed(person.person_id, decision)
    return Code(person=person, decision=decision, token=token, expires_at=expires_at, created=created)


def apply(form: Application, *, who: Caller, now: datetime, idempotency_key: str | None) -> Code:
    """Apply for a code (self, or a dependant) or renew the declaration, and sign the code."""
    applied = applications.apply(form, caller_sub=who.sub, now=now, idempotency_key=idempotency_key)
    return _code(applied.person, applied.decision, created=applied.created)


def of_account(who: Caller, *, now: datetime) -> list[tuple[PersonView, ColourDecision]]:
    """The account's own code and its dependants' codes, with their colour now."""
    return [(person, recolour.current(person, now=now)) for person in persons.of_owner(who.sub)]


def refresh(person_id: str, who: Caller) -> Code:
    """A fresh dynamic code: one GetItem, and the stored colour while it holds."""
    person = managed(person_id, who)
    return _code(person, recolour.current(person))


def qr_image(person_id: str, who: Caller, *, svg: bool = False) -> Image:
    """The QR image of a fresh code (PNG, or SVG)."""
    person = managed(person_id, who)
    token, expires_at = _signed(person_id, recolour.current(person))
    if svg:
        return Image("image/svg+xml", qr.qr_svg(token), expires_at)
    return Image("image/png", qr.qr_png(token), expires_at)


def history(person_id: str, who: Caller) -> History:
    """Every colour change, oldest first, with its reason and what caused it; and every step of a
    manual override or an appeal about this person (never the officials' evidence or notes)."""
    managed(person_id, who)
    kinds = frozenset({recolour.HISTORY_KIND, *STEP_FIELDS})
    changes: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for entry in audit.entries(audit.person_subject(person_id), kinds=kinds):
        if entry.kind == recolour.HISTORY_KIND:
            changes.append(
                {
                    "at": entry.at,
                    "from": entry.details.get("from"),
                    "to": entry.details.get("to"),
                    "risk_level": entry.details.get("level"),
                    "reason": entry.details.get("reason"),
                    "cause": entry.details.get("cause"),
                }
            )
        else:
            shown = {name: entry.details.get(name) for name in STEP_FIELDS[entry.kind]}
            steps.append({"at": entry.at, "kind": entry.kind, **shown})
    return History(changes=changes, steps=steps)


def issue_paper(person_id: str, who: Caller, *, now: datetime) -> PaperCode:
    """Issue a printable long-lived code (``typ`` paper) bound to the person; it revokes the one
    issued before. It carries no colour: checkpoints verify it online for the current colour."""
    managed(person_id, who, community_workers=True)
    lifetime = timedelta(days=policy().paper_code_lifetime_days)
    issued: list[tuple[str, datetime]] = []

    def change(person: PersonView) -> Edit:
        token, expires_at = keystore.sign(
            "paper", subject=person.person_id, claims={"prv": settings().province}, lifetime=lifetime
        )
        jti = str(keystore.verify(token, kinds=("paper",)).claims["jti"])
        issued.append((token, expires_at))
        entry = audit.person_entry(
            person.person_id,
            "paper_code_issued",
            actor=who.sub,
            at=now,
            details={"jti": jti, "revoked": person.paper_code_id, "expires_at": expires_at.isoformat()},
            entry_id=jti,
        )
        paper = replace(person, paper_code_id=jti, paper_code=token, paper_expires_at=expires_at)
        return Edit(person=paper, entries=(entry,))

    person = persons.edit(person_id, change)
    if person is None:
        raise NotFound("no such code", code="code_not_found")
    token, expires_at = issued[-1]
    return PaperCode(person=person, token=token, expires_at=expires_at)


def paper_image(person_id: str, who: Caller) -> Image:
    """The current paper code as a printable PNG (large modules for paper)."""
    person = managed(person_id, who, community_workers=True)
    expires_at = person.paper_expires_at
    if person.paper_code is None or expires_at is None or expires_at <= clock.now():
        raise NotFound("no paper code has been issued, or it has expired", code="no_paper_code")
    return Image("image/png", qr.qr_png(person.paper_code, box_size=12), expires_at)
