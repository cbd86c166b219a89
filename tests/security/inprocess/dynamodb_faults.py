"""Fault injection with botocore event hooks: DynamoDB (and S3) calls answered with throttling,
server errors or a lost connection instead of reaching moto.

``FaultInjector`` registers two handlers on every DynamoDB and S3 client created while it is
installed (``install``): ``before-parameter-build`` keeps the call's API parameters in the
request context, and ``before-call`` decides — from a seeded random stream, or from a rule that
picks calls by table and key — whether the call fails. A failing call never reaches moto:

* ``ProvisionedThroughputExceededException`` / ``ThrottlingException`` (400) and
  ``InternalServerError`` (500) come back as the error response DynamoDB would send, so botocore
  raises the ``ClientError`` the SDK raises once its own retries are spent (and pynamodb wraps
  it as it wraps a real one); a ``TransactWriteItems`` is cancelled with ``ThrottlingError`` as
  its reason, which is how DynamoDB throttles a transaction;
* a lost connection raises ``EndpointConnectionError``, as botocore does when the endpoint
  cannot be reached.

Faults fire only while ``armed`` (the tests arm it around stream-consumer invocations, so the
writes that set a scenario up are never refused). ``install`` hooks the clients the package has
cached already (the ``healthcode.aws`` seam, pynamodb's per-model and per-module connections)
and every client created while it is installed, and unhooks them all when it is removed.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import EndpointConnectionError
from pynamodb.models import Model

SERVICES = ("dynamodb", "s3")
_UNIQUE = "security-fault-injector"


class Fault(StrEnum):
    """What a refused call answers."""

    PROVISIONED_THROUGHPUT = "ProvisionedThroughputExceededException"
    THROTTLING = "ThrottlingException"
    INTERNAL = "InternalServerError"
    CONNECTION = "EndpointConnectionError"


#: The kinds a random plan draws from.
ALL_FAULTS: tuple[Fault, ...] = tuple(Fault)
_STATUS = {
    Fault.PROVISIONED_THROUGHPUT: 400,
    Fault.THROTTLING: 400,
    Fault.INTERNAL: 500,
}
_MESSAGE = {
    Fault.PROVISIONED_THROUGHPUT: "The level of configured provisioned throughput was exceeded.",
    Fault.THROTTLING: "Throughput exceeds the current capacity of your table or index.",
    Fault.INTERNAL: "Internal server error",
}


@dataclass(frozen=True)
class Call:
    """A call about to be made: its service, operation and API parameters."""

    service: str
    operation: str
    params: Mapping[str, Any]

    @property
    def tables(self) -> set[str]:
        """Every table the call touches (batch and transaction calls name several)."""
        found: set[str] = set()
        if "TableName" in self.params:
            found.add(str(self.params["TableName"]))
        found.update(str(name) for name in self.params.get("RequestItems", {}) or {})
        for item in self.params.get("TransactItems", []) or []:
            for action in item.values():
                if isinstance(action, Mapping) and "TableName" in action:
                    found.add(str(action["TableName"]))
        return found

    def mentions(self, text: str) -> bool:
        """Whether ``text`` occurs anywhere in the call's parameters (keys, items, names)."""
        return text in json.dumps(self.params, default=str, ensure_ascii=False)


#: Decides a call's fate: the fault to answer with, or None to let it through.
Rule = Callable[[Call], Fault | None]


def random_rule(*, seed: int, rate: float, kinds: tuple[Fault, ...] = ALL_FAULTS) -> Rule:
    """Refuse a seeded ``rate`` of all calls, with kinds drawn in turn from ``kinds``."""
    chooser = random.Random(seed)
    lock = threading.Lock()

    def decide(call: Call) -> Fault | None:
        with lock:
            if chooser.random() >= rate:
                return None
            return chooser.choice(kinds)

    return decide


def targeted_rule(
    *,
    mentioning: str,
    fault: Fault,
    service: str = "dynamodb",
    table: str | None = None,
    operations: frozenset[str] | None = None,
) -> Rule:
    """Refuse every call to ``service`` (on ``table``, if given; of ``operations``, if given)
    whose parameters mention ``mentioning`` (a key, a key prefix, an object name)."""

    def decide(call: Call) -> Fault | None:
        if call.service != service or not call.mentions(mentioning):
            return None
        if table is not None and table not in call.tables:
            return None
        if operations is not None and call.operation not in operations:
            return None
        return fault

    return decide


#: How long a call waits before it is made (seconds): slow answers widen every race window.
Latency = Callable[[Call], float]


def random_latency(*, seed: int, up_to: float, operations: frozenset[str]) -> Latency:
    """A seeded delay of up to ``up_to`` seconds before each call of ``operations``."""
    chooser = random.Random(seed)
    lock = threading.Lock()

    def delay(call: Call) -> float:
        if call.operation not in operations:
            return 0.0
        with lock:
            return chooser.random() * up_to

    return delay


