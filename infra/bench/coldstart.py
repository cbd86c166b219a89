"""Cold start: import each function's handler module in a fresh interpreter, side by side with
the floor "botocore session + one DynamoDB client" measured the same way.

The machine is shared and its load moves by tens of per cent within a minute, so a function's
figure is never compared with a floor measured at another time: every round runs, for each
function, one floor import and one handler import next to each other (in a shuffled order), and
the function's ratio is the median over the rounds of its import divided by the floor run beside
it. Milliseconds are medians over the rounds too; the floor's is over all of its runs. Each is
taken in wall-clock time (what a cold start waits) and in the process's CPU time (what it
computes, which a loaded machine does not stretch: on a machine running several times more work
than it has cores, the wall-clock ratios wander by ±0.3, the CPU ones by a few hundredths).

What is imported is what ``make build`` deploys: the shared package and the function's code
with their bytecode compiled beside them (``compileall``, unchecked hashes), in a read-only
state (``PYTHONDONTWRITEBYTECODE``: Lambda's code directories cannot be written, so without
shipped bytecode every cold start would compile every module it loads, about a third of the
floor again for the larger functions). ``--source`` measures the sources as they are in the
repository instead (compiled at each import), for comparison.

``python -m infra.bench.coldstart [--source] [rounds]`` prints the figures;
``python -m infra.bench.coldstart --importtime Function`` prints the modules one import loads,
slowest first (``python -X importtime``), to see what a handler drags in.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from infra.local.template import ROOT_TEMPLATE, Function, Template

ROOT = Path(__file__).resolve().parents[2]

FLOOR = """
import time
t, c = time.perf_counter(), time.process_time()
import botocore.session
botocore.session.get_session().create_client("dynamodb", region_name="cn-north-1")
print(time.perf_counter() - t, time.process_time() - c)
"""

IMPORT = """
import importlib.util, sys, time
t, c = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("handler_module", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules["handler_module"] = module
spec.loader.exec_module(module)
getattr(module, {attribute!r})
print(time.perf_counter() - t, time.process_time() - c)
"""


def _base_environment(shared: Path = ROOT / "shared") -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        {
            "AWS_DEFAULT_REGION": "cn-north-1",
            "PYTHONPATH": str(shared),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return base


@contextmanager
def _built(functions: dict[str, Function]) -> Iterator[tuple[Path, dict[str, Function]]]:
    """A copy of the shared package and of each function's code with their bytecode, as
    ``make build`` compiles them: (the layer's directory, the functions pointing into the copy)."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as directory:
        root = Path(directory)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "shared" / "healthcode", root / "layer" / "healthcode", ignore=ignore)
        built: dict[str, Function] = {}
        for name, fn in functions.items():
            target = root / "functions" / fn.code_uri.name
            if not target.exists():
                shutil.copytree(fn.code_uri, target, ignore=ignore)
            built[name] = replace(fn, code_uri=target)
        compileall.compile_dir(root, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        yield root / "layer", built


def _import_code(fn: Function) -> str:
    module, _, attribute = fn.handler.rpartition(".")
    path = fn.code_uri / (module.replace(".", "/") + ".py")
    return IMPORT.format(path=str(path), attribute=attribute)


def _run(code: str, environment: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=True,
    )


def _seconds(code: str, environment: dict[str, str]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of the import ``code`` times."""
    wall, cpu = _run(code, environment).stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _functions() -> dict[str, Function]:
    return dict(sorted(Template(ROOT_TEMPLATE, "bench", {}, "cn-north-1").functions().items()))


Seconds = tuple[float, float]


def _pair(
    code: str, environment: dict[str, str], floor_environment: dict[str, str]
) -> tuple[Seconds, Seconds]:
    """(handler, floor) (wall-clock, CPU) seconds, run next to each other in a random order."""
    if random.random() < 0.5:
        handler = _seconds(code, environment)
        return handler, _seconds(FLOOR, floor_environment)
    floor = _seconds(FLOOR, floor_environment)
    return _seconds(code, environment), floor


def measure(rounds: int = 5, *, compiled: bool = True) -> dict[str, float]:
    """``{"floor": ms, "<Function>": ms, "ratio.<Function>": median ratio to the floor beside it}``
    in wall-clock time, and the same in CPU time (``cpu_ms.*``, ``cpu_ratio.*``), for the code as
    ``make build`` deploys it (``compiled``) or as the repository holds it."""
    if not compiled:
        return _measure(_base_environment(), _functions(), rounds)
    with _built(_functions()) as (layer, functions):
        return _measure(_base_environment(layer), functions, rounds)


def _measure(base: dict[str, str], functions: dict[str, Function], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    for _ in range(rounds):
        order = list(functions)
        random.shuffle(order)
        for name in order:
            (wall, cpu), (floor_wall, floor_cpu) = _pair(
                _import_code(functions[name]), dict(base, **functions[name].environment), base
            )
            note(name, wall * 1000)
            note("floor", floor_wall * 1000)
            note(f"ratio.{name}", wall / floor_wall)
            note(f"cpu_ms.{name}", cpu * 1000)
            note("cpu_ms.floor", floor_cpu * 1000)
            note(f"cpu_ratio.{name}", cpu / floor_cpu)
    return {key: statistics.median(values) for key, values in samples.items()}


def importtime(function: str) -> str:
    """The modules one cold import of ``function`` loads, by cumulative microseconds, slowest first."""
    fn = _functions()[function]
    answer = _run(_import_code(fn), dict(_base_environment(), **fn.environment), "-X", "importtime")
    rows = [line.split("|") for line in answer.stderr.splitlines() if line.startswith("import time:")]
    parsed = [(int(row[1]), row[2].rstrip()) for row in rows[1:] if row[1].strip().isdigit()]
    return "\n".join(f"{micros:>9} {module}" for micros, module in sorted(parsed, reverse=True))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if len(arguments) > 1 and arguments[0] == "--importtime":
        print(importtime(arguments[1]))
    else:
        source = "--source" in arguments
        counts = [int(a) for a in arguments if a.isdigit()]
        print(json.dumps(measure(counts[0] if counts else 5, compiled=not source), indent=1))
