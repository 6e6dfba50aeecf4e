"""Sampling profiles of the worker and the API process with py-spy, summarized for the report.

py-spy is not a project dependency: it is used when `py-spy` is on PATH, or through `uvx`.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
from collections import Counter
from pathlib import Path
from typing import Any

# Where a frame's file lives -> a component name (first match wins).
COMPONENTS: list[tuple[str, str]] = [
    ("workflow_sandbox", "temporalio sandbox"),
    ("<frozen importlib", "imports"),
    ("temporalio/worker/_workflow_instance", "temporalio workflow instance"),
    ("temporalio/contrib/pydantic", "temporalio pydantic converter"),
    ("temporalio/converter", "temporalio converter"),
    ("temporalio/worker/_activity", "temporalio activity worker"),
    ("temporalio/worker/_workflow", "temporalio workflow worker"),
    ("temporalio/", "temporalio other"),
    ("google/protobuf", "protobuf"),
    ("pydantic", "pydantic"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpcore"),
    ("/h11/", "h11"),
    ("/starlette/", "starlette"),
    ("/fastapi/", "fastapi"),
    ("/uvicorn/", "uvicorn"),
    ("multipart", "multipart parsing"),
    ("/workflows/", "docflow workflows"),
    ("/activities/", "docflow activities"),
    ("/simulators/", "simulators"),
    ("/starter/", "docflow API"),
    ("/docflow/", "docflow shared"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
    ("/ssl.py", "ssl"),
    ("/logging/", "logging"),
]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def py_spy_command() -> list[str] | None:
    """How to run py-spy here, or None."""
    if found := shutil.which("py-spy"):
        return [found]
    if uvx := shutil.which("uvx"):
        return [uvx, "py-spy"]
    return None


def component(file: str) -> str:
    path = file if file.startswith(("/", "<")) else "/" + file  # py-spy shortens some paths
    for needle, name in COMPONENTS:
        if needle in path:
            return name
    return "other"


def summarize(raw: str, top: int = 12) -> dict[str, Any]:
    """From py-spy's raw (collapsed) output: samples, components by share, top functions."""
    total = 0
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    leaf_components: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_FRAME.match(f) for f in stack.split(";")]
        parsed = [(m["func"], m["file"]) for m in frames if m]
        if not parsed:
            continue
        for name in {component(file) for _, file in parsed} - {"other"}:
            inclusive[name] += count
        func, file = parsed[-1]
        leaves[f"{func} ({_short(file)})"] += count
        leaf_components[component(file)] += count

    def share(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counter.most_common(top)} if total else {}

    return {
        "samples": total,
        "inclusive_pct": share(inclusive),
        "self_pct_by_component": share(leaf_components),
        "top_self_pct": share(leaves),
    }


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


class PySpy:
    """`py-spy record` on one pid until stop(); raw collapsed stacks into `out`."""

    def __init__(self, pid: int, out: Path, rate_hz: int = 100) -> None:
        self.pid = pid
        self.out = out
        self.rate_hz = rate_hz
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> bool:
        command = py_spy_command()
        if command is None:
            return False
        self._process = await asyncio.create_subprocess_exec(
            *command,
            "record",
            "--pid",
            str(self.pid),
            "--format",
            "raw",
            "--rate",
            str(self.rate_hz),
            "--nonblocking",
            "-o",
            str(self.out),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)  # let it attach (and uvx resolve) before the load starts
        return self._process.returncode is None

    async def stop(self) -> dict[str, Any] | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout=60)
        except TimeoutError:
            process.kill()
            return None
        if not self.out.exists():
            return None
        return summarize(self.out.read_text())