def no_fault(call: Call) -> Fault | None:
    return None


@dataclass
class FaultInjector:
    rule: Rule = no_fault
    latency: Latency | None = None
    armed: bool = False
    injected: Counter[Fault] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- botocore hooks ----------------------------------------------------------------------

    def keep_params(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["_fault_params"] = params

    def before_call(self, model: Any, context: Mapping[str, Any], **kwargs: Any) -> Any:
        if not self.armed:
            return None
        event_name = str(kwargs.get("event_name", ""))
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        call = Call(service=service, operation=model.name, params=context.get("_fault_params") or {})
        if self.latency is not None:
            time.sleep(self.latency(call))
        fault = self.rule(call)
        with self._lock:
            self.calls += 1
            if fault is None:
                return None
            self.injected[fault] += 1
            self.by_operation[f"{service}.{model.name}"] += 1
        if fault is Fault.CONNECTION:
            raise EndpointConnectionError(endpoint_url=f"https://{service}.cn-north-1.amazonaws.com.cn")
        return error_response(fault, call)

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build", self.keep_params, unique_id=f"{_UNIQUE}-params")
        events.register("before-call", self.before_call, unique_id=f"{_UNIQUE}-call")

    def detach(self, client: Any) -> None:
        events = client.meta.events
        events.unregister("before-parameter-build", unique_id=f"{_UNIQUE}-params")
        events.unregister("before-call", unique_id=f"{_UNIQUE}-call")

    @contextmanager
    def arming(self) -> Iterator[None]:
        """Faults fire inside this block only."""
        self.armed = True
        try:
            yield
        finally:
            self.armed = False

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def error_response(fault: Fault, call: Call) -> tuple[AWSResponse, dict[str, Any]]:
    """The (HTTP response, parsed body) DynamoDB or S3 would answer ``call`` with."""
    status = _STATUS[fault]
    code, message = str(fault), _MESSAGE[fault]
    parsed: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    if call.operation == "TransactWriteItems" and fault is not Fault.INTERNAL:
        items = call.params.get("TransactItems", []) or [None]
        reasons = [{"Code": "ThrottlingError", "Message": message}]
        reasons += [{"Code": "None"} for _ in items[1:]]
        parsed["Error"] = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        parsed["CancellationReasons"] = reasons
    if call.service == "s3" and fault is not Fault.INTERNAL:
        parsed["Error"] = {"Code": "SlowDown", "Message": "Please reduce your request rate."}
        status = 503
        parsed["ResponseMetadata"]["HTTPStatusCode"] = status
    return AWSResponse("https://fault.injected/", status, HTTPHeaders(), None), parsed


# -- installing: every client, cached or made from now on, is hooked ------------------------------


def _models() -> list[type[Model]]:
    found: list[type[Model]] = []
    pending: list[type[Model]] = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def cached_clients() -> list[Any]:
    """Every AWS client the package holds now: the ``healthcode.aws`` seam's, each model's
    pynamodb connection's and each storage module's cached ``_connection()``/``connection()``'s."""
    from healthcode import aws

    found: list[Any] = list(aws._clients.values())
    for model in _models():
        table_connection = getattr(model, "_connection", None)
        connection = getattr(table_connection, "connection", None)
        if connection is not None and connection._client is not None:
            found.append(connection._client)
    for name, module in list(sys.modules.items()):
        if not name.startswith("healthcode.storage") or module is None:
            continue
        for attribute in ("_connection", "connection"):  # storage.base.connection is shared
            cached: Any = getattr(module, attribute, None)
            if callable(getattr(cached, "cache_info", None)) and cached.cache_info().currsize:
                found.append(cached().client)
    return list({id(client): client for client in found}.values())


@contextmanager
def install(injector: FaultInjector) -> Iterator[FaultInjector]:
    """Hook ``injector`` into every DynamoDB and S3 client: those cached now and those created
    inside the block; unhook them all afterwards."""
    original = botocore.session.Session.create_client
    hooked: list[Any] = []

    def hook(client: Any) -> None:
        if client.meta.service_model.service_name in SERVICES:
            injector.attach(client)
            hooked.append(client)

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        hook(client)
        return client

    for client in cached_clients():
        hook(client)
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    try:
        yield injector
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]
        for client in hooked:
            injector.detach(client)


def any_rule(*rules: Rule) -> Rule:
    """The first fault any of ``rules`` decides on."""

    def decide(call: Call) -> Fault | None:
        for rule in rules:
            fault = rule(call)
            if fault is not None:
                return fault
        return None

    return decide
