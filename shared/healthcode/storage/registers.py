"""The market-entity and population registers, and the counters the assessment indicators are
read from (RegistersTable).

Items (``pk``, ``sk``)
    ``E#<credit code>``, ``ENTITY``: a market entity as the register was last uploaded
    (``credit_code``, ``name``, ``region_code``, ``type``, ``updated_at``, ``updated_by``).
    ``E#<credit code>``, ``VENUES``: ``venue_ids``, the venues registered under that credit code
    (a string set, kept by the coverage consumer from the VenuesTable stream with ``ADD`` and
    ``DELETE``, so a redelivered record changes nothing).
    ``E#<credit code>``, ``COUNTED``: how the entity is counted right now (``region_code``,
    ``covered``, ``name``, ``version``). While it is not covered it carries ``uncovered_area``
    (its prefecture, ``xxyy00``) and ``uncovered_key`` (``<county>#<credit code>``): the sparse
    index ``by_uncovered`` lists a region's entities without a venue code with one Query per
    prefecture, in region then credit-code order.
    ``COUNT#<region>``, ``TOTAL`` / ``region#<child>``: ``entities`` and ``with_code`` in a
    county, prefecture or province, and per region one level down.
    ``POP#<region>``, ``POPULATION``: the population registered for exactly that region.
    ``IND#<region>``, ``persons``: persons who applied for a code with a region inside it.
    ``IND#<region>``, ``<day>#data``: ``attempts`` and ``refused`` (applications and manual
    registrations, refused for invalid data) on a China-local day.
    ``IND#<region>``, ``<day>#timely#<cause>#<hour>``: colour changes written that day, as a
    histogram of whole seconds from the fact being learned: attribute ``s<seconds>`` counts the
    changes that took exactly that many seconds; ``<hour>`` is ``seconds // 3600``, so an item
    holds at most 3600 attributes however slow a day was. A histogram of whole seconds gives
    exact nearest-rank percentiles.

Counting entities exactly: :func:`reconcile` reads the three items of a credit code (one
consistent Query), works out how the entity should be counted (in its region, covered when a
venue holds its credit code) and moves the ``COUNTED`` marker there in ONE transaction with the
counter increments, on condition that the marker is still what was read. It works from the
current items, never from a stream image, so records delivered twice, late or out of order
change nothing once the counts are right.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from healthcode.errors import InvalidInput
from healthcode.rules.venues import child_region, coverage_levels
from healthcode.storage.base import instant_key
from healthcode.storage.connection import client, table_name

__all__ = [
    "ENTITY_SK",
    "MAX_ATTEMPTS",
    "Entity",
    "EntityCounts",
    "IndicatorCounters",
    "ReconcileContention",
    "Uncovered",
    "add_attempt",
    "add_colour_change",
    "add_colour_changes",
    "add_person",
    "credit_code_of",
    "entity_counts",
    "indicator_counters",
    "link_venue",
    "population",
    "put_entities",
    "put_population",
    "reconcile",
    "uncovered",
    "unlink_venue",
    "venue_types",
]

TABLE: Final = "RegistersTable"
ENTITY_PREFIX: Final = "E#"
ENTITY_SK: Final = "ENTITY"
VENUES_SK: Final = "VENUES"
COUNTED_SK: Final = "COUNTED"
COUNT_PREFIX: Final = "COUNT#"
TOTAL_SK: Final = "TOTAL"
CHILD_PREFIX: Final = "region#"
POPULATION_PREFIX: Final = "POP#"
POPULATION_SK: Final = "POPULATION"
INDICATOR_PREFIX: Final = "IND#"
PERSONS_SK: Final = "persons"
UNCOVERED_INDEX: Final = "by_uncovered"
#: BatchWriteItem takes 25 puts a request.
BATCH: Final = 25
#: Rounds of "read, write on condition" before a record is left to the stream's retry.
MAX_ATTEMPTS: Final = 5
#: Rounds of resending what BatchWriteItem left unprocessed.
UNPROCESSED_ROUNDS: Final = 8

_CREDIT = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_REGION = re.compile(r"[1-9][0-9]{5}")
_UNCOVERED_KEY = re.compile(r"([1-9][0-9]{5})#([0-9A-HJ-NPQRTUWXY]{18})")


class ReconcileContention(RuntimeError):
    """An entity's items kept changing under the counter (retried by the stream)."""


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _int(item: Mapping[str, Any], name: str) -> int:
    raw = item.get(name)
    return int(raw["N"]) if isinstance(raw, dict) and "N" in raw else 0


