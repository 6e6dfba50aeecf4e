"""The wheel is the product: built, inspected, installed into a fresh virtualenv and run.

No simulators, devstack, benchmarks or tests inside; the production commands work and the
dev commands (demo, simulators, bench) do not exist. Dependencies come from the local uv
cache (`--offline`), falling back to the package index when the cache lacks one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_TOP_LEVEL = {"docflow", "workflows", "activities", "starter", "worker.py"}
DEV_ONLY = {"simulators", "devstack", "benchmarks", "tests"}
PRODUCTION_COMMANDS = ["worker", "api", "start", "status", "approve", "reject", "cancel"]


def _uv() -> str:
    # `uv run pytest` (the README's test command) names its own binary in UV.
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv not found: run the suite with `uv run pytest` (README)"
    return found


def _env() -> dict[str, str]:
    # Nothing of this checkout's environment may leak into the fresh one.
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def _uv_run(args: list[str], cwd: Path) -> None:
    """A uv command from the local cache first; online only when the cache lacks something."""
    offline = subprocess.run(
        [_uv(), *args, "--offline"], cwd=cwd, env=_env(), capture_output=True, text=True
    )
    if offline.returncode == 0:
        return
    online = subprocess.run([_uv(), *args], cwd=cwd, env=_env(), capture_output=True, text=True)
    assert online.returncode == 0, offline.stderr[-2000:] + online.stderr[-2000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _uv_run(["build", "--wheel", "--out-dir", str(out), str(ROOT)], cwd=ROOT)
    (built,) = out.glob("docflow-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("venv")
    _uv_run(["venv", str(home / ".venv"), "--python", sys.executable], cwd=home)
    python = home / ".venv" / "bin" / "python"
    _uv_run(["pip", "install", "--python", str(python), str(wheel)], cwd=home)
    yield home / ".venv"


def _docflow(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from an empty directory: nothing of the checkout is importable by accident.
    return subprocess.run(
        [str(venv / "bin" / "docflow"), *args],
        cwd=venv.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wheel_holds_the_product_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == PRODUCT_TOP_LEVEL
    leaked = [name for name in names if name.split("/")[0] in DEV_ONLY]
    assert not leaked, leaked


def test_production_commands_run_from_the_wheel(venv: Path) -> None:
    for args in (["--help"], *([command, "--help"] for command in PRODUCTION_COMMANDS)):
        done = _docflow(venv, *args)
        assert done.returncode == 0, f"docflow {' '.join(args)}:\n{done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr


def test_production_help_has_no_dev_commands(venv: Path) -> None:
    done = _docflow(venv, "--help")
    assert "worker" in done.stdout and "status" in done.stdout
    for dev_command in ("demo", "simulators", "bench", "Development"):
        assert dev_command not in done.stdout
    assert _docflow(venv, "demo", "--once").returncode == 2  # click: no such command


def test_dev_packages_are_not_importable_from_the_install(venv: Path) -> None:
    probe = (
        f"import importlib.util as u; print([n for n in {sorted(DEV_ONLY)!r} if u.find_spec(n)])"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=venv.parent,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
