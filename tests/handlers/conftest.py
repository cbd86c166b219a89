"""Handler tests: the template's resources in in-process moto, handlers loaded from the
template's CodeUri/Handler, invoked with API Gateway HTTP API v2 events built by the same code
as the local stack. Table names are fixed (stack "test") so models bind at import."""

from __future__ import annotations

import os

from infra.local.template import ROOT_TEMPLATE, Template

STACK = "test"
REGION = "cn-north-1"
_TEMPLATE = Template(ROOT_TEMPLATE, STACK, {"Province": "520000"}, REGION)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PROVINCE": "520000",
        "RETENTION_DAYS": "28",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
# table names the storage models bind to at import
from healthcode.storage.connection import TABLE_ENV  # noqa: E402

for _logical, _env in TABLE_ENV.items():
    os.environ[_env] = _TEMPLATE.physical_name(_logical)

from tests.handlers.harness import aws_stack, province  # noqa: E402, F401
