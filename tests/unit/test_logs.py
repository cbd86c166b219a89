"""Log lines carry no personal data: healthcode.protection.logs."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from healthcode.protection import logs
from healthcode.protection.logs import (
    REDACTED,
    PersonalDataFilter,
    get_logger,
    install_redaction,
    redact,
    redact_text,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- vectors ----------------------------------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    """GB 11643-1999 ISO 7064 MOD 11-2 check character."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def test_check_character_matches_the_standard_examples() -> None:
    """GIVEN the worked examples of GB 11643 THEN the helper the strategies use agrees."""
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"


DIGITS = "0123456789"
NOT_DIGITS = st.characters(exclude_categories=("Nd", "Cs"))
#: Surrounding text without any digit, so the personal number is not part of a longer digit run.
around = st.text(alphabet=NOT_DIGITS, max_size=12)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """18-character ID numbers: valid check characters (upper or lower X) and some invalid ones."""
    first17 = draw(st.text(alphabet=DIGITS, min_size=17, max_size=17))
    valid = check_character(first17)
    last = draw(st.sampled_from([valid, valid.lower(), *(c for c in "0123456789X" if c != valid)]))
    return first17 + last


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Mainland mobile numbers, bare, grouped 3-4-4 or with the country code."""
    number = "1" + draw(st.sampled_from("3456789")) + draw(st.text(alphabet=DIGITS, min_size=9, max_size=9))
    separator = draw(st.sampled_from(["", " ", "-"]))
    grouped = separator.join((number[:3], number[3:7], number[7:]))
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "+86-", "0086", "86"]))
    return prefix + grouped


personal_numbers = st.one_of(id_numbers(), phones())
chinese_names = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=4
)

_JWT = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0."
    "eyJzdWIiOiJwZXJzb24tMSIsImV4cCI6MTY1Mjg1MjcwMH0."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYmFzZTY0dXJs"
)


def digits_of_runs(text: str) -> list[str]:
    """Every maximal run of digits in ``text``."""
    return re.findall(r"\d+", text)


def assert_absent(pii: str, output: str) -> None:
    """Neither the value as written nor, for a phone, its 11 digits with separators and country
    code taken away are anywhere in ``output``."""
    assert pii not in output
    digits = "".join(re.findall(r"\d", pii))
    core = pii if len(digits) == 17 or len(digits) == 18 else digits[-11:]
    assert core not in re.sub(r"[\s-]", "", output)


# --- capturing the powertools logger ----------------------------------------------------------------


class Captured:
    """A logger from ``get_logger`` whose JSON lines go to a buffer instead of stdout."""

    def __init__(self) -> None:
        self.service = f"test-logs-{uuid.uuid4().hex[:8]}"
        self.logger = get_logger(self.service)
        self.buffer = io.StringIO()
        handler = self.logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(self.buffer)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.take().split("\n") if line]  # not splitlines(): U+0085


@pytest.fixture(scope="module")
def captured() -> Captured:
    return Captured()


# --- redact_text: the patterns ----------------------------------------------------------------------


@SETTINGS
@given(before=around, pii=personal_numbers, after=around)
def test_personal_numbers_in_text_are_replaced(before: str, pii: str, after: str) -> None:
    """GIVEN an ID or mobile number between text without digits WHEN redacted THEN it is gone."""
    text = before + pii + after
    scrubbed = redact_text(text)
    assert_absent(pii, scrubbed)
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "11010519491231002X",
        "11010519491231002x",
        "身份证号:440524188001010014。",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits, as typed on some phones
        "call 13800138000 now",
        "tel:+86 13912345678",
        "008615912345678",
        "8613712345678",
        "(+86-188-1234-5678)",
        "手机号19912345678",
    ],
)
def test_known_shapes_are_replaced(text: str) -> None:
    """GIVEN real-world spellings of ID and mobile numbers THEN no digit run of theirs remains."""
    scrubbed = redact_text(text)
    assert REDACTED in scrubbed
    assert not any(len(run) >= 11 for run in digits_of_runs(scrubbed)), scrubbed


@SETTINGS
@given(
    epoch=st.integers(min_value=1_000_000_000, max_value=9_999_999_999),
    # Milliseconds from 2001 to 2100. (A 13-digit run 861[3-9]… is read as +86 and a phone.)
    epoch_ms=st.integers(min_value=1_000_000_000_000, max_value=4_102_444_800_000),
    regions=st.lists(st.text(alphabet=DIGITS, min_size=6, max_size=6), min_size=1, max_size=4),
    long_run=st.text(alphabet=DIGITS, min_size=19, max_size=40),
    short_run=st.text(alphabet=DIGITS, min_size=1, max_size=10),
)
def test_ordinary_numbers_are_kept(
    epoch: int, epoch_ms: int, regions: list[str], long_run: str, short_run: str
) -> None:
    """GIVEN timestamps, 6-digit region codes, digit runs of 19 or more and of 10 or fewer
    WHEN redacted THEN the text is unchanged: only ID and phone shapes are personal."""
    text = (
        f"at {epoch} ({epoch_ms} ms) 2022-05-18T13:45:00+08:00 regions {' '.join(regions)}, "
        f"{', '.join(regions)} batch {long_run} n={short_run} temp 37.3"
    )
    assert redact_text(text) == text


def test_tokens_are_replaced() -> None:
    """GIVEN a JWT anywhere and a Bearer credential THEN neither survives; the word Bearer stays."""
    scrubbed = redact_text(f"code={_JWT}; Authorization: Bearer abc.DEF-123_~+/== ok; bearer xyz")
    assert _JWT not in scrubbed
    assert "abc.DEF" not in scrubbed and "xyz" not in scrubbed
    assert scrubbed == "code=[redacted]; Authorization: Bearer [redacted] ok; bearer [redacted]"


def test_unsigned_jwt_is_replaced() -> None:
    """GIVEN an alg:none JWT (empty signature) THEN it is still recognised."""
    header, payload, _ = _JWT.split(".")
    assert redact_text(f"{header}.{payload}.") == REDACTED


# --- redact: structures -----------------------------------------------------------------------------


@SETTINGS
@given(name=chinese_names, pii=personal_numbers)
def test_sensitive_keys_are_replaced_at_any_depth(name: str, pii: str) -> None:
    """GIVEN personal data under sensitive keys (any case or separator) nested in dicts and lists
    WHEN redacted THEN those values are gone and the other keys keep their values."""
    document = {
        "person": {"Name": name, "ID-Number": pii, "idNumber": pii, "region_code": "350100"},
        "companions": [{"name": name, "PHONE": pii}, ("manager_phone", {"manager_phone": pii})],
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "x-trace": "abc"},
        "venue": {
            "credential_number": "91350100M000100Y43",
            "code": "opaque",
            "password": "p",
            "secret": "s",
        },
        "token": {"nested": "anything"},
        "count": 3,
    }
    out = redact(document)
    text = json.dumps(out, ensure_ascii=False)
    assert name not in text
    assert_absent(pii, text)
    for secret in ("dXNlcjpwYXNz", "91350100M000100Y43", "opaque", '"p"', '"s"', "anything"):
        assert secret not in text
    assert isinstance(out, dict)
    assert out["person"]["region_code"] == "350100"
    assert out["headers"]["x-trace"] == "abc"
    assert out["count"] == 3
    assert out["companions"][1][0] == "manager_phone"  # a value equal to a key name is not personal


@SETTINGS
@given(name=chinese_names, pii=personal_numbers)
def test_json_bodies_inside_strings_are_redacted(name: str, pii: str) -> None:
    """GIVEN an API Gateway event whose body is a JSON string WHEN redacted THEN the body's
    personal fields are gone too (the name has no pattern, only its key gives it away)."""
    event = {"rawPath": "/v1/codes", "body": json.dumps({"name": name, "id_number": pii, "dependant": False})}
    out = redact(event)
    assert isinstance(out, dict)
    body = json.loads(out["body"])
    assert body == {"name": REDACTED, "id_number": REDACTED, "dependant": False}


def test_numbers_spelling_personal_data_are_replaced() -> None:
    """GIVEN an ID or phone stored as an int WHEN redacted THEN it is replaced; ordinary ints stay."""
    assert redact({"n": 110105194912310024, "m": 13800138000, "t": 1652852700, "b": True}) == {
        "n": REDACTED,
        "m": REDACTED,
        "t": 1652852700,
        "b": True,
    }


def test_objects_are_logged_through_their_fields() -> None:
    """GIVEN a dataclass and a pydantic model holding personal data THEN their sensitive fields go."""

    @dataclass
    class Applicant:
        name: str
        id_number: str
        region_code: str

    class Venue(BaseModel):
        manager_phone: str
        address: str

    assert redact(Applicant("张三", "11010519491231002X", "110105")) == {
        "name": REDACTED,
        "id_number": REDACTED,
        "region_code": "110105",
    }
    assert redact(Venue(manager_phone="13800138000", address="福州市鼓楼区")) == {
        "manager_phone": REDACTED,
        "address": "福州市鼓楼区",
    }


def test_cyclic_structures_terminate() -> None:
    """GIVEN a list that contains itself THEN redaction stops at a depth bound instead of recursing."""
    loop: list[object] = ["13800138000"]
    loop.append(loop)
    text = json.dumps(redact(loop))
    assert "13800138000" not in text
    assert "too deep" in text


# --- the powertools logger from get_logger ----------------------------------------------------------


@SETTINGS
@given(before=around, pii=personal_numbers, after=around)
def test_message_text_is_redacted(captured: Captured, before: str, pii: str, after: str) -> None:
    """GIVEN personal data in the message itself WHEN logged THEN the JSON line does not hold it."""
    captured.logger.info(f"applying {before}{pii}{after}")
    output = captured.take()
    assert output
    assert_absent(pii, output)


@SETTINGS
@given(before=around, pii=personal_numbers, after=around)
def test_percent_arguments_are_redacted(captured: Captured, before: str, pii: str, after: str) -> None:
    """GIVEN personal data passed as %-arguments, whole or split across two arguments
    WHEN logged THEN the rendered message does not hold it."""
    captured.logger.info("applicant %s", before + pii + after)
    captured.logger.warning("number %s%s end", pii[:5], pii[5:])
    captured.logger.info("by mapping %(who)s", {"who": pii})
    output = captured.take()
    assert output.count("\n") == 3
    assert_absent(pii, output)


@SETTINGS
@given(pii=phones())
def test_numeric_arguments_are_redacted(captured: Captured, pii: str) -> None:
    """GIVEN a phone number logged with %d WHEN logged THEN it is replaced, and the line is kept."""
    number = int("".join(re.findall(r"\d", pii))[-11:])
    captured.logger.info("caller %d", number)
    (line,) = captured.lines()
    assert str(number) not in json.dumps(line)
    assert "caller" in line["message"]


def test_mapping_argument_keys_are_honoured(captured: Captured) -> None:
    """GIVEN a name (no pattern) passed through a %-mapping under the key ``name``
    THEN the key redacts it before the message is rendered."""
    captured.logger.info("hello %(name)s from %(region)s", {"name": "欧阳娜娜", "region": "350100"})
    (line,) = captured.lines()
    assert line["message"] == "hello [redacted] from 350100"


@SETTINGS
@given(name=chinese_names, pii=personal_numbers, before=around)
def test_extras_are_redacted(captured: Captured, name: str, pii: str, before: str) -> None:
    """GIVEN personal data in extra keys, keyword extras, nested dicts and lists
    WHEN logged THEN none survives, and sensitive keys are replaced whatever their value."""
    assume(name not in before)  # the surrounding text is not personal; a name inside it would be
    captured.logger.info(
        "checked in",
        extra={"detail": before + pii, "person": {"name": name, "contacts": [{"phone": pii}]}},
        note=[before, {"deep": {"deeper": pii}}],
        id_number=pii,
    )
    (line,) = captured.lines()
    text = json.dumps(line, ensure_ascii=False)
    assert name not in text
    assert_absent(pii, text)
    assert line["id_number"] == REDACTED
    assert line["person"]["name"] == REDACTED


@SETTINGS
@given(name=chinese_names, pii=personal_numbers)
def test_dict_messages_are_redacted(captured: Captured, name: str, pii: str) -> None:
    """GIVEN a dict logged as the message (powertools keeps it structured) THEN it is redacted."""
    captured.logger.info({"event": "apply", "applicant": {"name": name, "id_number": pii}, "note": f"x{pii}"})
    (line,) = captured.lines()
    assert line["message"]["applicant"] == {"name": REDACTED, "id_number": REDACTED}
    text = json.dumps(line, ensure_ascii=False)
    assert name not in text
    assert_absent(pii, text)


@SETTINGS
@given(before=around, pii=personal_numbers)
def test_exceptions_are_redacted(captured: Captured, before: str, pii: str) -> None:
    """GIVEN an exception whose message, note and cause hold personal data
    WHEN logged with logger.exception THEN neither the text nor the stack trace holds it."""
    try:
        try:
            raise KeyError(pii)
        except KeyError as cause:
            error = ValueError(f"lookup failed {before}{pii}")
            error.add_note(f"phone was {pii}")
            raise error from cause
    except ValueError:
        captured.logger.exception("application rejected")
    (line,) = captured.lines()
    assert line["exception_name"] == "ValueError"
    assert "lookup failed" in line["exception"]
    assert "KeyError" in line["exception"]
    assert_absent(pii, json.dumps(line, ensure_ascii=False))


@SETTINGS
@given(pii=personal_numbers)
def test_appended_keys_are_redacted(captured: Captured, pii: str) -> None:
    """GIVEN keys appended to every line (append_keys) holding personal data THEN they are redacted."""
    captured.logger.append_keys(caller_phone=pii, phone=pii)
    try:
        captured.logger.info("scan")
    finally:
        captured.logger.remove_keys(["caller_phone", "phone"])
    (line,) = captured.lines()
    assert line["phone"] == REDACTED
    assert_absent(pii, json.dumps(line))


def test_child_and_stdlib_loggers_of_the_service_are_redacted(captured: Captured) -> None:
    """GIVEN a powertools child logger and the plain stdlib logger of the same service
    WHEN they log personal data THEN the shared handler redacts it as well."""
    child = Logger(service=captured.service, child=True)
    child.info("child %s", "11010519491231002X")
    logging.getLogger(captured.service).warning("stdlib 13800138000", extra={"applicant": {"name": "张三"}})
    output = captured.take()
    assert output.count("\n") == 2
    assert "11010519491231002X" not in output
    assert "13800138000" not in output
    assert "张三" not in output


def test_ordinary_values_are_logged_as_they_are(captured: Captured) -> None:
    """GIVEN timestamps, region codes, counts and a 20-digit run WHEN logged THEN nothing is lost."""
    captured.logger.info(
        "report %s at %d for %s",
        "12345678901234567890",
        1652852700,
        "350100",
        extra={"scans": 1520, "epoch_ms": 1652852700123, "region_code": "350102", "colour": "green"},
    )
    (line,) = captured.lines()
    assert line["message"] == "report 12345678901234567890 at 1652852700 for 350100"
    assert (line["scans"], line["epoch_ms"], line["region_code"]) == (1520, 1652852700123, "350102")
    assert line["service"] == captured.service
    assert "[redacted]" not in json.dumps(line)


def test_a_record_that_cannot_be_redacted_is_withheld_not_raised(captured: Captured) -> None:
    """GIVEN an argument whose str() fails WHEN logged THEN the call does not raise and the line
    says it was withheld, without any of the record's data."""

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("13800138000")

    captured.logger.info("value %s", Unprintable(), extra={"phone_backup": "13800138000"})
    (line,) = captured.lines()
    assert line["message"].startswith("[log line withheld")
    assert "13800138000" not in json.dumps(line)


