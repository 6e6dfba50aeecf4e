"""`docflow api` as production runs it: a plain uvicorn server in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from starter.api.server import KEEP_ALIVE_S, PortInUse, bind, server_config

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_idle_connections_outlast_client_pools() -> None:
    # httpx drops pooled connections after 5 s; the server must keep them longer.
    assert KEEP_ALIVE_S == 75
    assert server_config(FastAPI()).timeout_keep_alive == KEEP_ALIVE_S


def test_bind_refuses_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            bind("127.0.0.1", port).close()
        except PortInUse as exc:
            assert str(exc) == (
                f"docflow API: could not start: port 127.0.0.1:{port} is already in use"
            )
        else:
            raise AssertionError("a taken port was bound")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_api_process_serves_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DOCFLOW_DATA_DIR": str(tmp_path),
        "DOCFLOW_DOCUMENTS__ROOT": str(tmp_path / "documents"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{_free_port()}",  # nothing listens: readiness is 503
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "starter.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the API did not come up"
                time.sleep(0.2)
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
        process.send_signal(stop)  # docker stop; Ctrl-C
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert f"docflow API on {base} (docs at {base}/docs)" in output
    assert "Traceback" not in output
