"""Regressions: each 5xx (and missing check) the fuzz and hostile-input suites found, pinned.

1. Two trips to one region declared at the same second: BatchWriteItem refused the batch of
   facts (one key twice) → 500. ``storage.facts.save`` writes each key once.
2. A body temperature written as a 401-digit integer: ``math.isfinite`` overflowed → 500.
   ``forms.check_temperature`` compares an int exactly.
3. An unpaired surrogate escape (``"\\ud800"``) in any text: the first UTF-8 encode failed (a
   code's signature check, a hash, DynamoDB) → 500. ``http.json_body`` refuses it: 400.
4. Instants before 1970 (year 1, 1900): a case diagnosed then → 500; a lab result sampled in
   year 1 → accepted, and its stream records failed every retry (to the DLQ); a trip stored
   under a 1-digit year. ``clock.parse_instant`` refuses them (and 9999 at -08:00, and NUL).
5. ``?limit=²``: ``str.isdigit`` is true for it, ``int`` is not → 500. Only ASCII digits.
6. A NUL (any C0 control but tab and line breaks) in an appeal's reason was stored; a NUL after
   a time was read as the end of it. Both refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from healthcode import clock
from healthcode.edge.http import _unpaired_surrogate
from healthcode.errors import InvalidInput
from healthcode.rules.forms import check_temperature
from hypothesis import given
from hypothesis import strategies as st

from tests.security.http.fuzz_world import (
    World,
    application,
    declaration,
    fresh_id_number,
    running_world,
)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_world() as started:
        yield started


def pump_failures(world: World) -> tuple[int, int]:
    """Stream batches failed and sent to the DLQ so far (after every record is processed)."""
    world.stack.drain()
    stats = world.stack.http.get(f"{world.stack.url}/_local/info", timeout=10).json()["pump"]
    return int(stats["batches_failed"]), int(stats["sent_to_dlq"])


# -- 1. duplicate trips -------------------------------------------------------------------------


def test_two_trips_to_one_region_at_the_same_second_are_one_fact(world: World) -> None:
    # GIVEN an application declaring the same trip twice (and once more a fraction of a second on)
    left = clock.show(clock.now() - timedelta(hours=5))
    later = left.replace("+08:00", ".5+08:00")
    trips = [{"region_code": "520102", "left_at": at} for at in (left, left, later)]
    body = application(fresh_id_number(), declaration=declaration(travel=trips))
    # WHEN it is sent THEN the code is made, and the trip is stored once
    answer = world.call("POST", "/v1/codes", "applicant", json=body)
    assert answer.status_code == 201, answer.text
    facts = world.stack.aws("dynamodb").query(
        TableName=world.stack.info["tables"]["FactsTable"],
        KeyConditionExpression="person_id = :p AND begins_with(fact_id, :t)",
        ExpressionAttributeValues={":p": {"S": answer.json()["person_id"]}, ":t": {"S": "trip#"}},
    )
    assert facts["Count"] == 1


# -- 2. huge integers ---------------------------------------------------------------------------


@given(
    st.integers(min_value=10**20, max_value=10**500) | st.integers(min_value=-(10**500), max_value=-(10**20))
)
def test_a_temperature_of_any_integer_size_is_implausible_not_an_overflow(value: int) -> None:
    # GIVEN a temperature as a huge integer WHEN checked THEN refused as implausible
    with pytest.raises(InvalidInput) as refused:
        check_temperature(value)
    assert refused.value.code == "invalid_temperature"


def test_non_finite_temperatures_are_still_the_wrong_type() -> None:
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(InvalidInput) as refused:
            check_temperature(value)
        assert refused.value.code == "invalid_temperature"
    assert check_temperature(37) == 37.0


def test_a_401_digit_temperature_is_a_422(world: World) -> None:
    body = json.dumps(application(fresh_id_number())).replace(
        '"temperature": 36.5', '"temperature": 1' + "0" * 400
    )
    answer = world.call("POST", "/v1/codes", "applicant", data=body.encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "declaration.temperature"


# -- 3. unpaired surrogates ---------------------------------------------------------------------


@given(
    st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)
)
def test_text_of_valid_unicode_holds_no_unpaired_surrogate(value: object) -> None:
    # GIVEN any JSON-like value of valid text (hypothesis text never holds lone surrogates)
    assert not _unpaired_surrogate(value)
    # WHEN a lone surrogate is put in a key or a value, at any depth THEN it is found
    assert _unpaired_surrogate([value, {"k\udfff": 1}])
    assert _unpaired_surrogate({"k": [value, "a\ud800b"]})


def test_a_paired_surrogate_escape_is_text() -> None:
    assert not _unpaired_surrogate(json.loads('{"reason": "\\ud83d\\ude37"}'))
    assert _unpaired_surrogate(json.loads('{"reason": "\\ude37\\ud83d"}'))


@pytest.mark.parametrize(
    ("path", "role", "field", "make"),
    [
        (
            "/v1/checkins",
            "citizen",
            "venue_code",
            lambda w: {
                "venue_code": w.venue_code[:-4],
                "person_id": w.person_id,
                "location": {"lat": 26.57, "lng": 106.71},
            },
        ),
        (
            "/v1/verifications",
            "scanner",
            "code",
            lambda w: {"code": w.personal_code()[:-4], "checkpoint_id": w.venue_id},
        ),
    ],
    ids=["venue_code", "code"],
)
def test_a_code_with_a_lone_surrogate_is_a_400(
    world: World, path: str, role: str, field: str, make: Callable[[World], dict[str, Any]]
) -> None:
    # GIVEN a scanned code whose last characters are an unpaired surrogate escape
    body = make(world)
    text = json.dumps(body).replace(f'"{body[field]}"', f'"{body[field]}\\ud800"')
    # WHEN sent THEN 400 invalid_json (it was a 500: the signature check encodes the text)
    answer = world.call("POST", path, role, data=text.encode())
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"


# -- 4. instants out of range -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+08:00",
        "1900-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59-08:00",
        "2022-05-18T10:00:00+08:00\x00",
        "２０２２-05-18T10:00:00+08:00",
    ],
)
def test_parse_instant_refuses_what_it_cannot_hold(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        clock.parse_instant(text)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)), st.integers(-14, 14))
def test_parse_instant_reads_every_instant_from_1970_on(moment: datetime, hours: int) -> None:
    # GIVEN an instant after the epoch, written at any whole-hour offset WHEN parsed THEN the same
    aware = moment.replace(tzinfo=timezone(timedelta(hours=hours)))
    assert clock.parse_instant(aware.isoformat()) == aware.astimezone(UTC)


def test_a_case_diagnosed_before_1970_is_a_422_and_no_consumer_fails(world: World) -> None:
    failures = pump_failures(world)
    for diagnosed in ("0001-01-02T00:00:00Z", "1900-01-01T00:00:00Z"):
        # GIVEN a case diagnosed in year 1 or 1900 WHEN reported THEN 422 on diagnosed_at
        body = {"person_id": world.dependant_id, "status": "confirmed", "diagnosed_at": diagnosed}
        answer = world.call("POST", "/v1/cases", "official", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "diagnosed_at"
        # AND a lab result sampled then is rejected on its own (it opened a case whose stream
        # records failed every retry)
        row = {"id_number": world.id_numbers[0], "sampled_at": diagnosed, "result": "positive"}
        answer = world.call("POST", "/v1/lab-results", "official", json={"results": [row]})
        assert answer.json()["rejected"] == [
            {"index": 0, "error": "invalid_sampled_at", "field": "sampled_at"}
        ]
        # AND a trip left then is refused on its field
        trip = {"region_code": "520102", "left_at": diagnosed}
        body = application(fresh_id_number(), declaration=declaration(travel=[trip]))
        answer = world.call("POST", "/v1/codes", "applicant", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "declaration.travel.0.left_at"
    assert pump_failures(world) == failures


# -- 5. digits int() cannot read ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/overrides", "/v1/appeals", "/v1/cases/{case_id}/contacts"])
@pytest.mark.parametrize("limit", ["²", "¹⁰", "٣", "１２"])
def test_a_limit_in_other_digits_is_a_422(world: World, path: str, limit: str) -> None:
    # GIVEN a page size written in superscript, Arabic-Indic or full-width digits
    # WHEN a list is asked for THEN 422 invalid_limit (it was a 500 for "²")
    answer = world.stack.http.get(
        f"{world.stack.url}{path.format(case_id=world.case_id)}",
        params={"limit": limit},
        headers={**world.headers("official"), "Accept-Language": "en"},
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == {
        "code": "invalid_limit",
        "message": "limit must be a whole number from 1 to 1000",
        "field": "limit",
    }


# -- 6. control characters ----------------------------------------------------------------------


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
def test_an_appeal_reason_with_a_control_character_is_a_422(world: World, control: str) -> None:
    account, person_id = world.fresh_yellow_person()
    answer = world.call(
        "POST", f"/v1/codes/{person_id}/appeals", account, json={"reason": f"已隔离{control}期满"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "reason"


def test_an_appeal_reason_may_span_lines(world: World) -> None:
    account, person_id = world.fresh_yellow_person()
    answer = world.call(
        "POST", f"/v1/codes/{person_id}/appeals", account, json={"reason": "已隔离期满\r\n\t核酸阴性"}
    )
    assert answer.status_code == 201, answer.text


def test_a_time_ending_in_nul_is_refused(world: World) -> None:
    diagnosed = clock.show(clock.now() - timedelta(hours=1)) + "\x00"
    body = {"person_id": world.dependant_id, "status": "confirmed", "diagnosed_at": diagnosed}
    answer = world.call("POST", "/v1/cases", "official", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "diagnosed_at"
