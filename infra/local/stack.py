"""The whole SAM application, offline: moto for AWS, this process for API Gateway and Lambda.

``LocalStack.start()``:
1. starts a moto server on a free loopback port and points every AWS client at it (with the
   ``dynamodb-local`` engine, DynamoDB and its streams go to DynamoDB Local: ``infra.local.engine``);
2. creates the template's KMS keys, secrets, queues and tables (keys, GSIs, streams, TTL);
3. loads each function's handler from its ``CodeUri``/``Handler`` with the function's
   environment (the union of all functions' variables; a conflicting value is an error);
4. serves every ``HttpApi`` route, checking caller tokens as the JWT authorizer would;
5. runs custom resources (e.g. the signing-key bootstrap) through their service functions,
   answering CloudFormation's pre-signed URL itself;
6. pumps stream records to consumers and fires schedules on the stack clock (``rate(...)`` and
   daily ``cron(M H * * ? *)``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from healthcode import aws, clock, settings

from infra.local import moto_patches
from infra.local.authorizer import CALLER_KEY_ENV, AuthorizerRejection, LocalIdentityProvider
from infra.local.engine import (
    ENDPOINT_VARIABLES,
    ENGINES,
    MOTO,
    DynamoDBLocal,
    endpoint_environment,
    engine_from_environment,
)
from infra.local.events import http_api_event
from infra.local.resources import create_resources, published
from infra.local.streams import StreamPump, TtlSweeper
from infra.local.template import Route, Template
from infra.local.web import WEB_AUTH_MODES, OidcProvider, WebSite, page_config

log = logging.getLogger("localstack")
ROOT = Path(__file__).resolve().parents[2]
LOCAL_ISSUER = "https://local.healthcode.invalid/issuer"
LOCAL_AUDIENCE = "healthcode-local"
SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "secretsmanager", "kms", "s3", "sns", "cloudwatch")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serial_moto_server_class() -> type[Any]:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class SerialMotoServer(ThreadedMotoServer):  # type: ignore[misc]
        """moto's server, answering one request at a time.

        moto's backends are not thread-safe (a TransactWriteItems racing another write can fail
        with a 500), while every DynamoDB request is atomic in AWS; serialising the requests
        restores that. Connections are still accepted concurrently."""

        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serial(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                with lock:
                    return [b"".join(app(environ, start_response))]

            self._server = make_server(
                self._ip_address, self._port, serial, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer


def serial_moto_server(**kwargs: Any) -> Any:
    return _serial_moto_server_class()(**kwargs)


class LambdaContext:
    """What a handler may read from its context object."""

    def __init__(self, function_name: str, arn: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


#: Environments a function may run at once on the local stack (Lambda runs one invocation per
#: environment and adds environments up to the function's concurrency): ``LOCAL_CONCURRENCY``.
DEFAULT_CONCURRENCY = 4


def concurrency_from_environment() -> int:
    text = os.environ.get("LOCAL_CONCURRENCY", "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"LOCAL_CONCURRENCY must be a whole number, not {text!r}") from None
    if not 1 <= value <= 64:
        raise ValueError("LOCAL_CONCURRENCY must be between 1 and 64")
    return value


@dataclass
class Environment:
    """One execution environment: its own loaded copy of the handler module (module globals,
    powertools' resolver and its current event, a consumer's ``BatchProcessor``), running one
    invocation at a time, as a Lambda execution environment does."""

    number: int
    handler: Callable[[dict[str, Any], Any], Any]
    invocations: int = 0


@dataclass
class LoadedFunction:
    """A function's execution environments. Like Lambda, an invocation takes an idle
    environment (the most recently used: warm), or, when all are busy and fewer than
    ``concurrency`` exist, a new one (a cold start: the handler module loaded afresh by
    ``load``); at the limit it waits for one to come free (API Gateway's retries, in effect).
    The ``healthcode`` package itself is shared by all environments of the process (one
    import); the moto server answers one request at a time, so each DynamoDB request stays
    atomic while invocations interleave between requests, as in AWS."""

    logical_id: str
    handler: Callable[[dict[str, Any], Any], Any]  # environment 0's, loaded at start
    name: str
    arn: str
    memory_mb: int
    timeout_s: int
    concurrency: int = 1
    load: Callable[[int], Callable[[dict[str, Any], Any], Any]] | None = None
    _idle: list[Environment] = field(default_factory=list)
    _created: int = 0
    _busy: int = 0
    _peak: int = 0
    _free: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._idle.append(Environment(0, self.handler))
        self._created = 1

    def _acquire(self) -> Environment:
        environment: Environment | None
        with self._free:
            while True:
                if self._idle:
                    environment = self._idle.pop()
                    break
                if self._created < self.concurrency and self.load is not None:
                    number = self._created
                    self._created += 1
                    environment = None
                    break
                self._free.wait()
            self._busy += 1
            self._peak = max(self._peak, self._busy)
        if environment is not None:
            return environment
        try:
            assert self.load is not None
            return Environment(number, self.load(number))
        except BaseException:
            with self._free:
                self._created -= 1
                self._busy -= 1
                self._free.notify()
            raise

    def _release(self, environment: Environment) -> None:
        with self._free:
            environment.invocations += 1
            self._idle.append(environment)
            self._busy -= 1
            self._free.notify()

    def __call__(self, event: dict[str, Any]) -> Any:
        environment = self._acquire()
        try:
            context = LambdaContext(self.name, self.arn, self.memory_mb, self.timeout_s)
            return environment.handler(event, context)
        finally:
            self._release(environment)

    def stats(self) -> dict[str, int]:
        with self._free:
            return {"environments": self._created, "busy": self._busy, "peak": self._peak}


def load_module(logical_id: str, code_uri: Path, handler: str, environment: int = 0) -> ModuleType:
    """Import a handler's module from ``code_uri`` as Lambda would (the CodeUri is the root);
    ``environment`` > 0 loads another copy (another execution environment's module globals)."""
    module_name = handler.rpartition(".")[0]
    path = code_uri / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise FileNotFoundError(f"{logical_id}: handler module {path} does not exist")
    unique = f"_lambda_{logical_id}_{module_name.replace('.', '_')}"
    if environment:
        unique = f"{unique}__env{environment}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{logical_id}: cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[unique]
        raise
    return module


def load_handler(
    logical_id: str, code_uri: Path, handler: str, environment: int = 0
) -> Callable[[dict[str, Any], Any], Any]:
    """The ``module.function`` a template's Handler names, loaded from its CodeUri (in
    execution environment ``environment``: see ``load_module``)."""
    attribute = handler.rpartition(".")[2]
    function = getattr(load_module(logical_id, code_uri, handler, environment), attribute, None)
    if not callable(function):
        raise AttributeError(f"{logical_id}: {handler} is not a function in {code_uri}")
    return function  # type: ignore[no-any-return]


class PolicyOverride:
    """The province policy as the stack's functions read it (``settings.policy()`` calls
    ``settings.load_policy``), changeable through ``POST /_local/policy`` so HTTP tests can
    use small limits: the changed policy is validated like a policy file."""

    def __init__(self, original: Callable[[str], Any]) -> None:
        self.original = original
        self.policy: Any = None

    def __call__(self, province: str) -> Any:
        changed = self.policy
        if changed is not None and changed.province == province:
            return changed
        return self.original(province)

    def cache_clear(self) -> None:
        self.original.cache_clear()  # type: ignore[attr-defined]

    def change(self, province: str, changes: dict[str, Any]) -> Any:
        from healthcode.rules.policy import Policy

        base = self.original(province)
        self.policy = None if not changes else Policy.from_document({**base.to_document(), **changes})
        return self(province)


#: One handler module loads at a time (loading sets a function's variables for its import).
_LOADING = threading.Lock()


class Router:
    """API Gateway's matching: the route with the most literal segments wins."""

    def __init__(self, routes: list[Route]) -> None:
        compiled = []
        for route in routes:
            pattern = re.sub(
                r"\\\{([^}]+)\\\}",
                lambda m: (
                    f"(?P<{m.group(1).rstrip('+').replace('+', '')}>"
                    + (".+" if m.group(1).endswith("+") else "[^/]+")
                    + ")"
                ),
                re.escape(route.path),
            )
            literal = len([s for s in route.path.split("/") if s and not s.startswith("{")])
            compiled.append((re.compile(f"^{pattern}$"), literal, route))
        self.routes = sorted(compiled, key=lambda item: -item[1])

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for pattern, _, route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = pattern.match(path)
            if found:
                return route, found.groupdict()
        return None


class ApiServer(ThreadingHTTPServer):
    """The HTTP API's front door: a thread per connection, and a listen backlog for a crowd —
    socketserver's default of 5 pending connections makes the kernel reset clients that connect
    together (a load test's workers), which API Gateway never does."""

    daemon_threads = True
    request_queue_size = 1024


class LocalStack:
    def __init__(
        self,
        *,
        template_path: Path = ROOT / "template.yaml",
        province: str = "520000",
        port: int = 3000,
        host: str = "127.0.0.1",
        region: str = "cn-north-1",
        stack_name: str | None = None,
        parameters: dict[str, str] | None = None,
        ttl_interval_s: float = 0.0,
        pump_interval_s: float = 0.05,
        concurrency: int | None = None,
        engine: str | None = None,
        web_auth: str = "local",
        web_dist: Path = ROOT / "web" / "dist",
    ) -> None:
        self.province = province
        #: Which DynamoDB answers the stack (``infra.local.engine``: moto, or DynamoDB Local).
        self.engine = engine or engine_from_environment()
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
        self._dynamodb_local: DynamoDBLocal | None = None
        #: Execution environments per function (``LOCAL_CONCURRENCY``, default 4).
        self.concurrency = concurrency if concurrency is not None else concurrency_from_environment()
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.host = host
        self.port = port
        self.region = region
        self.stack_name = stack_name or f"healthcode-{province}"
        self.template_path = template_path
        self.parameters = {
            "Province": province,
            "CallerIssuer": LOCAL_ISSUER,
            "CallerAudience": LOCAL_AUDIENCE,
            **(parameters or {}),
        }
        self.ttl_interval_s = ttl_interval_s
        self.pump_interval_s = pump_interval_s
        self.identity = LocalIdentityProvider(LOCAL_ISSUER, LOCAL_AUDIENCE, os.environ.get(CALLER_KEY_ENV))
        #: How the web pages sign in: "local" (the /_local/tokens form) or "oidc" (code + PKCE
        #: against the emulated provider at /_local/oidc, as against the deployment's issuer).
        if web_auth not in WEB_AUTH_MODES:
            raise ValueError(f"web_auth must be one of {', '.join(WEB_AUTH_MODES)}")
        self.web_auth = web_auth
        self.oidc = OidcProvider(self.identity, LOCAL_AUDIENCE, province)
        self.web = WebSite(web_dist, self.web_config)
        self.functions: dict[str, LoadedFunction] = {}
        self.api_id = f"local{province}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cfn_answers: dict[str, dict[str, Any]] = {}
        self._next_schedule: dict[str, float] = {}
        #: Daily cron schedules: when the stack clock was last looked at for each.
        self._last_look: dict[str, float] = {}
        #: While set, the background loop delivers nothing (drain still does): lets a test write
        #: several records and have them read as one batch.
        self.pump_paused = threading.Event()

    # -- start and stop ----------------------------------------------------------------------

    def start(self) -> None:
        moto_patches.apply()
        self.moto_port = free_port()
        self._moto = serial_moto_server(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        self.moto_endpoint = f"http://127.0.0.1:{self.moto_port}"
        self.dynamodb_endpoint = self._start_engine()
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto_endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "false",
            }
        )
        aws.reset()
        self.clients = {service: aws.client(service) for service in SERVICES}
        self.template = Template(self.template_path, self.stack_name, self.parameters, self.region)
        create_resources(self.template, self.clients, time_to_live=self.engine == MOTO)
        self._load_functions()
        self.router = Router(self.template.routes())
        self.pump = StreamPump(self.template, self.clients, self.invoke, lanes_concurrently=True)
        self.ttl = TtlSweeper(self.template, self.clients["dynamodb"], self.pump)
        self._server = ApiServer((self.host, self.port), _handler_class(self))
        self.port = int(self._server.server_address[1])
        self._spawn(self._server.serve_forever)
        self._run_custom_resources()
        self._spawn(self._background)

    def _start_engine(self) -> str:
        """Start DynamoDB Local when it is the engine and point DynamoDB (only) at it; the
        DynamoDB endpoint either way. moto's DynamoDB then stays empty."""
        for variable in ENDPOINT_VARIABLES:
            os.environ.pop(variable, None)
        if self.engine == MOTO:
            return self.moto_endpoint
        self._dynamodb_local = DynamoDBLocal().start()
        os.environ.update(endpoint_environment(self._dynamodb_local.endpoint))
        return self._dynamodb_local.endpoint

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._moto.stop()
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _load_functions(self) -> None:
        """Load every handler with its own environment. All functions share this process, so
        a variable may differ between functions only if it is read at import (``POWERTOOLS_*``:
        the service name); any other difference would be read wrongly and is refused."""
        functions = self._specs = self.template.functions()
        shared: dict[str, str] = {}
        for fn in functions.values():
            for name, value in fn.environment.items():
                if name.startswith("POWERTOOLS_"):
                    continue
                if name in shared and shared[name] != value:
                    raise ValueError(f"environment variable {name} differs between functions")
                shared[name] = value
        os.environ.update(shared)
        settings.reset()
        if not isinstance(getattr(settings, "load_policy"), PolicyOverride):  # noqa: B009
            setattr(settings, "load_policy", PolicyOverride(getattr(settings, "load_policy")))  # noqa: B009, B010
        settings.policy()  # an invalid province policy stops the stack here, with its message
        for logical_id, fn in functions.items():
            self.functions[logical_id] = LoadedFunction(
                logical_id=logical_id,
                handler=self._load_environment(logical_id, 0),
                name=self.template.physical_name(logical_id),
                arn=self.template.arn(logical_id),
                memory_mb=fn.memory_mb,
                timeout_s=fn.timeout_s,
                concurrency=self.concurrency,
                load=functools.partial(self._load_environment, logical_id),
            )

    def _load_environment(self, logical_id: str, number: int) -> Callable[[dict[str, Any], Any], Any]:
        """Load a function's handler module for execution environment ``number``, with the
        function's own ``POWERTOOLS_*`` variables (read at import) while it loads. Other
        invocations may be running: only the variables that differ are changed and put back
        (never the whole environment), one load at a time."""
        fn = self._specs[logical_id]
        with _LOADING:
            changed = {name: os.environ.get(name) for name, value in fn.environment.items()}
            os.environ.update(fn.environment)
            try:
                return load_handler(logical_id, fn.code_uri, fn.handler, number)
            finally:
                for name, previous in changed.items():
                    if previous is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = previous

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.functions[logical_id](event)

    # -- custom resources and schedules -----------------------------------------------------

    def _run_custom_resources(self) -> None:
        for logical_id, spec in self.template.resources.items():
            if not spec["Type"].startswith("Custom::"):
                continue
            props = self.template.resolve(spec.get("Properties", {}))
            token = props.pop("ServiceToken")
            function = next(f for f in self.functions.values() if f.arn == token)
            request_id = str(uuid.uuid4())
            event = {
                "RequestType": "Create",
                "ServiceToken": token,
                "ResponseURL": f"{self.url}/_local/cfn-response/{request_id}",
                "StackId": (
                    f"arn:{self.template.partition}:cloudformation:{self.region}:123456789012"
                    f":stack/{self.stack_name}/local"
                ),
                "RequestId": request_id,
                "ResourceType": spec["Type"],
                "LogicalResourceId": logical_id,
                "ResourceProperties": props,
            }
            function(event)
            answer = self._cfn_answers.get(request_id)
            if not answer or answer.get("Status") != "SUCCESS":
                raise RuntimeError(f"custom resource {logical_id} failed: {answer}")

    def _schedule_period(self, expression: str) -> float | None:
        found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
        if not found:
            return None  # cron(...): see _daily_due
        unit = {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]
        return int(found.group(1)) * unit

    def _daily_due(self, key: str, expression: str, now: float) -> bool:
        """A daily ``cron(M H * * ? *)`` schedule (UTC, as EventBridge reads it): due when the
        stack clock has passed its time of day since the last look (once however far the clock
        jumped; a clock moved back starts looking from there)."""
        time_of_day = daily_time(expression)
        if time_of_day is None:
            return False  # other cron(...) forms are not emulated; invoke them with /_local/invoke
        last = self._last_look.get(key)
        self._last_look[key] = now
        if last is None or now < last:
            return False
        hour, minute = time_of_day
        at = datetime.fromtimestamp(now, UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        latest = at.timestamp() if at.timestamp() <= now else at.timestamp() - 86400
        return last < latest <= now

    def run_due_schedules(self) -> int:
        """Invoke each schedule whose next time on the stack clock has come (once, no catch-up)."""
        fired = 0
        now = clock.now().timestamp()
        for schedule in self.template.schedules():
            period = self._schedule_period(schedule.expression)
            key = f"{schedule.function}.{schedule.name}"
            if period is None:
                if self._daily_due(key, schedule.expression, now):
                    self.invoke(schedule.function, scheduled_event(self.region, key, clock.now()))
                    fired += 1
                continue
            due = self._next_schedule.setdefault(key, now + period)
            if now >= due:
                self._next_schedule[key] = now + period
                self.invoke(schedule.function, scheduled_event(self.region, key, clock.now()))
                fired += 1
        return fired

    def _background(self) -> None:
        last_ttl = time.monotonic()
        while not self._stop.is_set():
            try:
                with self.pump.lock:  # the pause flag is read under the lock a pause waits on
                    if not self.pump_paused.is_set():
                        self.run_due_schedules()
                        self.pump.step()
                if self.ttl_interval_s and time.monotonic() - last_ttl >= self.ttl_interval_s:
                    self.ttl.sweep()
                    last_ttl = time.monotonic()
            except Exception:  # noqa: BLE001 - keep pumping; the failure is logged
                log.error("background step failed:\n%s", traceback.format_exc())
            self._stop.wait(self.pump_interval_s)

    def drain(self) -> dict[str, int]:
        before = self.pump.stats.records_delivered
        self.pump.drain(before_each=self.run_due_schedules)
        return {"delivered": self.pump.stats.records_delivered - before}

    def web_config(self, stack_url: str) -> dict[str, Any]:
        """The pages' ``config.json``, generated (never a file in the build)."""
        return page_config(
            stack_url=stack_url,
            mode=self.web_auth,
            audience=LOCAL_AUDIENCE,
            province=self.province,
            brand=settings.policy().brand,
        )

    # -- local-only routes -----------------------------------------------------------------

    def local_route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if method == "POST" and path == "/_local/tokens":
            sub, roles = body.get("sub"), body.get("roles", [])
            if not isinstance(sub, str) or not sub or not isinstance(roles, list):
                return 400, {
                    "error": {"code": "invalid_input", "message": "need {sub, roles: []}", "field": "sub"}
                }
            extra = dict(body.get("claims") or {})
            if body.get("region") is not None:
                extra["region"] = body["region"]
            return 200, {"token": self.identity.issue(sub, [str(r) for r in roles], extra)}
        if path == "/_local/clock":
            if method == "POST":
                try:
                    if "now" in body:
                        clock.set_now(clock.parse_instant(str(body["now"])))
                    elif "advance_seconds" in body:
                        clock.advance(float(body["advance_seconds"]))
                    else:
                        raise ValueError("need now or advance_seconds")
                except (TypeError, ValueError) as exc:
                    return 400, {"error": {"code": "invalid_input", "message": str(exc), "field": "now"}}
            return 200, {"now": clock.show(clock.now())}
        if method == "POST" and path == "/_local/drain":
            return 200, self.drain()
        if method == "POST" and path == "/_local/pump":
            paused = body.get("paused")
            if not isinstance(paused, bool):
                return 400, _local_error("need {paused: bool}", "paused")
            if paused:
                self.pump_paused.set()
                with self.pump.lock:  # a step already under way finishes before the pause answers
                    pass
            else:
                self.pump_paused.clear()
            return 200, {"paused": paused}
        if path == "/_local/policy":
            return _policy_route(self, method, body)
        if method == "POST" and path == "/_local/ttl":
            return 200, {"deleted": self.ttl.sweep()}
        if method == "GET" and path == "/_local/published":
            topic = body.get("topic")
            if not isinstance(topic, str) or topic not in self.template.of_type("AWS::SNS::Topic"):
                return 400, _local_error("need ?topic=<logical id of an AWS::SNS::Topic>", "topic")
            return 200, {"topic": topic, "messages": published(self.template.arn(topic))}
        if method == "GET" and path == "/_local/info":
            return 200, {
                "moto_endpoint": self.moto_endpoint,
                "engine": self.engine,
                "dynamodb_endpoint": self.dynamodb_endpoint,
                "region": self.region,
                "province": self.province,
                "stack_name": self.stack_name,
                "tables": {k: self.template.physical_name(k) for k in self.template.tables()},
                "queues": {k: self.template.ref(k) for k in self.template.of_type("AWS::SQS::Queue")},
                "pump": vars(self.pump.stats),
                "concurrency": {
                    "per_function": self.concurrency,
                    "functions": {k: f.stats() for k, f in self.functions.items()},
                },
            }
        if method == "POST" and path.startswith("/_local/invoke/"):
            logical_id = path.rsplit("/", 1)[1]
            if logical_id not in self.functions:
                return 404, {"error": {"code": "not_found", "message": "no such function", "field": None}}
            return 200, {"result": self.invoke(logical_id, body)}
        return 404, {"error": {"code": "route_not_found", "message": "no such local route", "field": None}}


def _policy_route(stack: LocalStack, method: str, body: dict[str, Any]) -> tuple[int, Any]:
    """``GET``: the policy in force; ``POST {changes: {field: value}}``: the province's policy
    with those fields changed (validated like a policy file); ``{changes: {}}`` puts it back."""
    from healthcode.rules.policy import PolicyError

    override = getattr(settings, "load_policy")  # noqa: B009
    assert isinstance(override, PolicyOverride)
    province = settings.settings().province
    if method == "POST":
        changes = body.get("changes")
        if not isinstance(changes, dict):
            return 400, _local_error("need {changes: {field: value}}", "changes")
        try:
            override.change(province, changes)
        except PolicyError as error:
            return 400, _local_error(str(error), "changes")
    return 200, {"policy": override(province).to_document()}


def _local_error(message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": "invalid_input", "message": message, "field": field}}


def daily_time(expression: str) -> tuple[int, int] | None:
    """``(hour, minute)`` UTC of a daily EventBridge ``cron(M H * * ? *)``; None for any other."""
    found = re.fullmatch(r"cron\(([0-9]{1,2}) ([0-9]{1,2}) \* \* \? \*\)", expression.strip())
    if not found or int(found.group(1)) > 59 or int(found.group(2)) > 23:
        return None
    return int(found.group(2)), int(found.group(1))


def scheduled_event(region: str, rule: str, at: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{rule}"],
        "detail": {},
    }


def _handler_class(stack: LocalStack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "HealthCodeLocal/1"
        #: Headers and body go out in two writes: with Nagle's algorithm the body waits for the
        #: client's delayed ACK of the headers (40 ms per answer on a kept-alive connection).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            sent = {k.lower() for k in (headers or {})}
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if "content-type" not in sent:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("apigw-requestid", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"))

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > 10 * 1024 * 1024:
                self._json(413, {"message": "Request Entity Too Large"})
                return
            body = self.rfile.read(length) if length else b""
            method = self.command.upper()
            if parts.path.startswith("/_local/cfn-response/"):
                stack._cfn_answers[parts.path.rsplit("/", 1)[1]] = json.loads(body or b"{}")
                self._send(200, b"")
                return
            if parts.path.startswith("/_local/oidc/"):
                origin = self._origin()
                status, headers, content = stack.oidc.answer(method, parts.path, parts.query, body, origin)
                self._send(status, content, headers)
                return
            if parts.path.startswith("/_local/"):
                try:
                    payload = json.loads(body) if body else {}
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    self._json(
                        400,
                        {"error": {"code": "invalid_json", "message": "JSON object expected", "field": None}},
                    )
                    return
                if method == "GET":  # GET local routes take their arguments in the query
                    payload = {**dict(parse_qsl(parts.query)), **payload}
                status, answer = stack.local_route(method, parts.path, payload)
                self._json(status, answer)
                return
            page = stack.web.answer(method, parts.path, self._origin())
            if page is not None:
                status, headers, content = page
                self._send(status, b"" if method == "HEAD" else content, headers)
                return
            matched = stack.router.match(method, parts.path)
            if matched is None:
                self._json(404, {"message": "Not Found"})
                return
            route, path_parameters = matched
            claims = None
            if route.authorized:
                try:
                    claims = stack.identity.validate(self.headers.get("Authorization"))
                except AuthorizerRejection:
                    self._json(401, {"message": "Unauthorized"})
                    return
            event = http_api_event(
                method=method,
                raw_path=parts.path,
                raw_query=parts.query,
                headers={k: v for k, v in self.headers.items()},
                body=body,
                route_key=route.key,
                path_parameters=path_parameters,
                claims=claims,
                source_ip=self.client_address[0],
                api_id=stack.api_id,
            )
            try:
                answer = stack.invoke(route.function, event)
            except Exception:  # noqa: BLE001 - what API Gateway does with a failed invocation
                log.error("%s failed:\n%s", route.function, traceback.format_exc())
                self._json(500, {"message": "Internal Server Error"})
                return
            self._reply(answer)

        def _origin(self) -> str:
            """This stack as the browser reached it (the Host header), for config.json and the
            provider's redirect check."""
            host = self.headers.get("Host") or f"{stack.host}:{stack.port}"
            return f"http://{host}"

        def _reply(self, answer: Any) -> None:
            if not isinstance(answer, dict) or "statusCode" not in answer:
                self._json(200, answer)
                return
            import base64

            raw = answer.get("body") or ""
            body = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode("utf-8")
            headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
            for name, values in (answer.get("multiValueHeaders") or {}).items():
                headers[str(name)] = ",".join(str(v) for v in values)
            self._send(int(answer["statusCode"]), body, headers)
            for cookie in answer.get("cookies") or []:
                log.debug("cookie set: %s", cookie)

        def do_GET(self) -> None:
            self._handle()

        def do_HEAD(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

    return Handler
