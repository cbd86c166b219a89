"""One request spec per route: the JSON Schemas of what it takes (body, query, headers) and
answers. The same specs validate request bodies at run time (:func:`check_body`, compiled with
fastjsonschema on a route's first request) and make the served OpenAPI document
(:mod:`healthcode.edge.openapi`), so the two cannot drift.

A schema failure is answered ``422`` naming the field by its dotted path (``declaration.travel.0
.region_code``) with one code per mistake: ``unknown_field``, ``missing_field`` (absent or
``null``: optional fields may be ``null``, read as absent), ``invalid_type``, or the code a schema
names with the extension keywords below; any other broken constraint is ``invalid_<field>``.
What a schema cannot say (check characters, signatures, current region codes) the rules check
after it.

``x-error-code``
    A code for every failure of the value (a string), or per JSON Schema keyword (an object such
    as ``{"maxItems": "too_many_trips"}``). A string code also covers everything inside the
    value (a bad ``location.lng`` is an ``invalid_location`` of ``location``).
``x-missing-code``
    The code when this (required) property is absent or ``null``; ``missing_field`` otherwise.
``x-error-field``
    On an object: the property a failure of the object's own keywords (``oneOf``) is put on.
``x-blank-is-missing``
    On an object: a required string property that is blank counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import fastjsonschema

from healthcode.errors import InvalidInput
from healthcode.rules.applications import MAX_TRIPS
from healthcode.rules.colour import SYMPTOMS
from healthcode.rules.credentials import CredentialType
from healthcode.rules.forms import ADDRESS_MAX, ADDRESS_MIN, NAME_MAX, TEMPERATURE_MAX, TEMPERATURE_MIN
from healthcode.rules.policy import VENUE_TYPES
from healthcode.rules.registers import MAX_ROWS as ENTITY_ROWS_MAX
from healthcode.rules.registers import POPULATION_MAX
from healthcode.rules.venues import REISSUE_REASONS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null`` (an optional field the handler reads as absent when null)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, Schema], required: tuple[str, ...] = (), *, closed: bool = True) -> Schema:
    """An object; ``closed``: unknown fields are refused (the handlers' ``unknown_field``)."""
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def answer(properties: Mapping[str, Schema], required: tuple[str, ...]) -> Schema:
    """A JSON answer: the fields docs/api.md promises are required; more fields may come."""
    return obj(properties, required, closed=False)


def text(min_length: int = 1, max_length: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", "minLength": min_length, **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def coded(schema: Schema, code: str | Mapping[str, str]) -> Schema:
    """``schema`` whose failures are answered with ``code`` (see the module docstring)."""
    return {**schema, "x-error-code": code if isinstance(code, str) else dict(code)}


def missing_as(schema: Schema, code: str) -> Schema:
    """``schema`` of a required property whose absence is answered with ``code``."""
    return {**schema, "x-missing-code": code}


#: A person's name (``healthcode.rules.forms.check_name`` checks the letters).
PERSON_NAME: Schema = coded(text(1, NAME_MAX, pattern=r"\S"), "invalid_name")


STRING: Schema = {"type": "string"}
INSTANT: Schema = {"type": "string", "format": "date-time"}
RISK_LEVEL: Schema = {"type": "integer", "enum": [0, 1, 2], "description": "0 green, 1 yellow, 2 red"}
IDEMPOTENCY_CODES = r"^[!-~]{1,128}$"
IDEMPOTENCY = r"^[!-~]{1,255}$"

#: Shared pieces, published under ``components/schemas``.
COMPONENTS: dict[str, Schema] = {
    "RegionCode": {
        "type": "string",
        "x-error-code": "invalid_region_code",
        "pattern": "^[0-9]{6}$",
        "description": "GB/T 2260 administrative division code of the current revision",
        "examples": ["520102"],
    },
    "IdNumber": {
        "type": "string",
        "x-error-code": "invalid_id_number",
        "minLength": 5,
        "maxLength": 40,
        "description": "The number of the identity document id_type names (default resident_id: GB "
        "11643, 17 digits and the MOD 11-2 check character, a real birth date, a GB/T 2260 province "
        "prefix or 810000/820000/830000); full-width digits are read as ASCII",
    },
    "IdType": {
        "type": "string",
        "x-error-code": "invalid_id_type",
        "enum": ["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_resident"],
        "description": "Identity document type of id_number (default resident_id)",
    },
    "Nationality": {
        "type": "string",
        "x-error-code": "invalid_nationality",
        "minLength": 3,
        "maxLength": 3,
        "description": "ISO 3166-1 alpha-3 code printed on a passport (passports only)",
        "examples": ["USA"],
    },
    "MobilePhone": {
        "type": "string",
        "x-error-code": "invalid_phone",
        "minLength": 11,
        "description": "Mainland mobile number, 1[3-9] and nine digits; spaces, hyphens and a leading "
        "+86 or 86 are allowed",
        "examples": ["13800138000", "+86 138-0013-8000"],
    },
    "PersonId": {
        "type": "string",
        "x-error-code": "invalid_person_id",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "description": "A person id as the API hands it out (p-...)",
    },
    "Location": {
        "type": "object",
        "x-error-code": "invalid_location",
        "required": ["lat", "lng"],
        "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lng": {"type": "number", "minimum": -180, "maximum": 180},
        },
        "description": "WGS 84 decimal degrees (other keys are ignored)",
    },
    "Temperature": {
        "type": "number",
        "x-error-code": "invalid_temperature",
        "minimum": int(TEMPERATURE_MIN),
        "maximum": int(TEMPERATURE_MAX),
        "description": "Body temperature, degrees Celsius",
    },
    "Trip": {
        **obj({"region_code": ref("RegionCode"), "left_at": INSTANT}, ("region_code", "left_at")),
        "x-blank-is-missing": True,
    },
    "Declaration": obj(
        {
            "symptoms": coded(
                {"type": "array", "items": {"type": "string", "enum": sorted(SYMPTOMS)}},
                {"enum": "unknown_symptom"},
            ),
            "temperature": nullable(ref("Temperature")),
            "travel": coded(
                {"type": "array", "maxItems": MAX_TRIPS, "items": ref("Trip")}, {"maxItems": "too_many_trips"}
            ),
            "contact_with_case": {"type": "boolean"},
            "contact_with_fever": nullable(
                {"type": "boolean", "description": "Contact with people with fever or respiratory symptoms"}
            ),
        },
        ("symptoms", "travel", "contact_with_case"),
    ),
    "LabRow": obj(
        {
            "id_number": ref("IdNumber"),
            "id_type": nullable(ref("IdType")),
            "nationality": nullable(ref("Nationality")),
            "sampled_at": {**INSTANT, "maxLength": 40},
            "result": {"type": "string", "enum": ["negative", "positive"]},
            "test": nullable({"type": "string", "enum": ["nucleic_acid", "igg_antibody"]}),
        },
        ("id_number", "sampled_at", "result"),
    ),
    "CodeAnswer": answer(
        {
            "person_id": STRING,
            "colour": STRING,
            "risk_level": RISK_LEVEL,
            "reason": STRING,
            "token": STRING,
            "expires_at": INSTANT,
            "valid_for_seconds": {
                "type": "integer",
                "minimum": 0,
                "description": "Seconds from this answer to expires_at on the server's clock: a page "
                "schedules its refresh from when it received the answer, whatever the phone's clock says",
            },
            "name_masked": STRING,
            "id_masked": STRING,
            "id_type": STRING,
            "display": answer(
                {"colour_hex": {**STRING, "pattern": "^#[0-9A-F]{6}$"}, "brand": STRING, "message": STRING},
                ("colour_hex", "brand", "message"),
            ),
            "paper_code": ref("PaperCode"),
            "tests": {
                "type": "array",
                "description": "The latest result of each test (GET /v1/codes/{person_id})",
                "items": answer(
                    {
                        "test": {"type": "string", "enum": ["nucleic_acid", "igg_antibody"]},
                        "result": {"type": "string", "enum": ["negative", "positive"]},
                        "sampled_at": INSTANT,
                    },
                    ("test", "result", "sampled_at"),
                ),
            },
        },
        ("person_id", "colour", "risk_level", "reason", "token", "expires_at", "name_masked", "id_masked"),
    ),
    "Verdict": answer(
        {
            "scan_id": STRING,
            "verdict": STRING,
            "colour": STRING,
            "risk_level": RISK_LEVEL,
            "abnormal": {"type": "boolean"},
            "person": answer(
                {"name_masked": nullable(STRING), "id_masked": nullable(STRING)}, ("name_masked", "id_masked")
            ),
        },
        ("scan_id", "verdict", "colour", "risk_level", "abnormal"),
    ),
    "Override": answer(
        {"override_id": STRING, "person_id": STRING, "status": STRING, "colour": STRING},
        ("override_id", "person_id", "status"),
    ),
    "Appeal": answer(
        {"appeal_id": STRING, "person_id": STRING, "status": STRING}, ("appeal_id", "person_id", "status")
    ),
    # an official's act waiting for (or decided by) a second official (services.approvals)
    "CaseStatusStep": answer(
        {"status": STRING, "at": INSTANT, "by": nullable(STRING)}, ("status", "at", "by")
    ),
    "HeldAct": answer(
        {
            "request_id": STRING,
            "kind": {
                "type": "string",
                "enum": ["case", "case_status", "lab_results", "risk_area", "quarantine", "quarantine_lift"],
            },
            "status": {"type": "string", "enum": ["pending_approval", "approved", "applied", "rejected"]},
        },
        ("request_id", "status"),
    ),
    "Alert": answer(
        {
            "alert_id": STRING,
            "venue_id": STRING,
            "venue_name": nullable(STRING),
            "region_code": STRING,
            "scanned_at": INSTANT,
            "colour": STRING,
            "risk_level": RISK_LEVEL,
            "temperature": nullable({"type": "number"}),
            "verdict": STRING,
            "person": answer(
                {"name_masked": nullable(STRING), "id_masked": nullable(STRING)}, ("name_masked", "id_masked")
            ),
            "status": {"type": "string", "enum": ["open", "acknowledged"]},
            "acknowledged_by": nullable(STRING),
            "acknowledged_at": nullable(INSTANT),
        },
        (
            "alert_id",
            "venue_id",
            "venue_name",
            "region_code",
            "scanned_at",
            "colour",
            "risk_level",
            "temperature",
            "verdict",
            "person",
            "status",
        ),
    ),
    "StaffAssignment": answer(
        {"venue_id": STRING, "sub": STRING, "assigned_at": INSTANT}, ("venue_id", "sub", "assigned_at")
    ),
    "PaperCode": answer(
        {
            "token": STRING,
            "expires_at": INSTANT,
            "png_base64": {**STRING, "contentEncoding": "base64", "contentMediaType": "image/png"},
        },
        ("token", "expires_at", "png_base64"),
    ),
    "RiskArea": answer(
        {"region_code": STRING, "level": {"type": "string", "enum": ["high", "medium", "low"]}},
        ("region_code", "level"),
    ),
}


@dataclass(frozen=True)
class Operation:
    """One route: its request body (None: it reads none), parameters and success answers."""

    answers: Mapping[str, Schema]
    body: Schema | None = None
    body_required: bool = True
    query: tuple[Schema, ...] = ()
    headers: tuple[Schema, ...] = ()


def json_answer(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def image(media_type: str, description: str) -> Schema:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }


def query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def idempotency_key(pattern: str) -> Schema:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": pattern},
        "description": "Makes a retry answer like the first attempt (24 hours); reused with another "
        "body: 422 idempotency_key_reused",
    }