def _str(item: Mapping[str, Any], name: str) -> str | None:
    raw = item.get(name)
    return str(raw["S"]) if isinstance(raw, dict) and "S" in raw else None


# -- the entity register ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity:
    """One row of the market-entity register."""

    credit_code: str
    name: str
    region_code: str
    type: str


def _entity_item(entity: Entity, *, at: datetime, actor: str) -> dict[str, Any]:
    return {
        "pk": _s(ENTITY_PREFIX + entity.credit_code),
        "sk": _s(ENTITY_SK),
        "credit_code": _s(entity.credit_code),
        "name": _s(entity.name),
        "region_code": _s(entity.region_code),
        "type": _s(entity.type),
        "updated_at": _s(instant_key(at)),
        "updated_by": _s(actor),
    }


def _write_batch(requests: list[dict[str, Any]]) -> None:
    """One BatchWriteItem, resending what it leaves unprocessed (with a growing pause)."""
    pending = {table_name(TABLE): requests}
    for round_ in range(UNPROCESSED_ROUNDS):
        answer = client().batch_write_item(RequestItems=pending)
        pending = answer.get("UnprocessedItems") or {}
        if not pending:
            return
        time.sleep(min(0.05 * 2**round_, 1.0))
    raise RuntimeError("the register write was throttled; nothing was lost, send the upload again")


def put_entities(entities: Sequence[Entity], *, at: datetime, actor: str) -> int:
    """Upsert register rows by credit code (BatchWriteItem, 25 a request); the credit codes
    must be distinct. Returns how many were written."""
    if len({entity.credit_code for entity in entities}) != len(entities):
        raise ValueError("put_entities takes each credit code once")
    for start in range(0, len(entities), BATCH):
        chunk = entities[start : start + BATCH]
        _write_batch([{"PutRequest": {"Item": _entity_item(e, at=at, actor=actor)}} for e in chunk])
    return len(entities)


def stored_regions(credit_codes: Sequence[str]) -> dict[str, str]:
    """The region each of ``credit_codes`` is registered in now (those registered), read with
    BatchGetItem 100 keys at a time, consistently (an upload checks them before it overwrites)."""
    found: dict[str, str] = {}
    codes = list(dict.fromkeys(credit_codes))
    for start in range(0, len(codes), 100):
        keys = [{"pk": _s(ENTITY_PREFIX + code), "sk": _s(ENTITY_SK)} for code in codes[start : start + 100]]
        pending: dict[str, Any] = {
            table_name(TABLE): {
                "Keys": keys,
                "ConsistentRead": True,
                "ProjectionExpression": "credit_code, region_code",
            }
        }
        for round_ in range(UNPROCESSED_ROUNDS):
            answer = client().batch_get_item(RequestItems=pending)
            for item in answer.get("Responses", {}).get(table_name(TABLE), []):
                code, region = _str(item, "credit_code"), _str(item, "region_code")
                if code and region:
                    found[code] = region
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**round_, 1.0))
        else:
            raise RuntimeError("the register read was throttled; nothing was written, send the upload again")
    return found


def credit_code_of(pk: str) -> str | None:
    """The credit code of an entity's item key, None for other items."""
    if not pk.startswith(ENTITY_PREFIX):
        return None
    code = pk.removeprefix(ENTITY_PREFIX)
    return code if _CREDIT.fullmatch(code) else None


