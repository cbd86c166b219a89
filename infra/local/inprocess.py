"""The stack in this process, on in-process moto: the template's resources created by the same
code as the local stack, handlers loaded from the template and invoked with API Gateway HTTP API
v2 events. Used by the handler tests and by ``make bench`` (no HTTP, no server)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from healthcode import aws, clock, settings
from healthcode.codes import keystore
from healthcode.protection import pii
from moto import mock_aws

from infra.local.authorizer import flatten_claims
from infra.local.events import http_api_event
from infra.local.resources import create_resources
from infra.local.stack import LambdaContext, Router, load_handler
from infra.local.template import ROOT_TEMPLATE, Template

SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "secretsmanager", "kms", "s3", "sns")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class InProcessStack:
    template: Template
    clients: dict[str, Any]
    handlers: dict[str, Any] = field(default_factory=dict)
    _router: Router | None = None

    def handler(self, logical_id: str) -> Any:
        if logical_id not in self.handlers:
            fn = self.template.functions()[logical_id]
            self.handlers[logical_id] = load_handler(logical_id, fn.code_uri, fn.handler)
        return self.handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.handler(logical_id)(event, LambdaContext(logical_id, f"arn:{logical_id}", 512, 10))

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = Router(self.template.routes())
        return self._router

    def event(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, Sequence[str]] | None = None,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        region: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The function a route runs and the event API Gateway would hand it (the authorizer's
        claims stand in for a validated token; ``region``: the caller's area claim)."""
        matched = self.router.match(method, path)
        if matched is None:
            raise AssertionError(f"no route {method} {path} in template.yaml")
        route, params = matched
        body = (
            raw_body
            if raw_body is not None
            else (json.dumps(json_body).encode() if json_body is not None else b"")
        )
        sent = {"content-type": "application/json", **(headers or {})}
        claims = None
        if as_ is not None:
            now = clock.timestamp()
            claims = flatten_claims({"sub": as_[0], "roles": list(as_[1]), "iat": now, "exp": now + 3600})
            if region is not None:
                claims["region"] = region
        event = http_api_event(
            method=method,
            raw_path=path,
            raw_query=query,
            headers=sent,
            body=body,
            route_key=route.key,
            path_parameters=params,
            claims=claims,
            source_ip="127.0.0.1",
            api_id="test",
        )
        return route.function, event

    @staticmethod
    def answer(raw_answer: dict[str, Any]) -> Answer:
        raw = raw_answer.get("body") or ""
        data = base64.b64decode(raw) if raw_answer.get("isBase64Encoded") else str(raw).encode()
        headers = {k.lower(): v for k, v in (raw_answer.get("headers") or {}).items()}
        return Answer(int(raw_answer["statusCode"]), headers, data)

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, Sequence[str]] | None = None,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        region: str | None = None,
    ) -> Answer:
        """Call a route as API Gateway would (``region``: the caller's area claim)."""
        function, event = self.event(
            method,
            path,
            as_=as_,
            json_body=json_body,
            raw_body=raw_body,
            headers=headers,
            query=query,
            region=region,
        )
        return self.answer(self.invoke(function, event))


@contextmanager
def in_process_stack(stack_name: str = "test") -> Iterator[InProcessStack]:
    """The template's resources in a fresh in-process moto, with the environment the functions
    would see (table names, keys, secrets) and signing keys bootstrapped."""
    with mock_aws():
        aws.reset()
        clients = {service: aws.client(service) for service in SERVICES}
        template = Template(
            ROOT_TEMPLATE, stack_name, {"Province": os.environ["PROVINCE"]}, os.environ["AWS_REGION"]
        )
        create_resources(template, clients)
        os.environ["PII_KEY_ID"] = template.ref("DataKey")
        os.environ["PII_HASH_SECRET_ARN"] = template.ref("PiiHashSecret")
        os.environ["SIGNING_KEYS_SECRET_ARN"] = template.ref("SigningKeysSecret")
        for fn in template.functions().values():
            for name, value in fn.environment.items():
                if not name.startswith("POWERTOOLS_"):
                    os.environ[name] = value
        settings.reset()
        pii.reset_caches()
        keystore.invalidate()
        keystore.ensure_bootstrapped()
        try:
            yield InProcessStack(template, clients)
        finally:
            clock.reset()
            pii.reset_caches()
            keystore.invalidate()
            aws.reset()
