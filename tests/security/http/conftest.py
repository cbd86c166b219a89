"""The HTTP security suites: each drives a local stack started as its own process
(``tests/e2e/stack.py``), as a front end or an attacker would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.http.world import SecurityStack, security_stack


# -- one Guizhou stack per worker for the token attacks, the authorization matrix and mass
# assignment: a stack takes seconds to start; each suite makes its own accounts.
@pytest.fixture(scope="session")
def guizhou_stack() -> Iterator[SecurityStack]:
    with security_stack("520000") as started:
        yield started
