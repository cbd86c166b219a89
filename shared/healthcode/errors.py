"""Domain errors. Each maps to one HTTP status and a machine-readable code (docs/api.md, "Errors").

Handlers never build error responses themselves: they raise these, and ``healthcode.edge.http``
maps them once to ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from typing import ClassVar


class HealthCodeError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code

    def envelope(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(HealthCodeError):
    status = 400
    default_code = "bad_request"


class Unauthorized(HealthCodeError):
    status = 401
    default_code = "unauthorized"


class Forbidden(HealthCodeError):
    status = 403
    default_code = "forbidden"


class NotFound(HealthCodeError):
    status = 404
    default_code = "not_found"


class Conflict(HealthCodeError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(HealthCodeError):
    status = 413
    default_code = "payload_too_large"


class InvalidInput(HealthCodeError):
    """422: the request is well-formed JSON but a value is wrong (bad checksum, forged code …)."""

    status = 422
    default_code = "invalid_input"


class Throttled(HealthCodeError):
    status = 429
    default_code = "throttled"


class RateLimited(Throttled):
    """429 ``rate_limited``: the caller's account used up a per-account limit
    (``healthcode.storage.limits``); ``retry_after`` is the seconds until its window ends,
    sent as ``Retry-After``."""

    default_code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int = 1,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after = max(1, int(retry_after))
