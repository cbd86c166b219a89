"""The message catalogue: a Chinese sentence for every error code, the language of an answer."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from healthcode import errors
from healthcode.edge import messages, specs
from healthcode.edge.http import error_response
from healthcode.edge.messages import CATALOGUE, language_of, render
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "shared" / "healthcode").rglob("*.py")),
    *sorted((ROOT / "functions").rglob("*.py")),
]
#: Calls whose ``code=`` is not an error code (a colour's reason).
_NOT_ERRORS = frozenset({"Reason"})
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` / ``NAME: Final = "text"``."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = value.value
    return found


def _codes_in(path: Path) -> set[str]:
    """Codes raised in a source file: ``code="..."`` keywords (or a module constant), a class's
    ``default_code``, and ``(code, message)`` pairs of refusal tables."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _constants(tree)
    codes: set[str] = set()
    not_errors = {
        id(keyword)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _NOT_ERRORS
        for keyword in call.keywords
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code" and id(node) not in not_errors:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                codes.add(node.value.value)
            elif isinstance(node.value, ast.Name) and node.value.id in constants:
                codes.add(constants[node.value.id])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [target.id for target in targets if isinstance(target, ast.Name)]
            if "default_code" in names and isinstance(node.value, ast.Constant):
                codes.add(str(node.value.value))
            if any(name.endswith("REFUSALS") for name in names) and isinstance(node.value, ast.Dict):
                for pair in node.value.values:
                    if isinstance(pair, ast.Tuple) and isinstance(pair.elts[0], ast.Constant):
                        codes.add(str(pair.elts[0].value))
    return {code for code in codes if re.fullmatch(r"[a-z][a-z0-9_]*", code)}


def _spec_codes(value: Any) -> set[str]:
    """Every ``x-error-code`` / ``x-missing-code`` a request spec names."""
    codes: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("x-error-code", "x-missing-code"):
                codes.update([inner] if isinstance(inner, str) else list(inner.values()))
            else:
                codes |= _spec_codes(inner)
    elif isinstance(value, list):
        for inner in value:
            codes |= _spec_codes(inner)
    return codes


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in SOURCES:
        codes |= _codes_in(path)
    codes |= _spec_codes(specs.COMPONENTS)
    codes |= _spec_codes([operation.body for operation in specs.OPERATIONS.values()])
    codes |= {
        cls.default_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and hasattr(cls, "default_code")
    }
    return codes


def test_the_source_walk_finds_codes_of_each_kind() -> None:
    # GIVEN the source WHEN walked THEN codes of keywords, defaults, constants, tables and specs are found
    codes = raised_codes()
    assert {
        "identity_mismatch",
        "rate_limited",
        "invalid_credential",
        "link_code_expired",
        "too_many_trips",
    } <= codes


def test_every_error_code_raised_has_a_chinese_message() -> None:
    # GIVEN every code the service raises WHEN looked up THEN each has a Chinese sentence
    missing = sorted(code for code in raised_codes() if code not in CATALOGUE)
    assert missing == [], f"add Chinese entries to healthcode.edge.messages.CATALOGUE: {missing}"
    for code, message in CATALOGUE.items():
        assert _CJK.search(message.zh), code
        assert message.en and not _CJK.search(message.en), code


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh;q=0.5, en;q=0.8", "en"),
        ("fr-FR, en;q=0.1", "en"),
        ("fr-FR, de", "zh"),
        ("en;q=0, zh;q=0.1", "zh"),
        ("en;q=0", "zh"),
        ("*", "zh"),
        ("en;q=0.5, zh;q=0.5", "en"),
        ("zh-Hans-CN", "zh"),
        ("en;q=abc", "zh"),
        ("en;q=1.5", "zh"),
        (";;;,,,", "zh"),
    ],
)
def test_accept_language_picks_the_language(header: str | None, expected: str) -> None:
    # GIVEN an Accept-Language header WHEN read THEN the answer's language is the best supported one
    assert language_of(header) == expected


@given(st.text(max_size=200))
def test_any_accept_language_header_gives_a_supported_language(header: str) -> None:
    # GIVEN any header text WHEN read THEN Chinese or English, never an error
    assert language_of(header) in ("zh", "en")


def test_chinese_names_the_field_and_english_keeps_the_raised_detail() -> None:
    # GIVEN a missing field WHEN rendered THEN the Chinese names the field, the English is as raised
    assert render("missing_field", language="zh", field="declaration.travel.0.left_at") == "请填写离开时间。"
    assert (
        render("missing_field", language="en", english="name is required", field="name") == "name is required"
    )
    # a code without an entry falls back to its status
    assert render("no_such_code_anywhere", language="zh", status=404) == CATALOGUE["not_found"].zh


def test_the_envelope_is_chinese_by_default_and_english_on_request() -> None:
    # GIVEN a domain error WHEN answered in each language THEN code and field stay, the message changes
    error = errors.Conflict("the name does not match", field="name", code="identity_mismatch")
    chinese = json.loads(error_response(error).body)["error"]
    english = json.loads(error_response(error, "en").body)["error"]
    assert chinese == {
        "code": "identity_mismatch",
        "field": "name",
        "message": CATALOGUE["identity_mismatch"].zh,
    }
    assert english == {"code": "identity_mismatch", "field": "name", "message": "the name does not match"}
    assert error_response(error).headers["Content-Language"] == messages.CONTENT_LANGUAGE["zh"]
