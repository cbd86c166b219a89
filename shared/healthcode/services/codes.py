"""Personal codes after applying: who may see one, fresh signed codes and their QR images, the
colour history, paper codes for people without smartphones.

A code is visible only to the account that manages it (``owner_sub``: the applicant, or the
guardian of a dependant); any other account gets 404, as if it did not exist.

Paper codes are issued and printed only by someone who may act for the person:

* the managing account (``POST /v1/codes/{person_id}/paper``, ``GET …/paper.png``);
* an official, with a reason (the body's ``reason``, or ``?reason=`` to print), each time
  audited on the person with the reason (``paper_code_issued`` / ``paper_code_printed``);
* checkpoint staff only for a person they register in person at a checkpoint they are assigned
  to, in that same request (``issue_paper_code: true`` on a manual registration): the
  verifications service calls :func:`issue_paper_for_registration` after its own checks.

* staff applying for someone without a phone (``assisted: true`` on ``POST /v1/codes``): a
  scanner at a checkpoint it is assigned to (``checkpoint_id``; else ``403 not_assigned``) or
  an official of the person's area; the answer carries the new paper code
  (:func:`apply`), audited with the checkpoint. At most the policy's
  ``manual_registrations_per_hour_limit`` assisted applications an account an hour.

No route gives a scanner anyone else's paper code: a scanner account is refused
(``403 forbidden_role``) on the paper routes unless it also holds ``citizen`` and manages the
person, and every other account that does not manage the person gets 404.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from healthcode import clock
from healthcode.codes import keystore, qr
from healthcode.errors import Forbidden, InvalidInput, NotFound
from healthcode.protection.auth import Caller
from healthcode.rules.applications import Application
from healthcode.rules.colour import ColourDecision, LabResult
from healthcode.services import account_limits, applications, recolour
from healthcode.settings import policy, settings
from healthcode.storage import audit, persons
from healthcode.storage import staff as staff_store
from healthcode.storage.persons import Edit, PersonView

#: Roles that may call the paper-code routes: the managing account (a citizen) and officials
#: (with a reason). Checkpoint staff get a paper code only with a registration they make.
PAPER_ROLES: Final = ("citizen", "official")
#: Longest reason an official may give for issuing or printing someone's paper code.
PAPER_REASON_MAX: Final = 500

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
    #: The paper code of an assisted application: ``{token, expires_at, png_base64}``.
    paper: dict[str, Any] | None = None
    #: The latest result of each test (nucleic acid, IgG antibody), on a refreshed code.
    tests: tuple[LabResult, ...] = ()


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

    def png(self, *, issued_on: datetime | None = None) -> bytes:
        """The labelled printable card of this paper code."""
        return _paper_card(self.person, self.token, self.expires_at, issued_on=issued_on)


def managed(person_id: str, who: Caller) -> PersonView:
    """The person if ``who`` manages their code; 404 otherwise, so another account learns
    nothing about whether the code exists."""
    person = persons.get(person_id)
    if person is None or person.owner_sub != who.sub:
        raise NotFound("no such code", code="code_not_found")
    return person


def _signed(person_id: str, decision: ColourDecision) -> tuple[str, datetime]:
    """The compact personal code (``keystore.sign_personal``): the person id and the level only;
    the colour name is the province's palette's, shown beside the code, not carried in it."""
    return keystore.sign_personal(
        person_id,
        level=int(decision.level),
        colour=decision.colour,
        lifetime=timedelta(seconds=policy().code_lifetime_seconds),
    )


def _code(person: PersonView, decision: ColourDecision, *, created: bool = False) -> Code:
    token, expires_at = _signed(person.person_id, decision)
    return Code(person=person, decision=decision, token=token, expires_at=expires_at, created=created)


def apply(form: Application, *, who: Caller, now: datetime, idempotency_key: str | None) -> Code:
    """Apply for a code (self, or a dependant) or renew the declaration, and sign the code
    (at most the policy's ``applications_per_day_limit`` an account: 429 ``rate_limited``).
    An assisted application (``form.assisted``) is staff's: see the module docstring."""
    if form.assisted:
        return _apply_assisted(form, who=who, now=now, idempotency_key=idempotency_key)
    who.require("citizen")
    account_limits.application(who.sub, now=now)
    applied = applications.apply(form, caller_sub=who.sub, now=now, idempotency_key=idempotency_key)
    return _code(applied.person, applied.decision, created=applied.created)


def _assisting(form: Application, who: Caller) -> dict[str, Any]:
    """Who applies for someone without a phone, for the audit trail: an official of the area of
    the person's region, or a scanner assigned to ``form.checkpoint_id``."""
    if who.has("official"):
        who.require_area(form.region_code)  # 403 outside_area
        return {"by": "official"}
    if not who.has("scanner"):
        raise Forbidden(
            "an assisted application is made by checkpoint staff or an official", code="forbidden_role"
        )
    if form.checkpoint_id is None:
        raise InvalidInput(
            "checkpoint_id is required: the checkpoint you are assigned to",
            field="checkpoint_id",
            code="missing_field",
        )
    from healthcode.storage import venues as venue_store  # assisted applications only

    venue = venue_store.get(form.checkpoint_id)
    root = None if venue is None else (venue.root_venue_id or venue.venue_id)
    if venue is None or not staff_store.assigned(venue.venue_id, root, who.sub):
        raise Forbidden("you are not assigned to this checkpoint", field="checkpoint_id", code="not_assigned")
    return {"by": "checkpoint_staff", "checkpoint_id": venue.venue_id}


def _apply_assisted(form: Application, *, who: Caller, now: datetime, idempotency_key: str | None) -> Code:
    """Staff's application for someone without a phone, with the person's new paper code."""
    details = _assisting(form, who)
    account_limits.assisted_application(who.sub, now=now)
    applied = applications.apply_assisted(
        form, staff_sub=who.sub, details=details, now=now, idempotency_key=idempotency_key, staff=who
    )
    person = applied.person
    if applied.created and person.paper_code and person.paper_expires_at and person.paper_expires_at > now:
        # A retry (same Idempotency-Key) of an application that issued this paper code: the card
        # printed the first time stays the valid one.
        issued = PaperCode(person=person, token=person.paper_code, expires_at=person.paper_expires_at)
        card = issued.png()
    else:
        issued = _issue(person.person_id, actor=who.sub, now=now, details={**details, "channel": "assisted"})
        card = issued.png(issued_on=now)
    paper_code = {
        "token": issued.token,
        "expires_at": clock.show(issued.expires_at),
        "png_base64": base64.b64encode(card).decode("ascii"),
    }
    code = _code(issued.person, applied.decision, created=applied.created)
    return replace(code, paper=paper_code)


def of_account(who: Caller, *, now: datetime) -> list[tuple[PersonView, ColourDecision]]:
    """The account's own code and its dependants' codes, with their colour now."""
    return [(person, recolour.current(person, now=now)) for person in persons.of_owner(who.sub)]


def refresh(person_id: str, who: Caller) -> Code:
    """A fresh dynamic code: one GetItem, and the stored colour while it holds (with the latest
    result of each test, stored with it)."""
    person = managed(person_id, who)
    code = _code(person, recolour.current(person))
    return replace(code, tests=code.decision.tests)


def qr_image(person_id: str, who: Caller, *, svg: bool = False, now: datetime | None = None) -> Image:
    """The QR image of a fresh code (PNG, or SVG) in the colour of the code, with the province's
    brand, the masked name and the time of issue."""
    person = managed(person_id, who)
    decision = recolour.current(person)
    token, expires_at = _signed(person_id, decision)
    issued = (now or clock.now()).astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M:%S")
    label = {"colour": decision.colour, "brand": policy().brand, "name_masked": person.name_masked}
    if svg:
        return Image("image/svg+xml", qr.personal_svg(token, **label, issued_at=issued), expires_at)
    return Image("image/png", qr.personal_png(token, **label, issued_at=issued), expires_at)


#: What a front end shows under a code of each colour, by language (other colours: the default).
_DISPLAY_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "green": {"zh": "绿码：健康状况正常，请出示此码通行", "en": "Green: show this code to pass"},
    "yellow": {
        "zh": "黄码：请按要求进行核酸检测或健康监测",
        "en": "Yellow: take the tests or monitoring asked",
    },
    "orange": {"zh": "橙码：请登记并尽快进行核酸检测", "en": "Orange: register and take a nucleic acid test"},
    "red": {"zh": "红码：请配合隔离医学观察", "en": "Red: follow the quarantine instructions"},
}
_DISPLAY_DEFAULT: Final = {"zh": "请按防疫要求出示此码", "en": "Show this code as epidemic rules require"}


