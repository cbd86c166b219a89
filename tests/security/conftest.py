"""The security suites: most drive a local stack over HTTP (``tests/e2e/stack.py``); the fault
suite runs the template's functions in-process on moto (``infra.local.inprocess``) in the
suite-wide environment (``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.world import SecurityStack, security_stack


# -- one Guizhou stack per worker for the HTTP suites of groups 1-2 (token attacks, authorization
# matrix, mass assignment): a stack takes seconds to start; each suite makes its own accounts.
@pytest.fixture(scope="session")
def guizhou_stack() -> Iterator[SecurityStack]:
    with security_stack("520000") as started:
        yield started
