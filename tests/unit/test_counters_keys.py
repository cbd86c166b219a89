"""The counters' pure parts (healthcode.storage.stats): stream positions compare as numbers,
days are China-local, region levels map to key prefixes, and a stream image reads as a scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from healthcode.errors import InvalidInput
from healthcode.storage import stats
from healthcode.storage.base import region_key_prefix
from healthcode.storage.scans import ScanRecord, item_for
from hypothesis import given, settings
from hypothesis import strategies as st

sequence_numbers = st.integers(min_value=0, max_value=10**40 - 1)


def counted_at(sequence: int) -> stats.CountedScan:
    return stats.CountedScan(
        source="v-1#0",
        sequence=str(sequence),
        scan_id="s-1",
        venue_id="v-1",
        region_code="520102",
        at=datetime(2022, 5, 18, tzinfo=UTC),
        kind="verification",
        colour="green",
        level=0,
        verdict="pass",
        abnormal=False,
        temperature=None,
        person_id="p-1",
        name_masked=None,
        id_masked=None,
    )


@settings(max_examples=200)
@given(sequence_numbers, sequence_numbers)
def test_stream_positions_compare_as_the_numbers_do(a: int, b: int) -> None:
    # GIVEN two sequence numbers of different lengths (21 to 40 digits in AWS)
    # THEN their fixed-width positions order as the numbers, which DynamoDB compares as strings
    assert (counted_at(a).position < counted_at(b).position) == (a < b)
    assert len(counted_at(a).position) == stats.SEQUENCE_WIDTH


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2022, 5, 17, 15, 59, 59, tzinfo=UTC), "2022-05-17"),  # 23:59:59 at +08:00
        (datetime(2022, 5, 17, 16, 0, 0, tzinfo=UTC), "2022-05-18"),  # midnight at +08:00
        (datetime(2022, 12, 31, 16, 0, 0, tzinfo=UTC), "2023-01-01"),
    ],
)
def test_a_day_is_the_china_local_date(instant: datetime, day: str) -> None:
    assert stats.day_of(instant) == day


@settings(max_examples=200)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)))
def test_every_instant_falls_in_the_day_that_starts_at_cst_midnight(instant: datetime) -> None:
    day = datetime.fromisoformat(stats.day_of(instant) + "T00:00:00+08:00")
    assert day <= instant < day + timedelta(days=1)


@pytest.mark.parametrize("value", ["2022-5-18", "2022-02-30", "18/05/2022", "", None, 20220518])
def test_a_report_day_must_be_a_real_date(value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        stats.check_day(value)
    assert refused.value.code == "invalid_date"


@pytest.mark.parametrize(
    ("region", "prefix"),
    [("520000", None), ("520100", "5201"), ("520102", "520102#"), ("441900", "4419")],
)
def test_a_region_level_is_a_prefix_of_the_index_range_key(region: str, prefix: str | None) -> None:
    # province: the whole partition; prefecture xxyy00: its counties and itself; county: exactly it
    assert region_key_prefix(region) == prefix


def test_a_stream_image_reads_as_the_scan_that_was_written() -> None:
    # GIVEN a scan item as the scans table stores it (wire form, as the stream carries it)
    at = datetime(2022, 5, 18, 1, 2, 3, 456789, tzinfo=UTC)
    record = ScanRecord(
        scan_id="s-abc",
        person_id="p-1",
        venue_id="v-9",
        root_venue_id="v-9",
        venue_type="mall",
        region_code="520102",
        kind="manual",
        actor="scanner-1",
        at=at,
        level=1,
        colour="yellow",
        verdict="dissuade",
        abnormal=True,
        temperature=37.9,
        name_masked="张*",
        id_masked="5201**********1234",
        presented="id_number",
    )
    image = item_for(record, shards=8, retention_days=28).serialize()
    # WHEN the consumer reads it THEN every field it counts comes back
    scan = stats.counted(image, sequence="000123")
    assert (scan.scan_id, scan.venue_id, scan.at, scan.day) == ("s-abc", "v-9", at, "2022-05-18")
    assert (scan.colour, scan.level, scan.verdict, scan.abnormal, scan.temperature) == (
        "yellow",
        1,
        "dissuade",
        True,
        37.9,
    )
    assert scan.source.startswith("v-9#") and scan.position.endswith("000123")


@pytest.mark.parametrize("sequence", ["", "12a", "1" * 41])
def test_a_malformed_sequence_number_is_refused(sequence: str) -> None:
    image = item_for(
        ScanRecord(
            scan_id="s-1",
            person_id="p-1",
            venue_id="v-1",
            root_venue_id="v-1",
            venue_type="mall",
            region_code="520102",
            kind="checkin",
            actor="c-1",
            at=datetime(2022, 5, 18, tzinfo=UTC),
            level=0,
            colour="green",
            verdict="pass",
            abnormal=False,
        ),
        shards=1,
        retention_days=28,
    ).serialize()
    with pytest.raises(ValueError):
        stats.counted(image, sequence=sequence)
