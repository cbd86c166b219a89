"""storage.limits against the template's LimitsTable in moto: fixed windows and their edges, TTL,
amounts over one, the transaction variant, and exact counts under concurrent takes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from healthcode.errors import RateLimited
from healthcode.storage import limits
from healthcode.storage.connection import connection
from healthcode.storage.models import IdempotencyRecord, LimitCounter
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from tests.handlers.harness import InProcessStack

# 10:30 in Beijing: the hour window is 10:00-11:00 +08:00, the day window from local midnight
NOW = datetime(2022, 5, 18, 2, 30, tzinfo=UTC)


def test_windows_are_aligned_to_beijing_time() -> None:
    hour = limits.window_of(NOW, limits.HOUR)
    assert hour.start == int(datetime(2022, 5, 18, 2, 0, tzinfo=UTC).timestamp())
    assert hour.end - hour.start == 3600
    day = limits.window_of(NOW, limits.DAY)
    assert day.start == int(datetime(2022, 5, 17, 16, 0, tzinfo=UTC).timestamp())  # 00:00 +08:00
    assert day.retry_after(NOW) == int(timedelta(hours=13, minutes=30).total_seconds())
    # the last instant of a window belongs to it; its end starts the next
    end = datetime.fromtimestamp(hour.end, UTC)
    assert limits.window_of(end - timedelta(microseconds=1), limits.HOUR) == hour
    assert limits.window_of(end, limits.HOUR).start == hour.end
    assert hour.retry_after(end - timedelta(milliseconds=1)) == 1  # never 0
    with pytest.raises(ValueError):
        limits.window_of(datetime(2022, 5, 18), limits.HOUR)  # naive
    with pytest.raises(ValueError):
        limits.counter_id("a#b", "sub", hour)


def test_take_counts_up_to_the_limit_then_refuses_with_the_window_end(aws_stack: InProcessStack) -> None:
    for _ in range(3):
        limits.take("appeals", "user-1", limit=3, window_seconds=limits.DAY, now=NOW)
    with pytest.raises(RateLimited) as refused:
        limits.take("appeals", "user-1", limit=3, window_seconds=limits.DAY, now=NOW)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.retry_after == 13 * 3600 + 30 * 60
    assert limits.used("appeals", "user-1", window_seconds=limits.DAY, now=NOW) == 3  # refusal wrote nothing
    # other accounts and other scopes have their own counters
    assert limits.try_take("appeals", "user-2", limit=3, window_seconds=limits.DAY, now=NOW)
    assert limits.try_take("link_codes", "user-1", limit=3, window_seconds=limits.DAY, now=NOW)
    # the next window starts from zero
    tomorrow = NOW + timedelta(hours=14)
    assert limits.try_take("appeals", "user-1", limit=3, window_seconds=limits.DAY, now=tomorrow)
    assert limits.used("appeals", "user-1", window_seconds=limits.DAY, now=tomorrow) == 1


def test_counter_items_expire_by_ttl_after_their_window(aws_stack: InProcessStack) -> None:
    limits.take("appeals", "user-1", limit=3, window_seconds=limits.HOUR, now=NOW)
    window = limits.window_of(NOW, limits.HOUR)
    item = LimitCounter.get(limits.counter_id("appeals", "user-1", window))
    assert item.used == 1
    assert item.expiration == window.end + limits.DAY
    assert item.expiration > NOW.timestamp()


def test_amounts_over_one(aws_stack: InProcessStack) -> None:
    assert limits.try_take("fever", "s", limit=5, window_seconds=limits.HOUR, now=NOW, amount=3)
    assert not limits.try_take("fever", "s", limit=5, window_seconds=limits.HOUR, now=NOW, amount=3)
    assert limits.try_take("fever", "s", limit=5, window_seconds=limits.HOUR, now=NOW, amount=2)
    assert limits.used("fever", "s", window_seconds=limits.HOUR, now=NOW) == 5
    assert not limits.try_take("fever", "t", limit=5, window_seconds=limits.HOUR, now=NOW, amount=6)
    assert limits.used("fever", "t", window_seconds=limits.HOUR, now=NOW) == 0
    assert not limits.try_take("fever", "u", limit=0, window_seconds=limits.HOUR, now=NOW)
    with pytest.raises(ValueError):
        limits.try_take("fever", "s", limit=5, window_seconds=limits.HOUR, now=NOW, amount=0)


def _record(n: int) -> IdempotencyRecord:
    return IdempotencyRecord(f"idem#limits-test-{n}", answer={}, created_at=NOW, expiration=2**31)


def test_charge_commits_with_the_domain_write_or_not_at_all(aws_stack: InProcessStack) -> None:
    for n in range(2):
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(_record(n))
            limits.charge(transaction, "cases", "official-1", limit=2, window_seconds=limits.HOUR, now=NOW)
    charge = None
    with pytest.raises(TransactWriteError) as failed:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(_record(2))
            charge = limits.charge(
                transaction, "cases", "official-1", limit=2, window_seconds=limits.HOUR, now=NOW
            )
    assert charge is not None and charge.refused(failed.value)
    refusal = charge.rate_limited()
    assert refusal.code == "rate_limited" and refusal.retry_after == 30 * 60
    assert IdempotencyRecord.count(f"idem#limits-test-{2}") == 0  # the domain write did not happen
    assert limits.used("cases", "official-1", window_seconds=limits.HOUR, now=NOW) == 2


def test_charge_tells_its_own_refusal_from_another_items(aws_stack: InProcessStack) -> None:
    """Another item's failed condition is not the limit's refusal, wherever pynamodb put either."""
    with TransactWrite(connection=connection()) as transaction:
        transaction.save(_record(9))
    charge = None
    with pytest.raises(TransactWriteError) as failed:
        with TransactWrite(connection=connection()) as transaction:
            charge = limits.charge(
                transaction, "cases", "official-2", limit=5, window_seconds=limits.HOUR, now=NOW
            )
            transaction.save(_record(9), condition=IdempotencyRecord.id.does_not_exist())
    assert charge is not None and not charge.refused(failed.value)
    assert limits.used("cases", "official-2", window_seconds=limits.HOUR, now=NOW) == 0


def test_charge_with_an_amount_over_the_limit_never_fits(aws_stack: InProcessStack) -> None:
    charge = None
    with pytest.raises(TransactWriteError) as failed:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(_record(20))
            charge = limits.charge(
                transaction, "cases", "official-3", limit=2, window_seconds=limits.HOUR, now=NOW, amount=3
            )
    assert charge is not None and charge.refused(failed.value)


def test_concurrent_takes_count_exactly(aws_stack: InProcessStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # each DynamoDB request is atomic, as the service and the local stack's serialised moto make it;
    # in-process moto is not thread-safe inside one request, so requests are made one at a time here
    # while the 30 takes still interleave request by request
    import threading

    from botocore.client import BaseClient

    one_at_a_time, call = threading.Lock(), BaseClient._make_api_call

    def atomic(self: BaseClient, operation: str, params: dict[str, object]) -> object:
        with one_at_a_time:
            return call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic)

    def attempt(_: int) -> bool:
        return limits.try_take("appeals", "racer", limit=7, window_seconds=limits.DAY, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(30)))
    assert results.count(True) == 7
    assert limits.used("appeals", "racer", window_seconds=limits.DAY, now=NOW) == 7


def test_a_refusal_tells_when_to_retry() -> None:
    from healthcode.edge.http import error_response
    from healthcode.errors import Throttled

    limited = error_response(RateLimited("over", retry_after=1234))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1234"
    assert '"code":"rate_limited"' in str(limited.body)
    assert error_response(Throttled("busy")).headers["Retry-After"] == "1"  # the stage throttle's hint
    assert RateLimited("over", retry_after=0).retry_after == 1  # never "retry now"