# -- venues under a credit code (the coverage consumer) ----------------------------------------


def _venue_set(credit_code: str, venue_id: str, action: str) -> None:
    client().update_item(
        TableName=table_name(TABLE),
        Key={"pk": _s(ENTITY_PREFIX + credit_code), "sk": _s(VENUES_SK)},
        UpdateExpression=f"{action} #ids :ids",
        ExpressionAttributeNames={"#ids": "venue_ids"},
        ExpressionAttributeValues={":ids": {"SS": [venue_id]}},
    )


def link_venue(credit_code: str, venue_id: str) -> None:
    """Note that ``venue_id`` is registered under ``credit_code`` (idempotent)."""
    _venue_set(credit_code, venue_id, "ADD")


def unlink_venue(credit_code: str, venue_id: str) -> None:
    """Note that ``venue_id`` no longer holds ``credit_code`` (idempotent)."""
    _venue_set(credit_code, venue_id, "DELETE")


# -- counting entities ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Counted:
    region_code: str
    covered: bool
    name: str


def _levels(region_code: str) -> list[tuple[str, str]]:
    """The counter items an entity of ``region_code`` counts in: each level's total, and each
    upper level's row for the region one level down."""
    keys = [(COUNT_PREFIX + level, TOTAL_SK) for level in coverage_levels(region_code)]
    for upper in coverage_levels(region_code)[1:]:
        child = child_region(upper, region_code)
        if child is not None:
            keys.append((COUNT_PREFIX + upper, CHILD_PREFIX + child))
    return keys


def _deltas(before: _Counted | None, after: _Counted | None) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for counted, sign in ((before, -1), (after, +1)):
        if counted is None:
            continue
        for key in _levels(counted.region_code):
            entities, with_code = out.get(key, (0, 0))
            out[key] = (entities + sign, with_code + (sign if counted.covered else 0))
    return {key: delta for key, delta in out.items() if delta != (0, 0)}


def _marker(credit_code: str, counted: _Counted, version: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(ENTITY_PREFIX + credit_code),
        "sk": _s(COUNTED_SK),
        "credit_code": _s(credit_code),
        "region_code": _s(counted.region_code),
        "name": _s(counted.name),
        "covered": {"BOOL": counted.covered},
        "version": _n(version),
    }
    if not counted.covered:
        item["uncovered_area"] = _s(counted.region_code[:4] + "00")
        item["uncovered_key"] = _s(f"{counted.region_code}#{credit_code}")
    return item


def reconcile(credit_code: str) -> bool:
    """Bring the counters in line with the entity's current items (module docstring). Returns
    whether anything changed; ``ReconcileContention`` when the items kept changing."""
    pk = ENTITY_PREFIX + credit_code
    for _ in range(MAX_ATTEMPTS):
        found = {
            str(item["sk"]["S"]): item
            for item in client()
            .query(
                TableName=table_name(TABLE),
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": "pk"},
                ExpressionAttributeValues={":pk": _s(pk)},
                ConsistentRead=True,
            )
            .get("Items", [])
        }
        entity, venues, marker = found.get(ENTITY_SK), found.get(VENUES_SK), found.get(COUNTED_SK)
        wanted = (
            None
            if entity is None
            else _Counted(
                region_code=str(_str(entity, "region_code")),
                covered=bool((venues or {}).get("venue_ids", {}).get("SS")),
                name=str(_str(entity, "name")),
            )
        )
        now = (
            None
            if marker is None
            else _Counted(
                region_code=str(_str(marker, "region_code")),
                covered=bool(marker.get("covered", {}).get("BOOL")),
                name=str(_str(marker, "name")),
            )
        )
        if wanted == now:
            return False
        version = _int(marker or {}, "version")
        condition: dict[str, Any]
        if marker is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": _n(version)},
            }
        step: dict[str, Any]
        if wanted is None:
            step = {
                "Delete": {
                    "TableName": table_name(TABLE),
                    "Key": {"pk": _s(pk), "sk": _s(COUNTED_SK)},
                    **condition,
                }
            }
        else:
            step = {
                "Put": {
                    "TableName": table_name(TABLE),
                    "Item": _marker(credit_code, wanted, version + 1),
                    **condition,
                }
            }
        updates = [
            {
                "Update": {
                    "TableName": table_name(TABLE),
                    "Key": {"pk": _s(counter_pk), "sk": _s(counter_sk)},
                    "UpdateExpression": "ADD #e :e, #w :w",
                    "ExpressionAttributeNames": {"#e": "entities", "#w": "with_code"},
                    "ExpressionAttributeValues": {":e": _n(entities), ":w": _n(with_code)},
                }
            }
            for (counter_pk, counter_sk), (entities, with_code) in sorted(_deltas(now, wanted).items())
        ]
        try:
            client().transact_write_items(TransactItems=[step, *updates])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            if any(r.get("Code") in ("ThrottlingError", "ProvisionedThroughputExceeded") for r in reasons):
                raise
            continue  # the marker moved, or a conflicting transaction: read again
        return True
    raise ReconcileContention(f"the counts of entity {credit_code} kept changing; the record will be retried")


