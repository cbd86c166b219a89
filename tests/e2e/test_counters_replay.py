"""Venue-day counters stay exact on the local stack when the counters function gets a venue's
scan records out of order, as after the event source gave up on a batch (failure queue) and
``make replay-dlq`` hands it back once later scans of the same venue-day were counted
(issue 13, item 12; the faults suite does the same with a real failure queue in-process)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthcode.clock import CHINA

from tests.e2e.stack import Stack
from tests.e2e.test_staff import account, citizen_code, ok, venue_form


def _scan_records(stack: Stack, venue_id: str) -> list[dict[str, Any]]:
    """The venue's records on the ScansTable stream, in order, shaped as Lambda delivers them."""
    return [
        record
        for record in stack.stream_records("ScansTable")
        if record["dynamodb"].get("NewImage", {}).get("venue_id", {}).get("S") == venue_id
    ]


def _invoke(stack: Stack, records: list[dict[str, Any]]) -> Any:
    answer = stack.http.post(
        f"{stack.url}/_local/invoke/CountersFunction", json={"Records": records}, timeout=120
    )
    answer.raise_for_status()
    return answer.json()["result"]


def test_a_venue_day_replayed_after_later_scans_counts_every_scan_once(stack: Stack) -> None:
    # GIVEN a checkpoint (a mall: 8 scan partitions) with its scanner, and nine people
    manager, scanner = account("venue_manager"), account("scanner")
    venue_id = ok(stack.call("POST", "/v1/venues", as_=manager, json=venue_form()), 201)["venue_id"]
    ok(stack.call("PUT", f"/v1/venues/{venue_id}/staff/{scanner[0]}", as_=manager))
    codes = [citizen_code(stack)[2] for _ in range(9)]
    now = datetime.fromisoformat(stack.http.get(f"{stack.url}/_local/clock", timeout=10).json()["now"])
    day = now.astimezone(CHINA).date().isoformat()  # the stack's day is China's
    with stack.pump_paused():
        # WHEN nine verifications happen over HTTP (so two share a scan partition)
        for code in codes:
            body = {"code": code, "checkpoint_id": venue_id, "temperature": 36.6}
            ok(stack.call("POST", "/v1/verifications", as_=scanner, json=body))
        records = _scan_records(stack, venue_id)
        assert len(records) == 9
        # AND the counters get the records from the first partition seen twice on first (those
        # before were given up on), then those before (the replay: a watermark alone would skip
        # the earlier scan of that partition), then all nine again (a redelivery)
        partitions = [r["dynamodb"]["NewImage"]["venue_shard"]["S"] for r in records]
        k = next(i for i, p in enumerate(partitions) if p in partitions[:i])
        for part in (records[k:], records[:k], records):
            assert _invoke(stack, part) == {"batchItemFailures": []}
    stack.drain()  # and the stream delivers them all once more
    # THEN the venue-day counts each scan once
    stats = ok(stack.call("GET", f"/v1/venues/{venue_id}/stats?date={day}", as_=manager))
    assert (stats["scans"], stats["abnormal"]) == (9, 0)
    assert stats["by_colour"] == {"green": 9}
