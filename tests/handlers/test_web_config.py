"""`make deploy-web` (infra.ops.web_config): config.json from a stack's outputs, the built pages
uploaded to the pages bucket (moto's S3) in an order that never serves a page without its assets,
and nothing secret shipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.ops import web_config
from infra.ops.web_config import WebConfigError, deploy_web, page_config, planned_uploads

REGION = "cn-northwest-1"
BUCKET = "healthcode-350000-webbucket-1a2b3c"
OUTPUTS = {
    "ApiUrl": "https://abc123.execute-api.cn-northwest-1.amazonaws.com.cn",
    "SignInIssuer": "https://cognito-idp.cn-northwest-1.amazonaws.com.cn/cn-northwest-1_fujian",
    "SignInClientId": "healthcode-fujian",
    "WebBucketName": BUCKET,
    "WebDistributionId": "E2EXAMPLE0001",
    "WebConsoleUrl": "https://jkm.fujian.example.gov.cn/console/",
    "WebH5Url": "https://jkm.fujian.example.gov.cn/h5/",
}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built bundle as Vite writes it: two page sets and hashed assets."""
    root = tmp_path / "dist"
    for page_set in ("console", "h5"):
        (root / page_set).mkdir(parents=True)
        (root / page_set / "index.html").write_text(
            f'<!doctype html><script type="module" src="/assets/{page_set}-abc.js"></script>'
        )
    (root / "assets").mkdir()
    (root / "assets" / "console-abc.js").write_text("console.log('console')")
    (root / "assets" / "h5-abc.js").write_text("console.log('h5')")
    (root / "assets" / "shared-def.css").write_text("body{}")
    (root / ".built").write_text("")
    return root


class _Stubbed:
    """A boto3 session whose CloudFormation answers the given outputs, whose S3 is moto's and
    whose CloudFront records invalidations (moto does not answer China's CloudFront endpoint)."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.invalidations: list[dict[str, Any]] = []

    def client(self, service: str, region_name: str) -> Any:
        if service == "s3":
            return boto3.client("s3", region_name=region_name)
        session = self

        class _CloudFormation:
            def describe_stacks(self, StackName: str) -> dict[str, Any]:
                assert StackName == "healthcode-350000"
                outputs = [{"OutputKey": k, "OutputValue": v} for k, v in session.outputs.items()]
                return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}

        class _CloudFront:
            def create_invalidation(self, **request: Any) -> dict[str, Any]:
                session.invalidations.append(request)
                return {"Invalidation": {"Id": "I1"}}

        return {"cloudformation": _CloudFormation, "cloudfront": _CloudFront}[service]()


def test_config_json_comes_from_the_stack_outputs() -> None:
    config = page_config(OUTPUTS, province="350000", brand="八闽健康码")
    assert config == {
        "apiBase": OUTPUTS["ApiUrl"],
        "mode": "oidc",
        "issuer": OUTPUTS["SignInIssuer"],
        "clientId": "healthcode-fujian",
        "province": "350000",
        "brand": "八闽健康码",
    }


def test_a_stack_without_the_console_is_refused_with_what_to_do() -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if not k.startswith("Web")}
    with pytest.raises(WebConfigError, match="WebConsole=Enabled"):
        page_config(outputs, province="350000", brand="八闽健康码")


def test_assets_go_before_the_pages_that_load_them_and_config_last(dist: Path) -> None:
    uploads = planned_uploads(dist, {"apiBase": "x"})
    keys = [u.key for u in uploads]
    last_asset = max(i for i, k in enumerate(keys) if k.startswith("assets/"))
    first_page = min(i for i, k in enumerate(keys) if not k.startswith("assets/"))
    assert last_asset < first_page
    assert keys[-2:] == ["console/config.json", "h5/config.json"]
    # each page set answers at /console/, /console and /console/index.html; dot files stay home
    assert {"console/index.html", "console/", "console", "h5/index.html", "h5/", "h5"} <= set(keys)
    assert ".built" not in keys
    by_key = {u.key: u for u in uploads}
    assert by_key["assets/console-abc.js"].cache_control == web_config.IMMUTABLE
    assert by_key["assets/console-abc.js"].content_type.startswith("text/javascript")
    assert by_key["console/"].cache_control == "no-cache"
    assert by_key["console/"].content_type.startswith("text/html")


def test_a_bundle_with_key_material_is_not_uploaded(dist: Path) -> None:
    (dist / "assets" / "h5-abc.js").write_text("const k = '-----BEGIN EC PRIVATE KEY-----'")
    with pytest.raises(WebConfigError, match="nothing secret"):
        planned_uploads(dist, {})


def test_a_missing_build_says_to_run_make_web(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match="make web"):
        planned_uploads(tmp_path, {})


def test_deploy_web_uploads_the_pages_and_their_config_and_invalidates(dist: Path) -> None:
    (dist / "console" / "config.json").write_text('{"mode": "local"}')  # a stray local config
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "cn-northwest-1"})
        session = _Stubbed(OUTPUTS)
        result = deploy_web("fujian", dist=dist, session=session)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        config = json.loads(s3.get_object(Bucket=BUCKET, Key="console/config.json")["Body"].read())
        h5_config = s3.get_object(Bucket=BUCKET, Key="h5/config.json")
        page = s3.get_object(Bucket=BUCKET, Key="h5/")
    assert {"assets/console-abc.js", "assets/h5-abc.js", "console/index.html", "console/", "h5/"} <= keys
    assert config["mode"] == "oidc" and config["apiBase"] == OUTPUTS["ApiUrl"]
    assert config["brand"] == "八闽健康码" and config["province"] == "350000"
    assert h5_config["CacheControl"] == "no-cache" and h5_config["ContentType"] == "application/json"
    assert page["Body"].read().startswith(b"<!doctype html>")
    assert result["objects"] == len(keys) and result["console"] == OUTPUTS["WebConsoleUrl"]
    (invalidation,) = session.invalidations
    assert invalidation["DistributionId"] == "E2EXAMPLE0001"
    assert {"/console/", "/h5/config.json", "/"} <= set(invalidation["InvalidationBatch"]["Paths"]["Items"])