def display(decision: ColourDecision, *, language: str = "zh") -> dict[str, str]:
    """``{colour_hex, brand, message}`` of a code for front ends, the message in ``language``."""
    texts = _DISPLAY_MESSAGES.get(decision.colour, _DISPLAY_DEFAULT)
    return {
        "colour_hex": qr.colour_hex(decision.colour),
        "brand": policy().brand,
        "message": texts["en" if language == "en" else "zh"],
    }


def history(person_id: str, who: Caller, *, language: str = "zh") -> History:
    """Every colour change, oldest first, with its reason and what caused it; and every step of a
    manual override or an appeal about this person (never the officials' evidence or notes).
    Reasons are as written at the change (Chinese); in English they are named again from the
    reason codes the change stored."""
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
                    "reason": _history_reason(entry.details, language),
                    "cause": entry.details.get("cause"),
                }
            )
        else:
            shown = {name: entry.details.get(name) for name in STEP_FIELDS[entry.kind]}
            steps.append({"at": entry.at, "kind": entry.kind, **shown})
    return History(changes=changes, steps=steps)


def _history_reason(details: Mapping[str, Any], language: str) -> Any:
    if language == "zh" or not isinstance(details.get("reasons"), list):
        return details.get("reason")
    return recolour.history_text(
        [str(code) for code in details["reasons"]], str(details.get("cause") or ""), language
    )


