"""Suite-wide settings: the environment every suite runs in, and hypothesis profiles
(``HYPOTHESIS_PROFILE=thorough`` for more examples).

The environment is the one a function of stack "test" sees in region cn-north-1: fake AWS
credentials (moto answers everything; no real endpoint is ever reached), Guizhou's province, and
the template's physical table names. Storage reads table names when a table is used, so a
suite may still change them (``infra.local.inprocess`` sets its own stack's); the local stack
started by the e2e and HTTP security suites drops the ``AWS_*`` variables and makes its own.
"""

from __future__ import annotations

import os

from healthcode.storage.connection import TABLE_ENV
from hypothesis import HealthCheck, settings

from infra.local.template import ROOT_TEMPLATE, Template

STACK = "test"
REGION = "cn-north-1"
PROVINCE = "520000"


def _use_test_environment() -> None:
    template = Template(ROOT_TEMPLATE, STACK, {"Province": PROVINCE}, REGION)
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
            "PROVINCE": PROVINCE,
            "RETENTION_DAYS": "28",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for logical_id, variable in TABLE_ENV.items():
        os.environ[variable] = template.physical_name(logical_id)


_use_test_environment()

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
