"""The records phase at a tiny scale: it seeds, serves, loads both paths, downloads from the
portal and the static server, and its report section renders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from benchmarks import report as bench_report
from benchmarks.options import BenchOptions
from benchmarks.records import run_records
from benchmarks.runner import goals

TINY = replace(
    BenchOptions.preset(True),
    records=300,
    records_batch=100,
    records_rate=40.0,
    records_seconds=0.5,
    records_probe=2,
    records_download_clients=2,
    records_download_seconds=0.2,
    phases=("records",),
)


async def test_tiny_records_phase_reports_its_figures_beside_its_floors(tmp_path: Path) -> None:
    result = await run_records(TINY, lambda _line: None, tmp_path)

    records = result["records"]
    assert records["seeding"]["applied"] == 300
    for path, requests in (("api", 20), ("floor", 20), ("api_low_rate", 4)):
        run = records[path]
        assert run["requests"] == requests, path
        assert run["errors"] == 0, (path, run["statuses"])  # every answer 2xx
        assert set(run["latency_ms"]) == {"p50", "p90", "p95", "p99", "max"}
        assert run["server_rss_mb_peak"] > 0 and len(run["load_average_after"]) == 3
    assert set(records["api"]["by_kind"]) <= set(records["mix"])
    alone = records["api_unloaded_by_kind"]
    assert set(alone) == set(records["mix"])
    assert all(v["requests"] == 2 and v["errors"] == 0 for v in alone.values()), alone
    assert result["records_api_errors"] == 0
    assert result["records_api_vs_floor_p99_ratio"] > 0
    content = records["content"]
    for key in ("1mib_full", "1mib_range", "20mib_full", "20mib_range"):
        for server in ("portal", "static"):
            figures = content[key][server]
            assert figures["requests"] > 0 and figures["errors"] == 0, (key, server)
            assert figures["mb_per_s"] > 0, (key, server)
        assert content[key]["portal_vs_static_mb_ratio"] > 0, key

    report = {
        "quick": True,
        "generated_at": "2026-12-07T00:00:00+00:00",
        "machine": {
            "cores_logical": 2,
            "cpu_model": "test",
            "memory_gb": 1,
            "python": "3",
            "temporalio": "1",
            "temporal_cli": "-",
        },
        "sizes": {},
        **result,
    }
    report["goals"] = goals(report)
    assert report["goals"] == {"records_api_errors == 0": True}
    text = bench_report.markdown(report, "")
    assert "### 7. Records API and portal content" in text
    assert "records API p50 / p90 / p99 / max ms at 40/s" in text
