"""Rotate a province stack's code-signing keys: ``make rotate-keys ENV=fujian [USE=code|paper|venue]``.

The stack's ``KeyAdminFunction`` does the work (``functions/keys/admin.py`` → ``keystore.rotate``):
it publishes a new key in JWKS at once, lets it sign ``keystore.ACTIVATION_DELAY`` (15 minutes)
later — by then every container's key cache (5 minutes), every other province's trust list
(5 minutes, and a failed refresh retried 30 s later) and every offline verifier's JWKS copy (5
minutes, fetched from a CDN copy as old again) have seen it — and retires the key it replaces at
that instant. The retired key stays in JWKS for as
long as anything it signed can live (personal-code keys: the longest personal code, 1 h 1 min;
paper keys: a paper code, 365 days by default; venue keys: the venue-code lifetime, 3650 days),
then the next rotation prunes
it. See docs/runbooks/key-rotation.md.

This command only finds the function (the stack named in samconfig.toml, region included) and
invokes it; credentials come from the usual AWS chain (``AWS_PROFILE``, ...). ``--local URL``
does the same against a running ``make run`` stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.ops.environments import DEFAULT_CONFIG, load_environment

FUNCTION = "KeyAdminFunction"
USES = ("code", "paper", "venue")
#: How long a verifier may keep serving an old JWKS (keys.app sends max-age=300).
JWKS_CACHE_SECONDS = 300


class RotationFailed(Exception):
    """The function refused or failed; the message is what it reported."""


@dataclass(frozen=True)
class Rotation:
    use: str
    kids: list[str]
    active: list[str]
    jwks_url: str | None

    @property
    def new_kid(self) -> str:
        return self.kids[-1]


def _answer(use: str, result: Any, jwks_url: str | None) -> Rotation:
    if not isinstance(result, dict) or result.get("rotated") != use or not result.get("kids"):
        raise RotationFailed(f"unexpected answer from {FUNCTION}: {json.dumps(result)[:500]}")
    return Rotation(use=use, kids=list(result["kids"]), active=list(result["active"]), jwks_url=jwks_url)


def rotate_deployed(
    environment: str, use: str, *, config: Path = DEFAULT_CONFIG, session: Any = None
) -> Rotation:
    """Invoke the deployed stack's KeyAdminFunction for ``environment`` of samconfig.toml."""
    import boto3

    env = load_environment(environment, config)
    session = session or boto3.session.Session(region_name=env.region)
    cloudformation = session.client("cloudformation", region_name=env.region)
    function = cloudformation.describe_stack_resource(StackName=env.stack_name, LogicalResourceId=FUNCTION)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    outputs = cloudformation.describe_stacks(StackName=env.stack_name)["Stacks"][0].get("Outputs", [])
    jwks_url = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "JwksUrl"), None)
    answer = session.client("lambda", region_name=env.region).invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps({"rotate": use}).encode()
    )
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise RotationFailed(f"{FUNCTION} failed: {json.dumps(payload)[:500]}")
    return _answer(use, payload, jwks_url)


def rotate_local(url: str, use: str) -> Rotation:
    """Invoke the local stack's KeyAdminFunction (``POST /_local/invoke/KeyAdminFunction``)."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/_local/invoke/{FUNCTION}",
        data=json.dumps({"rotate": use}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    return _answer(use, answer.get("result"), f"{url.rstrip('/')}/.well-known/jwks.json")


def published_kids(jwks_url: str) -> set[str]:
    with urllib.request.urlopen(jwks_url, timeout=10) as response:
        return {str(key["kid"]) for key in json.loads(response.read())["keys"]}


def wait_until_published(
    rotation: Rotation,
    *,
    timeout_s: float = JWKS_CACHE_SECONDS + 60,
    fetch: Callable[[str], set[str]] = published_kids,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll the stack's JWKS until the new key is in it (containers cache the key set for up
    to 5 minutes), well within the ``keystore.ACTIVATION_DELAY`` (15 minutes) before the key signs."""
    if rotation.jwks_url is None:
        return False
    deadline = time.monotonic() + timeout_s
    while True:
        if rotation.new_kid in fetch(rotation.jwks_url):
            return True
        if time.monotonic() >= deadline:
            return False
        sleep(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.rotate_keys", description=__doc__.split("\n\n")[0]
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--env", help="samconfig.toml environment (fujian, henan, shanxi, jiangxi, guizhou)")
    where.add_argument("--local", metavar="URL", help="a running local stack, e.g. http://127.0.0.1:3000")
    parser.add_argument(
        "--use", choices=USES, default="code", help="code (personal codes), paper (paper codes) or venue keys"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--verify", action="store_true", help="wait until the stack's JWKS publishes the new key"
    )
    args = parser.parse_args(argv)
    try:
        if args.local:
            rotation = rotate_local(args.local, args.use)
        else:
            rotation = rotate_deployed(args.env, args.use, config=args.config)
    except RotationFailed as failed:
        print(f"rotation failed: {failed}", file=sys.stderr)
        return 1
    retired = [kid for kid in rotation.kids if kid not in rotation.active]
    print(f"rotated {rotation.use} keys: new key {rotation.new_kid} is published now and signs in 15 minutes")
    print(f"  keys in the set: {', '.join(rotation.kids)}")
    print(f"  retired (still published while their codes can live): {', '.join(retired) or 'none'}")
    if args.verify:
        if not wait_until_published(rotation):
            print(
                f"  the new key is not in {rotation.jwks_url} yet: see docs/runbooks/key-rotation.md",
                file=sys.stderr,
            )
            return 1
        print(f"  {rotation.jwks_url} publishes {rotation.new_kid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
