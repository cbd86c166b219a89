"""A small resolver for API Gateway HTTP API (payload 2.0) events: routes, path parameters, the
exception handlers and the answer's shape, as powertools' ``APIGatewayHttpResolver`` does them.

Why not powertools' own: importing ``aws_lambda_powertools.event_handler`` loads every resolver
it has (AppSync, Bedrock, VPC Lattice …), asyncio and every event data class, about 0.4× the
floor (botocore + one DynamoDB client) on every cold start of every HTTP function, for the few
features used here. This keeps powertools' behaviour where the functions rely on it: static
routes before dynamic ones, ``<name>`` segments matching what powertools matches, the most
specific registered exception handler, a custom 404, JSON bodies serialised by the app's
serializer, bytes bodies base64-encoded, headers and cookies in the HTTP API answer. The route
options powertools reads for its OpenAPI document (``summary``, ``description``, ``responses``,
``tags``) are kept on each route, so ``infra/openapi.py`` can still build the document with
powertools at build time, where import time does not matter.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

ResponseT = TypeVar("ResponseT")
Handler = TypeVar("Handler", bound=Callable[..., Any])

#: An OpenAPI response object, as the routes' ``responses`` option holds it.
OpenAPIResponse = dict[str, Any]

JSON_CONTENT_TYPE = "application/json"
#: What a ``<name>`` segment matches: powertools' characters (RFC 3986's safe and unsafe ones,
#: word characters), never ``/``.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_DYNAMIC = re.compile(r"<(\w+)>")


class Response(Generic[ResponseT]):
    """An answer: status, content type (merged into the headers), body, headers and cookies."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: ResponseT | None = None,
        headers: Mapping[str, str | list[str]] | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.body: Any = body
        self.headers: dict[str, str | list[str]] = dict(headers) if headers else {}
        self.cookies = list(cookies or [])
        if content_type:
            self.headers.setdefault("Content-Type", content_type)

    def is_json(self) -> bool:
        content_type = self.headers.get("Content-Type", "")
        if isinstance(content_type, list):
            content_type = content_type[0]
        return content_type.startswith(JSON_CONTENT_TYPE)


class CaseInsensitiveHeaders(dict[str, str]):
    """Request headers looked up whatever the case of the name (HTTP API sends them lower-case)."""

    def __init__(self, headers: Mapping[str, str] | None) -> None:
        super().__init__((str(k).lower(), v) for k, v in (headers or {}).items())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class HttpEvent:
    """The parts of an HTTP API event the handlers read (the names powertools' event class has)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.raw_event: dict[str, Any] = dict(event)
        self.headers = CaseInsensitiveHeaders(event.get("headers"))

    @property
    def body(self) -> str | None:
        body = self.raw_event.get("body")
        return None if body is None else str(body)

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return dict(self.raw_event.get("queryStringParameters") or {})

    @property
    def path_parameters(self) -> dict[str, str]:
        return dict(self.raw_event.get("pathParameters") or {})

    def get_query_string_value(self, name: str, default_value: str | None = None) -> str | None:
        return self.query_string_parameters.get(name, default_value)

    @property
    def http_method(self) -> str:
        return str(self.raw_event.get("requestContext", {}).get("http", {}).get("method", "")).upper()

    @property
    def path(self) -> str:
        """``rawPath`` without the stage, as API Gateway's stage URLs prefix it."""
        raw = str(self.raw_event.get("rawPath", ""))
        stage = self.raw_event.get("requestContext", {}).get("stage", "$default")
        if stage and stage != "$default" and raw.startswith(f"/{stage}"):
            return raw[len(stage) + 1 :]
        return raw


@dataclass
class Route:
    """A registered route; ``options`` are the OpenAPI options it was declared with."""

    method: str
    rule: str
    func: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = _DYNAMIC.split(self.rule)  # literal, name, literal, name, …
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_SEGMENT})" for i, p in enumerate(parts))
        self.pattern = re.compile(f"^{regex}$")
        self.dynamic = bool(_DYNAMIC.search(self.rule))

    @property
    def openapi_path(self) -> str:
        """The rule as OpenAPI and API Gateway write it: ``/v1/codes/{person_id}``."""
        return _DYNAMIC.sub(r"{\1}", self.rule)


class NotFoundError(Exception):
    """No route matched; a handler registered with ``not_found`` answers it."""


class HttpResolver:
    """Routes HTTP API events to the functions registered with ``get``/``post``/… ."""

    def __init__(self, serializer: Callable[[Any], str] | None = None) -> None:
        self.routes: list[Route] = []
        self._handlers: dict[type[BaseException], Callable[[Any], Response[Any]]] = {}
        self._serializer = serializer or (lambda value: json.dumps(value, separators=(",", ":")))
        self.current_event = HttpEvent({})
        self.lambda_context: Any = None

    # -- registration ------------------------------------------------------------------------

    def route(self, rule: str, method: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            self.routes.append(Route(method.upper(), rule, func, options))
            return func

        return register

    def get(self, rule: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "GET", **options)

    def post(self, rule: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "POST", **options)

    def put(self, rule: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "PUT", **options)

    def patch(self, rule: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "PATCH", **options)

    def delete(self, rule: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "DELETE", **options)

    def exception_handler(self, exc_class: type[BaseException]) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            self._handlers[exc_class] = func
            return func

        return register

    def not_found(self, func: Handler) -> Handler:
        return self.exception_handler(NotFoundError)(func)

    # -- resolution --------------------------------------------------------------------------

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = HttpEvent(event)
        self.lambda_context = context
        try:
            response = self._call()
        except Exception as error:
            handler = self._handler_for(type(error))
            if handler is None:
                raise
            response = handler(error)
        return self._answer(response)

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return self.resolve(event, context)

    def _call(self) -> Response[Any]:
        method, path = self.current_event.http_method, self.current_event.path
        for route in sorted(self.routes, key=lambda r: r.dynamic):  # static routes first, stable
            if route.method != method:
                continue
            match = route.pattern.match(path)
            if match:
                return self._to_response(route.func(**match.groupdict()))
        raise NotFoundError(path)

    def _handler_for(self, kind: type[BaseException]) -> Callable[[Any], Response[Any]] | None:
        return next((self._handlers[cls] for cls in kind.__mro__ if cls in self._handlers), None)

    @staticmethod
    def _to_response(result: Any) -> Response[Any]:
        if isinstance(result, Response):
            return result
        status = 200
        if isinstance(result, tuple) and len(result) == 2:
            result, status = result
        return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=result)

    def _answer(self, response: Response[Any]) -> dict[str, Any]:
        body = response.body
        if response.is_json() and body is not None and not isinstance(body, str):
            body = self._serializer(body)
        encoded = isinstance(body, bytes)
        if encoded:
            body = base64.b64encode(body).decode()
        headers = {
            key: value if isinstance(value, str) else ", ".join(value)
            for key, value in response.headers.items()
            if value is not None
        }
        return {
            "statusCode": response.status_code,
            "body": body,
            "isBase64Encoded": encoded,
            "headers": headers,
            "cookies": [str(cookie) for cookie in response.cookies],
        }