DATE = query(
    "date",
    {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"},
    "A day YYYY-MM-DD (China time), not after today; absent or empty: today",
)
REPORT_REGION = query(
    "region_code",
    {"type": "string", "pattern": "^([0-9]{6})?$"},
    "A current GB/T 2260 code inside the province; absent or empty: the province",
)
LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size (default 500)")
NEXT = query("next", STRING, "The `next` token of the previous page")
PAGE_LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (default 100)")
CURSOR = query("cursor", STRING, "The `next_cursor` of the previous page (another: 422 invalid_cursor)")
VENUE_ZONE = coded({**text(1, 50), "description": "功能分区: a hall, a floor, a platform"}, "invalid_zone")
VENUE_STORE_NUMBER = coded({**text(1, 32), "description": "门店编号"}, "invalid_store_number")
#: A venue in a list (GET /v1/venues).
LISTED_VENUE = answer(
    {
        "venue_id": STRING,
        "name": STRING,
        "type": STRING,
        "address": STRING,
        "region_code": STRING,
        "parent_venue_id": nullable(STRING),
        "zone": nullable(STRING),
        "store_number": nullable(STRING),
        "status": {"type": "string", "enum": ["active", "closed"]},
    },
    ("venue_id", "name", "type", "address", "region_code", "parent_venue_id", "status"),
)


OPERATIONS: dict[str, Operation] = {
    # -- public ---------------------------------------------------------------------------------
    "GET /v1/health": Operation(
        answers={
            "200": json_answer(
                "The stack is up and its policy validates",
                answer(
                    {"status": {"type": "string", "const": "ok"}, "province": ref("RegionCode")},
                    ("status", "province"),
                ),
            )
        }
    ),
    "GET /.well-known/jwks.json": Operation(
        answers={
            "200": json_answer(
                "Every public key that may have signed a live code",
                answer({"keys": {"type": "array", "items": {"type": "object"}}}, ("keys",)),
            )
        }
    ),
    "GET /v1/openapi.json": Operation(
        answers={
            "200": json_answer(
                "This document",
                answer({"openapi": STRING, "paths": {"type": "object"}}, ("openapi", "paths")),
            )
        }
    ),
    # -- citizen --------------------------------------------------------------------------------
    "POST /v1/codes": Operation(
        body={
            **obj(
                {
                    "name": PERSON_NAME,
                    "id_number": ref("IdNumber"),
                    "id_type": nullable(ref("IdType")),
                    "nationality": nullable(ref("Nationality")),
                    "phone": nullable(ref("MobilePhone")),
                    "address": coded(text(ADDRESS_MIN, ADDRESS_MAX), "invalid_address"),
                    "region_code": ref("RegionCode"),
                    "declaration": ref("Declaration"),
                    "dependant": nullable({"type": "boolean"}),
                    "dependant_reason": nullable(
                        coded(
                            {
                                "type": "string",
                                "enum": ["disability", "elderly", "minor"],
                                "description": "Why an adult is a dependant (required for one of 18-59)",
                            },
                            "invalid_dependant_reason",
                        )
                    ),
                    "residence": nullable(
                        obj(
                            {
                                "region_code": ref("RegionCode"),
                                "venue_id": nullable(coded(text(1, 128), "invalid_venue_id")),
                                "building": nullable(coded(text(1, 64), "invalid_building")),
                            },
                            ("region_code",),
                        )
                    ),
                    "assisted": nullable(
                        {
                            "type": "boolean",
                            "description": "Staff applying for someone without a phone (phone optional; "
                            "the answer adds paper_code)",
                        }
                    ),
                    "checkpoint_id": nullable(
                        coded(
                            {
                                **text(1, 128, pattern=r"^[!-~]+$"),
                                "description": "An assisting scanner's checkpoint (a venue id)",
                            },
                            "invalid_input",
                        )
                    ),
                    "link_code": nullable(
                        coded(
                            {
                                **STRING,
                                "description": "Link code: 10 characters; case, spaces, hyphens free",
                            },
                            "invalid_link_code",
                        )
                    ),
                },
                ("name", "id_number", "address", "region_code", "declaration"),
            ),
            "x-blank-is-missing": True,
        },
        headers=(idempotency_key(IDEMPOTENCY_CODES),),
        answers={
            "201": json_answer("A new code", ref("CodeAnswer")),
            "200": json_answer(
                "The same account renewing its declaration (or taking a code over)", ref("CodeAnswer")
            ),
        },
    ),
    "GET /v1/codes": Operation(
        answers={
            "200": json_answer(
                "The account's own code and its dependants' codes",
                answer(
                    {
                        "codes": {
                            "type": "array",
                            "items": answer(
                                {
                                    "person_id": STRING,
                                    "colour": STRING,
                                    "risk_level": RISK_LEVEL,
                                    "name_masked": STRING,
                                },
                                ("person_id", "colour", "risk_level", "name_masked"),
                            ),
                        }
                    },
                    ("codes",),
                ),
            )
        }
    ),
    "GET /v1/codes/{person_id}": Operation(answers={"200": json_answer("A fresh code", ref("CodeAnswer"))}),
    "GET /v1/codes/{person_id}/qr.png": Operation(
        answers={"200": image("image/png", "QR image of a fresh code")}
    ),
    "GET /v1/codes/{person_id}/qr.svg": Operation(
        answers={"200": image("image/svg+xml", "QR image of a fresh code")}
    ),
    "GET /v1/codes/{person_id}/history": Operation(
        answers={
            "200": json_answer(
                "Every colour change, and every override and appeal step",
                answer(
                    {
                        "changes": {
                            "type": "array",
                            "items": answer(
                                {"at": STRING, "from": {}, "to": {}, "reason": {}},
                                ("at", "from", "to", "reason"),
                            ),
                        }
                    },
                    ("changes",),
                ),
            )
        }
    ),
    "GET /v1/codes/{person_id}/appeals": Operation(
        answers={
            "200": json_answer(
                "The person's appeals, oldest first, with the officials' answers",
                answer(
                    {
                        "appeals": {
                            "type": "array",
                            "items": answer(
                                {
                                    "appeal_id": STRING,
                                    "created_at": INSTANT,
                                    "reason": STRING,
                                    "status": STRING,
                                    "answer": nullable(STRING),
                                    "answered_at": nullable(INSTANT),
                                },
                                ("appeal_id", "created_at", "reason", "status", "answer", "answered_at"),
                            ),
                        }
                    },
                    ("appeals",),
                ),
            )
        }
    ),
    "POST /v1/codes/{person_id}/appeals": Operation(
        body={
            **obj({"reason": coded(text(1, 500, pattern=r"\S"), "invalid_reason")}, ("reason",)),
            "x-blank-is-missing": True,
        },
        headers=(idempotency_key(IDEMPOTENCY_CODES),),
        answers={"201": json_answer("The appeal, open", answer({"appeal_id": STRING}, ("appeal_id",)))},
    ),
    "POST /v1/codes/{person_id}/links": Operation(
        answers={
            "201": json_answer(
                "A one-time link code (24 hours)",
                answer(
                    {"person_id": STRING, "link_code": STRING, "expires_at": INSTANT},
                    ("person_id", "link_code", "expires_at"),
                ),
            )
        }
    ),
    "POST /v1/codes/{person_id}/paper": Operation(
        # the managing account sends no body; an official must give a reason (audited)
        body=obj({"reason": nullable(coded(text(1, 500), "invalid_reason"))}),
        body_required=False,
        answers={
            "201": json_answer(
                "A printable paper code; the one before is revoked",
                answer(
                    {"person_id": STRING, "token": STRING, "expires_at": INSTANT, "png_base64": STRING},
                    ("person_id", "token", "expires_at", "png_base64"),
                ),
            )
        },
    ),
    "GET /v1/codes/{person_id}/paper.png": Operation(
        query=(
            query(
                "reason",
                {"type": "string", "maxLength": 500},
                "Officials: why they print someone's paper code (required for them, audited)",
            ),
        ),
        answers={"200": image("image/png", "The current paper code as a labelled printable card")},
    ),
    "POST /v1/checkins": Operation(
        body=obj(
            {
                "venue_code": coded(text(1), "missing_field"),  # as check_checkin has always answered
                "person_id": ref("PersonId"),
                "companions": nullable(
                    coded(
                        {
                            "type": "array",
                            "maxItems": 9,
                            "items": ref("PersonId"),
                            "description": "People in the caller's care; each person once per scan "
                            "(duplicate_person)",
                        },
                        {
                            "type": "invalid_companions",
                            "maxItems": "too_many_companions",
                        },
                    )
                ),
                "location": ref("Location"),
            },
            ("venue_code", "person_id", "location"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={
            "201": json_answer(
                "One presence per person",
                answer(
                    {
                        "venue": answer(
                            {"venue_id": STRING, "name": STRING, "address": STRING},
                            ("venue_id", "name", "address"),
                        ),
                        "scanned_at": INSTANT,
                        "checkins": {
                            "type": "array",
                            "minItems": 1,
                            "items": answer(
                                {
                                    "person_id": STRING,
                                    "colour": STRING,
                                    "risk_level": RISK_LEVEL,
                                    "verdict": STRING,
                                },
                                ("person_id", "colour", "risk_level", "verdict"),
                            ),
                        },
                    },
                    ("venue", "scanned_at", "checkins"),
                ),
            )
        },
    ),
    # -- checkpoint staff -----------------------------------------------------------------------
    "POST /v1/verifications": Operation(
        body=obj(
            {
                "code": coded(text(1, 4096, pattern=r"\S"), "invalid_code"),
                "checkpoint_id": coded(text(1, 128, pattern=r"\S"), "invalid_input"),
                "temperature": nullable(ref("Temperature")),
            },
            ("code", "checkpoint_id"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={"200": json_answer("The verdict and the stored scan", ref("Verdict"))},
    ),
    "POST /v1/manual-registrations": Operation(
        body=obj(
            {
                "name": PERSON_NAME,
                "id_number": ref("IdNumber"),
                "id_type": nullable(ref("IdType")),
                "nationality": nullable(ref("Nationality")),
                "phone": nullable(ref("MobilePhone")),
                "temperature": ref("Temperature"),
                "checkpoint_id": coded(text(1, 128, pattern=r"\S"), "invalid_input"),
                "issue_paper_code": nullable(
                    {
                        "type": "boolean",
                        "description": "true: the answer adds the person's new printable paper code "
                        "(the one before is revoked)",
                    }
                ),
            },
            ("name", "id_number", "temperature", "checkpoint_id"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={
            "201": json_answer(
                "The verdict and the stored scan (never the person's id); with issue_paper_code, "
                "paper_code: {token, expires_at, png_base64}",
                {"allOf": [ref("Verdict"), answer({"paper_code": ref("PaperCode")}, ())]},
            )
        },
    ),
    # -- venue managers -------------------------------------------------------------------------
    "POST /v1/venues": Operation(
        body=obj(
            {
                "name": coded(text(1, 50), "invalid_name"),
                "type": coded({"type": "string", "enum": sorted(VENUE_TYPES)}, "invalid_venue_type"),
                "subject_name": coded(text(1, 100), "invalid_subject_name"),
                "credential_type": coded(
                    {"type": "string", "enum": sorted(kind.value for kind in CredentialType)},
                    "invalid_credential_type",
                ),
                "credential_number": coded(
                    {
                        **text(1),
                        "description": "USCC, business licence or ID number (licence plate for a vehicle); "
                        "full-width characters and spaces are normalised",
                    },
                    "invalid_credential",
                ),
                "region_code": {**ref("RegionCode"), "description": "a county (区县) inside the province"},
                "location": ref("Location"),
                "address": coded(text(4, 120), "invalid_address"),
                "manager_phone": ref("MobilePhone"),
                "parent_venue_id": nullable(
                    coded(
                        {
                            "type": "string",
                            "description": "A venue id (v- and 32 hex digits); others name no venue (404)",
                        },
                        "invalid_venue_id",
                    )
                ),
                "zone": nullable(VENUE_ZONE),
                "store_number": nullable(VENUE_STORE_NUMBER),
                "join_code": nullable(
                    coded(
                        {
                            **text(1, 64),
                            "description": "A store's own manager: the one-time join code the parent "
                            "venue's manager issued (POST /v1/venues/{venue_id}/join-codes)",
                        },
                        "invalid_join_code",
                    )
                ),
            },
            (
                "name",
                "type",
                "subject_name",
                "credential_type",
                "credential_number",
                "region_code",
                "location",
                "address",
                "manager_phone",
            ),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={
            "201": json_answer(
                "The venue and its venue code (``code_url``: what the poster's QR holds)",
                answer(
                    {
                        "venue_id": STRING,
                        "code": STRING,
                        "code_url": STRING,
                        "code_expires_at": nullable(INSTANT),
                    },
                    ("venue_id", "code"),
                ),
            )
        },
    ),
    "GET /v1/venues/{venue_id}": Operation(
        answers={
            "200": json_answer(
                "The venue as registered, with its code",
                answer(
                    {"venue_id": STRING, "name": STRING, "type": STRING, "code": STRING},
                    ("venue_id", "name", "type", "code"),
                ),
            )
        }
    ),
    "GET /v1/venues": Operation(
        query=(
            query(
                "region_code",
                {"type": "string", "pattern": "^([0-9]{6})?$"},
                "Officials and admins: a county, prefecture or the province inside their area (default: "
                "the whole area; outside it 403 outside_area); managers: only their own venues there",
            ),
            query("type", {"type": "string", "enum": sorted(VENUE_TYPES)}, "Only venues of this type"),
            query("status", {"type": "string", "enum": ["active", "closed"]}, "Only active or closed venues"),
            PAGE_LIMIT,
            CURSOR,
        ),
        answers={
            "200": json_answer(
                "One page of venues: a manager's own, or an official's area, in region, type and id order",
                answer(
                    {"venues": {"type": "array", "items": LISTED_VENUE}, "next_cursor": nullable(STRING)},
                    ("venues", "next_cursor"),
                ),
            )
        },
    ),
    "PATCH /v1/venues/{venue_id}": Operation(
        body=obj(
            {
                "name": nullable(coded(text(1, 50), "invalid_name")),
                "address": nullable(coded(text(4, 120), "invalid_address")),
                "manager_phone": nullable(ref("MobilePhone")),
                "subject_name": nullable(coded(text(1, 100), "invalid_subject_name")),
                "credential_type": nullable(
                    coded(
                        {"type": "string", "enum": sorted(kind.value for kind in CredentialType)},
                        "invalid_credential_type",
                    )
                ),
                "credential_number": nullable(
                    coded({**text(1), "description": "Checked as at registration"}, "invalid_credential")
                ),
                "zone": nullable(VENUE_ZONE),
                "store_number": nullable(VENUE_STORE_NUMBER),
                "location": nullable(ref("Location")),
            },
        ),
        answers={
            "200": json_answer(
                "The venue as changed; code_reissued: the poster's content changed, so a new code "
                "was issued and the previous one revoked",
                answer(
                    {
                        "venue_id": STRING,
                        "name": STRING,
                        "type": STRING,
                        "code": STRING,
                        "code_reissued": {"type": "boolean"},
                        "zone": nullable(STRING),
                        "store_number": nullable(STRING),
                    },
                    ("venue_id", "name", "type", "code", "code_reissued"),
                ),
            )
        },
    ),
    "POST /v1/venues/{venue_id}/join-codes": Operation(
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={
            "201": json_answer(
                "A one-time join code (shown once; only its digest is stored) and when it expires",
                answer({"join_code": STRING, "expires_at": INSTANT}, ("join_code", "expires_at")),
            )
        },
    ),
    "GET /v1/venues/{venue_id}/poster.png": Operation(
        answers={"200": image("image/png", "Printable poster")}
    ),
    "GET /v1/venues/{venue_id}/poster.svg": Operation(
        answers={"200": image("image/svg+xml", "Printable poster")}
    ),
    "GET /v1/venues/{venue_id}/stats": Operation(
        query=(DATE,),
        answers={
            "200": json_answer(
                "The venue's scans on a day",
                answer(
                    {
                        "date": STRING,
                        "scans": {"type": "integer", "minimum": 0},
                        "abnormal": {"type": "integer", "minimum": 0},
                        "by_colour": {"type": "object"},
                    },
                    ("date", "scans", "abnormal", "by_colour"),
                ),
            )
        },
    ),
    "GET /v1/venues/{venue_id}/alerts": Operation(
        query=(DATE,),
        answers={
            "200": json_answer(
                "The venue's abnormal scans on a day",
                answer(
                    {
                        "alerts": {
                            "type": "array",
                            "items": answer(
                                {
                                    "scanned_at": STRING,
                                    "colour": STRING,
                                    "temperature": {},
                                    "person": {"type": "object"},
                                },
                                ("scanned_at", "colour", "temperature", "person"),
                            ),
                        }
                    },
                    ("alerts",),
                ),
            )
        },
    ),
    # -- reports --------------------------------------------------------------------------------
    "GET /v1/reports/daily-scans": Operation(
        query=(
            DATE,
            REPORT_REGION,
            query(
                "format",
                {"type": "string", "enum": ["json", "csv"]},
                "csv: a spreadsheet (as Accept: text/csv)",
            ),
            PAGE_LIMIT,
            CURSOR,
        ),
        answers={
            "200": {
                "description": "Scans per unit on a day in a region",
                "content": {
                    "application/json": {
                        "schema": answer(
                            {
                                "date": STRING,
                                "units": {
                                    "type": "array",
                                    "items": answer(
                                        {
                                            "venue_id": STRING,
                                            "name": nullable(STRING),
                                            "scans": {"type": "integer"},
                                            "abnormal": {"type": "integer"},
                                        },
                                        ("venue_id", "name", "scans", "abnormal"),
                                    ),
                                },
                                "next_cursor": nullable(STRING),
                            },
                            ("date", "units", "next_cursor"),
                        )
                    },
                    "text/csv": {"schema": STRING},
                },
            }
        },
    ),
    "GET /v1/reports/coverage": Operation(
        query=(REPORT_REGION,),
        answers={
            "200": json_answer(
                "Venue codes by type and by region",
                answer(
                    {
                        "region_code": STRING,
                        "by_type": {"type": "array"},
                        "by_region": {
                            "type": "array",
                            "items": answer(
                                {
                                    "region_code": STRING,
                                    "venues": {"type": "integer"},
                                    "entities": {"type": "integer"},
                                    "with_code": {"type": "integer"},
                                    "rate": nullable({"type": "number"}),
                                },
                                ("region_code", "venues", "entities", "with_code", "rate"),
                            ),
                        },
                        "entities": {"type": "integer"},
                        "with_code": {"type": "integer"},
                        "rate": nullable({"type": "number"}),
                    },
                    ("region_code", "by_type", "by_region", "entities", "with_code", "rate"),
                ),
            )
        },
    ),
    # -- registers and indicators (officials and admins of an area) -----------------------------
    "PUT /v1/registers/entities": Operation(
        body=obj(
            {
                "entities": coded(
                    {"type": "array", "maxItems": ENTITY_ROWS_MAX, "items": {}},
                    {"maxItems": "too_many_rows", "type": "invalid_type"},
                )
            },
            ("entities",),
        ),
        answers={
            "200": json_answer(
                "Rows taken (upserted by credit code) and rows refused, each with its index, error and field",
                answer(
                    {
                        "accepted": {"type": "integer"},
                        "rejected": {
                            "type": "array",
                            "items": answer(
                                {"index": {"type": "integer"}, "error": STRING, "field": nullable(STRING)},
                                ("index", "error", "field"),
                            ),
                        },
                    },
                    ("accepted", "rejected"),
                ),
            )
        },
    ),
    "PUT /v1/registers/population": Operation(
        body=obj(
            {
                "regions": coded(
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1000,
                        "items": obj(
                            {
                                "region_code": ref("RegionCode"),
                                "population": coded(
                                    {"type": "integer", "minimum": 0, "maximum": POPULATION_MAX},
                                    "invalid_population",
                                ),
                            },
                            ("region_code", "population"),
                        ),
                    },
                    {"maxItems": "too_many_rows", "minItems": "missing_field"},
                )
            },
            ("regions",),
        ),
        answers={
            "200": json_answer(
                "The regions' population is registered",
                answer({"updated": {"type": "integer"}}, ("updated",)),
            )
        },
    ),
    "GET /v1/reports/uncovered-entities": Operation(
        query=(REPORT_REGION, PAGE_LIMIT, CURSOR),
        answers={
            "200": json_answer(
                "One page of the region's register entities without a venue code",
                answer(
                    {
                        "entities": {
                            "type": "array",
                            "items": answer(
                                {"credit_code": STRING, "name": STRING, "region_code": STRING},
                                ("credit_code", "name", "region_code"),
                            ),
                        },
                        "next_cursor": nullable(STRING),
                    },
                    ("entities", "next_cursor"),
                ),
            )
        },
    ),
    "GET /v1/reports/indicators": Operation(
        query=(
            REPORT_REGION,
            query(
                "from",
                {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"},
                "First day (default today)",
            ),
            query(
                "to",
                {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"},
                "Last day (default today); at most 31 days",
            ),
        ),
        answers={
            "200": json_answer(
                "The assessment indicators (docs/indicators.md); a share is null without a denominator",
                answer(
                    {
                        "application_rate": nullable({"type": "number"}),
                        "verification_rate": answer(
                            {
                                "mandatory_scan_share": nullable({"type": "number"}),
                                "active_mandatory_venue_share": nullable({"type": "number"}),
                            },
                            ("mandatory_scan_share", "active_mandatory_venue_share"),
                        ),
                        "data_accuracy": answer(
                            {
                                "refused_share": nullable({"type": "number"}),
                                "complete_record_share": nullable({"type": "number"}),
                            },
                            ("refused_share", "complete_record_share"),
                        ),
                        "colour_change_timeliness": answer(
                            {
                                "count": {"type": "integer"},
                                "p50_seconds": nullable({"type": "integer"}),
                                "p95_seconds": nullable({"type": "integer"}),
                                "max_seconds": nullable({"type": "integer"}),
                                "distribution": {
                                    "type": "array",
                                    "items": answer(
                                        {
                                            "up_to_seconds": nullable({"type": "integer"}),
                                            "count": {"type": "integer"},
                                        },
                                        ("up_to_seconds", "count"),
                                    ),
                                },
                                "by_cause": {"type": "object"},
                            },
                            (
                                "count",
                                "p50_seconds",
                                "p95_seconds",
                                "max_seconds",
                                "distribution",
                                "by_cause",
                            ),
                        ),
                    },
                    ("application_rate", "verification_rate", "data_accuracy", "colour_change_timeliness"),
                ),
            )
        },
    ),
    "PUT /v1/venues/{venue_id}/staff/{sub}": Operation(
        answers={
            "200": json_answer(
                "The account is assigned (assigning again answers the standing assignment)",
                ref("StaffAssignment"),
            )
        }
    ),
    "POST /v1/venues/{venue_id}/code": Operation(
        body=obj(
            {
                "reason": nullable(
                    coded(
                        {
                            "type": "string",
                            "enum": list(REISSUE_REASONS),
                            "description": "Why the poster is replaced (audited; default other)",
                        },
                        "invalid_reason_code",
                    )
                )
            }
        ),
        body_required=False,
        answers={
            "201": json_answer(
                "A new venue code; every earlier one is refused at check-in (venue_code_revoked)",
                answer(
                    {
                        "venue_id": STRING,
                        "code": STRING,
                        "code_url": STRING,
                        "generation": {"type": "integer", "minimum": 1},
                        "reissued_at": INSTANT,
                    },
                    ("venue_id", "code", "code_url", "generation", "reissued_at"),
                ),
            )
        },
    ),
    "DELETE /v1/venues/{venue_id}": Operation(
        answers={
            "204": {
                "description": "The venue is closed, with every door and store under it; their codes "
                "are refused at check-in (venue_closed) and their records kept"
            }
        }
    ),
    "DELETE /v1/venues/{venue_id}/staff/{sub}": Operation(
        answers={"204": {"description": "The account is not (or no longer) assigned to the venue"}}
    ),
    "GET /v1/venues/{venue_id}/staff": Operation(
        query=(PAGE_LIMIT, CURSOR),
        answers={
            "200": json_answer(
                "One page of the venue's staff, in account order",
                answer(
                    {
                        "staff": {
                            "type": "array",
                            "items": answer({"sub": STRING, "assigned_at": INSTANT}, ("sub", "assigned_at")),
                        },
                        "next_cursor": nullable(STRING),
                    },
                    ("staff", "next_cursor"),
                ),
            )
        },
    ),
    # -- health officials -----------------------------------------------------------------------
    "POST /v1/cases": Operation(
        body={
            **obj(
                {
                    "person_id": nullable(
                        coded(
                            {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
                            "invalid_person_id",
                        )
                    ),
                    "id_number": nullable(ref("IdNumber")),
                    "id_type": nullable(ref("IdType")),
                    "nationality": nullable(ref("Nationality")),
                    "status": coded(
                        {"type": "string", "enum": ["confirmed", "asymptomatic", "suspected"]},
                        "invalid_status",
                    ),
                    "diagnosed_at": coded({**INSTANT, "maxLength": 40}, "invalid_diagnosed_at"),
                },
                ("status", "diagnosed_at"),
            ),
            "oneOf": [
                {
                    "required": ["person_id"],
                    "properties": {"person_id": {"not": {"type": "null"}}, "id_number": {"type": "null"}},
                },
                {
                    "required": ["id_number"],
                    "properties": {"id_number": {"not": {"type": "null"}}, "person_id": {"type": "null"}},
                },
            ],
            "description": "The person by person_id or by id_number: exactly one of them",
            "x-error-code": {"oneOf": "person_required"},
            "x-error-field": "person_id",
        },
        answers={
            "202": json_answer(
                "The case; the person is red, tracing runs",
                {
                    "anyOf": [
                        answer(
                            {"case_id": STRING, "person_id": STRING, "status": STRING, "tracing": STRING},
                            ("case_id",),
                        ),
                        ref("HeldAct"),
                    ]
                },
            )
        },
    ),
    "GET /v1/cases/{case_id}": Operation(
        answers={
            "200": json_answer(
                "A case and the progress of its tracing",
                answer(
                    {
                        "case_id": STRING,
                        "person_id": STRING,
                        "status": STRING,
                        "tracing": {"type": "string", "enum": ["pending", "done"]},
                        "contacts_found": {"type": ["integer", "null"]},
                        "generations": {"type": "integer", "enum": [1, 2]},
                        "history": {"type": "array", "items": ref("CaseStatusStep")},
                    },
                    ("case_id", "person_id", "status", "tracing", "contacts_found", "history"),
                ),
            )
        }
    ),
    "PATCH /v1/cases/{case_id}": Operation(
        body=obj(
            {
                "status": coded(
                    {
                        "type": "string",
                        "enum": ["confirmed", "asymptomatic", "suspected", "recovered", "excluded"],
                    },
                    "invalid_status",
                )
            },
            ("status",),
        ),
        answers={
            "200": json_answer(
                "The case, upgraded at once; its person recoloured",
                answer(
                    {
                        "case_id": STRING,
                        "person_id": STRING,
                        "status": STRING,
                        "history": {"type": "array", "items": ref("CaseStatusStep")},
                    },
                    ("case_id", "person_id", "status", "history"),
                ),
            ),
            "202": json_answer("Recovered or excluded: held for a second official", ref("HeldAct")),
        },
    ),
    "GET /v1/cases/{case_id}/contacts": Operation(
        query=(LIMIT, query("after", ref("PersonId"), "The person id to continue after (`next`)")),
        answers={
            "200": json_answer(
                "A case's contacts, one row per person",
                answer(
                    {
                        "tracing": STRING,
                        "contacts": {
                            "type": "array",
                            "items": answer(
                                {
                                    "person_id": STRING,
                                    "kind": {"type": "string", "enum": ["close", "secondary"]},
                                    "venue_id": STRING,
                                    "exposure_at": {},
                                    "overlap_minutes": {"type": "number"},
                                    "generation": {"type": "integer", "enum": [1, 2]},
                                    "via": nullable(STRING),
                                },
                                (
                                    "person_id",
                                    "kind",
                                    "venue_id",
                                    "exposure_at",
                                    "overlap_minutes",
                                    "generation",
                                    "via",
                                ),
                            ),
                        },
                    },
                    ("tracing", "contacts"),
                ),
            )
        },
    ),
    "POST /v1/lab-results": Operation(
        body=obj(
            {
                "results": {
                    "type": "array",
                    "x-error-code": {
                        "type": "invalid_results",
                        "minItems": "invalid_results",
                        "maxItems": "too_many_results",
                    },
                    "minItems": 1,
                    "maxItems": 1000,
                    # Each row is checked on its own: a row that is not a LabRow is rejected in the
                    # answer (rejected[]), not the request, so any item validates.
                    "items": {"anyOf": [ref("LabRow"), {}]},
                    "description": "Rows {id_number, sampled_at, result}; a bad row is rejected on its own",
                }
            },
            ("results",),
        ),
        answers={
            "200": json_answer(
                "What was accepted and what was rejected, row by row",
                answer(
                    {
                        "accepted": {"type": "integer", "minimum": 0},
                        "rejected": {
                            "type": "array",
                            "items": answer(
                                {"index": {"type": "integer"}, "error": STRING}, ("index", "error")
                            ),
                        },
                    },
                    ("accepted", "rejected"),
                ),
            ),
            "202": json_answer(
                "Positive rows past the account's limit, held for a second official", ref("HeldAct")
            ),
        },
    ),
    "PUT /v1/risk-areas/{region_code}": Operation(
        body=obj(
            {"level": coded({"type": "string", "enum": ["high", "medium", "low"]}, "invalid_level")},
            ("level",),
        ),
        answers={
            "200": json_answer("The area", ref("RiskArea")),
            "202": json_answer("A change one official may not make alone, held", ref("HeldAct")),
        },
    ),
    "GET /v1/risk-areas/{region_code}": Operation(answers={"200": json_answer("The area", ref("RiskArea"))}),
    "PUT /v1/persons/{person_id}/colour": Operation(
        body=obj(
            {
                "colour": missing_as(
                    coded({**text(1), "description": "A colour of the province palette"}, "invalid_colour"),
                    "invalid_colour",
                ),
                "reason_code": missing_as(
                    coded({"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}, "invalid_reason_code"),
                    "invalid_reason_code",
                ),
                "evidence_ref": missing_as(
                    coded(text(1, 200), "invalid_evidence_ref"), "invalid_evidence_ref"
                ),
                "note": nullable(coded(text(1, 500), "invalid_note")),
                "until": nullable(coded({**INSTANT, "maxLength": 40}, "invalid_until")),
                "risk_level": nullable(
                    coded(
                        {
                            **RISK_LEVEL,
                            "description": "when the colour name stands for two levels (Fujian orange)",
                        },
                        "invalid_risk_level",
                    )
                ),
            },
            ("colour", "reason_code", "evidence_ref"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={"202": json_answer("The request, pending a second official", ref("Override"))},
    ),
    "PUT /v1/persons/{person_id}/quarantine": Operation(
        body=obj(
            {
                "kind": missing_as(
                    coded({"type": "string", "enum": ["centralised", "home"]}, "invalid_quarantine_kind"),
                    "invalid_quarantine_kind",
                ),
                "from": missing_as(coded({**INSTANT, "maxLength": 40}, "invalid_from"), "invalid_from"),
                "until": nullable(coded({**INSTANT, "maxLength": 40}, "invalid_until")),
            },
            ("kind", "from"),
        ),
        answers={
            "200": json_answer(
                "The quarantine in force (placed or extended) and the person's colour",
                answer(
                    {
                        "person_id": STRING,
                        "quarantine": nullable(
                            answer(
                                {
                                    "kind": {"type": "string", "enum": ["centralised", "home"]},
                                    "from": INSTANT,
                                    "until": INSTANT,
                                },
                                ("kind", "from", "until"),
                            )
                        ),
                        "colour": nullable(STRING),
                        "risk_level": nullable(RISK_LEVEL),
                    },
                    ("person_id", "quarantine"),
                ),
            ),
            "202": json_answer(
                "Held for a second official (ending a quarantine early, or past the official's limit)",
                ref("HeldAct"),
            ),
        },
    ),
    "GET /v1/overrides": Operation(
        query=(
            query(
                "kind",
                {
                    "type": "string",
                    "enum": [
                        "override",
                        "case",
                        "case_status",
                        "lab_results",
                        "risk_area",
                        "quarantine",
                        "quarantine_lift",
                    ],
                },
                "override (the default), or a kind of act held for a second official",
            ),
            LIMIT,
            NEXT,
        ),
        answers={
            "200": json_answer(
                "Overrides (or held acts) waiting for a second official",
                answer(
                    {"overrides": {"type": "array", "items": {"anyOf": [ref("Override"), ref("HeldAct")]}}},
                    ("overrides",),
                ),
            )
        },
    ),
    "GET /v1/overrides/{override_id}": Operation(
        answers={"200": json_answer("The override or held act", {"anyOf": [ref("Override"), ref("HeldAct")]})}
    ),
    "POST /v1/overrides/{override_id}/approve": Operation(
        answers={
            "200": json_answer(
                "The override, applied (or the held act, carried out)",
                {"anyOf": [ref("Override"), ref("HeldAct")]},
            )
        }
    ),
    "POST /v1/overrides/{override_id}/reject": Operation(
        body=obj({"reason": nullable(coded(text(1, 500), "invalid_reason"))}),
        body_required=False,
        answers={
            "200": json_answer(
                "The override (or held act), rejected", {"anyOf": [ref("Override"), ref("HeldAct")]}
            )
        },
    ),
    "GET /v1/appeals": Operation(
        query=(
            query("status", {"type": "string", "pattern": "^(open)?$"}, "open (the default)"),
            LIMIT,
            NEXT,
        ),
        answers={
            "200": json_answer(
                "Open appeals, oldest first",
                answer({"appeals": {"type": "array", "items": ref("Appeal")}}, ("appeals",)),
            )
        },
    ),
    "POST /v1/appeals/{appeal_id}/answer": Operation(
        body=obj(
            {
                "answer": coded(text(1, 500), "invalid_answer"),
                "outcome": coded({"type": "string", "enum": ["upheld", "dismissed"]}, "invalid_outcome"),
            },
            ("answer", "outcome"),
        ),
        answers={"200": json_answer("The appeal, answered", ref("Appeal"))},
    ),
    # -- alerts to the authority -----------------------------------------------------------------
    "GET /v1/alerts": Operation(
        query=(
            DATE,
            query(
                "region_code",
                {"type": "string", "pattern": "^([0-9]{6})?$"},
                "Inside the caller's area (else 403 outside_area); absent: the caller's area or province",
            ),
            query(
                "status", {"type": "string", "enum": ["open", "acknowledged"]}, "Only alerts in this state"
            ),
            query(
                "verdict",
                {"type": "string", "enum": ["pass", "dissuade", "isolate", "register"]},
                "Only alerts with this verdict",
            ),
            PAGE_LIMIT,
            CURSOR,
        ),
        answers={
            "200": json_answer(
                "One page of the abnormal scans of the area on the day, by region then time",
                answer(
                    {
                        "alerts": {"type": "array", "items": ref("Alert")},
                        "next_cursor": nullable(STRING),
                    },
                    ("alerts", "next_cursor"),
                ),
            )
        },
    ),
    "POST /v1/alerts/{alert_id}/acknowledge": Operation(
        body=obj({"note": coded(text(1, 500), "invalid_note")}, ("note",)),
        answers={"200": json_answer("The alert, acknowledged (who handled it, when)", ref("Alert"))},
    ),
    "GET /v1/persons/{person_id}": Operation(
        answers={
            "200": json_answer(
                "The full record; the read is audited",
                answer(
                    {
                        "person_id": STRING,
                        "name": STRING,
                        "id_number": STRING,
                        "phone": STRING,
                        "colour": STRING,
                        "risk_level": RISK_LEVEL,
                    },
                    ("person_id", "name", "id_number", "phone", "colour", "risk_level"),
                ),
            )
        }
    ),
    "POST /v1/persons/search": Operation(
        body=obj(
            {
                "id_number": coded(text(1, 64), "invalid_id_number"),
                "id_type": nullable(
                    coded(
                        {
                            "type": "string",
                            "enum": [
                                "resident_id",
                                "passport",
                                "hk_macao_permit",
                                "taiwan_permit",
                                "foreign_permanent_resident",
                            ],
                        },
                        "invalid_id_type",
                    )
                ),
                "nationality": nullable(coded(text(3, 3), "invalid_nationality")),
            },
            ("id_number",),
        ),
        answers={
            "200": json_answer(
                "The persons holding the number inside the caller's area (nobody elsewhere is ever "
                "answered); masked; audited",
                answer(
                    {
                        "persons": {
                            "type": "array",
                            "items": answer(
                                {
                                    "person_id": STRING,
                                    "name_masked": STRING,
                                    "id_masked": STRING,
                                    "colour": STRING,
                                    "risk_level": RISK_LEVEL,
                                    "region_code": ref("RegionCode"),
                                },
                                (
                                    "person_id",
                                    "name_masked",
                                    "id_masked",
                                    "colour",
                                    "risk_level",
                                    "region_code",
                                ),
                            ),
                        }
                    },
                    ("persons",),
                ),
            )
        },
    ),
    "GET /v1/audit": Operation(
        query=(
            query(
                "subject",
                STRING,
                "A person id (p-...), a venue id (v-...), or person#..., venue#..., account#...",
            ),
            query("actor", STRING, "An account id: its acts (exactly one of subject and actor)"),
            PAGE_LIMIT,
            CURSOR,
        ),
        answers={
            "200": json_answer(
                "One page of entries, newest first; the read is itself audited",
                answer(
                    {
                        "entries": {
                            "type": "array",
                            "items": answer(
                                {
                                    "at": INSTANT,
                                    "actor": STRING,
                                    "action": STRING,
                                    "subject": STRING,
                                    "detail": {"type": "object"},
                                },
                                ("at", "actor", "action", "subject", "detail"),
                            ),
                        },
                        "next_cursor": nullable(STRING),
                    },
                    ("entries", "next_cursor"),
                ),
            )
        },
    ),
}

#: Path parameters with a shape of their own (the rest are opaque strings: unknown → 404).
PATH_PARAMETERS: dict[str, Schema] = {"region_code": ref("RegionCode")}


# -- checking request bodies -------------------------------------------------------------------

Validator = Callable[[Any], Any]
_NULL: Final[Schema] = {"type": "null"}
_SEGMENT = re.compile(r"\{[^}]+\}")
_bodies: dict[str, tuple[Schema, Validator]] = {}
_fragments: dict[int, Validator] = {}
_routes: list[tuple[str, re.Pattern[str]]] = []


def route_of(route_key: str | None, method: str, path: str) -> str | None:
    """The spec key of a request: API Gateway's ``routeKey`` when it names one, else the route
    whose template matches ``method`` and ``path``."""
    if route_key in OPERATIONS:
        return route_key
    if not _routes:
        _routes.extend(
            (key, re.compile(_SEGMENT.sub("[^/]+", re.escape(key).replace(r"\{", "{").replace(r"\}", "}"))))
            for key in OPERATIONS
        )
    wanted = f"{method.upper()} {path}"
    return next((key for key, pattern in _routes if pattern.fullmatch(wanted)), None)


def check_body(key: str, body: Any) -> None:
    """Validate a request body against the spec of route ``key``; ``InvalidInput`` naming the
    first mistake. A route without a body spec takes any body."""
    found = _bodies.get(key)
    if found is None:
        spec = OPERATIONS[key].body
        if spec is None:
            return
        schema = inline(spec)
        found = _bodies[key] = (schema, fastjsonschema.compile(_unknown_first(schema), use_formats=False))
    schema, validate = found
    try:
        validate(body)
    except fastjsonschema.JsonSchemaValueException as failure:
        raise refusal(schema, failure) from None


def inline(schema: Any) -> Any:
    """``schema`` with every ``$ref`` to a component replaced by the component (a copy)."""
    if isinstance(schema, dict):
        target = schema.get("$ref")
        if isinstance(target, str) and target.startswith("#/components/schemas/"):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return inline({**COMPONENTS[target.rsplit("/", 1)[1]], **rest})
        return {name: inline(value) for name, value in schema.items()}
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    return schema


def _unknown_first(schema: Any) -> Any:
    """``schema`` with each closed object's unknown-field check moved into an ``allOf`` (checked
    before ``required`` and the properties): a misspelt field is the first thing named."""
    if isinstance(schema, list):
        return [_unknown_first(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    moved = {name: _unknown_first(value) for name, value in schema.items()}
    if moved.get("additionalProperties") is False and "properties" in moved:
        del moved["additionalProperties"]
        closed = {"properties": {name: {} for name in moved["properties"]}, "additionalProperties": False}
        moved["allOf"] = [closed, *moved.get("allOf", [])]
    return moved


def _nullable_branch(schema: Any) -> Any:
    """The non-null branch of a ``nullable`` schema, else None."""
    branches = schema.get("anyOf") if isinstance(schema, dict) else None
    if isinstance(branches, list) and len(branches) == 2 and _NULL in branches:
        return branches[0] if branches[1] == _NULL else branches[1]
    return None


def _walk(schema: Schema, path: tuple[str, ...]) -> list[Schema]:
    """The schemas from the body's down to the value at ``path`` (nullable ones unwrapped)."""
    node = _nullable_branch(schema) or schema
    nodes = [node]
    for segment in path:
        properties = node.get("properties", {})
        items = node.get("items")
        if segment in properties:
            node = properties[segment]
        elif segment.isdigit() and isinstance(items, dict):
            node = items
        else:
            node = {}
        node = _nullable_branch(node) or node
        nodes.append(node)
    return nodes


def _dotted(path: tuple[str, ...]) -> str | None:
    return ".".join(path) or None


def _named(path: tuple[str, ...]) -> str:
    """The field name an ``invalid_<name>`` code is made of (a list item: its list's)."""
    names = [segment for segment in path if not segment.isdigit()]
    return names[-1] if names else "input"


def _said(failure: fastjsonschema.JsonSchemaValueException, field: str | None) -> str:
    name = failure.name or "data"
    message = failure.message
    said = message[len(name) :] if message.startswith(name) else f" {message}"
    return f"{field or 'the body'}{said}"


def refusal(
    schema: Schema, failure: fastjsonschema.JsonSchemaValueException, prefix: tuple[str, ...] = ()
) -> InvalidInput:
    """The ``InvalidInput`` for a schema failure: one code per mistake (see the module docstring)."""
    path = (*prefix, *(str(segment) for segment in failure.path[1:]))
    nodes = _walk(schema, path)
    node, value, rule = nodes[-1], failure.value, failure.rule
    if rule == "additionalProperties" and isinstance(value, dict):
        known = node.get("properties", {})
        unknown = sorted(str(name) for name in value if name not in known)
        name = unknown[0][:40] if unknown else ""
        # a name that cannot stand in a dotted path (empty, or holding a dot) names its object
        field = _dotted((*path, name)) if name and "." not in name else _dotted(path)
        said = (
            f"{field} is not a field of this form"
            if field
            else "the body has a field this form does not take"
        )
        return InvalidInput(said, field=field, code="unknown_field")
    inner = _nullable_branch(failure.definition)
    if rule == "anyOf" and inner is not None:
        validate = _fragments.get(id(inner))
        if validate is None:
            validate = _fragments[id(inner)] = fastjsonschema.compile(inner, use_formats=False)
        try:
            validate(value)
        except fastjsonschema.JsonSchemaValueException as deeper:
            return refusal(schema, deeper, path)
    for depth in range(len(nodes) - 2, -1, -1):  # a value coded as a whole covers its insides
        code = nodes[depth].get("x-error-code")
        if isinstance(code, str):
            field = _dotted(path[:depth])
            return InvalidInput(
                f"{field} is not valid: {_said(failure, _dotted(path))}", field=field, code=code
            )
    if path and len(nodes) > 1:
        parent = nodes[-2]
        blank = isinstance(value, str) and not value.strip() and parent.get("x-blank-is-missing") is True
        if (value is None or blank) and path[-1] in parent.get("required", ()):
            field = _dotted(path)
            return InvalidInput(
                f"{field} is required", field=field, code=node.get("x-missing-code", "missing_field")
            )
    own = node.get("x-error-code")
    required = node.get("required", ()) if rule == "required" and isinstance(value, dict) else ()
    absent = next((name for name in required if name not in value), None)
    if absent is not None and not isinstance(own, str):
        field = _dotted((*path, absent))
        code = node.get("properties", {}).get(absent, {}).get("x-missing-code", "missing_field")
        return InvalidInput(f"{field} is required", field=field, code=code)
    field = _dotted(path)
    if isinstance(own, str):
        return InvalidInput(_said(failure, field), field=field, code=own)
    if isinstance(own, dict) and rule in own:
        if "x-error-field" in node:
            field = _dotted((*path, node["x-error-field"]))
        return InvalidInput(_said(failure, _dotted(path)), field=field, code=own[rule])
    for depth in range(len(nodes) - 2, -1, -1):  # a list that names its items' mistakes
        code = nodes[depth].get("x-error-code")
        if isinstance(code, dict) and rule in code:
            at = _dotted(path[:depth])
            return InvalidInput(_said(failure, field), field=at, code=code[rule])
    code = "invalid_type" if rule == "type" else f"invalid_{_named(path)}"
    return InvalidInput(_said(failure, field), field=field, code=code)
