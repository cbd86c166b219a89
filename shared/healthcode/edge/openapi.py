"""The served OpenAPI document, built from the routes and their specs (``healthcode.edge.specs``).

Paths, methods and who may call them come from the caller (the routes API Gateway serves, read
from the template by ``infra/openapi.py``); summaries and descriptions from each function's
resolver; request bodies, parameters and success answers from the specs the bodies are checked
with at run time; every route answers errors in the envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from healthcode.edge.specs import COMPONENTS, OPERATIONS, PATH_PARAMETERS

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
#: Every route answers messages in the language this header asks for (healthcode.edge.messages).
ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "examples": ["zh-CN", "en"]},
    "description": "Language of error messages and colour reasons: Simplified Chinese by default, "
    "English for en (and en-*); code and field never change",
}
UNAUTHORIZED_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "const": "Unauthorized"}},
}


@dataclass(frozen=True)
class Route:
    """A route API Gateway serves: ``method`` and ``path`` (``/v1/codes/{person_id}``), the
    function it calls and whether the caller's token is checked."""

    method: str
    path: str
    function: str
    authorized: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build(routes: Iterable[Route], described: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The document for ``routes``; ``described`` holds each function's own OpenAPI document
    (its resolver's summaries and descriptions) by function name."""
    routes = list(routes)
    missing = sorted(route.key for route in routes if route.key not in OPERATIONS)
    if missing:
        raise LookupError(f"routes without a spec in healthcode.edge.specs: {', '.join(missing)}")
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {
        "schemas": {"Error": ERROR_SCHEMA, "Unauthorized": UNAUTHORIZED_SCHEMA, **COMPONENTS}
    }
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        method = route.method.lower()
        spec = OPERATIONS[route.key]
        generated = described.get(route.function, {})
        operation = dict(generated.get("paths", {}).get(route.path, {}).get(method, {}))
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            components["schemas"].setdefault(name, schema)
        operation.setdefault(
            "operationId", f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', route.path).strip('_')}"
        )
        operation["tags"] = [route.function.removesuffix("Function").lower()]
        parameters = [p for p in operation.get("parameters", []) if p.get("in") != "path"]
        for name in re.findall(r"\{([^}+]+)\+?\}", route.path):
            schema = PATH_PARAMETERS.get(name, {"type": "string"})
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        parameters += [*spec.query, *spec.headers, ACCEPT_LANGUAGE]
        operation["parameters"] = parameters
        if spec.body is not None:
            operation["requestBody"] = {
                "required": spec.body_required,
                "content": {"application/json": {"schema": spec.body}},
            }
        responses = dict(spec.answers)
        for status, meaning in (
            ("400", "Malformed request"),
            ("404", "Unknown id"),
            ("409", "Conflict"),
            ("422", "Invalid input"),
            ("429", "throttled, or rate_limited: over a per-account limit (Retry-After: seconds)"),
        ):
            responses[status] = _error(meaning)
        if spec.body is not None:
            responses["413"] = _error("Request body over 256 KB (payload_too_large)")
        if route.authorized:
            operation["security"] = [{"CallerJwt": []}]
            responses["401"] = {
                "description": "No or invalid caller token: the authorizer's own answer, not the envelope",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unauthorized"}}},
            }
            responses["403"] = _error("Wrong role or not the caller's resource")
        else:
            operation["security"] = []
        operation["responses"] = dict(sorted(responses.items()))
        paths.setdefault(route.path, {})[method] = operation
    components["securitySchemes"] = {
        "CallerJwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Identity provider token; roles in `roles` or `cognito:groups`.",
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "HealthCode API",
            "version": "1.0.0",
            "description": "Health codes and venue codes for one province (the guide: docs/api.md).",
        },
        "paths": paths,
        "components": components,
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
