"""Write the served OpenAPI document: ``python -m infra.openapi`` (``make openapi``).

The routes come from ``template.yaml`` and each function's summaries from its resolver's routes
(read through powertools' OpenAPI support); the document itself is built by
``healthcode.edge.openapi`` from the request specs the handlers validate with. The result is
``shared/healthcode/data/openapi.json``, served by ``GET /v1/openapi.json``;
``tests/unit/test_template.py`` fails when it is stale.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

from healthcode.edge import openapi

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "shared" / "healthcode" / "data" / "openapi.json"


def _function_documents(template: Any) -> dict[str, dict[str, Any]]:
    """Each HTTP function's own OpenAPI document, from its powertools resolver."""
    from infra.local.stack import load_module

    found: dict[str, dict[str, Any]] = {}
    for logical_id, fn in template.functions().items():
        if not any(r.function == logical_id for r in template.routes()):
            continue
        app = getattr(load_module(logical_id, fn.code_uri, fn.handler), "app", None)
        if app is None or not hasattr(app, "routes"):
            continue
        schema = (
            _powertools_resolver(app)
            .get_openapi_schema(title="x", version="0")
            .model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        found[logical_id] = schema
    return found


def _powertools_resolver(app: Any) -> Any:
    """powertools' resolver holding ``app``'s routes with the options they were declared with:
    the functions route with ``healthcode.edge.router`` (a lighter import at cold start), the
    document is still the one powertools writes for the same routes."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    resolver = APIGatewayHttpResolver()
    for route in app.routes:
        resolver.route(route.rule, route.method, **route.options)(_unannotated(route.func))
    return resolver


def _unannotated(func: Any) -> Any:
    """``func`` as powertools reads it, without the return annotation (a response class it does
    not know, which it would try to describe as a schema); name and parameters kept, so the
    operation ids stay the same."""

    def route(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    route.__name__ = func.__name__
    route.__signature__ = inspect.signature(func).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    return route


def build() -> dict[str, Any]:
    from infra.local.template import Template

    os.environ.setdefault("PROVINCE", "520000")
    template = Template(ROOT / "template.yaml", "openapi", {}, "cn-north-1")
    for fn in template.functions().values():
        for name, value in fn.environment.items():
            os.environ.setdefault(name, value)
    routes = [openapi.Route(r.method, r.path, r.function, r.authorized) for r in template.routes()]
    return openapi.build(routes, _function_documents(template))


def render() -> str:
    return openapi.render(build())


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
