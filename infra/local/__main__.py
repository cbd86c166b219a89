"""``python -m infra.local``: serve the whole API on moto in the foreground (``make run``;
``--engine dynamodb-local``: DynamoDB on DynamoDB Local, ``make run ENGINE=dynamodb-local``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from infra.local.engine import ENGINES
from infra.local.stack import ROOT, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--province", default=os.environ.get("PROVINCE", "520000"))
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument(
        "--ttl-interval",
        type=float,
        default=float(os.environ.get("TTL_INTERVAL", "0")),
        help="seconds between TTL sweeps (0: only on POST /_local/ttl)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="execution environments per function (default: LOCAL_CONCURRENCY, else 4)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="what answers DynamoDB: moto (default) or dynamodb-local (default: LOCAL_ENGINE, else moto)",
    )
    parser.add_argument(
        "--web-auth",
        choices=("local", "oidc"),
        default=os.environ.get("WEB_AUTH", "local"),
        help="how the web pages sign in: local (a role picker) or oidc (code + PKCE, emulated)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOCAL_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parameters = dict(p.split("=", 1) for p in args.parameter)
    stack = LocalStack(
        template_path=args.template,
        province=args.province,
        port=args.port,
        host=args.host,
        parameters=parameters,
        ttl_interval_s=args.ttl_interval,
        concurrency=args.concurrency,
        engine=args.engine,
        web_auth=args.web_auth,
    )
    stack.start()
    print(f"HealthCode local stack for province {args.province}: {stack.url}", flush=True)
    print(
        f"routes: {len(stack.router.routes)}  functions: {len(stack.functions)}  "
        f"stream consumers: {len(stack.pump.sources)}  concurrency: {stack.concurrency}  "
        f"moto: {stack.moto_endpoint}  engine: {stack.engine}",
        flush=True,
    )
    print(f"ready on {stack.url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    # Everything lives in this process's memory: stop politely, but never wait long for it.
    closer = threading.Thread(target=stack.stop, daemon=True)
    closer.start()
    closer.join(timeout=2)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
