"""`docflow bench --faults`: the fault suite's long versions (tests/faults), as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from devstack.embedded import PROJECT_ROOT

LONG_VERSIONS = {
    "DOCFLOW_STORM_SIZE": "300",
    "DOCFLOW_CHAOS_SIZE": "100",
    "DOCFLOW_FUZZ_RANDOM": "1",  # new examples each time (the normal suite repeats its own)
}
SUITE_TIMEOUT_S = 3600
FAILURE_OUTPUT_CHARS = 20_000


def run_fault_suite() -> dict[str, Any]:
    """Run `pytest tests/faults -q` with the long sizes; pass/fail and pytest's summary line."""
    suite = PROJECT_ROOT / "tests" / "faults"
    if not suite.is_dir():
        return {"ran": False, "passed": None, "summary": "tests/faults does not exist"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/faults", "-q"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **LONG_VERSIONS},
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"ran": True, "passed": False, "summary": f"timed out after {SUITE_TIMEOUT_S} s"}
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    failed = [line[:300] for line in lines if line.startswith(("FAILED tests/", "ERROR tests/"))]
    failures = done.stdout.find("= FAILURES =")
    return {
        "ran": True,
        "passed": done.returncode == 0,
        "exit_code": done.returncode,
        "summary": lines[-1].strip("= ") if lines else done.stderr.strip()[-300:],
        "failed": failed,
        "env": LONG_VERSIONS,
        "duration_s": round(time.monotonic() - started, 1),
        # What pytest printed about the failures (assertion, captured log), for the record.
        "failure_output": done.stdout[failures:][-FAILURE_OUTPUT_CHARS:] if failures >= 0 else "",
    }
