"""Handler tests: the template's resources in in-process moto, handlers loaded from the
template's CodeUri/Handler, invoked with API Gateway HTTP API v2 events built by the same code
as the local stack. The environment (stack "test") is the suite-wide one, ``tests/conftest.py``."""

from __future__ import annotations

from tests.handlers.harness import aws_stack, province  # noqa: F401
