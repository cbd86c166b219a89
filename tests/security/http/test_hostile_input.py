"""Hostile bodies on every write route of a local stack: oversized, deeply nested, wrong types
in every field, non-finite and huge numbers, odd Unicode, empty and very long strings.

Each is a clear 4xx in the error envelope naming the field, never a 5xx, and a refused request
writes nothing: the stack's tables hold as many items after a route's refused requests as
before (every stream record processed). Each route's base body is shown to be accepted, so a
refusal is the hostile part's doing. The fields come from the served OpenAPI document (request
body schemas of ``healthcode.edge.specs``), so a field added to a route is attacked too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.e2e.stack import ROOT
from tests.security.http.fuzz_world import (
    COUNTY,
    ROLE_OF,
    WRITE_ROUTES,
    World,
    Write,
    running_world,
    write_for,
)

DOCUMENT = json.loads((ROOT / "shared" / "healthcode" / "data" / "openapi.json").read_text(encoding="utf-8"))
MAX_BODY = 256 * 1024
#: Routes that read more than ``MAX_BODY``: a market-entity register upload (up to 10,000 rows).
BODY_LIMITS: dict[str, int] = {"PUT /v1/registers/entities": 4 * 1024 * 1024}
#: Routes that take rows one by one: a bad row is rejected on its own, the others go on.
ROW_ROUTES = frozenset({"POST /v1/lab-results", "PUT /v1/registers/entities"})
SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")
#: One value of each JSON type, for the wrong-type swaps.
TYPE_VALUES: dict[str, Any] = {
    "string": "x",
    "integer": 7,
    "number": 7.5,
    "boolean": True,
    "null": None,
    "array": ["x"],
    "object": {"x": 1},
}
#: Where a refusal names another field than the one attacked, and why.
NAMED_INSTEAD = {
    # person_id and id_number are exclusive: a second one, of any type, is refused on person_id
    ("POST /v1/cases", "id_number"): "person_id",
}
Path = tuple[str | int, ...]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_world() as started:
        yield started


# -- the request bodies' schemas --------------------------------------------------------------


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def allowed_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema accepts (all of them when it does not say)."""
    schema = resolve(schema)
    if "anyOf" in schema:
        return set().union(*(allowed_types(branch) for branch in schema["anyOf"]))
    declared = schema.get("type")
    if declared is None:
        return set(TYPE_VALUES)
    types = {declared} if isinstance(declared, str) else set(declared)
    return types | ({"integer"} if "number" in types else set())


def object_branch(schema: dict[str, Any]) -> dict[str, Any] | None:
    schema = resolve(schema)
    for branch in schema.get("anyOf", [schema]):
        branch = resolve(branch)
        if branch.get("type") == "object" and "properties" in branch:
            return branch
    return None


