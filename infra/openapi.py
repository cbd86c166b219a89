"""Generate the served OpenAPI document from the routes.

Paths, methods, path parameters and security come from ``template.yaml`` (the routes API
Gateway serves); summaries and descriptions from each function's resolver (powertools); request
bodies, query and header parameters and success answers from ``infra/api_schemas.py`` (the
handlers parse bodies by hand, so powertools cannot see them); every route answers errors in
the envelope. The result is written to ``shared/healthcode/data/openapi.json`` and served by
``GET /v1/openapi.json``; ``tests/unit/test_template.py`` fails when the file is stale
(``make openapi`` rewrites it) and a route has no entry in the registry.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "shared" / "healthcode" / "data" / "openapi.json"
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


UNAUTHORIZED_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "const": "Unauthorized"}},
}


def _function_schemas(template: Any) -> dict[str, dict[str, Any]]:
    """Each HTTP function's own OpenAPI paths, from its powertools resolver."""
    from infra.local.stack import load_module

    found: dict[str, dict[str, Any]] = {}
    for logical_id, fn in template.functions().items():
        if not any(r.function == logical_id for r in template.routes()):
            continue
        app = getattr(load_module(logical_id, fn.code_uri, fn.handler), "app", None)
        if app is None or not hasattr(app, "get_openapi_schema"):
            continue
        schema = app.get_openapi_schema(title="x", version="0").model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        found[logical_id] = schema
    return found


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build() -> dict[str, Any]:
    from infra.api_schemas import COMPONENTS, OPERATIONS, PATH_PARAMETERS
    from infra.local.template import Template

    os.environ.setdefault("PROVINCE", "520000")
    template = Template(ROOT / "template.yaml", "openapi", {}, "cn-north-1")
    for fn in template.functions().values():
        for name, value in fn.environment.items():
            os.environ.setdefault(name, value)
    schemas = _function_schemas(template)
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {
        "schemas": {"Error": ERROR_SCHEMA, "Unauthorized": UNAUTHORIZED_SCHEMA, **COMPONENTS}
    }
    missing = sorted(r.key for r in template.routes() if r.key not in OPERATIONS)
    if missing:
        raise LookupError(f"routes without an entry in infra/api_schemas.py: {', '.join(missing)}")
    for route in sorted(template.routes(), key=lambda r: (r.path, r.method)):
        method = route.method.lower()
        described = OPERATIONS[route.key]
        generated = schemas.get(route.function, {})
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
        parameters += [*described.query, *described.headers]
        if parameters:
            operation["parameters"] = parameters
        if described.body is not None:
            operation["requestBody"] = {
                "required": described.body_required,
                "content": {"application/json": {"schema": described.body}},
            }
        responses = dict(described.answers)
        for status, meaning in (
            ("400", "Malformed request"),
            ("404", "Unknown id"),
            ("409", "Conflict"),
            ("422", "Invalid input"),
            ("429", "Throttled"),
        ):
            responses[status] = _error(meaning)
        if described.body is not None:
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
            "description": "Health codes and venue codes for one province (see API.md).",
        },
        "paths": paths,
        "components": components,
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
