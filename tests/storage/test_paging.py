"""Paged Queries as the lists page them: ``Limit``, ``LastEvaluatedKey`` and filters."""

from __future__ import annotations

from typing import Any

from tests.storage.conftest import Engine, Tables, unique


def _fill(engine: Engine, tables: Tables, count: int, **extra: Any) -> tuple[str, list[str]]:
    """``count`` items under one partition of the audit table; their sort keys in order."""
    table = tables.name("AuditTable")
    subject = unique("subject")
    entries = [f"2022-05-18T02:{n // 60:02d}:{n % 60:02d}.000000Z#{n:03d}" for n in range(count)]
    for n, entry in enumerate(entries):
        item = {"subject": {"S": subject}, "entry": {"S": entry}, "n": {"N": str(n)}}
        item.update({name: {"S": "x" * value} for name, value in extra.items()})
        engine.dynamodb.put_item(TableName=table, Item=item)
    return subject, entries


def _pages(
    engine: Engine,
    table: str,
    subject: str,
    *,
    condition: str = "subject = :s",
    values: dict[str, Any] | None = None,
    **query: Any,
) -> list[dict[str, Any]]:
    """Every page of a Query, following ``LastEvaluatedKey`` as a list's cursor does."""
    pages = []
    start: dict[str, Any] | None = None
    while True:
        page = engine.dynamodb.query(
            TableName=table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues={":s": {"S": subject}, **(values or {})},
            **({"ExclusiveStartKey": start} if start else {}),
            **query,
        )
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def test_pages_of_a_limit_cover_every_item_once_in_order(engine: Engine, tables: Tables) -> None:
    subject, entries = _fill(engine, tables, 23)
    pages = _pages(engine, tables.name("AuditTable"), subject, Limit=5)
    seen = [item["entry"]["S"] for page in pages for item in page["Items"]]
    assert seen == entries
    assert [len(page["Items"]) for page in pages[:4]] == [5, 5, 5, 5]
    assert pages[0]["LastEvaluatedKey"] == {"subject": {"S": subject}, "entry": {"S": entries[4]}}


def test_pages_run_backwards_newest_first(engine: Engine, tables: Tables) -> None:
    subject, entries = _fill(engine, tables, 12)
    pages = _pages(engine, tables.name("AuditTable"), subject, Limit=5, ScanIndexForward=False)
    assert [item["entry"]["S"] for page in pages for item in page["Items"]] == entries[::-1]


def test_the_limit_counts_items_read_before_the_filter(engine: Engine, tables: Tables) -> None:
    """A filtered page may hold fewer items than the limit (even none) and still not be the
    last: a list must follow ``LastEvaluatedKey``, never stop at a short page."""
    subject, entries = _fill(engine, tables, 20)
    pages = _pages(
        engine,
        tables.name("AuditTable"),
        subject,
        Limit=4,
        FilterExpression="n >= :from",
        values={":from": {"N": "14"}},
    )
    assert [item["entry"]["S"] for page in pages for item in page["Items"]] == entries[14:]
    assert pages[0]["Count"] == 0 and pages[0]["ScannedCount"] == 4
    assert "LastEvaluatedKey" in pages[0]


def test_a_page_stops_at_a_megabyte(engine: Engine, tables: Tables) -> None:
    """Without a limit a page still ends after 1 MB of items read: no list may assume one
    Query returns a whole partition."""
    subject, entries = _fill(engine, tables, 14, padding=100_000)
    pages = _pages(engine, tables.name("AuditTable"), subject)
    assert len(pages) >= 2
    assert len(pages[0]["Items"]) < len(entries)
    assert [item["entry"]["S"] for page in pages for item in page["Items"]] == entries


def test_a_begins_with_range_reads_only_its_prefix(engine: Engine, tables: Tables) -> None:
    """``begins_with`` on the sort key: the region-keyed lists (``<county>#…``) read one area."""
    subject, entries = _fill(engine, tables, 15)
    pages = _pages(
        engine,
        tables.name("AuditTable"),
        subject,
        condition="subject = :s AND begins_with(entry, :p)",
        values={":p": {"S": "2022-05-18T02:00:1"}},
        Limit=3,
    )
    assert [item["entry"]["S"] for page in pages for item in page["Items"]] == entries[10:15]
