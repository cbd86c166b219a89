"""``make bench``: run every measurement, print a table, write ``.bench/results.json``.

The environment is set here, before anything imports the storage models (they bind their table
names on import), exactly as the handler tests' conftest does.
"""

from __future__ import annotations

import argparse
import os
import sys

from infra.local.template import ROOT_TEMPLATE, Template

REGION = "cn-north-1"


def _environment(province: str) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PROVINCE": province,
            "RETENTION_DAYS": "28",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    template = Template(ROOT_TEMPLATE, "test", {"Province": province}, REGION)
    from healthcode.storage.connection import TABLE_ENV

    for logical, variable in TABLE_ENV.items():
        os.environ[variable] = template.physical_name(logical)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench", description=__doc__)
    parser.add_argument("--province", default="520000")
    parser.add_argument("--repeats", type=int, default=200, help="requests per route for handler times")
    parser.add_argument("--contacts", type=int, default=1000, help="contacts for the tracing timeliness run")
    parser.add_argument("--skip-local-stack", action="store_true", help="skip the local-stack timeliness run")
    args = parser.parse_args(argv)
    _environment(args.province)
    from infra.bench.run import run

    return run(
        repeats=args.repeats,
        contacts=args.contacts,
        local_stack=not args.skip_local_stack,
        province=args.province,
    )


if __name__ == "__main__":
    sys.exit(main())
