"""``make rotate-keys ENV=…`` against AWS: which calls it makes, with what, and what it does with
the answers (botocore's Stubber stands in for CloudFormation and Lambda; the whole rotation runs
for real on the local stack in tests/e2e/test_key_rotation.py)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from infra.ops import rotate_keys

REGION = "cn-northwest-1"
FUNCTION = "healthcode-350000-KeyAdminFunction-1A2B3C"
JWKS = "https://abc123.execute-api.cn-northwest-1.amazonaws.com.cn/.well-known/jwks.json"


class StubbedSession:
    """A boto3 session whose clients answer from botocore Stubbers."""

    def __init__(self) -> None:
        self.clients = {
            name: boto3.client(name, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
            for name in ("cloudformation", "lambda")
        }
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str, region_name: str | None = None) -> Any:
        assert region_name == REGION  # the environment's region, from samconfig.toml
        return self.clients[name]

    def expect_stack(self) -> None:
        stack = "healthcode-350000"
        self.stubs["cloudformation"].add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": "KeyAdminFunction",
                    "PhysicalResourceId": FUNCTION,
                    "ResourceType": "AWS::Lambda::Function",
                    "LastUpdatedTimestamp": "2022-05-18T02:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            },
            {"StackName": stack, "LogicalResourceId": "KeyAdminFunction"},
        )
        self.stubs["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": stack,
                        "CreationTime": "2022-05-18T02:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "JwksUrl", "OutputValue": JWKS}],
                    }
                ]
            },
            {"StackName": stack},
        )

    def expect_invoke(self, use: str, answer: Any, *, error: str | None = None) -> None:
        payload = json.dumps(answer).encode()
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        }
        if error:
            response["FunctionError"] = error
        self.stubs["lambda"].add_response(
            "invoke",
            response,
            {
                "FunctionName": FUNCTION,
                "InvocationType": "RequestResponse",
                "Payload": json.dumps({"rotate": use}).encode(),
            },
        )

    def __enter__(self) -> StubbedSession:
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()


@pytest.mark.parametrize("use", ["code", "venue"])
def test_rotation_invokes_the_key_admin_function_of_the_environments_stack(use: str) -> None:
    # GIVEN the Fujian stack's KeyAdminFunction rotates and answers with the key set
    with StubbedSession() as session:
        session.expect_stack()
        session.expect_invoke(use, {"rotated": use, "kids": ["c-old", "c-new"], "active": ["c-new"]})
        # WHEN ops rotate
        rotation = rotate_keys.rotate_deployed("fujian", use, session=session)
    # THEN the function of stack healthcode-350000 was invoked with {"rotate": use}
    assert rotation.new_kid == "c-new" and rotation.active == ["c-new"] and rotation.jwks_url == JWKS


def test_a_failed_rotation_is_reported_not_mistaken_for_success() -> None:
    with StubbedSession() as session:
        session.expect_stack()
        session.expect_invoke(
            "code", {"errorMessage": "AccessDeniedException", "errorType": "ClientError"}, error="Unhandled"
        )
        with pytest.raises(rotate_keys.RotationFailed, match="AccessDeniedException"):
            rotate_keys.rotate_deployed("fujian", "code", session=session)


def test_an_answer_that_is_not_a_rotation_is_refused() -> None:
    with StubbedSession() as session:
        session.expect_stack()
        session.expect_invoke("venue", {"rotated": "code", "kids": ["c-1"], "active": ["c-1"]})
        with pytest.raises(rotate_keys.RotationFailed, match="unexpected answer"):
            rotate_keys.rotate_deployed("fujian", "venue", session=session)


def test_verify_waits_for_the_jwks_to_publish_the_new_key() -> None:
    # GIVEN a JWKS that still serves the old key set once (a container's 5-minute cache)
    rotation = rotate_keys.Rotation(use="code", kids=["c-old", "c-new"], active=["c-new"], jwks_url=JWKS)
    answers = iter([{"c-old"}, {"c-old", "c-new"}])
    slept: list[float] = []
    # WHEN verifying THEN it polls until the new kid is there
    assert rotate_keys.wait_until_published(rotation, fetch=lambda url: next(answers), sleep=slept.append)
    assert slept == [15]
    # AND gives up (False) if it never appears
    assert not rotate_keys.wait_until_published(
        rotation, timeout_s=0, fetch=lambda url: {"c-old"}, sleep=slept.append
    )
