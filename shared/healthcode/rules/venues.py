"""Venues (场所码): what a registration must hold, how complexes chain, what a venue code says,
who may see whom, and how reports are written. Plain Python: no storage, no clock, no AWS.

Registration (``check_registration``)
    Every field the Jiangxi and Henan guides require, each checked on its own and refused with
    ``InvalidInput`` naming the field: ``name`` (场所名称), ``type`` (one of the venue
    types), ``subject_name`` (主体名称), ``credential_type`` + ``credential_number`` (统一社会信用
    代码 with its GB 32100 and GB 11714 checks, 工商注册号, 身份证号, or a licence plate; a
    vehicle registers under its plate and only a vehicle does; a roadside checkpoint only under
    the organisation credential of the authority running it), ``region_code`` (a current
    GB/T 2260 code inside the stack's province, at county level wherever the prefecture has
    counties: the guides ask for 地市、区县), ``location`` (required, WGS 84 in range, not the
    0,0 a device reports without a fix), ``address`` (详细地址), ``manager_phone``, and the
    optional ``zone`` (功能分区: a hall, a floor, a platform), ``store_number`` (门店编号),
    ``parent_venue_id`` and ``join_code``. Unknown fields are refused, so a misspelt optional
    field is never silently dropped.

    A mobile venue (a bus, a taxi, a ride-hailing car: type ``vehicle``, or any type the policy
    lists in ``mobile_venue_types``) registers its **depot** as its location: where the vehicle
    is based, required like any venue's position, shown on maps, counted in its region and
    exported, but never compared with a device at check-in.

Changes (``check_change``)
    A ``PATCH`` names any of ``name``, ``address``, ``manager_phone``, ``subject_name``,
    ``credential_type``, ``credential_number``, ``zone``, ``store_number``, ``location``, each
    checked as at registration; an empty change is refused (``empty_change``). A new credential
    type comes with its number; a credential of the other kind (an organisation's for a
    person's, or back) names its subject again. The type, region and complex never change
    (they decide the venue's counters, its area and its contacts): a venue that moved is
    registered anew. A change to what the poster shows (:data:`POSTER_FIELDS`) issues a new
    venue code.

Complexes (``complex_root``)
    One door one code, one store one code: a venue may sit under a parent (a mall and its
    stores, a station and its gates). The root of the chain is the complex; contact tracing
    treats presences anywhere under one root as the same complex. A parent must exist (404),
    lie in the same province, and be managed by the registering account (403): attaching a
    venue to someone else's complex would make its visitors secondary contacts of the
    complex's visitors, so only the complex's own manager may add doors and stores — or a
    store's own manager holding a join code that manager issued (:func:`check_join_code`):
    one code admits one store, once, before it expires. Parents never change, so a chain has
    no cycles and a child's root is its parent's root.

The venue code (``scanned_code``, ``check_scanned_venue``)
    A compact signed JWT naming only the venue and the code's generation
    (``healthcode.codes.tokens.sign_venue_code``); a poster's QR holds it as the URL
    ``https://<code base>/v/<code>``, and a check-in accepts that URL or the bare code. The
    check-in reads the venue item with the persons: the venue must exist, be open (a closed
    complex closes its doors and stores) and have the code's generation still current (a
    reissue moves it on). Nothing about the venue's place is in the code, so a forwarded photo
    of a poster does not say where to stand. Codes printed before compact codes (``VenueCode``:
    the venue's name, type, province, region, complex root, location, write shards and address
    in the claims) count as generation 0: they keep working until the venue's code is first
    reissued. No personal data is in either: the subject name, credential and manager phone
    are never in a code.

Mobile venues
    Types the policy lists in ``mobile_venue_types`` (a bus, a taxi) skip the distance check;
    the presence keeps the device's position rounded to ``DEVICE_LOCATION_DIGITS`` decimals
    (about 100 m) instead, never the exact fix.

Reports
    ``csv_document`` writes RFC 4180 CSV for spreadsheets and neutralises every text cell that a
    spreadsheet would read as a formula (OWASP "CSV injection"; the Luca export incident): a cell
    starting with ``=`` ``+`` ``-`` ``@``, a tab, a carriage return or a line feed, or with spaces
    and then one of the formula characters, gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from healthcode.clock import CHINA
from healthcode.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.rules import regions
from healthcode.rules.credentials import CredentialType, check_credential
from healthcode.rules.forms import check_address, check_mobile, check_text
from healthcode.rules.geo import Location, check_location, distance_m
from healthcode.rules.policy import VENUE_TYPES, Policy, RiskLevel

# --------------------------------------------------------------------------------------------
# Venue types
# --------------------------------------------------------------------------------------------

#: The poster's and reports' Chinese label of each venue type (every character in GB 2312).
VENUE_TYPE_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "residential": "居民小区",
        "village": "行政村",
        "school": "学校",
        "kindergarten": "托幼机构",
        "enterprise": "企业",
        "office": "写字楼/办公场所",
        "factory": "工厂",
        "construction_site": "建筑工地",
        "government_service": "政务服务场所",
        "farmers_market": "农贸市场",
        "mall": "商场",
        "supermarket": "超市",
        "restaurant": "餐饮门店",
        "hotel": "宾馆酒店",
        "hospital": "医院",
        "clinic": "诊所",
        "pharmacy": "药店",
        "elderly_care": "养老机构",
        "park": "公园",
        "scenic_spot": "旅游景区",
        "sports": "体育场馆",
        "library_museum": "图书馆/博物馆",
        "cinema_entertainment": "影剧院/娱乐场所",
        "internet_cafe": "网吧",
        "transit_hub": "交通场站",
        "vehicle": "交通工具",
        "checkpoint": "卡口",
        "public_toilet": "公共厕所",
        "express_point": "快递网点",
        "other": "其他场所",
    }
)

# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------

MAX_NAME_CHARS: Final = 50
MAX_SUBJECT_NAME_CHARS: Final = 100
MIN_ADDRESS_CHARS: Final = 4
MAX_ADDRESS_CHARS: Final = 120
MAX_ZONE_CHARS: Final = 50
MAX_STORE_NUMBER_CHARS: Final = 32
#: A roadside checkpoint (卡口): registered by officials only, under the organisation credential
#: of the authority that runs it (its subject), never by a venue manager.
CHECKPOINT: Final = "checkpoint"
#: Shape of a venue id (``storage.venues.new_venue_id``); anything else cannot name a venue.
VENUE_ID: Final = re.compile(r"v-[0-9a-f]{32}")


#: Credential types whose subject is an organisation (a registered business name, public in the
#: national enterprise credit system). Any other subject (an ID card, a licence plate) may be a
#: person: its name is personal data.
ORGANISATION_CREDENTIALS: Final = frozenset({"uscc", "business_licence"})


def subject_is_a_person(credential_type: CredentialType | str) -> bool:
    """Whether a venue's subject (主体) may be a person: registered by ID card or licence plate,
    not by an organisation's credential. Its name is then stored encrypted, with a keyed hash
    (what the export hands on) and a mask (what the venue's view shows)."""
    return str(credential_type) not in ORGANISATION_CREDENTIALS


@dataclass(frozen=True, slots=True)
class VenueRegistration:
    """A registration that passed every check, fields in canonical form.

    ``credential_number`` may be an ID number and ``manager_phone`` is personal: both are kept
    out of ``repr``; storage encrypts them.
    """

    name: str
    venue_type: str
    subject_name: str
    credential_type: CredentialType
    credential_number: str = field(repr=False)
    region_code: str
    location: Location
    address: str
    manager_phone: str = field(repr=False)
    parent_venue_id: str | None = None
    zone: str | None = None
    store_number: str | None = None
    join_code: str | None = field(default=None, repr=False)


def check_registration(body: Mapping[str, Any], *, province: str) -> VenueRegistration:
    """The registration in a ``POST /v1/venues`` body its spec let through, or ``InvalidInput``
    naming the first field that fails what a schema cannot say."""
    venue_name = check_text(body["name"], field="name", max_chars=MAX_NAME_CHARS)
    venue_type = check_venue_type(body["type"])
    subject_name = check_text(body["subject_name"], field="subject_name", max_chars=MAX_SUBJECT_NAME_CHARS)
    credential_type, credential_number = _check_credential(
        body["credential_type"], body["credential_number"], venue_type
    )
    region_code = check_venue_region(body["region_code"], province=province)
    location = check_venue_location(body["location"])
    address = check_address(body["address"], min_chars=MIN_ADDRESS_CHARS, max_chars=MAX_ADDRESS_CHARS)
    manager_phone = check_mobile(body["manager_phone"], field="manager_phone")
    parent = body.get("parent_venue_id")
    zone, store_number = _check_optional_text(body, "zone"), _check_optional_text(body, "store_number")
    join_code = None
    if body.get("join_code") is not None:
        join_code = check_join_code(body["join_code"])
        if parent is None:
            raise InvalidInput(
                "a join code admits a store under its complex: name the complex in parent_venue_id",
                field="parent_venue_id",
                code="missing_field",
            )
    return VenueRegistration(
        name=venue_name,
        venue_type=venue_type,
        subject_name=subject_name,
        credential_type=credential_type,
        credential_number=credential_number,
        region_code=region_code,
        location=location,
        address=address,
        manager_phone=manager_phone,
        parent_venue_id=parent,
        zone=zone,
        store_number=store_number,
        join_code=join_code,
    )


_OPTIONAL_TEXT_LIMITS: Final = {"zone": MAX_ZONE_CHARS, "store_number": MAX_STORE_NUMBER_CHARS}


def _check_optional_text(body: Mapping[str, Any], name: str) -> str | None:
    """``zone`` or ``store_number``: absent (or null) is None, else short printable text."""
    value = body.get(name)
    if value is None:
        return None
    return check_text(value, field=name, max_chars=_OPTIONAL_TEXT_LIMITS[name])


# --------------------------------------------------------------------------------------------
# Changes (PATCH)
# --------------------------------------------------------------------------------------------

#: What a manager may change. Type, region and complex are fixed (the module docstring says why).
CHANGEABLE_FIELDS: Final = (
    "name",
    "address",
    "manager_phone",
    "subject_name",
    "credential_type",
    "credential_number",
    "zone",
    "store_number",
    "location",
)
#: Fields printed on the poster: changing one issues a new venue code (the old one is revoked).
POSTER_FIELDS: Final = frozenset({"name", "address"})
#: A venue's status in lists: ``closed`` once closed (its codes refused, its records kept).
VENUE_STATUSES: Final = ("active", "closed")


@dataclass(frozen=True, slots=True)
class VenueChange:
    """A change that passed every check, values canonical; None: unchanged. ``fields`` names
    what changes (what the audit entry records; never the values)."""

    fields: tuple[str, ...]
    name: str | None = None
    address: str | None = None
    manager_phone: str | None = field(default=None, repr=False)
    subject_name: str | None = field(default=None, repr=False)
    credential_type: CredentialType | None = None
    credential_number: str | None = field(default=None, repr=False)
    zone: str | None = None
    store_number: str | None = None
    location: Location | None = None

    @property
    def shows_on_poster(self) -> bool:
        return bool(POSTER_FIELDS.intersection(self.fields))


def check_change(body: Mapping[str, Any], *, venue_type: str, credential_type: str | None) -> VenueChange:
    """The change a ``PATCH /v1/venues/{id}`` body its spec let through asks for, on a venue of
    ``venue_type`` registered under ``credential_type``; ``InvalidInput`` naming the field."""
    given = {name: value for name, value in body.items() if value is not None}
    unknown = sorted(name for name in given if name not in CHANGEABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"{unknown[0]} is not a field of this form", field=unknown[0], code="unknown_field"
        )
    if not given:
        raise InvalidInput(
            "name at least one field to change: " + ", ".join(CHANGEABLE_FIELDS), code="empty_change"
        )
    kind: CredentialType | None = None
    number: str | None = None
    if "credential_type" in given and "credential_number" not in given:
        raise InvalidInput(
            "a new credential type comes with its credential_number",
            field="credential_number",
            code="missing_field",
        )
    if "credential_number" in given:
        wanted = given.get("credential_type", credential_type)
        if wanted is None:
            raise InvalidInput(
                "name the credential_type of the number", field="credential_type", code="missing_field"
            )
        kind, number = _check_credential(wanted, given["credential_number"], venue_type)
        if (
            credential_type is not None
            and subject_is_a_person(kind) != subject_is_a_person(credential_type)
            and "subject_name" not in given
        ):
            raise InvalidInput(
                "a credential of another kind (an organisation's or a person's) names its subject_name again",
                field="subject_name",
                code="missing_field",
            )
    subject = given.get("subject_name")
    return VenueChange(
        fields=tuple(name for name in CHANGEABLE_FIELDS if name in given),
        name=check_text(given["name"], field="name", max_chars=MAX_NAME_CHARS) if "name" in given else None,
        address=check_address(given["address"], min_chars=MIN_ADDRESS_CHARS, max_chars=MAX_ADDRESS_CHARS)
        if "address" in given
        else None,
        manager_phone=check_mobile(given["manager_phone"], field="manager_phone")
        if "manager_phone" in given
        else None,
        subject_name=check_text(subject, field="subject_name", max_chars=MAX_SUBJECT_NAME_CHARS)
        if subject is not None
        else None,
        credential_type=kind,
        credential_number=number,
        zone=_check_optional_text(given, "zone"),
        store_number=_check_optional_text(given, "store_number"),
        location=check_venue_location(given["location"]) if "location" in given else None,
    )


# --------------------------------------------------------------------------------------------
# Join codes (a store's own manager registers under a complex)
# --------------------------------------------------------------------------------------------

#: Characters of a join code: capital letters and digits that cannot be misread (no I, O, 0, 1).
JOIN_CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: Characters of a join code: 16 of 32 symbols, 80 random bits.
JOIN_CODE_LENGTH: Final = 16
_JOIN_CODE_GROUP: Final = 4
_JOIN_CODE_SEPARATORS: Final = frozenset("-_ ")


def join_code_of(symbols: Sequence[int]) -> str:
    """The join code of ``JOIN_CODE_LENGTH`` random symbol values (0-31), written in groups of
    four for reading aloud: ``ABCD-EFGH-JKLM-NPQR``."""
    if len(symbols) != JOIN_CODE_LENGTH or any(not 0 <= value < len(JOIN_CODE_ALPHABET) for value in symbols):
        raise ValueError(f"a join code takes {JOIN_CODE_LENGTH} symbol values from 0 to 31")
    plain = "".join(JOIN_CODE_ALPHABET[value] for value in symbols)
    return "-".join(plain[i : i + _JOIN_CODE_GROUP] for i in range(0, JOIN_CODE_LENGTH, _JOIN_CODE_GROUP))


def check_join_code(value: object, *, field: str = "join_code") -> str:
    """A join code as typed (full-width, lower case, hyphens and spaces allowed): its canonical
    16 characters, or 422 ``invalid_join_code``. The message never repeats the code."""
    refused = InvalidInput(
        f"{field} must be the {JOIN_CODE_LENGTH}-character join code the complex's manager gave you",
        field=field,
        code="invalid_join_code",
    )
    if not isinstance(value, str) or len(value) > 64:
        raise refused
    folded = "".join(
        char for char in unicodedata.normalize("NFKC", value).upper() if char not in _JOIN_CODE_SEPARATORS
    )
    if len(folded) != JOIN_CODE_LENGTH or any(char not in JOIN_CODE_ALPHABET for char in folded):
        raise refused
    return folded


def join_code_digest(code: str) -> str:
    """What is stored of a canonical join code: its SHA-256 (hex). The code holds 80 random bits
    and lives days, so no key is needed to make the digest useless to a reader of the table."""
    return hashlib.sha256(b"join-code\x00" + code.encode("ascii")).hexdigest()


def check_venue_type(value: object, *, field: str = "type") -> str:
    if not isinstance(value, str) or value not in VENUE_TYPES:
        raise InvalidInput(
            f"{field} must be one of " + ", ".join(sorted(VENUE_TYPES)),
            field=field,
            code="invalid_venue_type",
        )
    return value


def _check_credential(credential_type: str, number: str, venue_type: str) -> tuple[CredentialType, str]:
    canonical = check_credential(credential_type, number)
    kind = CredentialType(credential_type)
    if venue_type == CHECKPOINT and credential_type not in ORGANISATION_CREDENTIALS:
        raise InvalidInput(
            "a checkpoint registers under its authority's organisation credential (uscc or business_licence)",
            field="credential_type",
            code="credential_type_mismatch",
        )
    if (venue_type == "vehicle") != (kind == CredentialType.LICENCE_PLATE):
        message = (
            "a vehicle registers under its licence plate (credential_type licence_plate)"
            if venue_type == "vehicle"
            else "only a vehicle registers under a licence plate; use uscc, business_licence or id_number"
        )
        raise InvalidInput(message, field="credential_type", code="credential_type_mismatch")
    return kind, canonical


def check_venue_region(value: object, *, province: str, field: str = "region_code") -> str:
    """A current GB/T 2260 code inside ``province``, as specific as the area allows: a county
    (区县), or a prefecture-level city that has no counties (e.g. 东莞市 441900)."""
    code = regions.check_region_code(value, field=field)
    if not regions.in_province(code, province):
        raise InvalidInput(
            f"{field} {code} is not inside this province ({province})",
            field=field,
            code="region_outside_province",
        )
    if code == province or has_counties(code):
        raise InvalidInput(
            f"{field} {code} is a {'province' if code == province else 'prefecture'}: "
            "choose the county (区县)",
            field=field,
            code="region_too_coarse",
        )
    return code


def has_counties(code: str) -> bool:
    """Whether a prefecture-level code (``xxxx00``) has current county-level codes under it."""
    if not code.endswith("00") or code.endswith("0000"):
        return False
    return any(regions.is_region(f"{code[:4]}{n:02d}") for n in range(1, 100))


def check_venue_location(value: object, *, field: str = "location") -> Location:
    """The venue's position: valid WGS 84, and not exactly 0,0 (what a device without a fix
    reports; the guides require an on-site fix)."""
    location = check_location(value, field=field)
    if location.lat == 0 and location.lng == 0:
        raise InvalidInput("location is 0,0: take the position on site", field=field, code="invalid_location")
    return location


def check_venue_id(value: object, *, field: str = "venue_id", what: str = "venue") -> str:
    """A well-formed venue id; anything else names no venue (404)."""
    if not isinstance(value, str) or not VENUE_ID.fullmatch(value):
        raise NotFound(f"{what} not found", field=field, code=f"{what.replace(' ', '_')}_not_found")
    return value


# --------------------------------------------------------------------------------------------
# Applicants (Jiangxi: only a green-code holder may apply)
# --------------------------------------------------------------------------------------------


def check_applicant(policy: Policy, own_levels: Sequence[RiskLevel]) -> None:
    """Under ``venue_applicant_must_be_green`` the applying account must hold a code of its own
    (not a dependant's) and every such code must be green now; otherwise 403."""
    if not policy.venue_applicant_must_be_green:
        return
    if not own_levels:
        raise Forbidden(
            "only a holder of a green health code may apply for a venue code: apply for your own code first",
            code="applicant_code_required",
        )
    if any(level != RiskLevel.GREEN for level in own_levels):
        raise Forbidden(
            "only a holder of a green health code may apply for a venue code", code="applicant_not_green"
        )


# --------------------------------------------------------------------------------------------
# Complexes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParentVenue:
    """What the complex rule needs to know about a registered parent venue."""

    venue_id: str
    root_venue_id: str
    region_code: str
    manager_sub: str
    closed: bool = False


def complex_root(
    registration: VenueRegistration,
    parent: ParentVenue | None,
    *,
    venue_id: str,
    manager_sub: str,
    province: str,
    joined: bool = False,
) -> str:
    """The complex root of a new venue: itself without a parent, else its parent's root.

    ``parent`` is the registered venue ``registration.parent_venue_id`` names (None when there
    is no such venue); ``joined``: the registration holds a join code that parent's manager
    issued for it (still to be used up in the registration's own write). Refused: an unknown
    parent (404 ``parent_not_found``), a parent in another province (422
    ``parent_outside_province``), a parent managed by another account without a join code (403
    ``not_parent_manager``).
    """
    if registration.parent_venue_id is None:
        return venue_id
    if parent is None or parent.venue_id != registration.parent_venue_id:
        raise NotFound("parent venue not found", field="parent_venue_id", code="parent_not_found")
    if not regions.in_province(parent.region_code, province):
        raise InvalidInput(
            "the parent venue is in another province", field="parent_venue_id", code="parent_outside_province"
        )
    if parent.closed:
        raise Conflict("the parent venue is closed", field="parent_venue_id", code="parent_closed")
    if parent.manager_sub != manager_sub and not joined:
        raise Forbidden(
            "only the parent venue's manager may register doors and stores under it",
            field="parent_venue_id",
            code="not_parent_manager",
        )
    return parent.root_venue_id or parent.venue_id


# --------------------------------------------------------------------------------------------
# The venue code
# --------------------------------------------------------------------------------------------

#: Digits kept of a coordinate in a code: 6 decimals is ~0.1 m, more than any fix is worth.
COORDINATE_DIGITS: Final = 6
#: Why a venue's code is reissued (audited): a damaged, forwarded or lost poster, or an edit of
#: what the poster shows (``changed``).
REISSUE_REASONS: Final = ("damaged", "forwarded", "lost", "changed", "other")
#: The path of a poster's URL before the code: ``https://<code base>/v/<code>``.
CODE_URL_PATH: Final = "/v/"


def code_url(code: str, *, base_url: str) -> str:
    """The URL a poster's QR holds: a phone's camera, WeChat or Alipay opens it."""
    return f"https://{base_url}{CODE_URL_PATH}{code}"


def scanned_code(value: str, *, base_url: str) -> str:
    """The venue code in what a phone scanned: the poster's URL on this stack's code base, or
    the bare code. A URL of another host, path or scheme is refused (``invalid_venue_code``)."""
    text = value.strip()
    if "://" not in text and "/" not in text:
        return text
    prefix = code_url("", base_url=base_url)
    if not text.lower().startswith(prefix.lower()):
        raise InvalidInput(
            "this is not a venue code of this province", field="venue_code", code="invalid_venue_code"
        )
    code = text[len(prefix) :]
    if not code or "/" in code or "?" in code or "#" in code:
        raise InvalidInput("the venue code URL holds no code", field="venue_code", code="invalid_venue_code")
    return code


@dataclass(frozen=True, slots=True)
class ScannedVenue:
    """The venue a check-in read with its persons: what the refusals and the presence need."""

    venue_id: str
    name: str
    address: str
    venue_type: str
    region_code: str
    root_venue_id: str
    location: Location | None
    shards: int
    generation: int
    closed: bool


def check_scanned_venue(venue: ScannedVenue | None, *, code_generation: int) -> ScannedVenue:
    """The venue a verified code names, if a check-in may go ahead there: refused when the
    venue is unknown (``invalid_venue_code``), closed (``venue_closed``) or when the code is of
    an older generation than the venue's current one (``venue_code_revoked``)."""
    if venue is None or code_generation > venue.generation:
        raise InvalidInput("this venue code names no venue", field="venue_code", code="invalid_venue_code")
    if venue.closed:
        raise InvalidInput(
            "this venue is closed: its codes are no longer accepted", field="venue_code", code="venue_closed"
        )
    if code_generation < venue.generation:
        raise InvalidInput(
            "this venue code was replaced: scan the venue's current poster",
            field="venue_code",
            code="venue_code_revoked",
        )
    return venue


#: Decimals kept of a device's position at a mobile venue: 3 is about 100 m.
DEVICE_LOCATION_DIGITS: Final = 3


def rounded_location(location: Location, digits: int = DEVICE_LOCATION_DIGITS) -> Location:
    """A position rounded to ``digits`` decimals (what a presence at a mobile venue keeps)."""
    return Location(lat=round(location.lat, digits), lng=round(location.lng, digits))


def is_mobile(policy: Policy, venue_type: str) -> bool:
    """Whether the policy treats venues of this type as moving (no distance check)."""
    return venue_type in policy.mobile_venue_types


@dataclass(frozen=True, slots=True)
class VenueCode:
    """What a venue code printed before compact codes says: the venue's name, type, province,
    region, complex root, location, write shards and address (read back with ``from_claims``;
    a check-in now takes all of them from the venue item)."""

    venue_id: str
    name: str
    venue_type: str
    province: str
    region_code: str
    root_venue_id: str
    location: Location
    shards: int
    address: str

    def claims(self) -> dict[str, Any]:
        """The JWT claims (the venue id is the code's ``sub``)."""
        return {
            "name": self.name,
            "vtype": self.venue_type,
            "prv": self.province,
            "rgn": self.region_code,
            "root": self.root_venue_id,
            "lat": round(self.location.lat, COORDINATE_DIGITS),
            "lng": round(self.location.lng, COORDINATE_DIGITS),
            "shd": self.shards,
            "addr": self.address,
        }

    @classmethod
    def from_claims(cls, subject: str, claims: Mapping[str, Any]) -> VenueCode:
        """Read a verified code's claims back; a code missing any is refused as invalid."""

        def refuse(why: str) -> InvalidInput:
            return InvalidInput(f"venue code refused: {why}", field="venue_code", code="invalid_venue_code")

        texts = {}
        for key in ("name", "vtype", "prv", "rgn", "root", "addr"):
            value = claims.get(key)
            if not isinstance(value, str) or not value:
                raise refuse(f"claim {key} missing")
            texts[key] = value
        shards = claims.get("shd")
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise refuse("claim shd missing")
        coordinates = []
        for key in ("lat", "lng"):
            value = claims.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise refuse(f"claim {key} missing")
            coordinates.append(float(value))
        if not VENUE_ID.fullmatch(subject) or not VENUE_ID.fullmatch(texts["root"]):
            raise refuse("not a venue id")
        return cls(
            venue_id=subject,
            name=texts["name"],
            venue_type=texts["vtype"],
            province=texts["prv"],
            region_code=texts["rgn"],
            root_venue_id=texts["root"],
            location=Location(lat=coordinates[0], lng=coordinates[1]),
            shards=shards,
            address=texts["addr"],
        )


# --------------------------------------------------------------------------------------------
# Check-ins
# --------------------------------------------------------------------------------------------

#: Companions one check-in may bring (family members without phones); a bigger group scans one by one.
MAX_COMPANIONS: Final = 9
CHECKIN_FIELDS: Final = frozenset({"venue_code", "person_id", "companions", "location"})
#: Shape of a person id (``storage.persons.new_person_id``): letters, digits, ``-`` and ``_``.
PERSON_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class CheckinRequest:
    """A validated ``POST /v1/checkins`` body. ``people`` pairs each person id with the request
    field that named it (``person_id`` or ``companions[i]``), the scanning person first."""

    venue_code: str
    people: tuple[tuple[str, str], ...]
    location: Location

    @property
    def person_ids(self) -> tuple[str, ...]:
        return tuple(person_id for person_id, _ in self.people)


def check_checkin(body: Mapping[str, Any]) -> CheckinRequest:
    """The check-in in a request body, or ``InvalidInput`` naming the field. Each person is
    one presence ("no one scan, many enter"): companions are listed one by one, never twice."""
    unknown = sorted(str(key) for key in body if key not in CHECKIN_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0], code="unknown_field")
    code = body.get("venue_code")
    if not isinstance(code, str) or not code:
        raise InvalidInput(
            "venue_code must be the scanned venue code", field="venue_code", code="missing_field"
        )
    people = [(_check_person_id(body.get("person_id"), "person_id"), "person_id")]
    companions = body.get("companions")
    if companions is None:
        companions = []
    if not isinstance(companions, list):
        raise InvalidInput(
            "companions must be a list of person ids", field="companions", code="invalid_companions"
        )
    if len(companions) > MAX_COMPANIONS:
        raise InvalidInput(
            f"at most {MAX_COMPANIONS} companions check in with one scan; the others scan themselves",
            field="companions",
            code="too_many_companions",
        )
    seen = {people[0][0]}
    for index, value in enumerate(companions):
        where = f"companions[{index}]"
        person_id = _check_person_id(value, where)
        if person_id in seen:
            raise InvalidInput("each person checks in once per scan", field=where, code="duplicate_person")
        seen.add(person_id)
        people.append((person_id, where))
    if body.get("location") is None:
        raise InvalidInput("location is required", field="location", code="missing_field")
    return CheckinRequest(venue_code=code, people=tuple(people), location=check_location(body["location"]))


