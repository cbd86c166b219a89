"""SnapStart hooks (healthcode.snapstart): a restored copy draws its own random numbers, reads
keys afresh and makes its own AWS clients; no key is cached into a snapshot."""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from healthcode import aws, snapstart
from healthcode.codes import keystore, tokens, trust
from healthcode.protection import pii

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runtime_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Callable[[], None]]]]:
    """A stand-in for Lambda's ``snapshot_restore_py``, recording what is registered."""
    registered: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    library = types.ModuleType("snapshot_restore_py")
    library.register_before_snapshot = registered["before"].append  # type: ignore[attr-defined]
    library.register_after_restore = registered["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", library)
    monkeypatch.setattr(snapstart, "_registered", False)
    yield registered


def test_without_the_runtime_library_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    monkeypatch.setattr(snapstart, "_registered", False)
    assert snapstart.register() is False


def test_register_installs_both_hooks_once(runtime_library: dict[str, list[Callable[[], None]]]) -> None:
    assert snapstart.register() is True
    assert snapstart.register() is True
    assert runtime_library == {"before": [snapstart.before_snapshot], "after": [snapstart.after_restore]}


def test_every_function_registers_the_hooks_by_importing_the_package(tmp_path: Path) -> None:
    """GIVEN Lambda's library on the path WHEN a fresh interpreter imports a handler's package
    THEN both hooks are registered (Lambda runs only hooks of imported modules)."""
    (tmp_path / "snapshot_restore_py.py").write_text(
        "hooks = []\n"
        "def register_before_snapshot(f): hooks.append(('before', f.__name__))\n"
        "def register_after_restore(f): hooks.append(('after', f.__name__))\n"
    )
    code = "import healthcode, snapshot_restore_py; print(snapshot_restore_py.hooks)"
    environment = dict(os.environ, PYTHONPATH=f"{ROOT / 'shared'}{os.pathsep}{tmp_path}")
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    assert answer.stdout.strip() == "[('before', 'before_snapshot'), ('after', 'after_restore')]"


def test_after_restore_reseeds_random() -> None:
    """GIVEN two copies restored from one snapshot (the same random state) WHEN each restores
    THEN they draw different numbers."""
    random.seed(1234)
    state = random.getstate()
    snapstart.after_restore()
    first = [random.random() for _ in range(4)]
    random.setstate(state)
    snapstart.after_restore()
    second = [random.random() for _ in range(4)]
    random.setstate(state)
    unreseeded = [random.random() for _ in range(4)]
    random.setstate(state)
    assert first != second
    assert unreseeded == [random.random() for _ in range(4)]  # the state alone repeats itself


def test_after_restore_forgets_clients() -> None:
    made = aws.client("sts")
    assert aws.client("sts") is made
    snapstart.after_restore()
    assert aws.client("sts") is not made


def test_keys_are_dropped_before_the_snapshot_and_after_each_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key cache is emptied: the code-signing key set, parsed keys, the trust list and the
    personal-data keys."""
    calls: list[str] = []
    monkeypatch.setattr(keystore, "invalidate", lambda: calls.append("keystore"))
    monkeypatch.setattr(trust, "reset", lambda: calls.append("trust"))
    monkeypatch.setattr(pii, "reset_caches", lambda: calls.append("pii"))
    tokens._private_key.cache_clear()
    snapstart.before_snapshot()
    assert calls == ["keystore", "trust", "pii"]
    calls.clear()
    snapstart.after_restore()
    assert calls == ["keystore", "trust", "pii"]


def test_every_reset_named_exists() -> None:
    """The hooks look their targets up by name; each must exist (a renamed cache would
    otherwise silently survive a restore)."""
    for module_name, path in (*snapstart.CLIENTS, *snapstart.KEYS):
        target: object = importlib.import_module(module_name)
        for name in path.split("."):
            target = getattr(target, name)
        assert callable(target), f"{module_name}.{path}"


def test_hooks_do_not_import_what_a_function_did_not(tmp_path: Path) -> None:
    """GIVEN a function that never imported the key store WHEN a copy is restored THEN the
    hooks do not import it (nor JWT and cryptography with it)."""
    code = (
        "import sys, healthcode.snapstart as s; s.before_snapshot(); s.after_restore(); "
        "print('healthcode.codes.keystore' in sys.modules, 'jwt' in sys.modules)"
    )
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "shared"))
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    assert answer.stdout.strip() == "False False"


def test_the_template_offers_snapstart_off_by_default_and_never_in_china() -> None:
    from infra.local.template import ROOT_TEMPLATE, load_yaml

    template = load_yaml(ROOT_TEMPLATE)
    parameter = template["Parameters"]["SnapStart"]
    assert parameter["Default"] == "Off" and set(parameter["AllowedValues"]) == {"On", "Off"}
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "On"]}
    applied = template["Globals"]["Function"]["SnapStart"]["ApplyOn"]
    assert applied == {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
    rule = template["Rules"]["SnapStartNotInChina"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "On"]}
    assert "cn-north-1" in str(rule["Assertions"]) and "cn-northwest-1" in str(rule["Assertions"])
