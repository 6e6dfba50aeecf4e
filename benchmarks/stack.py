"""The system under test, in its own process: `python -m benchmarks.stack DATA_DIR [C [E]]`.

Runs the embedded stack (Temporal dev server, simulators at zero added latency, the docflow
API with the bare callback endpoint and the workspace and content floors' receivers; the
content targets' retry schedules compressed C times, `benchmarks.content_bundle`; the ECM
subscriptions' schedules and hold compressed E times with a third subscriber,
`benchmarks.ecm_bundle`) plus two worker
processes — the real `worker.py` and the B0 floor worker — prints one JSON line with URLs and
process ids, and stops when its standard input closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import psutil

from benchmarks import bare, content_floor, ecm_floor, workspace_floor
from benchmarks.content_bundle import bench_config_dir
from benchmarks.ecm_bundle import rewrite_ecm_bundle
from devstack.embedded import PROJECT_ROOT, EmbeddedStack, SimulatorOptions, StackPorts
from docflow.docstore import document_store_from_settings
from docflow.settings import Settings
from simulators import core_signature
from simulators.kit.server import ServedApp
from starter.api.app import create_app

# The Temporal dev server shares this stdout; the harness looks for this prefix.
READY_MARKER = "DOCFLOW-BENCH-STACK "


def zero_latency_simulators() -> SimulatorOptions:
    """Simulators that add no latency: immediate conversion, no faults, autopilot off."""
    return SimulatorOptions(
        core_signature=core_signature.CoreSignatureConfig(seed=7, convert_delay_ms=0)
    )


async def _start_floor_worker(stack: EmbeddedStack, data_dir: Path) -> asyncio.subprocess.Process:
    with (data_dir / "floor-worker.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.floor",
            env={**os.environ, **stack.worker_environment()},
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )


def _temporal_pid() -> int | None:
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name().startswith("temporal"):
                return child.pid
    return None


async def _wait_stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def serve(data_dir: Path, compression: float = 30.0, ecm_compression: float = 30.0) -> None:
    """Run the stack until stdin closes; announce it with one JSON line on stdout."""
    base = Settings()
    config_dir = bench_config_dir(base.config_dir, base.profile, data_dir, compression)
    rewrite_ecm_bundle(config_dir, base.profile, ecm_compression)
    stack = EmbeddedStack(
        settings=Settings(config_dir=config_dir),
        ports=StackPorts.any_free(),
        data_dir=data_dir,
        simulators=zero_latency_simulators(),
        worker="subprocess",
        api=False,
    )
    async with stack:
        assert stack.client is not None and stack.worker_process is not None
        app = create_app(
            stack.settings, stack.client, document_store_from_settings(stack.settings.documents)
        )
        app.include_router(bare.router)
        app.include_router(workspace_floor.router)
        app.include_router(content_floor.router)
        app.include_router(ecm_floor.router)
        floor = await _start_floor_worker(stack, data_dir)
        try:
            async with ServedApp(app, port=stack.ports.api, name="docflow API"):
                info: dict[str, Any] = {
                    "api_url": stack.api_url,
                    "temporal_address": f"127.0.0.1:{stack.ports.temporal}",
                    "core_signature_url": stack.core_signature_url,
                    "content_server_url": stack.content_server_url,
                    "crm_url": stack.crm_url,
                    "amplience_url": stack.amplience_url,
                    "webhook_target_url": stack.webhook_target_url,
                    "task_queue": stack.settings.temporal.task_queue,
                    "pids": {
                        "stack": os.getpid(),
                        "worker": stack.worker_process.pid,
                        "floor_worker": floor.pid,
                        "temporal": _temporal_pid(),
                    },
                }
                print(READY_MARKER + json.dumps(info), flush=True)
                await _wait_stdin_closed()
        finally:
            await workspace_floor.close(app)
            await content_floor.close(app)
            await ecm_floor.close(app)
            floor.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(floor.wait(), timeout=30)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    compression = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    ecm_compression = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    asyncio.run(serve(Path(sys.argv[1]), compression, ecm_compression))


if __name__ == "__main__":
    main()
