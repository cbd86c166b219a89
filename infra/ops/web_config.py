"""Publish the pages to a province stack: ``make deploy-web ENV=fujian``.

The stack (template.yaml, WebConsole=Enabled) owns a private bucket read only by its CloudFront
distribution. This command reads the stack's outputs (CloudFormation DescribeStacks), makes the
pages' ``config.json`` from them — the API's URL, OIDC sign-in against the stack's issuer with its
client id, the province and its brand — and uploads ``web/dist`` with it: hashed assets first
(cached for a year, immutable), then each page and ``config.json`` (``no-cache``, so a release is
seen at once), and finally asks CloudFront to drop what it holds of the pages. Old assets stay
(a page still open keeps working); replaced objects stay as versions for a rollback.

``config.json`` holds no secret: a PKCE client has none, and the upload refuses a bundle that
carries key material. Credentials come from the usual AWS chain (``AWS_PROFILE``, ...).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.ops.environments import DEFAULT_CONFIG, load_environment

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIST = ROOT / "web" / "dist"
#: The two page sets; each has an index.html and its own config.json (web/src/lib/config.ts).
PAGE_SETS = ("console", "h5")
#: Outputs the pages need; WebBucketName exists only when the stack serves the pages.
REQUIRED_OUTPUTS = ("ApiUrl", "SignInIssuer", "SignInClientId", "WebBucketName")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: What must never ship in a page: private keys and credentials belong to the stack, not the bundle.
FORBIDDEN = (b"-----BEGIN", b"PRIVATE KEY", b"aws_secret_access_key", b"client_secret")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".map": "application/json",
}


class WebConfigError(Exception):
    """The stack or the bundle cannot be published (the message says what to do)."""


@dataclass(frozen=True)
class Upload:
    key: str
    content_type: str
    cache_control: str
    body: bytes


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key (DescribeStacks)."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: str(o["OutputValue"]) for o in stack.get("Outputs", [])}


def page_config(outputs: dict[str, str], *, province: str, brand: str) -> dict[str, str]:
    """``config.json`` from the stack's outputs: the same shape the local stack serves."""
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        hint = " (deploy the stack with WebConsole=Enabled)" if "WebBucketName" in missing else ""
        raise WebConfigError(f"the stack has no output {', '.join(missing)}{hint}")
    return {
        "apiBase": outputs["ApiUrl"].rstrip("/"),
        "mode": "oidc",
        "issuer": outputs["SignInIssuer"].rstrip("/"),
        "clientId": outputs["SignInClientId"],
        "province": province,
        "brand": brand,
    }


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def planned_uploads(dist: Path, config: dict[str, str]) -> list[Upload]:
    """Every object to write, in the order that never serves a page whose assets are missing:
    hashed assets, then pages (each ``<set>/index.html`` also under ``<set>/`` and ``<set>``,
    the keys CloudFront asks the bucket for ``/console/`` and ``/console``), then config.json."""
    for page_set in PAGE_SETS:
        if not (dist / page_set / "index.html").is_file():
            raise WebConfigError(f"{dist}/{page_set}/index.html is missing: run `make web` first")
    assets: list[Upload] = []
    pages: list[Upload] = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and not p.name.startswith(".")):
        key = path.relative_to(dist).as_posix()
        body = path.read_bytes()
        leaked = [marker.decode() for marker in FORBIDDEN if marker in body]
        if leaked:
            raise WebConfigError(f"{key} carries {leaked}: nothing secret may ship in a page")
        if key.endswith("config.json"):
            continue  # made from the stack's outputs, never taken from a build
        hashed = key.startswith("assets/")
        upload = Upload(key, _content_type(path), IMMUTABLE if hashed else NO_CACHE, body)
        (assets if hashed else pages).append(upload)
        if path.name == "index.html" and path.parent != dist:
            folder = path.parent.relative_to(dist).as_posix()
            pages += [
                Upload(folder + "/", upload.content_type, NO_CACHE, body),
                Upload(folder, upload.content_type, NO_CACHE, body),
            ]
    document = (json.dumps(config, ensure_ascii=False, indent=2) + "\n").encode()
    configs = [Upload(f"{s}/config.json", CONTENT_TYPES[".json"], NO_CACHE, document) for s in PAGE_SETS]
    return assets + pages + configs


def upload(s3: Any, bucket: str, uploads: list[Upload]) -> None:
    for item in uploads:
        s3.put_object(
            Bucket=bucket,
            Key=item.key,
            Body=item.body,
            ContentType=item.content_type,
            CacheControl=item.cache_control,
        )


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    """Drop the distribution's copies of the pages and config (assets are content-addressed)."""
    paths = ["/"] + [
        p for s in PAGE_SETS for p in (f"/{s}", f"/{s}/", f"/{s}/index.html", f"/{s}/config.json")
    ]
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": str(time.time_ns()),
        },
    )
    return str(answer["Invalidation"]["Id"])


def deploy_web(
    environment: str, *, dist: Path = DEFAULT_DIST, config_file: Path = DEFAULT_CONFIG, session: Any = None
) -> dict[str, Any]:
    """Publish ``dist`` with a config.json made from ``environment``'s stack outputs."""
    import boto3
    from healthcode.rules.policy import load_policy

    env = load_environment(environment, config_file)
    province = env.parameters["Province"]
    session = session or boto3.session.Session(region_name=env.region)
    outputs = stack_outputs(session.client("cloudformation", region_name=env.region), env.stack_name)
    config = page_config(outputs, province=province, brand=load_policy(province).brand)
    uploads = planned_uploads(dist, config)
    upload(session.client("s3", region_name=env.region), outputs["WebBucketName"], uploads)
    invalidation = None
    if outputs.get("WebDistributionId"):
        invalidation = invalidate(
            session.client("cloudfront", region_name=env.region), outputs["WebDistributionId"]
        )
    return {
        "bucket": outputs["WebBucketName"],
        "objects": len(uploads),
        "invalidation": invalidation,
        "console": outputs.get("WebConsoleUrl"),
        "h5": outputs.get("WebH5Url"),
        "config": config,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.web_config", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--env", required=True, help="samconfig.toml environment (fujian, henan, shanxi, jiangxi, guizhou)"
    )
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="the built pages (make web)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    try:
        result = deploy_web(args.env, dist=args.dist, config_file=args.config)
    except WebConfigError as failed:
        print(f"deploy-web: {failed}", file=sys.stderr)
        return 1
    print(f"uploaded {result['objects']} objects to s3://{result['bucket']}")
    print("config.json: " + json.dumps(result["config"], ensure_ascii=False))
    if result["invalidation"]:
        print(f"CloudFront invalidation {result['invalidation']}")
    print(f"console: {result['console']}\nh5:      {result['h5']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
