"""Import contracts: the layers of ``shared/healthcode`` and the handlers stay apart.

Every import statement of a module counts, those inside functions too (a lazy import is still a
dependency). ``from healthcode import x`` counts as an import of ``healthcode.x``.

- rules (pure rules and checks) import no storage, services, codes, edge, AWS SDK or pynamodb;
- storage imports no services and no edge;
- services import no pynamodb and no storage models, and nothing of the HTTP edge;
- codes and protection import no storage, services or edge;
- handlers (``functions/``) import no pynamodb and nothing of storage: a route is parse,
  one service call, answer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "healthcode"
AWS_SDK = ("boto3", "botocore", "aioboto3", "pynamodb", "aws_lambda_powertools")

#: layer → (where its modules are, module prefixes it must not import)
CONTRACTS: dict[str, tuple[list[Path], tuple[str, ...]]] = {
    "rules": (
        sorted((PACKAGE / "rules").rglob("*.py")),
        (
            "healthcode.storage",
            "healthcode.services",
            "healthcode.codes",
            "healthcode.edge",
            "healthcode.aws",
            "healthcode.settings",
            *AWS_SDK,
        ),
    ),
    "storage": (sorted((PACKAGE / "storage").rglob("*.py")), ("healthcode.services", "healthcode.edge")),
    "services": (
        sorted((PACKAGE / "services").rglob("*.py")),
        ("healthcode.storage.models", "pynamodb", "healthcode.edge", "aws_lambda_powertools.event_handler"),
    ),
    "codes": (
        sorted((PACKAGE / "codes").rglob("*.py")),
        ("healthcode.storage", "healthcode.services", "healthcode.edge"),
    ),
    "protection": (
        sorted((PACKAGE / "protection").rglob("*.py")),
        ("healthcode.storage", "healthcode.services", "healthcode.edge"),
    ),
    "handlers": (sorted((ROOT / "functions").rglob("*.py")), ("pynamodb", "healthcode.storage")),
}


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with the line: ``import a.b`` → a.b; ``from a import b``
    → a.b (b may be a module or a name: both are checked against the prefixes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def breaks(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden)


@pytest.mark.parametrize("layer", sorted(CONTRACTS))
def test_layer_keeps_its_import_contract(layer: str) -> None:
    # GIVEN every module of the layer
    paths, forbidden = CONTRACTS[layer]
    assert paths, f"no modules found for {layer}"
    # WHEN their imports are read
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in imports_of(path)
        if breaks(module, forbidden)
    ]
    # THEN none reaches a layer it must not know
    assert not found, "\n".join(found)


def test_the_checker_sees_lazy_and_from_imports(tmp_path: Path) -> None:
    # GIVEN a module importing storage three ways, one of them inside a function
    module = tmp_path / "m.py"
    module.write_text(
        "import pynamodb.models\n"
        "from healthcode import storage\n"
        "def f():\n"
        "    from healthcode.storage.models import Person\n",
        encoding="utf-8",
    )
    # WHEN its imports are read
    seen = [name for _, name in imports_of(module)]
    # THEN each is seen and each breaks the handlers' contract
    assert sum(breaks(name, CONTRACTS["handlers"][1]) for name in seen) >= 3
    assert not breaks("healthcode.storagex", ("healthcode.storage",))
