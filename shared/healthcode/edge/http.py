"""The HTTP edge every function shares: the resolver, the error envelope, bodies and callers.

Errors are mapped here once (STYLE habit 3): domain code raises ``HealthCodeError`` subclasses,
unknown routes answer 404. A JSON body is checked against its route's spec
(``healthcode.edge.specs``) as it is read, so a handler gets a body of the right shape or the
caller a 422 naming the field. A handler module is then only its routes and a one-line
``lambda_handler``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from healthcode import clock
from healthcode.edge import messages
from healthcode.edge.router import HttpResolver, Response
from healthcode.errors import BadRequest, HealthCodeError, NotFound, PayloadTooLarge, Unauthorized
from healthcode.protection.auth import Caller, caller_from_event
from healthcode.settings import settings

if TYPE_CHECKING:  # the type only: the module costs a cold start ~0.05x the floor
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_BODY_BYTES = 256 * 1024
JSON_TYPE = "application/json; charset=utf-8"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.show(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":"))


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON_TYPE, body=dumps(body), headers=dict(headers or {}))


def language(event: Mapping[str, Any] | None) -> messages.Language:
    """The language of the answers to ``event``: its ``Accept-Language`` (Chinese by default)."""
    headers = (event or {}).get("headers") or {}
    found = next((str(v) for k, v in headers.items() if str(k).lower() == "accept-language"), None)
    return messages.language_of(found)


def error_response(
    error: HealthCodeError, lang: messages.Language = messages.DEFAULT_LANGUAGE
) -> Response[str]:
    """The error envelope in ``lang``: ``code`` and ``field`` as raised, ``message`` translated."""
    headers = {"Content-Language": messages.CONTENT_LANGUAGE[lang], "Vary": "Accept-Language"}
    if error.status == 429:
        headers["Retry-After"] = str(getattr(error, "retry_after", 1))
    message = messages.render(
        error.code, language=lang, english=error.message, field=error.field, status=error.status
    )
    body = {"error": {"code": error.code, "message": message, "field": error.field}}
    return json_response(error.status, body, headers)


def make_app() -> HttpResolver:
    """A resolver with the envelope mapping installed."""
    app = HttpResolver(serializer=dumps)

    def _domain(error: HealthCodeError) -> Response[str]:
        return error_response(error, language(app.current_event.raw_event))

    def _not_found(_: Exception) -> Response[str]:
        missing = NotFound("no such route", code="route_not_found")
        return error_response(missing, language(app.current_event.raw_event))

    app.exception_handler(HealthCodeError)(_domain)
    app.not_found(_not_found)
    return app


def raw_body(event: Mapping[str, Any], *, limit: int = MAX_BODY_BYTES) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode("utf-8")
    if len(data) > limit:
        raise PayloadTooLarge(f"request body over {limit // 1024} KB", code="payload_too_large")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def json_body(app: HttpResolver, *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object that fits the route's spec: 400 for anything but a
    JSON object (NaN and Infinity refused, and strings holding unpaired surrogates), 422 naming
    the field for one that does not fit."""
    data = raw_body(app.current_event.raw_event, limit=limit)
    if not data:
        raise BadRequest("a JSON body is required", code="invalid_json")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    if _unpaired_surrogate(value):
        raise BadRequest(
            "the body is not Unicode text: a string holds an unpaired surrogate escape (\\ud800-\\udfff)",
            code="invalid_json",
        )
    from healthcode.edge import specs  # only functions that read bodies pay for the specs

    event = app.current_event.raw_event
    http = event.get("requestContext", {}).get("http", {})
    route = specs.route_of(event.get("routeKey"), str(http.get("method", "")), str(event.get("rawPath", "")))
    if route is not None:
        specs.check_body(route, value)
    return value


def _unpaired_surrogate(value: Any) -> bool:
    """Whether a string in ``value`` (keys included) holds an unpaired surrogate: JSON's ``\\ud800``
    escapes decode to one, which no UTF-8 text can hold (RFC 7493 I-JSON refuses them); it
    would fail at the first encode, in a log line, a hash or a DynamoDB request."""
    pending: list[Any] = [value]
    while pending:  # iterative: the parser allows nesting deeper than a recursive walk could go
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def caller(app: HttpResolver) -> Caller:
    """The caller of the request; an area (``region``) outside this stack's province is refused
    (``401``): its prefix would cover nothing here, or, for a province code, read as the whole
    province."""
    who = caller_from_event(app.current_event.raw_event)
    if who.area is not None and who.area[:2] != settings().province[:2]:
        raise Unauthorized("the caller token's region is not in this province", code="unauthorized")
    return who


def lambda_handler_for(
    app: HttpResolver, logger: Logger
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The module-level ``lambda_handler``: correlation id from the request, then the app."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler
