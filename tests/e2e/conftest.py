from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One Guizhou (520000) stack shared by tests that do not move its clock."""
    with running_stack("520000") as started:
        yield started
