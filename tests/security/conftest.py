"""The security suites: most drive a local stack over HTTP (``tests/e2e/stack.py``); the fault
suite runs the template's functions in-process on moto (``infra.local.inprocess``), which needs
the same environment as the handler tests (``tests/handlers/conftest.py``): fixed table names
(stack "test") the storage models bind to at import, a region, fake credentials."""

from __future__ import annotations

import os

from infra.local.template import ROOT_TEMPLATE, Template

_STACK = "test"
_REGION = "cn-north-1"
_TEMPLATE = Template(ROOT_TEMPLATE, _STACK, {"Province": "520000"}, _REGION)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": _REGION,
        "AWS_DEFAULT_REGION": _REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PROVINCE": "520000",
        "RETENTION_DAYS": "28",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
from healthcode.storage.connection import TABLE_ENV  # noqa: E402

for _logical, _env in TABLE_ENV.items():
    os.environ[_env] = _TEMPLATE.physical_name(_logical)


# -- one Guizhou stack per worker for the HTTP suites of groups 1-2 (token attacks, authorization
# matrix, mass assignment): a stack takes seconds to start; each suite makes its own accounts.
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.security.world import SecurityStack, security_stack  # noqa: E402


@pytest.fixture(scope="session")
def guizhou_stack() -> Iterator[SecurityStack]:
    with security_stack("520000") as started:
        yield started
