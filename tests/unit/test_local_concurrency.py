"""The local stack's execution environments (``infra.local.stack.LoadedFunction``): created on
demand up to the function's concurrency, reused when idle, one invocation each at a time, and
each with its own copy of the handler module."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from infra.local.stack import (
    DEFAULT_CONCURRENCY,
    LoadedFunction,
    concurrency_from_environment,
    load_module,
)
from infra.local.template import ROOT_TEMPLATE, Template


def _function(concurrency: int, work: threading.Event | None = None) -> tuple[LoadedFunction, list[int]]:
    loaded: list[int] = []
    running: dict[int, int] = {}
    lock = threading.Lock()

    def make(number: int) -> Any:
        loaded.append(number)

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with lock:
                running[number] = running.get(number, 0) + 1
                assert running[number] == 1, "two invocations in one environment"
            if work is not None:
                work.wait(5)
            else:
                time.sleep(0.01)
            with lock:
                running[number] -= 1
            return {"environment": number}

        return handler

    function = LoadedFunction(
        logical_id="Fn",
        handler=make(0),
        name="fn",
        arn="arn:fn",
        memory_mb=128,
        timeout_s=3,
        concurrency=concurrency,
        load=make,
    )
    return function, loaded


def test_environments_are_created_on_demand_up_to_the_limit_and_reused() -> None:
    release = threading.Event()
    function, loaded = _function(3, release)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(function({}))) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while function.stats()["busy"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert function.stats() == {"environments": 3, "busy": 3, "peak": 3}  # three wait for a free one
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 6 and {r["environment"] for r in results} <= {0, 1, 2}
    assert sorted(loaded) == [0, 1, 2]  # no environment beyond the limit, none loaded twice
    assert function.stats()["busy"] == 0


def test_an_idle_environment_is_reused_before_a_new_one_is_made() -> None:
    function, loaded = _function(4)
    for _ in range(5):
        assert function({}) == {"environment": 0}
    assert loaded == [0] and function.stats()["environments"] == 1


def test_a_failed_cold_start_frees_its_place() -> None:
    release = threading.Event()
    function, _ = _function(2, release)
    failures = iter([RuntimeError("import failed")])

    def broken(number: int) -> Any:
        raise next(failures)

    function.load = broken
    blocker = threading.Thread(target=lambda: function({}))
    blocker.start()  # environment 0 busy
    time.sleep(0.05)
    with pytest.raises(RuntimeError):
        function({})  # a second environment fails to load
    assert function.stats()["environments"] == 1
    release.set()
    blocker.join(5)


def test_each_environment_has_its_own_module_globals() -> None:
    template = Template(ROOT_TEMPLATE, "check", {}, "cn-north-1")
    fn = template.functions()["CodesFunction"]
    first = load_module("CodesFunction", fn.code_uri, fn.handler)
    second = load_module("CodesFunction", fn.code_uri, fn.handler, 1)
    assert first is not second and first.app is not second.app  # powertools' resolver per environment
    assert load_module("CodesFunction", fn.code_uri, fn.handler, 1) is second  # loaded once


def test_concurrency_comes_from_local_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_CONCURRENCY", raising=False)
    assert concurrency_from_environment() == DEFAULT_CONCURRENCY == 4
    monkeypatch.setenv("LOCAL_CONCURRENCY", "8")
    assert concurrency_from_environment() == 8
    for bad in ("0", "-1", "many", "1000"):
        monkeypatch.setenv("LOCAL_CONCURRENCY", bad)
        with pytest.raises(ValueError, match="LOCAL_CONCURRENCY"):
            concurrency_from_environment()
