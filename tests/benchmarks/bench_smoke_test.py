"""Smoke test of `python -m benchmarks` (= `docflow bench`): a tiny run writes a full report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devstack.embedded import PROJECT_ROOT

TINY = [
    "--quick",
    "--docs", "4",
    "--concurrency", "2",
    "--parked", "4",
    "--callbacks", "20",
    "--paced-seconds", "0.2",
    "--scale", "8",
]  # fmt: skip
NUMBERS = (
    "pipeline_vs_floor_ratio",
    "pipeline_docs_per_s",
    "floor_docs_per_s",
    "actions_per_document",
    "callback_vs_bare_ratio",
    "callback_to_applied_p99_ms",
    "worker_peak_rss_mb",
)


def test_tiny_bench_writes_a_complete_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *TINY, "--out-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    report = json.loads((tmp_path / "report.json").read_text())
    for key in NUMBERS:
        assert isinstance(report[key], int | float) and report[key] >= 0, key
    assert set(report["e2e_latency_ms"]) >= {"p50", "p95", "p99"}
    assert all(isinstance(v, int | float) for v in report["e2e_latency_ms"].values())
    assert isinstance(report["parked_lost"], int)
    assert report["parked_lost"] == 0  # correctness, not timing: every parked process finished
    assert report["quick"] is True
    machine = report["machine"]
    assert {"cores_logical", "python", "temporalio", "temporal_cli"} <= set(machine)
    assert report["actions_breakdown"]["starts"] == 1
    assert report["pipeline_completed"] == 4 and report["floor_completed"] == 4
    markdown = (tmp_path / "REPORT.md").read_text()
    assert "pipeline_vs_floor_ratio" in markdown and "## Method" in markdown