def body_schema(key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    return resolve(
        DOCUMENT["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    )


def routes_declaring(predicate: Any) -> list[str]:
    """The write routes whose body schema has a part (at any depth) for which ``predicate`` holds."""

    def found(schema: Any) -> bool:
        if isinstance(schema, list):
            return any(found(item) for item in schema)
        if not isinstance(schema, dict):
            return False
        schema = resolve(schema)
        return predicate(schema) or any(found(value) for value in schema.values())

    return [key for key in WRITE_ROUTES if found(body_schema(key))]


def fields(schema: dict[str, Any], value: Any, prefix: Path = ()) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every field of an object schema, nested objects and the first item of lists included."""
    for name, field_schema in schema.get("properties", {}).items():
        path = (*prefix, name)
        yield path, field_schema
        inner = value.get(name) if isinstance(value, dict) else None
        nested = object_branch(field_schema)
        if nested is not None and isinstance(inner, dict):
            yield from fields(nested, inner, path)
        items = resolve(field_schema).get("items")
        if items is not None and isinstance(inner, list) and inner:
            item = object_branch(items)
            if item is not None and isinstance(inner[0], dict):
                yield from fields(item, inner[0], (*path, 0))


def with_value(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def dotted(path: Path) -> str:
    return ".".join(str(step) for step in path)


def in_a_lab_row(key: str, path: Path) -> bool:
    return key == "POST /v1/lab-results" and path[:2] == ("results", 0) and len(path) > 2


# -- sending, and counting what was sent --------------------------------------------------------

SENT: Counter[str] = Counter()


def attack(world: World, write: Write, *, json: Any = None, data: bytes | None = None) -> Any:
    """Send a hostile request to ``write``'s route (counted for the figures ``-s`` prints)."""
    SENT[os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]] += 1
    return world.call(write.method, write.path, write.role or None, json=json, data=data)


@pytest.fixture(autouse=True)
def figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if SENT[request.node.nodeid]:
        print(f"\nhostile {request.node.name}: {SENT[request.node.nodeid]} requests")


# -- what every refusal must look like ----------------------------------------------------------


def refusal(key: str, path: Path, answer: Any, what: str) -> str | None:
    """Why ``answer`` is not a clear refusal of the field at ``path`` (None when it is)."""
    if answer.status_code >= 500 or answer.status_code < 400:
        return f"{key} {dotted(path)} {what}: {answer.status_code} {answer.text[:300]}"
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"{key} {dotted(path)} {what}: not the envelope: {answer.text[:300]}"
    if set(error) != {"code", "message", "field"} or not SNAKE_CASE.fullmatch(str(error["code"])):
        return f"{key} {dotted(path)} {what}: envelope {error}"
    named = str(error["field"] or "").replace("[", ".").replace("]", "")
    attacked = dotted(path)
    expected = NAMED_INSTEAD.get((key, attacked), attacked)
    if path and not (
        named == expected or expected.startswith(f"{named}.") or named.startswith(f"{expected}.")
    ):
        return f"{key} {attacked} {what}: refused naming {error['field']!r} ({error['code']})"
    return None


def row_refusal(key: str, path: Path, answer: Any, what: str) -> str | None:
    """A bad row (a lab result, a register entry) is rejected on its own: 200, nothing accepted,
    the row named in rejected."""
    if answer.status_code != 200:
        return f"{key} {dotted(path)} {what}: {answer.status_code} {answer.text[:300]}"
    result = answer.json()
    if result["accepted"] != 0 or [r["index"] for r in result["rejected"]] != [0]:
        return f"{key} {dotted(path)} {what}: row not rejected: {result}"
    return None


def raw_json(body: dict[str, Any], path: Path, literal: str) -> bytes:
    """``body`` as JSON text with the value at ``path`` written as ``literal`` (any JSON text,
    valid or not: NaN, 1e999, a lone surrogate escape...)."""
    marker = "\u2063MARK\u2063"
    text = json.dumps(with_value(body, path, marker), ensure_ascii=False)
    return text.replace(json.dumps(marker, ensure_ascii=False), literal).encode("utf-8")


# -- the suite ------------------------------------------------------------------------------------


def test_every_route_with_a_body_is_attacked() -> None:
    # GIVEN the document WHEN its operations with a request body are listed THEN each is a write
    # route this suite attacks (a new one fails here until it has a base body)
    with_body = {
        f"{method.upper()} {path}"
        for path, methods in DOCUMENT["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    }
    assert with_body == set(WRITE_ROUTES)


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_the_base_body_is_accepted(world: World, key: str) -> None:
    # GIVEN a route's base body WHEN sent as is THEN it is accepted: the attacks below change one
    # thing in it, so their refusals are that thing's doing
    write = write_for(world, key)
    answer = world.call(write.method, write.path, write.role, json=write.body)
    assert 200 <= answer.status_code < 300, answer.text
    # AND it fits the route's documented schema (the document is no stricter than the handler)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(DOCUMENT))
    method, path = key.split(" ", 1)
    pointer = (
        f"/paths/{path.replace('/', '~1')}/{method.lower()}/requestBody/content/application~1json/schema"
    )
    Draft202012Validator({"$ref": f"urn:openapi#{pointer}"}, registry=registry).validate(write.body)


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_a_body_over_256_kb_is_refused_with_413_and_writes_nothing(world: World, key: str) -> None:
    # GIVEN the base body padded (in a field the route reads) to one byte over 256 KB (over the
    # route's own limit where it reads more)
    write = write_for(world, key)
    name = next(iter(write.body))
    padded = raw_json(write.body, (name,), "")
    limit = BODY_LIMITS.get(key, MAX_BODY)
    filler = limit + 1 - len(padded) - 2
    body = raw_json(write.body, (name,), json.dumps("x" * filler))
    assert len(body) == limit + 1
    before = world.item_counts()
    # WHEN it is sent THEN 413 payload_too_large, and no item was written
    answer = attack(world, write, data=body)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert world.item_counts(settle=False) == before


def test_a_body_of_exactly_256_kb_is_read(world: World) -> None:
    # GIVEN an appeal whose reason makes the body exactly 256 KB
    key = "POST /v1/codes/{person_id}/appeals"
    write = write_for(world, key)
    filler = MAX_BODY - len(raw_json(write.body, ("reason",), "")) - 2
    body = raw_json(write.body, ("reason",), json.dumps("x" * filler))
    assert len(body) == MAX_BODY
    # WHEN it is sent THEN the body is read: the reason is refused as too long, on its field
    answer = attack(world, write, data=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "reason"


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_deep_nesting_is_a_clear_400_and_writes_nothing(world: World, key: str) -> None:
    # GIVEN bodies nested 100,000 levels deep (arrays; objects 40,000 deep to stay under 256 KB),
    # as the whole body and inside the first field, and 900 levels (within what a parser takes)
    write = write_for(world, key)
    name = next(iter(write.body))
    arrays = "[" * 100_000 + "]" * 100_000
    objects = '{"a":' * 40_000 + "0" + "}" * 40_000
    cases = {
        "arrays as the body": arrays.encode(),
        "objects as the body": objects.encode(),
        "arrays in a field": raw_json(write.body, (name,), arrays),
        "objects in a field": raw_json(write.body, (name,), objects),
    }
    before = world.item_counts()
    problems = []
    for what, data in cases.items():
        # WHEN each is sent THEN 400 invalid_json
        answer = attack(world, write, data=data)
        if answer.status_code != 400 or answer.json()["error"]["code"] != "invalid_json":
            problems.append(f"{what}: {answer.status_code} {answer.text[:200]}")
    shallow = raw_json(write.body, (name,), "[" * 900 + "]" * 900)
    # AND 900 levels in a field are refused on that field
    check = row_refusal if key in ROW_ROUTES else refusal  # a list where a row should be
    problem = check(key, (name,), attack(world, write, data=shallow), "900 levels")
    problems += [problem] if problem else []
    assert not problems, "\n".join(problems)
    assert world.item_counts(settle=False) == before


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_a_wrong_type_in_any_field_is_a_clear_422_and_writes_nothing(world: World, key: str) -> None:
    # GIVEN the base body with one field (nested ones and a list's first item too) given a value
    # of each JSON type its schema does not allow: string, number, boolean, null, list, object
    write = write_for(world, key)
    before = world.item_counts()
    problems, sent = [], 0
    for path, schema in fields(body_schema(key), write.body):
        allowed = allowed_types(schema)
        for type_name, value in TYPE_VALUES.items():
            if type_name in allowed:
                continue
            # WHEN it is sent THEN it is refused, naming the field (a lab row: rejected alone)
            answer = attack(world, write, json=with_value(write.body, path, value))
            sent += 1
            check = row_refusal if in_a_lab_row(key, path) else refusal
            problem = check(key, path, answer, f"as {type_name}")
            problems += [problem] if problem else []
    assert sent > 0
    assert not problems, "\n".join(problems)
    # AND nothing was written
    assert world.item_counts(settle=False) == before


NON_FINITE = ("NaN", "Infinity", "-Infinity")
OUT_OF_RANGE = {
    "1e999": "1e999",
    "-1e999": "-1e999",
    "the largest double": "1.7976931348623157e308",
    "a 401-digit integer": "1" + "0" * 400,
}
TOO_MANY_DIGITS = "9" * 5000


@pytest.mark.parametrize("key", routes_declaring(lambda schema: schema.get("type") in ("number", "integer")))
def test_non_finite_and_huge_numbers_are_clear_4xx_and_write_nothing(world: World, key: str) -> None:
    # GIVEN the base body with a numeric field (temperature, lat, lng, risk_level...) written as
    # NaN or ±Infinity (not JSON), 1e999 (read as infinity), the largest double or a 401-digit
    # integer (out of every range), or 5,000 digits (over what the parser reads)
    write = write_for(world, key)
    numeric = [
        path
        for path, schema in fields(body_schema(key), write.body)
        if allowed_types(schema) & {"number", "integer"}
    ]
    assert numeric
    before = world.item_counts()
    problems = []
    for path in numeric:
        for literal in (*NON_FINITE, TOO_MANY_DIGITS):
            # WHEN sent THEN 400 invalid_json
            answer = attack(world, write, data=raw_json(write.body, path, literal))
            if answer.status_code != 400 or answer.json()["error"]["code"] != "invalid_json":
                problems.append(f"{dotted(path)} {literal[:12]}: {answer.status_code} {answer.text[:200]}")
        for what, literal in OUT_OF_RANGE.items():
            # WHEN sent THEN 422 on the field
            answer = attack(world, write, data=raw_json(write.body, path, literal))
            problem = refusal(key, path, answer, what)
            problems += [problem] if problem else []
    assert not problems, "\n".join(problems)
    assert world.item_counts(settle=False) == before


#: Text a field must refuse, whatever it holds: an unpaired surrogate (the ``\ud800`` escape: not
#: Unicode text, RFC 7493), a NUL, nothing at all, 200,000 characters.
REFUSED_TEXT: dict[str, Any] = {
    "a lone surrogate": lambda base: json.dumps(base)[:-1] + '\\ud800"',
    "a NUL": lambda base: json.dumps(base + "\u0000"),
    "an empty string": lambda base: '""',
    "200,000 characters": lambda base: json.dumps(base + "x" * 200_000),
}
#: Text a field may take or refuse (names refuse all but letters; free text may keep them), but
#: never with a 5xx: a right-to-left override, a zero-width joiner, a 4-byte emoji, stacked
#: combining marks, full-width digits.
ODD_TEXT: dict[str, Any] = {
    "a right-to-left override": lambda base: json.dumps("\u202e" + base, ensure_ascii=False),
    "a zero-width joiner": lambda base: json.dumps(base + "\u200d", ensure_ascii=False),
    "a 4-byte emoji": lambda base: json.dumps(base + "\U0001f637", ensure_ascii=False),
    "combining marks": lambda base: json.dumps(base + "e\u0301\u0302\u0303\u0304", ensure_ascii=False),
    "full-width digits": lambda base: json.dumps(base.translate(FULL_WIDTH), ensure_ascii=False),
}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
#: Fields that hold digits a person types: full-width digits are refused there (never stored as
#: another number than the one meant). ID numbers are not among them: they are read after NFKC,
#: so full-width digits typed with a Chinese input method are the ASCII number (docs/api.md).
DIGIT_FIELDS = frozenset({"phone", "manager_phone", "region_code"})


def text_fields(key: str, body: dict[str, Any]) -> list[tuple[Path, str]]:
    """String fields and the base text each holds ("" for one the base body leaves out)."""
    found = []
    for path, schema in fields(body_schema(key), body):
        if "string" not in allowed_types(schema) or allowed_types(schema) == set(TYPE_VALUES):
            continue
        value: Any = body
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        found.append((path, value if isinstance(value, str) else ""))
    return found


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_bad_text_in_any_field_is_a_clear_4xx_and_writes_nothing(world: World, key: str) -> None:
    # GIVEN the base body with a text field holding a lone surrogate, a NUL, nothing, or 200,000
    # characters; and, in the fields people type digits into, full-width digits
    write = write_for(world, key)
    before = world.item_counts()
    problems = []
    for path, base in text_fields(key, write.body):
        variants = dict(REFUSED_TEXT)
        if path[-1] in DIGIT_FIELDS:
            variants["full-width digits"] = ODD_TEXT["full-width digits"]
        for what, make in variants.items():
            # WHEN sent THEN a clear 4xx naming the field (a lab row: rejected alone)
            answer = attack(world, write, data=raw_json(write.body, path, make(base)))
            if what == "a lone surrogate":  # refused as the body's text, before any field is read
                if answer.status_code != 400 or answer.json()["error"]["code"] != "invalid_json":
                    problems.append(f"{dotted(path)} {what}: {answer.status_code} {answer.text[:200]}")
                continue
            check = row_refusal if in_a_lab_row(key, path) else refusal
            problem = check(key, path, answer, what)
            problems += [problem] if problem else []
    assert not problems, "\n".join(problems)
    # AND nothing was written
    assert world.item_counts(settle=False) == before


@pytest.mark.parametrize("key", WRITE_ROUTES)
def test_odd_unicode_in_any_field_is_taken_or_clearly_refused(world: World, key: str) -> None:
    # GIVEN the base body with a text field holding a right-to-left override, a zero-width joiner,
    # a 4-byte emoji, stacked combining marks or full-width digits
    problems = []
    for path, base in text_fields(key, write_for(world, key).body):
        if not base:
            continue
        for what, make in ODD_TEXT.items():
            if what == "full-width digits" and (
                path[-1] in DIGIT_FIELDS or base == base.translate(FULL_WIDTH)
            ):
                continue
            write = write_for(world, key)  # each may be taken: a fresh override, appeal, applicant
            # WHEN sent THEN taken (2xx), or refused with a clear 4xx naming the field; never a 5xx
            answer = attack(world, write, data=raw_json(write.body, path, make(base)))
            if 200 <= answer.status_code < 300:
                continue
            check = row_refusal if in_a_lab_row(key, path) else refusal
            problem = check(key, path, answer, what)
            problems += [problem] if problem else []
    assert not problems, "\n".join(problems)


#: Instants no request may name: before the epoch (year 1, where a UTC offset or a 14-day
#: lookback leaves the calendar; 1900), and beyond what UTC can show (9999-12-31 at -08:00).
OUT_OF_RANGE_INSTANTS = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+08:00",
    "1900-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-08:00",
    "9999-12-31T23:59:59Z",
)


@pytest.mark.parametrize("key", routes_declaring(lambda schema: schema.get("format") == "date-time"))
def test_instants_out_of_range_are_clear_4xx_and_write_nothing(world: World, key: str) -> None:
    # GIVEN the base body with a time field (diagnosed_at, sampled_at, left_at, until) at year 1,
    # 1900 or 9999
    write = write_for(world, key)
    instants = [
        path for path, schema in fields(body_schema(key), write.body) if "date-time" in json.dumps(schema)
    ]
    assert instants
    before = world.item_counts()
    problems = []
    for path in instants:
        for instant in OUT_OF_RANGE_INSTANTS:
            # WHEN sent THEN refused on the field (a lab row: rejected alone), never a 5xx
            answer = attack(world, write, json=with_value(write.body, path, instant))
            check = row_refusal if in_a_lab_row(key, path) else refusal
            problem = check(key, path, answer, instant)
            problems += [problem] if problem else []
    assert not problems, "\n".join(problems)
    # AND nothing was written, and no stream consumer failed on what was
    assert world.item_counts(settle=False) == before


ODD_PARAMETER_VALUES = (
    "²",  # str.isdigit() says yes, int() says no
    "１２",  # full-width digits
    "-1",
    "1e3",
    "",
    "\u0000",
    "\u202e12",
    "\U0001f637",
    "%ED%A0%80",  # a lone surrogate, UTF-8-encoded (not UTF-8): sent as these bytes
    "x" * 4000,
)


def parameterised_operations() -> list[tuple[str, list[dict[str, Any]]]]:
    """Operations with query or path parameters, and those parameters."""
    found = []
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            parameters = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
            if parameters:
                found.append((f"{method.upper()} {path}", parameters))
    return found


def known_ids(world: World) -> dict[str, str]:
    return {
        "person_id": world.person_id,
        "venue_id": world.venue_id,
        "case_id": world.case_id,
        "override_id": world.override_id,
        "appeal_id": world.appeal_id,
        "region_code": COUNTY,
        "sub": "hostile-staff",  # an account assigned and removed here, never the world's scanner
    }


@pytest.mark.parametrize(
    ("key", "parameters"), parameterised_operations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_odd_query_and_path_values_are_answered_or_clear_4xx(
    world: World, key: str, parameters: list[dict[str, Any]]
) -> None:
    # GIVEN an operation (on ids that exist) with one query or path parameter set to odd text:
    # "²" (a digit to str.isdigit, not to int), full-width digits, a negative, an exponent,
    # nothing, NUL, a right-to-left override, an emoji, invalid UTF-8, 4,000 characters
    method, template = key.split(" ", 1)
    body = write_for(world, key).body if key in WRITE_ROUTES else None
    ids = known_ids(world)
    problems = []
    for parameter in parameters:
        for value in ODD_PARAMETER_VALUES:
            sent = value if value.startswith("%") else urllib.parse.quote(value, safe="")
            values = {**ids, parameter["name"]: sent} if parameter["in"] == "path" else ids
            path = re.sub(r"\{([^}]+)\}", lambda m, values=values: values[m.group(1)], template)
            if parameter["in"] == "query":
                path += f"?{parameter['name']}={sent}"
            # WHEN called THEN answered, or refused with a clear 4xx; never a 5xx
            answer = attack(world, Write(method, template, path, ROLE_OF[key] or "", {}), json=body)
            what = f"{parameter['name']}={value[:12]!r}"
            if answer.status_code == 404 and answer.json() == {"message": "Not Found"} and not sent:
                continue  # an empty path segment matches no route: API Gateway's own 404
            if answer.status_code >= 400:
                problem = refusal(key, (), answer, what)
                problems += [problem] if problem else []
    assert not problems, "\n".join(problems)
