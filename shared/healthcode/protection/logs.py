"""Logging that carries no personal data.

``get_logger(service)`` is the only way functions get a logger. Every line it writes passes twice
through ``redact``:

* ``PersonalDataFilter`` on the handler renders ``%``-arguments against redacted arguments (so
  ``logger.info("id %s", id_number)`` cannot slip past), redacts every extra key/value and the
  message object, and scrubs the exception text;
* ``RedactingFormatter`` redacts the whole structured line just before it is serialised, which
  also covers keys added with ``append_keys`` and powertools' ``exception``/``stack_trace`` fields.

``install_redaction()`` (called by ``get_logger``) puts the same filter on the root logger and its
handlers, so lines from botocore, pynamodb and other libraries are redacted too. There an
exception is handed on as redacted text only (``exc_info`` is cleared, as ``QueueHandler`` does),
because formatters such as the Lambda runtime's read ``str(exception)`` themselves. Call it again
after adding a root handler.

What is redacted, anywhere in a string (message, values, keys, exception text):

* 18-character ID numbers: 17 digits and a digit or ``X``, not inside a longer run of digits;
* mainland mobile numbers ``1[3-9]`` + 9 digits (also written ``138 1234 5678`` or ``138-1234-5678``),
  optionally prefixed ``+86``/``0086``/``86``, not inside a longer run of digits;
* JWT-shaped strings (``eyJ….eyJ….sig``) and ``Bearer`` credentials;

and, in any mapping at any depth, the whole value of a key named ``name``, ``id_number``,
``phone``, ``token``, ``code``, ``authorization``, ``password``, ``secret``, ``manager_phone``,
``credential_number`` or ``subject_name`` (a venue's subject may be a person) — compared ignoring
case, ``_`` and ``-``: ``idNumber`` and ``ID-Number`` count. A string that holds a JSON object or
array (an API Gateway ``body``) is parsed and redacted the same way. Ordinary numbers
(timestamps, 6-digit region codes, longer digit runs) are left alone. Names in free text cannot
be recognised: never put one in a message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Final, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter, LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

REDACTED: Final = "[redacted]"

SENSITIVE_KEYS: Final = frozenset(
    {
        "name",
        "id_number",
        "phone",
        "token",
        "code",
        "authorization",
        "password",
        "secret",
        "manager_phone",
        "credential_number",
        "subject_name",
    }
)

_PERSONAL = re.compile(
    r"""
    (?P<jwt> eyJ[A-Za-z0-9_-]+ \. eyJ[A-Za-z0-9_-]+ \. [A-Za-z0-9_-]* )
    | (?P<bearer> \b(?i:bearer)\s+ ) [A-Za-z0-9._~+/-]+ =*
    # ID number (GB 11643): 17 digits and a check character; \d also matches full-width digits.
    | (?<!\d) \d{17} [\dXxＸｘ] (?!\d)
    # Mainland mobile number, optionally with the country code, optionally grouped 3-4-4.
    | (?<!\d) (?: (?:\+|00)?86 [-\s]? )? 1[3-9]\d [-\s]? \d{4} [-\s]? \d{4} (?!\d)
    """,
    re.VERBOSE,
)
_SENSITIVE_KEYS_FOLDED: Final = frozenset(key.replace("_", "") for key in SENSITIVE_KEYS)
_KEY_NOISE = re.compile(r"[^0-9a-z]")
_MAX_DEPTH: Final = 32

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` or a filter.
_RECORD_ATTRIBUTES: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
_PLAIN_FORMATTER: Final = logging.Formatter()


def redact_text(text: str) -> str:
    """``text`` with every ID number, mobile number, JWT and Bearer credential replaced."""
    return _PERSONAL.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    bearer = match.group("bearer")
    return f"{bearer}{REDACTED}" if bearer else REDACTED


def is_sensitive_key(key: object) -> bool:
    """Whether a mapping key names personal data or a credential (``Phone``, ``id-number`` …)."""
    return isinstance(key, str) and _KEY_NOISE.sub("", key.casefold()) in _SENSITIVE_KEYS_FOLDED


def redact(value: object) -> object:
    """A JSON-ready copy of ``value`` with personal data replaced by ``REDACTED``.

    Mappings keep their shape (sensitive keys' values replaced, other values redacted in turn),
    sequences and sets become lists, numbers that spell an ID or phone number are replaced, and
    any other object is logged as its redacted ``str``."""
    return _redact(value, 0)


def _redact(value: object, depth: int) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return REDACTED if redact_text(repr(value)) != repr(value) else value
    if isinstance(value, str):
        return _redact_string(value, depth)
    if depth >= _MAX_DEPTH:
        return "[too deep to log]"
    if isinstance(value, Mapping):
        return {
            redact_text(str(key)): REDACTED if is_sensitive_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", errors="replace"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact(dataclasses.asdict(value), depth + 1)
    model_dump = getattr(value, "model_dump", None)  # pydantic models keep their field names
    if callable(model_dump) and not isinstance(value, type):
        return _redact(model_dump(mode="json"), depth + 1)
    return redact_text(str(value))


def _redact_string(text: str, depth: int) -> str:
    if text[:1] in "{[" and depth < _MAX_DEPTH:
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(document, dict | list):
                return json.dumps(_redact(document, depth + 1), ensure_ascii=False)
    return redact_text(text)


class PersonalDataFilter(logging.Filter):
    """Redacts a record in place: message and arguments, extras, exception and stack text.

    With ``detach_exception`` the exception object is dropped from the record after its redacted
    text is stored in ``exc_text``, for handlers whose formatters read the exception themselves."""

    def __init__(self, *, detach_exception: bool = False) -> None:
        super().__init__()
        self._detach_exception = detach_exception

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact_record(record)
        except Exception as error:  # noqa: BLE001 - a log call must neither raise nor leak
            _replace_with_notice(record, error)
        return True

    def _redact_record(self, record: logging.LogRecord) -> None:
        message = _redact(record.msg, 0)
        if record.args:
            args = record.args
            safe_args: tuple[object, ...] | dict[str, object] = (
                cast(dict[str, object], _redact(args, 0))
                if isinstance(args, Mapping)
                else tuple(_redact(arg, 0) for arg in args)
            )
            try:
                message = redact_text(str(message) % safe_args)
            except (TypeError, ValueError, KeyError):
                message = redact_text(f"{message} {safe_args!r}")
            record.args = ()
        record.msg = message
        for key in [key for key in vars(record) if key not in _RECORD_ATTRIBUTES]:
            if key.startswith("_"):
                continue  # private attributes of logging machinery (the Lambda runtime's frame type)
            value = vars(record).pop(key)
            vars(record)[redact_text(key)] = REDACTED if is_sensitive_key(key) else _redact(value, 0)
        if record.exc_info:
            record.exc_text = redact_text(_PLAIN_FORMATTER.formatException(record.exc_info))
            if self._detach_exception:
                record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)


def _replace_with_notice(record: logging.LogRecord, error: Exception) -> None:
    record.msg = f"[log line withheld: redaction failed with {type(error).__name__}]"
    record.args = ()
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
    for key in [key for key in vars(record) if key not in _RECORD_ATTRIBUTES and not key.startswith("_")]:
        del vars(record)[key]


class RedactingFormatter(LambdaPowertoolsFormatter):
    """The powertools JSON formatter, redacting the complete structured line before serialising."""

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(cast(LogRecord, redact(log)))


_lock = threading.Lock()
_loggers: dict[str, Logger] = {}
_HANDLER_FILTER: Final = PersonalDataFilter()
_ROOT_FILTER: Final = PersonalDataFilter(detach_exception=True)


def get_logger(service: str) -> Logger:
    """The powertools ``Logger`` for ``service``, configured once with redaction on its handler."""
    with _lock:
        logger = _loggers.get(service)
        if logger is None:
            logger = Logger(service=service, logger_formatter=_new_formatter())
            handler = logger.registered_handler
            if not isinstance(handler.formatter, RedactingFormatter):
                # The logger was configured before, without redaction: swap the formatter, keep its keys.
                formatter = _new_formatter()
                if isinstance(handler.formatter, BasePowertoolsFormatter):
                    formatter.append_keys(**handler.formatter.get_current_keys())
                formatter.append_keys(service=service)
                handler.setFormatter(formatter)
            handler.addFilter(_HANDLER_FILTER)
            _loggers[service] = logger
    install_redaction()
    return logger


def _new_formatter() -> RedactingFormatter:
    return RedactingFormatter(utc=True, use_rfc3339=True)


def install_redaction() -> None:
    """Redact what reaches the root logger and its current handlers (library log lines).

    Idempotent; call again after adding a root handler."""
    root = logging.getLogger()
    with _lock:
        root.addFilter(_ROOT_FILTER)
        for handler in root.handlers:
            handler.addFilter(_ROOT_FILTER)
