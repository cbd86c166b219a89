"""What each route takes and answers, for the served OpenAPI document (``infra/openapi.py``).

The handlers parse their bodies by hand (``healthcode.edge.http.json_body`` and the domain's
``check_*`` functions, which answer 422 naming the field), so powertools' resolvers cannot
describe them. This registry does, route by route, written from API.md and from each
handler's validation: the request body's JSON Schema, the query and header parameters the
handler reads, and the success answers with the fields API.md promises (an answer may carry
more fields; an error is always the envelope, which ``infra/openapi.py`` adds to every route).

The schemas describe what a handler *accepts*, never more strictly: a body the handler takes
must validate (the fuzz suite sends schema-violating bodies and fails if one is taken), while
some bodies that validate are still refused for what a schema cannot say (an ID number's check
character, a code's signature, a region code that is not current). Optional fields may be
``null``: the handlers read ``null`` as absent. Every template route must have an entry:
``infra/openapi.py`` refuses to build the document otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from healthcode.rules.colour import SYMPTOMS
from healthcode.rules.credentials import CredentialType
from healthcode.rules.policy import VENUE_TYPES

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
    """A JSON answer: the fields API.md promises are required; more fields may come."""
    return obj(properties, required, closed=False)


def text(min_length: int = 1, max_length: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", "minLength": min_length, **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


STRING: Schema = {"type": "string"}
INSTANT: Schema = {"type": "string", "format": "date-time"}
RISK_LEVEL: Schema = {"type": "integer", "enum": [0, 1, 2], "description": "0 green, 1 yellow, 2 red"}
IDEMPOTENCY_CODES = r"^[!-~]{1,128}$"
IDEMPOTENCY = r"^[!-~]{1,255}$"

#: Shared pieces, published under ``components/schemas``.
COMPONENTS: dict[str, Schema] = {
    "RegionCode": {
        "type": "string",
        "pattern": "^[0-9]{6}$",
        "description": "GB/T 2260 administrative division code of the current revision",
        "examples": ["520102"],
    },
    "IdNumber": {
        "type": "string",
        "pattern": "^[0-9]{17}[0-9Xx]$",
        "description": "Resident ID number (GB 11643): 17 digits and the MOD 11-2 check character; "
        "a real birth date, a GB/T 2260 province prefix",
    },
    "MobilePhone": {
        "type": "string",
        "minLength": 11,
        "description": "Mainland mobile number, 1[3-9] and nine digits; spaces, hyphens and a leading "
        "+86 or 86 are allowed",
        "examples": ["13800138000", "+86 138-0013-8000"],
    },
    "PersonId": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "description": "A person id as the API hands it out (p-...)",
    },
    "Location": {
        "type": "object",
        "required": ["lat", "lng"],
        "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lng": {"type": "number", "minimum": -180, "maximum": 180},
        },
        "description": "WGS 84 decimal degrees (other keys are ignored)",
    },
    "Temperature": {
        "type": "number",
        "minimum": 34,
        "maximum": 43,
        "description": "Body temperature, degrees Celsius",
    },
    "Trip": obj({"region_code": ref("RegionCode"), "left_at": INSTANT}, ("region_code", "left_at")),
    "Declaration": obj(
        {
            "symptoms": {"type": "array", "items": {"type": "string", "enum": sorted(SYMPTOMS)}},
            "temperature": nullable(ref("Temperature")),
            "travel": {"type": "array", "maxItems": 30, "items": ref("Trip")},
            "contact_with_case": {"type": "boolean"},
        },
        ("symptoms", "travel", "contact_with_case"),
    ),
    "LabRow": obj(
        {
            "id_number": ref("IdNumber"),
            "sampled_at": {**INSTANT, "maxLength": 40},
            "result": {"type": "string", "enum": ["negative", "positive"]},
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
            "name_masked": STRING,
            "id_masked": STRING,
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
        body=obj(
            {
                "name": text(1, 50),
                "id_number": ref("IdNumber"),
                "phone": ref("MobilePhone"),
                "address": text(2, 200),
                "region_code": ref("RegionCode"),
                "declaration": ref("Declaration"),
                "dependant": nullable({"type": "boolean"}),
                "link_code": nullable(
                    {
                        **STRING,
                        "description": "One-time link code (10 characters; case, spaces, hyphens free)",
                    }
                ),
            },
            ("name", "id_number", "phone", "address", "region_code", "declaration"),
        ),
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
    "POST /v1/codes/{person_id}/appeals": Operation(
        body=obj({"reason": text(1, 500)}, ("reason",)),
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
        answers={
            "201": json_answer(
                "A printable paper code; the one before is revoked",
                answer(
                    {"person_id": STRING, "token": STRING, "expires_at": INSTANT},
                    ("person_id", "token", "expires_at"),
                ),
            )
        }
    ),
    "GET /v1/codes/{person_id}/paper.png": Operation(
        answers={"200": image("image/png", "The current paper code, printable")}
    ),
    "POST /v1/checkins": Operation(
        body=obj(
            {
                "venue_code": text(1),
                "person_id": ref("PersonId"),
                "companions": nullable(
                    {"type": "array", "maxItems": 9, "uniqueItems": True, "items": ref("PersonId")}
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
                "code": text(1, 4096),
                "checkpoint_id": text(1, 128),
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
                "name": text(1, 40),
                "id_number": ref("IdNumber"),
                "phone": ref("MobilePhone"),
                "temperature": ref("Temperature"),
                "checkpoint_id": text(1, 128),
            },
            ("name", "id_number", "phone", "temperature", "checkpoint_id"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={"201": json_answer("The verdict and the stored scan", ref("Verdict"))},
    ),
    # -- venue managers -------------------------------------------------------------------------
    "POST /v1/venues": Operation(
        body=obj(
            {
                "name": text(1, 50),
                "type": {"type": "string", "enum": sorted(VENUE_TYPES)},
                "subject_name": text(1, 100),
                "credential_type": {"type": "string", "enum": sorted(CredentialType)},
                "credential_number": {
                    **text(1),
                    "description": "USCC, business licence or ID number (licence plate for a vehicle); "
                    "full-width characters and spaces are normalised",
                },
                "region_code": {**ref("RegionCode"), "description": "a county (区县) inside the province"},
                "location": ref("Location"),
                "address": text(4, 120),
                "manager_phone": ref("MobilePhone"),
                "parent_venue_id": nullable({"type": "string", "pattern": "^v-[0-9a-f]{32}$"}),
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
                "The venue and its venue code",
                answer(
                    {"venue_id": STRING, "code": STRING, "code_expires_at": INSTANT}, ("venue_id", "code")
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
                            },
                            ("date", "units"),
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
                        "by_region": {"type": "array"},
                    },
                    ("region_code", "by_type", "by_region"),
                ),
            )
        },
    ),
    # -- health officials -----------------------------------------------------------------------
    "POST /v1/cases": Operation(
        body={
            **obj(
                {
                    "person_id": nullable({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}),
                    "id_number": nullable(ref("IdNumber")),
                    "status": {"type": "string", "enum": ["confirmed", "asymptomatic", "suspected"]},
                    "diagnosed_at": {**INSTANT, "maxLength": 40},
                },
                ("status", "diagnosed_at"),
            ),
            "oneOf": [
                {
                    "required": ["person_id"],
                    "properties": {"person_id": {"type": "string"}, "id_number": {"type": "null"}},
                },
                {
                    "required": ["id_number"],
                    "properties": {"id_number": {"type": "string"}, "person_id": {"type": "null"}},
                },
            ],
            "description": "The person by person_id or by id_number: exactly one of them",
        },
        answers={
            "202": json_answer(
                "The case; the person is red, tracing runs",
                answer(
                    {"case_id": STRING, "person_id": STRING, "status": STRING, "tracing": STRING},
                    ("case_id",),
                ),
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
                    },
                    ("case_id", "person_id", "status", "tracing", "contacts_found"),
                ),
            )
        }
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
                                },
                                ("person_id", "kind", "venue_id", "exposure_at", "overlap_minutes"),
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
            )
        },
    ),
    "PUT /v1/risk-areas/{region_code}": Operation(
        body=obj({"level": {"type": "string", "enum": ["high", "medium", "low"]}}, ("level",)),
        answers={"200": json_answer("The area", ref("RiskArea"))},
    ),
    "GET /v1/risk-areas/{region_code}": Operation(answers={"200": json_answer("The area", ref("RiskArea"))}),
    "PUT /v1/persons/{person_id}/colour": Operation(
        body=obj(
            {
                "colour": {**text(1), "description": "A colour of the province palette"},
                "reason_code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                "evidence_ref": text(1, 200),
                "note": nullable(text(1, 500)),
                "until": nullable({**INSTANT, "maxLength": 40}),
                "risk_level": nullable(
                    {
                        **RISK_LEVEL,
                        "description": "when the colour name stands for two levels (Fujian orange)",
                    }
                ),
            },
            ("colour", "reason_code", "evidence_ref"),
        ),
        headers=(idempotency_key(IDEMPOTENCY),),
        answers={"202": json_answer("The request, pending a second official", ref("Override"))},
    ),
    "GET /v1/overrides": Operation(
        query=(LIMIT, NEXT),
        answers={
            "200": json_answer(
                "Overrides waiting for a second official",
                answer({"overrides": {"type": "array", "items": ref("Override")}}, ("overrides",)),
            )
        },
    ),
    "GET /v1/overrides/{override_id}": Operation(
        answers={"200": json_answer("The override", ref("Override"))}
    ),
    "POST /v1/overrides/{override_id}/approve": Operation(
        answers={"200": json_answer("The override, applied", ref("Override"))}
    ),
    "POST /v1/overrides/{override_id}/reject": Operation(
        body=obj({"reason": nullable(text(1, 500))}),
        body_required=False,
        answers={"200": json_answer("The override, rejected", ref("Override"))},
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
            {"outcome": {"type": "string", "enum": ["upheld", "dismissed"]}, "answer": text(1, 500)},
            ("outcome", "answer"),
        ),
        answers={"200": json_answer("The appeal, answered", ref("Appeal"))},
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
}

#: Path parameters with a shape of their own (the rest are opaque strings: unknown → 404).
PATH_PARAMETERS: dict[str, Schema] = {"region_code": ref("RegionCode")}