def _check_person_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not PERSON_ID.fullmatch(value):
        raise InvalidInput(f"{field} must be a person id", field=field, code="invalid_person_id")
    return value


def check_distance(device: Location, venue: Location, *, max_distance_m: int) -> float:
    """The device's distance from the venue's registered position, metres; ``location_mismatch``
    when farther than ``max_distance_m`` (a forwarded photo of a poster scanned elsewhere)."""
    distance = distance_m(device, venue)
    if distance > max_distance_m:
        raise InvalidInput(
            f"this device is more than {max_distance_m} m from the venue: scan the poster at the venue",
            field="location",
            code="location_mismatch",
        )
    return distance


# --------------------------------------------------------------------------------------------
# Managers' views
# --------------------------------------------------------------------------------------------


def manager_sees_identity(policy: Policy, level: RiskLevel | int) -> bool:
    """Whether a venue's manager may see who a visitor at ``level`` is (``manager_sees_identities``:
    Jiangxi never, Fujian's management side for non-green visitors)."""
    seen = policy.manager_sees_identities
    return seen == "always" or (seen == "non_green" and int(level) != RiskLevel.GREEN)


def china_day(instant: datetime) -> str:
    """The China-local calendar day (``YYYY-MM-DD``) of an instant: what stats are kept by."""
    return instant.astimezone(CHINA).date().isoformat()


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def report_day(value: object, *, now: datetime, field: str = "date") -> str:
    """The ``?date=`` of a stats or report request: ``YYYY-MM-DD``, a real day, not after today
    (China time); absent means today."""
    today = china_day(now)
    if value is None or value == "":
        return today
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise InvalidInput(f"{field} must be a day written YYYY-MM-DD", field=field, code="invalid_date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} is not a real calendar day", field=field, code="invalid_date") from None
    if day.isoformat() > today:
        raise InvalidInput(f"{field} is in the future", field=field, code="invalid_date")
    return day.isoformat()


