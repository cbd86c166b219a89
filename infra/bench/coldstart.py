"""Cold start: import each function's handler module in a fresh interpreter (median of N),
next to the floor "botocore session + one DynamoDB client" measured the same way."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from infra.local.template import ROOT_TEMPLATE, Template

ROOT = Path(__file__).resolve().parents[2]

FLOOR = """
import time
t = time.perf_counter()
import botocore.session
botocore.session.get_session().create_client("dynamodb", region_name="cn-north-1")
print(time.perf_counter() - t)
"""

IMPORT = """
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler_module", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules["handler_module"] = module
spec.loader.exec_module(module)
getattr(module, {attribute!r})
print(time.perf_counter() - t)
"""


def _run(code: str, environment: dict[str, str]) -> float:
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT, check=True
    )
    return float(answer.stdout.strip().splitlines()[-1])


def measure(repeats: int = 5) -> dict[str, float]:
    """Median import milliseconds per function, plus ``floor``."""
    template = Template(ROOT_TEMPLATE, "bench", {}, "cn-north-1")
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        {
            "AWS_DEFAULT_REGION": "cn-north-1",
            "PYTHONPATH": str(ROOT / "shared"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    results: dict[str, float] = {}
    floor = [_run(FLOOR, base) for _ in range(repeats)]
    results["floor"] = statistics.median(floor) * 1000
    for logical_id, fn in sorted(template.functions().items()):
        module, _, attribute = fn.handler.rpartition(".")
        path = fn.code_uri / (module.replace(".", "/") + ".py")
        environment = dict(base, **fn.environment)
        samples = [
            _run(IMPORT.format(path=str(path), attribute=attribute), environment) for _ in range(repeats)
        ]
        results[logical_id] = statistics.median(samples) * 1000
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
