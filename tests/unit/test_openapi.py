"""The served OpenAPI document describes what each handler reads: a route whose handler parses a
body (``json_body``) has a request body schema, one that parses none has none; the query
parameters and the Idempotency-Key header it reads are listed, and nothing it does not read.
Found by reading each handler module's code (the route function and the module's helpers it
calls), so a handler that starts reading a new parameter fails here until its spec
(``healthcode.edge.specs``) says so."""

from __future__ import annotations

import ast
import inspect
import json
import os
from functools import cache
from types import ModuleType
from typing import Any

import pytest
from healthcode.edge.specs import OPERATIONS
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from infra.local.template import ROOT_TEMPLATE, Template
from infra.openapi import OUTPUT

TEMPLATE = Template(ROOT_TEMPLATE, "check", {}, "cn-north-1")
ROUTES = {route.key: route for route in TEMPLATE.routes()}
DOCUMENT = json.loads(OUTPUT.read_text(encoding="utf-8"))
#: Callables through which a handler reads a query parameter (first argument: its name).
QUERY_READERS = frozenset({"_query", "get_query_string_value"})


@cache
def handler_module(function: str) -> ModuleType:
    from infra.local.stack import load_module

    os.environ.setdefault("PROVINCE", "520000")
    fn = TEMPLATE.functions()[function]
    for name, value in fn.environment.items():
        os.environ.setdefault(name, value)
    return load_module(function, fn.code_uri, fn.handler)


def route_function(key: str) -> tuple[ModuleType, str]:
    module = handler_module(ROUTES[key].function)
    method, path = key.split(" ", 1)
    for route in module.app.routes:
        if route.method == method and route.openapi_path == path:
            return module, route.func.__name__
    raise LookupError(f"{key}: no route in {module.__name__}")


def reads(module: ModuleType, name: str) -> tuple[bool, set[str], bool]:
    """What the function ``name`` of ``module`` reads, with the module's own functions it calls:
    (a JSON body?, query parameter names, the Idempotency-Key header?)."""
    tree = ast.parse(inspect.getsource(module))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    body, query, idempotency = False, set(), False
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen or current not in functions:
            continue
        seen.add(current)
        for node in ast.walk(functions[current]):
            if isinstance(node, ast.Call):
                called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                body |= called == "json_body"
                if called in QUERY_READERS and node.args and isinstance(node.args[0], ast.Constant):
                    query.add(str(node.args[0].value))
                pending.append(called)
            if isinstance(node, ast.Constant) and node.value == "idempotency-key":
                idempotency = True
            if isinstance(node, ast.Attribute) and node.attr == "HEADER":  # idempotency.HEADER
                idempotency = True
    return body, query, idempotency


def operation(key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    return dict(DOCUMENT["paths"][path][method.lower()])


def test_every_route_has_an_entry_and_every_entry_a_route() -> None:
    assert set(OPERATIONS) == set(ROUTES)


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_the_document_lists_what_the_handler_reads(key: str) -> None:
    # GIVEN a route's handler and what it reads, found in its code
    body, query, idempotency = reads(*route_function(key))
    described = operation(key)
    parameters = described.get("parameters", [])
    # THEN a body it parses has a request body schema (an object), and there is none otherwise
    if body:
        schema = described["requestBody"]["content"]["application/json"]["schema"]
        assert schema.get("type") == "object" and schema.get("properties"), key
        assert "413" in described["responses"], key
    else:
        assert "requestBody" not in described, key
    # AND the query parameters are exactly those it reads, the Idempotency-Key header iff it reads it
    assert {p["name"] for p in parameters if p["in"] == "query"} == query, key
    headers = {p["name"] for p in parameters if p["in"] == "header"} - {"Accept-Language"}
    assert (headers == {"Idempotency-Key"}) == idempotency, key
    # AND every route takes the language of its messages
    assert any(p["name"] == "Accept-Language" and p["in"] == "header" for p in parameters), key


def test_every_schema_in_the_document_is_a_valid_json_schema_and_every_ref_resolves() -> None:
    registry: Registry[Any] = Registry().with_resource("", DRAFT202012.create_resource(DOCUMENT))
    resolver = registry.resolver()
    for path, methods in DOCUMENT["paths"].items():
        for method, described in methods.items():
            schemas = [
                media["schema"]
                for part in (described.get("requestBody", {}), *described["responses"].values())
                for media in part.get("content", {}).values()
            ] + [p["schema"] for p in described.get("parameters", [])]
            for schema in schemas:
                Draft202012Validator.check_schema(schema)
                for ref in _refs(schema):
                    assert resolver.lookup(ref).contents, f"{method} {path}: {ref}"
    for name, schema in DOCUMENT["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        for ref in _refs(schema):
            assert resolver.lookup(ref).contents, f"{name}: {ref}"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "$ref"] + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_every_error_answer_is_the_envelope_and_401_the_authorizers() -> None:
    for path, methods in DOCUMENT["paths"].items():
        for method, described in methods.items():
            for status, answer in described["responses"].items():
                if not status.startswith("4"):
                    continue
                schema = answer["content"]["application/json"]["schema"]["$ref"]
                expected = "Unauthorized" if status == "401" else "Error"
                assert schema == f"#/components/schemas/{expected}", f"{method} {path} {status}"
