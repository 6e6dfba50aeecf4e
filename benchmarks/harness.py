"""The load generator's side of the process layout: spawn the stack process and reach it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from benchmarks.stack import READY_MARKER
from devstack.embedded import PROJECT_ROOT

STACK_START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Target:
    """Where the system under test listens, and its process ids."""

    api_url: str
    temporal_address: str
    core_signature_url: str
    content_server_url: str
    crm_url: str
    amplience_url: str
    webhook_target_url: str
    task_queue: str
    pids: dict[str, int | None]


class StackProcess:
    """`python -m benchmarks.stack` as a child process; an async context manager."""

    def __init__(
        self, data_dir: Path, compression: float = 30.0, ecm_compression: float = 30.0
    ) -> None:
        self.data_dir = data_dir
        self.compression = compression  # of the content targets' retry schedules
        self.ecm_compression = ecm_compression  # of the ECM subscriptions' schedules and hold
        self._process: asyncio.subprocess.Process | None = None
        self.target: Target | None = None
        self.client: Client | None = None
        self._drain: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StackProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "stack.log").open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.stack",
            str(self.data_dir),
            str(self.compression),
            str(self.ecm_compression),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=PROJECT_ROOT,
        )
        log.close()
        try:
            info = await asyncio.wait_for(self._announcement(), timeout=STACK_START_TIMEOUT_S)
            self.target = Target(**info)
            self.client = await Client.connect(
                self.target.temporal_address,
                namespace="default",
                data_converter=pydantic_data_converter,
            )
        except BaseException:
            await self.stop()
            raise
        return self

    async def _announcement(self) -> dict[str, Any]:
        """The stack's JSON line; other output (the dev server's banner) is drained."""
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        while True:
            line = (await stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"the stack process exited; see {self.data_dir / 'stack.log'}")
            if line.startswith(READY_MARKER):
                self._drain = asyncio.create_task(self._discard(stdout))
                info: dict[str, Any] = json.loads(line.removeprefix(READY_MARKER))
                return info

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Close the stack's stdin (it shuts down in order) and wait; kill if it hangs."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=60)
        except TimeoutError:
            process.kill()
            await process.wait()
