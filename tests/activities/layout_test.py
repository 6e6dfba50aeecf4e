"""The shape of activities/: vendor packages with the same modules, imports pointing down only.

Read with `ast`, not imported, so a forbidden import is found even where it sits inside a
function or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from activities.content_server import client as content_server_client
from activities.content_server import options as content_server_options
from activities.core_signature import client as core_signature_client
from activities.core_signature import options as core_signature_options
from activities.http.options import CallOptions

ACTIVITIES = Path(__file__).resolve().parents[2] / "activities"
# Activities sit below workflows and the API, and the product never imports its test doubles,
# benchmarks or tests.
FORBIDDEN = ("workflows", "starter", "simulators", "benchmarks", "tests")
SHARED = {"http"}  # plumbing every vendor uses, not a vendor
# Checks across the vendors of one environment (a promotion's live validation): they use the
# vendors' clients, so they are no vendor package, and no vendor package uses them.
CROSS_VENDOR = {"environment"}
# A docflow process's own activities across vendors (the configuration promotion: its live
# checks and the applied versions); only it and the factory use the cross-vendor packages.
PROCESS_PACKAGES = {"promotion"}
VENDOR_MODULES = ("activities", "options")


def _modules() -> list[Path]:
    return sorted(ACTIVITIES.rglob("*.py"))


def _vendor_packages() -> list[Path]:
    return sorted(
        p
        for p in ACTIVITIES.iterdir()
        if p.is_dir()
        and (p / "__init__.py").exists()
        and p.name not in SHARED | CROSS_VENDOR | PROCESS_PACKAGES
    )


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _relative(path: Path) -> str:
    return str(path.relative_to(ACTIVITIES.parent))


@pytest.mark.parametrize("module", _modules(), ids=_relative)
def test_activity_modules_import_nothing_above_them(module: Path) -> None:
    forbidden = sorted(name for name in _imported(module) if name.split(".")[0] in FORBIDDEN)
    assert forbidden == [], f"{_relative(module)} imports {forbidden}"


def _activities_part(name: str) -> str | None:
    """`core_signature` for `activities.core_signature.client`; "" for `activities` itself."""
    parts = name.split(".")
    if parts[0] != "activities":
        return None
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("module", sorted((ACTIVITIES / "http").rglob("*.py")), ids=_relative)
def test_shared_plumbing_knows_no_vendor(module: Path) -> None:
    allowed = {None, "http"}
    found = sorted(n for n in _imported(module) if _activities_part(n) not in allowed)
    assert found == [], f"{_relative(module)} imports {found}"


@pytest.mark.parametrize("package", _vendor_packages(), ids=lambda p: p.name)
def test_vendor_packages_do_not_import_each_other(package: Path) -> None:
    """Each vendor changes on its own schedule; what two vendors share belongs in http/."""
    allowed = {None, "http", package.name}
    found = sorted(
        name
        for module in package.rglob("*.py")
        for name in _imported(module)
        if _activities_part(name) not in allowed
    )
    assert found == [], f"activities/{package.name} imports {found}"


@pytest.mark.parametrize("name", sorted(CROSS_VENDOR))
def test_cross_vendor_packages_use_clients_not_activities(name: str) -> None:
    """They call the vendors' clients; the vendors' activities are the workflows' to call, and
    nothing below them imports a cross-vendor package."""
    found = sorted(
        n
        for module in (ACTIVITIES / name).rglob("*.py")
        for n in _imported(module)
        if n.startswith("activities.") and n.split(".")[-1] == "activities"
    )
    assert found == [], f"activities/{name} imports {found}"
    users = sorted(
        _relative(module)
        for module in _modules()
        if module.parent.name not in {name, *PROCESS_PACKAGES}
        and any(_activities_part(n) == name for n in _imported(module))
    )
    assert users == [], f"{users} import activities/{name}"


def test_there_are_vendor_packages() -> None:
    names = {p.name for p in _vendor_packages()}
    assert {"core_signature", "content_server", "notifications"} <= names


@pytest.mark.parametrize("package", _vendor_packages(), ids=lambda p: p.name)
def test_each_vendor_package_has_activities_options_and_a_client(package: Path) -> None:
    missing = [m for m in VENDOR_MODULES if not (package / f"{m}.py").exists()]
    assert missing == [], f"activities/{package.name} lacks {missing}"
    if not (package / "client.py").exists():
        # A vendor without its own REST client talks through the shared webhook sender; a
        # package that calls no external system reads docflow's own configuration bundle.
        uses = set().union(*(_imported(m) for m in package.glob("*.py")))
        assert uses & {"activities.http.webhooks", "docflow.config.bundle"}, (
            f"activities/{package.name} lacks client.py"
        )


@pytest.mark.parametrize("package", _vendor_packages(), ids=lambda p: p.name)
def test_each_vendor_package_reexports_its_activity_class(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text())
    assert ast.get_docstring(tree), f"activities/{package.name}/__init__.py has no docstring"
    reexported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module == f"activities.{package.name}.activities"
        for alias in node.names
    }
    assert any(name.endswith("Activities") for name in reexported), package.name


@pytest.mark.parametrize("package", _vendor_packages(), ids=lambda p: p.name)
def test_options_modules_stay_sandbox_safe(package: Path) -> None:
    """Workflows import the presets through the sandbox: plain data, no clients, no I/O."""
    imported = _imported(package / "options.py")
    allowed = {"__future__", "datetime", "temporalio.common", "activities.http.options"}
    assert imported <= allowed, f"activities/{package.name}/options.py imports {imported - allowed}"


def test_presets_name_the_system_their_client_reports_errors_for() -> None:
    for options, client in (
        (core_signature_options, core_signature_client),
        (content_server_options, content_server_client),
    ):
        presets = [v for v in vars(options).values() if isinstance(v, CallOptions)]
        assert presets, options.__name__
        assert {p.system for p in presets} == {client.SYSTEM}, options.__name__
