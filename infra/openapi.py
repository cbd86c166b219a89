"""Generate the served OpenAPI document from the routes.

Paths, methods, path parameters and security come from ``template.yaml`` (the routes API
Gateway serves); request and response schemas come from each function's resolver
(powertools builds them from the pydantic models and type hints of its routes). The result is
written to ``shared/healthcode/data/openapi.json`` and served by ``GET /v1/openapi.json``;
``tests/unit/test_openapi.py`` fails when the file is stale (``make openapi`` rewrites it).
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


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    """powertools types a ``Response[str]`` body as a string; the body is a JSON object."""
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if schema.get("type") == "string" and schema.get("title") == "Return":
        return dict(response, content={"application/json": {"schema": {"type": "object"}}})
    return response


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


def build() -> dict[str, Any]:
    from infra.local.template import Template

    os.environ.setdefault("PROVINCE", "520000")
    template = Template(ROOT / "template.yaml", "openapi", {}, "cn-north-1")
    for fn in template.functions().values():
        for name, value in fn.environment.items():
            os.environ.setdefault(name, value)
    schemas = _function_schemas(template)
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"schemas": {"Error": ERROR_SCHEMA}}
    for route in sorted(template.routes(), key=lambda r: (r.path, r.method)):
        method = route.method.lower()
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
            parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
        if parameters:
            operation["parameters"] = parameters
        responses = {k: _answer(v) for k, v in operation.get("responses", {}).items() if k != "422"}
        if not any(k.startswith("2") for k in responses):
            responses["200"] = {"description": "Success"}
        for status, meaning in (
            ("400", "Malformed request"),
            ("404", "Unknown id"),
            ("409", "Conflict"),
            ("422", "Invalid input"),
            ("429", "Throttled"),
        ):
            responses[status] = {
                "description": meaning,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if route.authorized:
            operation["security"] = [{"CallerJwt": []}]
            responses["401"] = {"description": "No or invalid caller token (API Gateway authorizer)"}
            responses["403"] = {
                "description": "Wrong role or not the caller's resource",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
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
