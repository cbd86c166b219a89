"""Fixtures for handler tests (see conftest.py): the in-process stack of ``infra.local.inprocess``,
fresh per test (``aws_stack``) or shared by a test module (``module_stack``, for tests that write
under fresh ids), and a province switch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from healthcode import clock, settings

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
    """Switch the province for one test: ``province("350000")``."""

    def switch(code: str) -> None:
        monkeypatch.setenv("PROVINCE", code)
        settings.reset()

    yield switch
    settings.reset()
    clock.reset()