# --------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------


def coverage_levels(region_code: str) -> tuple[str, ...]:
    """The regions a venue counts in, most specific first: its county, its prefecture, its
    province (a prefecture-level city without counties is its own county)."""
    prefecture = region_code[:4] + "00"
    province = region_code[:2] + "0000"
    levels: list[str] = []
    for code in (region_code, prefecture, province):
        if code not in levels:
            levels.append(code)
    return tuple(levels)


def child_region(parent: str, region_code: str) -> str | None:
    """The region one level below ``parent`` that ``region_code`` lies in, or None."""
    levels = coverage_levels(region_code)
    if parent not in levels:
        return None
    index = levels.index(parent)
    return levels[index - 1] if index > 0 else None


Requirement = Literal["mandatory", "encouraged", "none"]


def requirement(policy: Policy, venue_type: str) -> Requirement:
    if venue_type in policy.mandatory_venue_types:
        return "mandatory"
    if venue_type in policy.encouraged_venue_types:
        return "encouraged"
    return "none"


@dataclass(frozen=True, slots=True)
class Coverage:
    """Venue codes in a region by type, against the province's mandatory list (Fujian's 强制)."""

    region_code: str
    venues: int
    by_type: Mapping[str, int]
    by_region: Mapping[str, int]
    mandatory_types: tuple[str, ...]
    mandatory_covered: tuple[str, ...]

    @property
    def mandatory_missing(self) -> tuple[str, ...]:
        covered = set(self.mandatory_covered)
        return tuple(t for t in self.mandatory_types if t not in covered)