# -- paper codes -----------------------------------------------------------------------------------


def check_paper_reason(value: Any) -> str | None:
    """An official's reason for acting on someone's paper code, trimmed; None when absent or
    blank. No control characters (line breaks and tabs of a text box are fine)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("reason must be text", field="reason", code="invalid_type")
    reason = value.strip()
    if not reason:
        return None
    if len(reason) > PAPER_REASON_MAX or any(
        (ord(char) < 0x20 and char not in "\t\n\r") or ord(char) == 0x7F for char in reason
    ):
        raise InvalidInput(
            f"reason must be 1-{PAPER_REASON_MAX} characters without control characters",
            field="reason",
            code="invalid_reason",
        )
    return reason


def _acting_for(person_id: str, who: Caller, reason: str | None) -> tuple[PersonView, dict[str, Any]]:
    """The person, if ``who`` may act on their paper code, and what the audit entry says about
    who acted: the managing account, or an official with a reason (``422 missing_field`` without
    one). 404 for anyone else, as for a code that does not exist."""
    person = persons.get(person_id)
    if person is None:
        raise NotFound("no such code", code="code_not_found")
    if person.owner_sub == who.sub and who.has("citizen"):
        return person, {"by": "manager"}
    if who.has("official"):
        who.require_area(person.region_code)  # 403 outside_area
        if reason is None:
            raise InvalidInput(
                "an official must give the reason for acting on someone's paper code",
                field="reason",
                code="missing_field",
            )
        return person, {"by": "official", "reason": reason}
    raise NotFound("no such code", code="code_not_found")


def _issue(
    person_id: str,
    *,
    actor: str,
    now: datetime,
    details: Mapping[str, Any],
    issue_id: str | None = None,
) -> PaperCode:
    """Sign a new paper code for the person, revoking the one before; audited in the same write.
    ``issue_id`` (from a request's Idempotency-Key) becomes the code's ``jti``: a concurrent retry
    of that request finds its code already issued and answers the same code instead of revoking
    it with a second one."""
    lifetime = timedelta(days=policy().paper_code_lifetime_days)
    issued: list[tuple[str, datetime]] = []

    def change(person: PersonView) -> Edit | None:
        if issue_id is not None and person.paper_code_id == issue_id and person.paper_code:
            issued.append((person.paper_code, person.paper_expires_at or now))
            return None
        claims = {"prv": settings().province, **({"jti": issue_id} if issue_id else {})}
        token, expires_at = keystore.sign("paper", subject=person.person_id, claims=claims, lifetime=lifetime)
        jti = str(keystore.verify(token, kinds=("paper",)).claims["jti"])
        issued.append((token, expires_at))
        entry = audit.person_entry(
            person.person_id,
            "paper_code_issued",
            actor=actor,
            at=now,
            details={
                **details,
                "jti": jti,
                "revoked": person.paper_code_id,
                "expires_at": expires_at.isoformat(),
            },
            entry_id=jti,
        )
        renewed = replace(person, paper_code_id=jti, paper_code=token, paper_expires_at=expires_at)
        return Edit(person=renewed, entries=(entry,))

    person = persons.edit(person_id, change)
    if person is None:
        raise NotFound("no such code", code="code_not_found")
    token, expires_at = issued[-1]
    return PaperCode(person=person, token=token, expires_at=expires_at)


def issue_paper(person_id: str, who: Caller, *, now: datetime, reason: str | None = None) -> PaperCode:
    """Issue a printable long-lived code (``typ`` paper) bound to the person; it revokes the one
    issued before. It carries no colour: checkpoints verify it online for the current colour.
    For the managing account, or an official giving ``reason`` (audited with it)."""
    person, acted = _acting_for(person_id, who, reason)
    return _issue(person.person_id, actor=who.sub, now=now, details=acted)


def issue_paper_for_registration(
    person_id: str, staff_sub: str, checkpoint_id: str, now: datetime, *, issue_id: str | None = None
) -> dict[str, Any]:
    """A paper code for a person checkpoint staff register in person, in that same request
    (``issue_paper_code: true`` on a manual registration). The caller (the verifications service)
    has checked that ``staff_sub`` is assigned to ``checkpoint_id`` and has just registered or
    identified the person there; this issues the code, audited with the checkpoint, and answers
    ``{token, expires_at, png_base64}`` (the labelled printable card, base64)."""
    details = {"by": "checkpoint_staff", "checkpoint_id": checkpoint_id, "channel": "manual_registration"}
    issued = _issue(person_id, actor=staff_sub, now=now, details=details, issue_id=issue_id)
    return {
        "token": issued.token,
        "expires_at": clock.show(issued.expires_at),
        "png_base64": base64.b64encode(issued.png()).decode("ascii"),
    }


def _paper_card(
    person: PersonView, token: str, expires_at: datetime, *, issued_on: datetime | None = None
) -> bytes:
    """The card of a paper code; the issue date is the signing day (its expiry less the policy's
    lifetime) unless given."""
    rules = policy()
    issued = issued_on or (expires_at - timedelta(days=rules.paper_code_lifetime_days))
    from healthcode.codes import paper  # the card's drawing (fonts, layout) only where one is drawn

    return paper.paper_png(
        token,
        province_name=rules.name,
        brand=rules.brand,
        name_masked=person.name_masked,
        id_masked=person.id_masked,
        issued_on=issued.astimezone(clock.CHINA).date().isoformat(),
        valid_until=expires_at.astimezone(clock.CHINA).date().isoformat(),
    )


def paper_image(
    person_id: str, who: Caller, *, reason: str | None = None, now: datetime | None = None
) -> Image:
    """The current paper code as a labelled printable PNG, for the managing account or an
    official giving ``reason`` (each print by an official audited with it)."""
    person, acted = _acting_for(person_id, who, reason)
    at = now or clock.now()
    expires_at = person.paper_expires_at
    if person.paper_code is None or expires_at is None or expires_at <= at:
        raise NotFound("no paper code has been issued, or it has expired", code="no_paper_code")
    if acted["by"] == "official":
        audit.append(
            audit.person_subject(person.person_id),
            "paper_code_printed",
            actor=who.sub,
            at=at,
            details={**acted, "jti": person.paper_code_id},
        )
    return Image("image/png", _paper_card(person, person.paper_code, expires_at), expires_at)
