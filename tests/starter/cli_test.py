"""The CLI answers user mistakes with one clear line and an exit code, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starter.cli import app


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_demo_reports_a_taken_port_in_one_line(taken_port: int, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--once",
            "--data-dir",
            str(tmp_path),
            "--api-port",
            str(taken_port),
            "--temporal-port",
            "0",
            "--ui-port",
            "0",
            "--core-signature-port",
            "0",
            "--content-server-port",
            "0",
            "--crm-port",
            "0",
        ],
    )
    assert result.exit_code == 2
    assert f"port 127.0.0.1:{taken_port} is already in use" in result.output
    assert "Traceback" not in result.output


def test_operations_report_an_unreachable_api() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but not listening: connections are refused
        result = CliRunner().invoke(
            app, ["status", "Q-1", "--api-url", f"http://127.0.0.1:{port}", "--api-key", "k"]
        )
    assert result.exit_code == 1
    assert "cannot reach 127.0.0.1" in result.output and "Traceback" not in result.output


def test_api_reports_a_taken_port_in_one_line(taken_port: int) -> None:
    result = CliRunner().invoke(app, ["api", "--host", "127.0.0.1", "--port", str(taken_port)])
    assert result.exit_code == 2
    assert f"docflow API: could not start: port 127.0.0.1:{taken_port} is already in use" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("worker", "api", "start", "status", "approve", "correct", "cancel"):
        assert command in result.output
    # A checkout has devstack and benchmarks: the dev commands are there, in their own panel.
    assert "Development (checkout only" in result.output
    for command in ("demo", "simulators", "bench"):
        assert command in result.output
