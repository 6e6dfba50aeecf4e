"""Smoke test of `python -m benchmarks` (= `docflow bench`): a tiny run writes a full report,
every phase correct (none lost, in order) — correctness, never timing. `--only` is tested with
the records phase (`records_bench_test.py`)."""

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
    "--workspaces", "6",
    "--change-seconds", "0.4",
    "--rest-seconds", "0.5",
    "--content-items", "4",
    "--content-paced-items", "3",
    "--outage-items", "4",
    "--content-compression", "3600",
    "--ecm-documents", "4",
    "--ecm-events-per-document", "3",
    "--ecm-paced-events", "6",
    "--ecm-paced-rate", "20",
    "--ecm-outage-events", "24",
    "--ecm-outage-documents", "6",
    "--ecm-compression", "1800",
    # The records phase at the size of its own test (records_bench_test.py): the smoke test
    # proves the report is whole, not the phase's figures.
    "--records", "300",
    "--records-batch", "100",
    "--records-rate", "40",
    "--records-seconds", "0.5",
    "--records-download-clients", "2",
    "--records-download-seconds", "0.2",
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
    assert report["workspaces_lost"] == 0 and report["workspace_changes_lost"] == 0
    content = report["content"]
    for path in ("temporal", "floor"):
        assert content[path]["approved"] == content[path]["delivered_everywhere"] == 4, path
        assert content["paced"][path]["delivered_everywhere"] == 3, path
    assert report["content_lost"] == 0 and report["content_outage_lost"] == 0
    # An hour down (compressed to a second): the others got every item, the down target
    # nothing before recovery and every item once after it.
    outage = content["outage"]
    assert outage["others"]["delivered"] == 4
    down = outage["down_target"]
    assert down["delivered_before_recovery"] == 0 and outage["down_target_answers"]["during_outage"]
    assert down["delivered"] == down["exactly_once"] == 4 and down["duplicates"] == 0
    markdown = (tmp_path / "REPORT.md").read_text()
    assert "pipeline_vs_floor_ratio" in markdown and "## Method" in markdown
    assert "workspaces_lost" in markdown and "content_outage_lost" in markdown
    assert report["ecm_lost"] == 0 and report["ecm_outage_lost"] == 0
    assert "ecm_outage_out_of_order" in markdown and "### 6. ECM event relay" in markdown
    assert "change → metadata applied" in markdown
    # Workspaces: objects provisioned and none lost, renames through both paths.
    workspaces = report["workspaces"]
    assert workspaces["provisioned"] == workspaces["live_workflows"] == 6
    assert workspaces["in_sync"] == workspaces["bound"] == workspaces["written_back"] == 6
    assert workspaces["distinct_workspaces"] == 6 and report["workspaces_lost"] == 0
    assert workspaces["actions_per_object"]["starts"] == 1
    changes = workspaces["changes"]
    for run in (changes, changes["low_rate"]):
        for path in ("temporal", "floor"):
            sent = run[path]["sent"]
            assert sent > 0 and run[path]["applied"] + run[path]["superseded"] == sent, path
    assert changes["actions_per_change"]["signals"] == 1
    # ECM: events to three subscribers along both paths, none lost; a subscriber down for an
    # hour compressed to 2 s gets every event once, in each document's order, after recovery.
    ecm = report["ecm"]
    assert ecm["subscribers"] == ["erp-finance", "project-portal", "records-archive"]
    for path in ("temporal", "floor"):
        assert ecm[path]["sent"] == ecm[path]["delivered_to_all"] == 12, path
    for path in ("temporal", "floor", "temporal_no_hold"):
        assert ecm["paced"][path]["delivered_to_all"] == 6, path
    assert report["ecm_lost"] == 0 and ecm["relay_failed_documents"] == 0
    outage = ecm["outage"]
    assert outage["ran"] and outage["events"] == 24
    assert outage["others"]["delivered"] == 24
    down = outage["down"]
    assert down["delivered"] == 24 and down["delivered_before_recovery"] == 0
    assert "503" in down["answers"]["during_outage"]  # it was tried while down
    assert outage["lost"] == outage["duplicates"] == outage["out_of_order"] == 0
    assert all(o["messages"] == 24 and o["documents"] == 6 for o in outage["order"].values())
