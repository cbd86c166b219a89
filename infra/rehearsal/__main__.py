"""Deploy rehearsal, offline: what ``sam deploy --config-env <province>`` would create, created in
moto's CloudFormation, then checked resource by resource through the services' own APIs.

``python -m infra.rehearsal`` (``make rehearse``) rehearses every environment of samconfig.toml;
``--env fujian`` one. For each environment:

1. **Parameters**: the environment's ``parameter_overrides`` are checked as CloudFormation checks
   them (known names, required values, ``AllowedPattern``, ``MinValue``/``MaxValue``, lengths),
   and against the province: its policy file exists, the stack is ``healthcode-<province>``, the
   tags name the province, ``RetentionDays`` equals the policy's retention and covers tracing's
   lookback.
2. **Transform**: ``template.yaml`` is translated with samtranslator (``infra.rehearsal.translate``)
   with those parameter values and region, as CloudFormation's transform would.
3. **Package**: each function's ``CodeUri`` and the layer's ``ContentUri`` are zipped into moto S3
   where the translation points (what ``sam package`` uploads; the layer's sources go under
   ``python/``, its requirements are only listed, not installed: that is ``make build``'s job).
4. **What moto's CloudFormation cannot create** is never silently dropped. Secrets and the HTTP
   API are created with their services' APIs before the stack (so references get real ids);
   alarms, the API's stage and routes (the resolved OpenAPI body) and bucket policies after it,
   from the translation's properties with every reference resolved against the created stack.
   Custom resources are not run (moto would invoke the function in a container; the local stack
   runs the signing-key bootstrap through its function, see tests/e2e). Anything else moto does
   not know is stripped and listed. Properties moto's CloudFormation drops (TTL, table
   encryption and point-in-time recovery, function layers and architectures, managed policy
   ARNs) are checked in the translation, and each such check says so; TTL is then applied, as the
   local stack does.
5. **Stack**: ``create_stack`` with the environment's parameters, tags and capabilities; it must
   reach ``CREATE_COMPLETE``.
6. **Checks** through the moto APIs: every table's keys, attributes, indexes and stream; every
   function's handler present in the code it was created from (by hash), its imports present in
   the layer or its requirements; every function's alias ``live`` on a version published from
   that code, SnapStart as the parameter asks, and no route, mapping, schedule or permission
   naming a function past its alias (moto's CloudFormation lacks ``AWS::Lambda::Alias``: the
   rehearsal registers it, creating aliases with moto's Lambda API; infra.rehearsal.versions);
   every stream mapping with ``ReportBatchItemFailures``, bisect, bounded retries and the
   on-failure queue; every role's policies (no ``dynamodb:*`` or data
   action on ``*``, no wildcard action); every route's function and invoke permission; the JWT
   authorizer's issuer and audience; every alarm's dimensions naming created resources, its
   topic and its runbook; an Errors and a Throttles alarm for every function and an
   IteratorAge alarm for every stream consumer; the dashboard; the export bucket; outputs; tags.

The rehearsal exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.ops.environments import DEFAULT_CONFIG, environments
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE, rehearse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="samconfig environment (repeatable; default: all)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--verbose", "-v", action="store_true", help="list every check, not only failures")
    args = parser.parse_args(argv)
    names = args.env or environments(args.config)
    failed = 0
    for name in names:
        report = rehearse(name, template=args.template, config=args.config)
        print(report.render(verbose=args.verbose), flush=True)
        failed += not report.ok
    print(f"{len(names) - failed} of {len(names)} environments rehearsed cleanly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
