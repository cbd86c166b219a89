"""What a cold start imports (issue 18): each function's handler module, imported alone in a fresh
interpreter, leaves out what only some routes need and what no route uses. ``make bench``
measures the time (infra/bench/coldstart.py); this keeps the import graph from growing back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.bench import coldstart

FUNCTIONS = coldstart._functions()

#: Never at import, in any function: powertools' event handler loads every resolver it has,
#: asyncio and every event class (healthcode.edge.router routes instead); QR symbols and
#: images (qrcode, Pillow) are drawn by a few routes and load with their first symbol. Codes
#: are signed and read by healthcode.codes.jws, never a JWT library (PyJWT loads every
#: algorithm it has and cryptography's X.509 with them), and cryptography's EC keys load with
#: the first code signed or read.
NEVER = (
    "aws_lambda_powertools.event_handler",
    "qrcode",
    "PIL",
    "jwt",
    "cryptography.x509",
    "cryptography.hazmat.primitives.asymmetric.ec",
)
#: Per function, modules only some of its routes or none of its records need.
NOT_IN = {
    "ColourFunction": ("healthcode.storage.venues",),
    "AlertsFunction": ("healthcode.storage.venues",),
}


def _loaded(name: str) -> set[str]:
    fn = FUNCTIONS[name]
    code = coldstart._import_code(fn) + "\nimport json; print(json.dumps(sorted(sys.modules)))"
    environment = dict(coldstart._base_environment(), **fn.environment)
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    return set(json.loads(answer.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_cold_start_imports_only_what_the_function_needs(name: str) -> None:
    loaded = _loaded(name)
    unwanted = [m for m in (*NEVER, *NOT_IN.get(name, ())) if m in loaded]
    assert not unwanted, f"{name} imports {unwanted} at cold start"
    assert "healthcode.snapstart" in loaded  # and registers the SnapStart hooks