def coverage(
    region_code: str, by_type: Mapping[str, int], by_region: Mapping[str, int], policy: Policy
) -> Coverage:
    """Totals from the coverage counters; a type counts as covered with at least one venue."""
    counts = {t: int(n) for t, n in by_type.items() if t in VENUE_TYPES and int(n) > 0}
    mandatory = tuple(sorted(policy.mandatory_venue_types))
    return Coverage(
        region_code=region_code,
        venues=sum(counts.values()),
        by_type=dict(sorted(counts.items())),
        by_region={code: int(n) for code, n in sorted(by_region.items()) if int(n) > 0},
        mandatory_types=mandatory,
        mandatory_covered=tuple(t for t in mandatory if counts.get(t, 0) > 0),
    )


# --------------------------------------------------------------------------------------------
# CSV for spreadsheets
# --------------------------------------------------------------------------------------------

#: A text cell starting with one of these is read as a formula (or breaks the row) by spreadsheets.
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r\n")
#: After leading spaces, these still start a formula in some spreadsheets.
_FORMULA_AFTER_SPACES: Final = frozenset("=+-@")
_SPACES: Final = " \u3000\u00a0"
NEUTRALISER: Final = "'"


def neutralise(cell: str) -> str:
    """``cell`` safe to open in a spreadsheet: an apostrophe is put before a cell that starts with
    ``= + - @``, a tab, CR or LF, or with spaces and then ``= + - @``. Other cells are unchanged."""
    if not cell:
        return cell
    after_spaces = cell.lstrip(_SPACES)
    if cell[0] in FORMULA_TRIGGERS or (after_spaces and after_spaces[0] in _FORMULA_AFTER_SPACES):
        return NEUTRALISER + cell
    return cell


def csv_cell(value: object) -> str:
    """A value as a CSV cell: numbers as written, None empty, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return neutralise(str(value))


#: A byte order mark first: spreadsheets then read the file as UTF-8 (Chinese names).
BOM: Final = "\ufeff"


def csv_document(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed) with a BOM, every cell neutralised."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()