@dataclass(frozen=True, slots=True)
class EntityCounts:
    """Register entities in a region and how many hold a venue code, with the same per region
    one level down."""

    entities: int
    with_code: int
    by_region: Mapping[str, tuple[int, int]]


def entity_counts(region_code: str) -> EntityCounts:
    """A region's entity counters: one (paged) Query."""
    total = (0, 0)
    by_region: dict[str, tuple[int, int]] = {}
    request: dict[str, Any] = {
        "TableName": table_name(TABLE),
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": "pk"},
        "ExpressionAttributeValues": {":pk": _s(COUNT_PREFIX + region_code)},
    }
    for item in _pages(request):
        counts = (_int(item, "entities"), _int(item, "with_code"))
        sk = str(item["sk"]["S"])
        if sk == TOTAL_SK:
            total = counts
        elif sk.startswith(CHILD_PREFIX):
            by_region[sk.removeprefix(CHILD_PREFIX)] = counts
    return EntityCounts(entities=total[0], with_code=total[1], by_region=by_region)


def _pages(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        page = client().query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


# -- entities without a venue code ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Uncovered:
    credit_code: str
    name: str
    region_code: str


def _prefix(region_code: str) -> str:
    if region_code.endswith("0000"):
        return region_code[:2]
    if region_code.endswith("00"):
        return region_code[:4]
    return region_code


def _cursor(prefecture: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{prefecture}|{key}".encode("ascii")).decode("ascii").rstrip("=")


def _read_cursor(cursor: str, region_code: str) -> tuple[str, str]:
    refused = InvalidInput("cursor is not one this list gave", field="cursor", code="invalid_cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    prefecture, _, key = text.partition("|")
    matched = _UNCOVERED_KEY.fullmatch(key)
    if (
        not _REGION.fullmatch(prefecture)
        or not prefecture.endswith("00")
        or matched is None
        or matched.group(1)[:4] + "00" != prefecture
        or not matched.group(1).startswith(_prefix(region_code))
    ):
        raise refused
    return prefecture, key


def uncovered(
    region_code: str, prefectures: Iterable[str], *, limit: int, cursor: str | None
) -> tuple[list[Uncovered], str | None]:
    """Entities of a county, prefecture or province (whose prefectures are ``prefectures``)
    without a venue code, in region then credit-code order: one Query per prefecture visited.
    Returns the page and the cursor of the next (None at the end); a cursor this list did not
    give is ``422 invalid_cursor``."""
    order = sorted(set(prefectures))
    start: tuple[str, str] | None = _read_cursor(cursor, region_code) if cursor else None
    if start is not None:
        order = [p for p in order if p >= start[0]]
    rows: list[tuple[str, Uncovered]] = []
    prefix = _prefix(region_code)
    for prefecture in order:
        request: dict[str, Any] = {
            "TableName": table_name(TABLE),
            "IndexName": UNCOVERED_INDEX,
            "KeyConditionExpression": "#a = :a AND begins_with(#k, :k)",
            "ExpressionAttributeNames": {"#a": "uncovered_area", "#k": "uncovered_key"},
            "ExpressionAttributeValues": {":a": _s(prefecture), ":k": _s(prefix)},
            "Limit": limit + 1 - len(rows),
        }
        if start is not None and start[0] == prefecture:
            key = start[1]
            request["ExclusiveStartKey"] = {
                "uncovered_area": _s(prefecture),
                "uncovered_key": _s(key),
                "pk": _s(ENTITY_PREFIX + key.split("#", 1)[1]),
                "sk": _s(COUNTED_SK),
            }
        while len(rows) <= limit:
            page = client().query(**request)
            for item in page.get("Items", []):
                rows.append(
                    (
                        prefecture,
                        Uncovered(
                            credit_code=str(_str(item, "credit_code")),
                            name=str(_str(item, "name")),
                            region_code=str(_str(item, "region_code")),
                        ),
                    )
                )
            if "LastEvaluatedKey" not in page or len(rows) > limit:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            request["Limit"] = limit + 1 - len(rows)
        if len(rows) > limit:
            break
    if len(rows) <= limit:
        return [row for _, row in rows], None
    last_prefecture, last = rows[limit - 1]
    return [row for _, row in rows[:limit]], _cursor(
        last_prefecture, f"{last.region_code}#{last.credit_code}"
    )


# -- population -----------------------------------------------------------------------------------


def put_population(figures: Mapping[str, int], *, at: datetime, actor: str) -> int:
    """Set the population of regions (BatchWriteItem); returns how many were written."""
    codes = sorted(figures)
    for start in range(0, len(codes), BATCH):
        _write_batch(
            [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": _s(POPULATION_PREFIX + code),
                            "sk": _s(POPULATION_SK),
                            "population": _n(figures[code]),
                            "updated_at": _s(instant_key(at)),
                            "updated_by": _s(actor),
                        }
                    }
                }
                for code in codes[start : start + BATCH]
            ]
        )
    return len(codes)


