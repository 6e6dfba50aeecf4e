"""The product never imports its dev tooling: simulators, devstack, benchmarks or tests.

Scans the product's sources with `ast` (every import statement, at any depth, including
imports inside functions). The one door from the product to dev code is the CLI's discovery
of `devstack` by `importlib.util.find_spec`, which is not an import statement.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["docflow", "workflows", "activities", "starter", "worker.py"]
DEV_ONLY = {"simulators", "devstack", "benchmarks", "tests"}


def product_files() -> list[Path]:
    files: list[Path] = []
    for name in PRODUCT:
        path = ROOT / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def dynamic_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """`importlib.import_module("x")` / `__import__("x")` with a literal name."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name in {"import_module", "__import__"} and isinstance(first, ast.Constant):
            yield node.lineno, str(first.value)


def test_the_product_is_what_the_scan_covers() -> None:
    files = product_files()
    assert len(files) > 20 and all(f.exists() for f in files)
    assert ROOT / "starter" / "cli.py" in files


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_module_imports_dev_code(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module in imported_modules(tree)
        if module.split(".")[0] in DEV_ONLY
    ]
    assert not offenders, "\n".join(offenders)


def test_dev_commands_are_only_discovered() -> None:
    """starter/cli.py finds devstack by find_spec and loads `devstack.cli` by name; nothing
    else in the product loads dev code dynamically."""
    allowed = {("starter/cli.py", "devstack.cli")}
    found = set()
    for path in product_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for _, module in dynamic_imports(tree):
            if module.split(".")[0] in DEV_ONLY:
                found.add((str(path.relative_to(ROOT)), module))
    assert found <= allowed, found - allowed
    cli = (ROOT / "starter" / "cli.py").read_text()
    assert 'importlib.util.find_spec("devstack")' in cli
