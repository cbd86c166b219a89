"""Signing-key administration: the CloudFormation custom resource that creates the first keys,
and rotation on request (``make rotate-keys`` invokes this function with ``{"rotate": "code"}``,
``"paper"`` or ``"venue"``). On a stack update the bootstrap also adds what a key set from before
compact personal codes lacks (``keystore.ensure_bootstrapped``)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.codes import keystore
from healthcode.protection.logs import get_logger

logger = get_logger("key-admin")


def _answer_cloudformation(event: dict[str, Any], status: str, reason: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:256],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "signing-keys",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the pre-signed S3 URL CloudFormation gave us
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "RequestType" in event:  # CloudFormation custom resource
        try:
            if event["RequestType"] in ("Create", "Update"):
                keystore.ensure_bootstrapped()
            _answer_cloudformation(event, "SUCCESS", "signing keys present")
        except Exception as exc:
            logger.exception("signing key bootstrap failed")
            _answer_cloudformation(event, "FAILED", type(exc).__name__)
        return {}
    use = event.get("rotate")
    if use not in ("code", "paper", "venue"):
        raise ValueError('expected {"rotate": "code"}, {"rotate": "paper"} or {"rotate": "venue"}')
    keys = keystore.rotate(use)
    active = [k.kid for k in keys.keys if k.retired_at is None]
    logger.info("rotated signing keys", extra={"use": use, "active_kids": active})
    return {"rotated": use, "kids": [k.kid for k in keys.keys], "active": active}
