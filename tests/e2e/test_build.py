"""``make build``: sam build without Docker (Python 3.12 from the machine, the SAM CLI in its own
virtualenv) produces an arm64 layer with the package and its dependencies, and every function's
handler. About 20 s on a fresh machine (the dependencies come from PyPI), a few seconds cached."""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra.local.template import ROOT_TEMPLATE, Template, load_yaml

ROOT = ROOT_TEMPLATE.parent


def test_make_build_builds_every_function_and_an_arm64_layer(tmp_path: Path) -> None:
    # WHEN the project is built into a fresh directory
    build = tmp_path / "build"
    done = subprocess.run(
        ["make", "--no-print-directory", "build", f"BUILD_DIR={build}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # THEN the built template points every function at a built folder holding its handler
    built = load_yaml(build / "template.yaml")
    for logical, fn in Template(ROOT_TEMPLATE, "x", {}, "cn-north-1").functions().items():
        folder = build / built["Resources"][logical]["Properties"]["CodeUri"]
        module = fn.handler.rpartition(".")[0].replace(".", "/") + ".py"
        assert (folder / module).is_file(), f"{logical}: {module} not built"
    # AND the layer holds the package (policies and data included) and its dependencies for arm64
    python = build / built["Resources"]["SharedLayer"]["Properties"]["ContentUri"] / "python"
    assert (python / "healthcode" / "services" / "export.py").is_file()
    assert list((python / "healthcode" / "policies").glob("*.json"))
    for dependency in (
        "aws_lambda_powertools",
        "pynamodb",
        "jwt",
        "cryptography",
        "fastjsonschema",
        "qrcode",
        "PIL",
    ):
        assert (python / dependency).is_dir(), f"{dependency} missing from the layer"
    binaries = [p.name for p in python.rglob("*.so")]
    assert binaries and all("x86_64" not in name for name in binaries)
    assert any("aarch64" in name for name in binaries)
