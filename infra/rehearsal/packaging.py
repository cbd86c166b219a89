"""What ``sam package`` uploads (each CodeUri zipped, the layer's sources under ``python/``), and
what the rehearsal reads back from it: handlers defined, imports the layer or requirements provide."""

from __future__ import annotations

import ast
import functools
import io
import re
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

#: Modules the Lambda Python runtime provides (no need to ship them in the layer);
#: ``snapshot_restore_py`` is SnapStart's hook library, in the managed Python runtimes.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "snapshot_restore_py"}
)


def zip_directory(directory: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue
            if any(part.endswith(".egg-info") for part in relative.parts):
                continue
            archive.write(path, prefix + relative.as_posix())
    return buffer.getvalue()


def python_sources(archive: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name).decode("utf-8") for name in opened.namelist() if name.endswith(".py")}


def defines(source: str, name: str) -> bool:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
    return False


@functools.cache
def _bound_names(source: str) -> set[str]:
    """Names a module defines or imports at its top level."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def unresolved_imports(
    sources: Mapping[str, str], modules: Mapping[str, str], requirements: set[str]
) -> set[str]:
    """Imports in ``sources`` that neither ``modules`` (the layer's, by dotted name), the standard
    library, the Lambda runtime nor a distribution named in ``requirements`` provides."""
    missing: set[str] = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            wanted: list[tuple[str, str | None]]
            if isinstance(node, ast.Import):
                wanted = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                wanted = [(node.module, alias.name) for alias in node.names]
            else:
                continue
            for module, name in wanted:
                top = module.split(".")[0]
                if top in modules or top == "healthcode":
                    if module not in modules:
                        missing.add(module)
                    elif (
                        name
                        and f"{module}.{name}" not in modules
                        and name not in _bound_names(modules[module])
                    ):
                        missing.add(f"{module}.{name}")
                elif top not in sys.stdlib_module_names and top not in RUNTIME_PROVIDED:
                    if not _distribution_of(top) & requirements:
                        missing.add(module)
    return missing


def requirement_names(path: Path) -> set[str]:
    """Distributions ``pip install -r path`` installs: those named and, transitively, what they
    require (extras named in a line included; environment markers other than extras ignored)."""
    from importlib.metadata import PackageNotFoundError, requires

    wanted: list[tuple[str, set[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            found = re.match(r"([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?", line)
            if found:
                extras = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()}
                wanted.append((found.group(1), extras))
    names: set[str] = set()
    while wanted:
        name, extras = wanted.pop()
        normal = name.lower().replace("_", "-")
        if normal in names:
            continue
        names.add(normal)
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue
        for requirement in declared:
            marker = requirement.partition(";")[2]
            extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if extra and extra.group(1) not in extras:
                continue
            found = re.match(r"[A-Za-z0-9._-]+", requirement)
            if found:
                wanted.append((found.group(0), set()))
    return names


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def _distribution_of(module: str) -> set[str]:
    return {name.lower().replace("_", "-") for name in _distributions().get(module, [])}