def test_get_logger_configures_once() -> None:
    """GIVEN get_logger called twice for a service THEN the same logger, one handler, one filter."""
    service = f"test-logs-{uuid.uuid4().hex[:8]}"
    first, second = get_logger(service), get_logger(service)
    assert first is second
    assert len(logging.getLogger(service).handlers) == 1
    filters = [f for f in first.registered_handler.filters if isinstance(f, PersonalDataFilter)]
    assert len(filters) == 1
    assert isinstance(first.registered_handler.formatter, logs.RedactingFormatter)


def test_a_logger_configured_elsewhere_gains_redaction() -> None:
    """GIVEN a powertools Logger for a service created without redaction
    WHEN get_logger is asked for that service THEN its formatter is swapped, keeping the service key."""
    service = f"test-logs-{uuid.uuid4().hex[:8]}"
    buffer = io.StringIO()
    Logger(service=service, stream=buffer)
    logger = get_logger(service)
    logger.info({"phone": "13800138000"}, extra={"x": "11010519491231002X"})
    line = json.loads(buffer.getvalue())
    assert line["message"] == {"phone": REDACTED}
    assert line["x"] == REDACTED
    assert line["service"] == service


# --- the root logger: library lines -------------------------------------------------------------------


@pytest.fixture
def root_output() -> Iterator[io.StringIO]:
    """A plain-text handler on the root logger, as the Lambda runtime installs one."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(detail)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


@SETTINGS
@given(pii=personal_numbers, before=around)
def test_library_lines_reaching_root_are_redacted(root_output: io.StringIO, pii: str, before: str) -> None:
    """GIVEN install_redaction() WHEN a library logger (botocore) logs personal data in its
    message, arguments, extras and exception THEN the root handler's text holds none of it."""
    install_redaction()
    library = logging.getLogger("botocore.endpoint")
    try:
        raise ConnectionError(f"{before}{pii}")
    except ConnectionError:
        library.warning(
            "retrying %s for %s", before + pii, pii, exc_info=True, extra={"detail": {"phone": pii}}
        )
    output = root_output.getvalue()
    root_output.seek(0)
    root_output.truncate()
    assert "WARNING botocore.endpoint retrying" in output
    assert "ConnectionError" in output
    assert_absent(pii, output)


def test_root_exceptions_are_handed_on_as_text_only(root_output: io.StringIO) -> None:
    """GIVEN a handler whose formatter reads the exception object itself (the Lambda runtime's JSON
    formatter does) WHEN a library logs an exception THEN it finds only the redacted text."""
    seen: list[logging.LogRecord] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    recorder = Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        install_redaction()
        install_redaction()  # idempotent
        assert sum(isinstance(f, PersonalDataFilter) for f in recorder.filters) == 1
        try:
            raise ValueError("11010519491231002X")
        except ValueError:
            logging.getLogger("pynamodb.connection").error("failed", exc_info=True, extra={"detail": ""})
    finally:
        root.removeHandler(recorder)
    (record,) = seen
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "ValueError: [redacted]" in record.exc_text
    assert "11010519491231002X" not in root_output.getvalue()