def population(region_code: str) -> int | None:
    """The population registered for exactly ``region_code``: one GetItem."""
    item = (
        client()
        .get_item(
            TableName=table_name(TABLE),
            Key={"pk": _s(POPULATION_PREFIX + region_code), "sk": _s(POPULATION_SK)},
        )
        .get("Item")
    )
    return None if item is None else _int(item, "population")


# -- indicator counters ---------------------------------------------------------------------------


def _add(pk: str, sk: str, amounts: Mapping[str, int]) -> None:
    names = {f"#a{i}": name for i, name in enumerate(amounts)}
    values = {f":a{i}": _n(amount) for i, amount in enumerate(amounts.values())}
    client().update_item(
        TableName=table_name(TABLE),
        Key={"pk": _s(pk), "sk": _s(sk)},
        UpdateExpression="ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(amounts))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def add_person(region_code: str) -> None:
    """Count a person who applied for a code with ``region_code``, at each of its levels."""
    for level in coverage_levels(region_code):
        _add(INDICATOR_PREFIX + level, PERSONS_SK, {"n": 1})


def add_attempt(levels: Sequence[str], day: str, *, refused: bool) -> None:
    """Count an application or manual registration on ``day`` in each of ``levels``."""
    for level in levels:
        _add(INDICATOR_PREFIX + level, f"{day}#data", {"attempts": 1, "refused": int(refused)})


def add_colour_change(region_code: str, day: str, cause: str, seconds: int) -> None:
    """Count a colour change that took ``seconds`` in its person's region, at each level."""
    if seconds < 0:
        raise ValueError("a colour change takes no negative time")
    for level in coverage_levels(region_code):
        _add(INDICATOR_PREFIX + level, f"{day}#timely#{cause}#{seconds // 3600:06d}", {f"s{seconds}": 1})


def add_colour_changes(changes: Iterable[tuple[str, str, str, int]]) -> int:
    """Count many colour changes, each ``(region_code, day, cause, seconds)`` as
    :func:`add_colour_change` would, with one ``ADD`` per counter item however many changes it
    counts (a batch of a thousand traced contacts of one county: three calls, not three
    thousand). Returns the calls made."""
    counters: dict[tuple[str, str], dict[str, int]] = {}
    for region_code, day, cause, seconds in changes:
        if seconds < 0:
            raise ValueError("a colour change takes no negative time")
        for level in coverage_levels(region_code):
            amounts = counters.setdefault(
                (INDICATOR_PREFIX + level, f"{day}#timely#{cause}#{seconds // 3600:06d}"), {}
            )
            amounts[f"s{seconds}"] = amounts.get(f"s{seconds}", 0) + 1
    for (pk, sk), amounts in counters.items():
        _add(pk, sk, amounts)
    return len(counters)


@dataclass(frozen=True, slots=True)
class IndicatorCounters:
    """What the counters of a region hold for days ``first``..``last``."""

    persons: int
    attempts: int
    refused: int
    #: cause -> {seconds: changes}
    timeliness: Mapping[str, Mapping[int, int]]


def indicator_counters(region_code: str, first: str, last: str) -> IndicatorCounters:
    """A region's indicator counters over days ``first``..``last``: one GetItem and one (paged)
    Query."""
    persons = (
        client()
        .get_item(
            TableName=table_name(TABLE), Key={"pk": _s(INDICATOR_PREFIX + region_code), "sk": _s(PERSONS_SK)}
        )
        .get("Item")
    )
    attempts = refused = 0
    histograms: dict[str, dict[int, int]] = {}
    request: dict[str, Any] = {
        "TableName": table_name(TABLE),
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :from AND :to",
        "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
        "ExpressionAttributeValues": {
            ":pk": _s(INDICATOR_PREFIX + region_code),
            ":from": _s(first),
            ":to": _s(f"{last}#~"),
        },
    }
    for item in _pages(request):
        parts = str(item["sk"]["S"]).split("#")
        if len(parts) == 2 and parts[1] == "data":
            attempts += _int(item, "attempts")
            refused += _int(item, "refused")
        elif len(parts) == 4 and parts[1] == "timely":
            histogram = histograms.setdefault(parts[2], {})
            for name, value in item.items():
                if name.startswith("s") and name[1:].isdigit() and "N" in value:
                    seconds = int(name[1:])
                    histogram[seconds] = histogram.get(seconds, 0) + int(value["N"])
    return IndicatorCounters(
        persons=_int(persons or {}, "n"), attempts=attempts, refused=refused, timeliness=histograms
    )


def venue_types(venue_ids: Iterable[str]) -> dict[str, str]:
    """The type of each venue (BatchGetItem on VenuesTable, 100 keys a request)."""
    wanted = sorted(set(venue_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 100):
        keys: dict[str, Any] = {
            table_name("VenuesTable"): {
                "Keys": [{"venue_id": _s(v)} for v in wanted[start : start + 100]],
                "ProjectionExpression": "venue_id, #t",
                "ExpressionAttributeNames": {"#t": "type"},
            }
        }
        for _ in range(UNPROCESSED_ROUNDS):
            answer = client().batch_get_item(RequestItems=keys)
            for item in answer.get("Responses", {}).get(table_name("VenuesTable"), []):
                kind = _str(item, "type")
                if kind is not None:
                    found[str(item["venue_id"]["S"])] = kind
            keys = answer.get("UnprocessedKeys") or {}
            if not keys:
                break
    return found
