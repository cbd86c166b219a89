"""DynamoDB's sizing rules, applied to the calls a handler really makes.

moto reports fixed ConsumedCapacity figures, so capacity is computed here from the items that
crossed the wire, by the rules in the DynamoDB developer guide:

* item size = Σ (UTF-8 length of the attribute name + size of the value); strings are their UTF-8
  length, binary its length, numbers 1 byte per two significant digits plus 1, booleans and nulls
  1 byte, lists and maps 3 bytes plus 1 byte per element plus the elements, sets their elements;
* a write costs ⌈size / 1 KB⌉ units (at least 1) for the larger of the old and new item — a
  failed conditional write still costs 1 — and a transactional write twice that;
* a read costs ⌈size / 4 KB⌉ units, half for eventually consistent reads; a Query rounds the
  total of the items it returns, a GetItem or each BatchGetItem item is rounded on its own;
* each global secondary index that receives the item costs a write too (``gsi_write_units``).

``CallCounter`` hooks a botocore client's events and records each DynamoDB call with its units
and the seconds spent inside botocore (so handler time can be measured without I/O).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

KB = 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    if "e" in digits.lower():
        digits = digits.lower().split("e", 1)[0]
    digits = digits.rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one attribute value in DynamoDB JSON (``{"S": ...}``, ``{"N": ...}`` …)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode("utf-8"))
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


@dataclass
class Call:
    operation: str
    read_units: float = 0.0
    write_units: float = 0.0
    gsi_write_units: float = 0.0
    items_read: int = 0
    seconds: float = 0.0
    #: the calling thread's CPU time inside the call (moto answers in-process, on this thread)
    cpu_seconds: float = 0.0


@dataclass
class CallCounter:
    """Counts DynamoDB calls made through the clients it is attached to.

    ``indexes`` maps a table name to the key attributes of each of its GSIs, so writes can be
    charged for index replication."""

    indexes: dict[str, list[set[str]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _started: dict[int, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        """Time each call from its first event (before parameters are validated and serialised)
        to its last (after the answer is parsed): the whole of botocore's work for the call."""
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- botocore hooks ---------------------------------------------------------------------

    def _before(self, **_: Any) -> None:
        self._started[threading.get_ident()] = (time.perf_counter(), time.thread_time())

    def _after(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **kwargs: Any) -> None:
        wall, cpu = self._started.pop(threading.get_ident(), (time.perf_counter(), time.thread_time()))
        params = kwargs.get("context", {}).get("_hc_params") or {}
        call = self.measure(model.name, params, parsed)
        call.seconds = time.perf_counter() - wall
        call.cpu_seconds = time.thread_time() - cpu
        with self._lock:
            self.calls.append(call)

    def provide_params(self, client: Any) -> None:
        """Keep each request's parameters in its context for ``_after`` (botocore passes the
        request dict to before-call but not to after-call)."""

        def keep(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["_hc_params"] = params

        client.meta.events.register("before-parameter-build.dynamodb", keep)

    # -- the rules ---------------------------------------------------------------------------

    def _gsi_units(self, table: str, item: Mapping[str, Any]) -> float:
        units = 0.0
        for keys in self.indexes.get(table, []):
            if keys <= set(item):
                units += write_units(item_size(item))
        return units

    def measure(self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> Call:
        call = Call(operation)
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            item = parsed.get("Item") or {}
            call.read_units = read_units(item_size(item), consistent=consistent)
            call.items_read = 1 if item else 0
        elif operation in ("Query", "Scan"):
            items = parsed.get("Items") or []
            call.read_units = read_units(sum(item_size(i) for i in items), consistent=consistent)
            call.items_read = len(items)
        elif operation == "BatchGetItem":
            for table, items in (parsed.get("Responses") or {}).items():
                strong = bool((params.get("RequestItems") or {}).get(table, {}).get("ConsistentRead"))
                for item in items:
                    call.read_units += read_units(item_size(item), consistent=strong)
                    call.items_read += 1
        elif operation == "PutItem":
            item = params.get("Item") or {}
            call.write_units = write_units(item_size(item))
            call.gsi_write_units = self._gsi_units(params.get("TableName", ""), item)
        elif operation in ("UpdateItem", "DeleteItem"):
            after = parsed.get("Attributes") or params.get("Key") or {}
            call.write_units = write_units(item_size(after))
        elif operation == "BatchWriteItem":
            for table, requests in (params.get("RequestItems") or {}).items():
                for request in requests:
                    item = (request.get("PutRequest") or {}).get("Item") or (
                        request.get("DeleteRequest") or {}
                    ).get("Key", {})
                    call.write_units += write_units(item_size(item))
                    call.gsi_write_units += self._gsi_units(table, item)
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems") or []:
                put = action.get("Put")
                item = (put or {}).get("Item") or next(iter(action.values())).get("Key", {})
                call.write_units += 2 * write_units(item_size(item))
                if put:
                    call.gsi_write_units += 2 * self._gsi_units(put.get("TableName", ""), item)
        return call

    # -- totals ------------------------------------------------------------------------------

    def totals(self) -> dict[str, float]:
        with self._lock:
            calls = list(self.calls)
        return {
            "calls": len(calls),
            "read_units": sum(c.read_units for c in calls),
            "write_units": sum(c.write_units for c in calls),
            "gsi_write_units": sum(c.gsi_write_units for c in calls),
            "items_read": sum(c.items_read for c in calls),
            "seconds": sum(c.seconds for c in calls),
            "cpu_seconds": sum(c.cpu_seconds for c in calls),
        }


def to_dynamodb_json(value: Any) -> dict[str, Any]:
    """Plain Python → DynamoDB JSON (for sizing items built in tests)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, list):
        return {"L": [to_dynamodb_json(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_dynamodb_json(v) for k, v in value.items()}}
    raise TypeError(type(value).__name__)
