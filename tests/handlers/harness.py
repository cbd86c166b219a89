"""Fixtures for handler tests (see conftest.py): the in-process stack of ``infra.local.inprocess``,
fresh per test (``aws_stack``) or shared by a test module (``module_stack``, for tests that write
under fresh ids), and a province switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from healthcode import clock, settings
from healthcode.codes import keystore
from healthcode.codes.tokens import KeySet, new_key

from infra.local.inprocess import SERVICES, Answer, InProcessStack, in_process_stack

__all__ = [
    "SERVICES",
    "Answer",
    "InProcessStack",
    "aws_stack",
    "in_process_stack",
    "module_stack",
    "province",
]


@pytest.fixture
def aws_stack() -> Iterator[InProcessStack]:
    """A fresh copy of the template's resources in moto for one test."""
    with in_process_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def module_stack() -> Iterator[InProcessStack]:
    """One copy per test module (creating every resource takes a second or two); tests sharing it
    write under fresh ids. Use it through a function-scoped fixture that puts the clock back."""
    with in_process_stack() as stack:
        yield stack


@pytest.fixture
def province(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Switch the province for one test: ``province("350000")``. A personal code's key id names
    its province, so a running stack gets a code key of that province (signing at once) for the
    test, and its own key set back afterwards."""
    saved: list[str] = []

    def switch(code: str) -> None:
        monkeypatch.setenv("PROVINCE", code)
        settings.reset()
        if os.environ.get(keystore.SECRET_ENV):
            keys = keystore._load()
            saved.append(keys.to_json())
            code_key = new_key("code", now=clock.now(), province=code, activates_at=clock.EARLIEST)
            others = tuple(key for key in keys.keys if key.use != "code")
            keystore._store(KeySet(keys=(*others, code_key)))

    yield switch
    if saved and os.environ.get(keystore.SECRET_ENV):
        keystore._store(KeySet.from_json(saved[0]))
    settings.reset()
    clock.reset()
