"""report.json, REPORT.md and the terminal table from one run's figures."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ANALYSIS_START = "<!-- analysis:start -->"
ANALYSIS_END = "<!-- analysis:end -->"
LAYOUT = """\
- **Load generator** — the `docflow bench` process itself (asyncio, httpx, a Temporal
  client). It never serves anything.
- **Stack process** — `python -m benchmarks.stack`: the embedded stack with the Temporal dev
  server (its own `temporal` binary process; its SQLite file in a fresh directory on tmpfs,
  `/dev/shm`, when there is one), the Core
  Signature / Content Server / CRM simulators at zero added latency (no faults, immediate
  conversion) and the docflow HTTP API (plus `POST /bench/bare-callback` and the workspace
  floor's `POST /bench/bare-business-object/{system}` and the content floor's
  `POST /bench/bare-amplience` and the ECM relay floor's `POST /bench/bare-ecm`, mounted only
  here), the Amplience and webhook target simulators, on a copy of the bundles whose content
  targets' retry schedules are time-compressed (`benchmarks/content_bundle.py`) and whose ECM
  subscriptions have a third subscriber and compressed schedules and hold
  (`benchmarks/ecm_bundle.py`).
- **Worker process** — the real `python worker.py` (`EmbeddedStack(worker="subprocess")`,
  SDK defaults, `max_cached_workflows` = 1000), started by the stack process.
- **Floor worker process** — `python -m benchmarks.floor`: B0's no-op workflow and activity
  (and the ECM floor's `EcmFloorWorkflow`, which only counts its signals) on task queue
  `docflow-bench-floor`, same Worker defaults.

The worker's RSS (with any children) is sampled every 200 ms with psutil from the load
generator; CPU seconds of every process are recorded per phase."""


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    md_path = out_dir / "REPORT.md"
    previous = md_path.read_text() if md_path.exists() else ""
    md_path.write_text(markdown(report, _analysis(previous)))
    return json_path, md_path


def _analysis(previous: str) -> str:
    if ANALYSIS_START in previous and ANALYSIS_END in previous:
        inner = previous.split(ANALYSIS_START, 1)[1].split(ANALYSIS_END, 1)[0]
        return inner.strip("\n")
    return "_No analysis written for this run yet._"


def headline(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, goal) rows shared by the terminal table and REPORT.md, for the phases
    that ran."""
    r = report
    goals = r["goals"]

    def mark(key: str) -> str:
        return ("met" if goals[key] else "MISSED") + f" ({key})"

    rows: list[tuple[str, str, str]] = []
    if "pipeline_vs_floor_ratio" in r:
        rows += _pipeline_rows(r, mark)
    if "callback_rps" in r:
        rows += _callback_rows(r, mark)
    if "scale" in r:
        scale = r["scale"]
        rows += [
            (
                f"scale: {scale['processes']} parked: started in s; all parked in s",
                f"{scale['start_s']}; {scale['all_parked_s']}",
                "",
            ),
            ("scale: all completed after signing, s", f"{scale['all_completed_s']}", ""),
        ]
    if "worker_peak_rss_mb" in r:
        rows.append(
            ("worker_peak_rss_mb", f"{r['worker_peak_rss_mb']}", mark("worker_peak_rss_mb < 500"))
        )
    if "parked_lost" in r:
        rows.append(("parked_lost", f"{r['parked_lost']}", mark("parked_lost == 0")))
    if "workspaces" in r:
        rows += _workspace_rows(r, mark)
    if "content" in r:
        rows += _content_rows(r, mark)
    if "ecm" in r:
        rows += _ecm_rows(r, mark)
    if "records" in r:
        rows += _records_rows(r, mark)
    return rows


def _pipeline_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    lat = r["e2e_latency_ms"]
    return [
        ("B0 floor, documents/s", f"{r['floor_docs_per_s']}", ""),
        ("B1 pipeline, documents/s", f"{r['pipeline_docs_per_s']}", ""),
        (
            "pipeline_vs_floor_ratio",
            f"{r['pipeline_vs_floor_ratio']}",
            mark("pipeline_vs_floor_ratio >= 0.75"),
        ),
        (
            "B1 end-to-end latency p50 / p95 / p99 ms",
            f"{lat['p50']} / {lat['p95']} / {lat['p99']}",
            "",
        ),
        (
            "actions_per_document (B1; B0)",
            f"{r['actions_per_document']}; {r['floor_actions_per_document']}",
            "",
        ),
    ]


def _callback_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    cb = r["callback_to_applied_ms"]
    paced_split = r["callback_paced"].get("send_to_workflow_task_ms", {"p50": "-", "p99": "-"})
    low = r.get(
        "callback_paced_low_rate", {"rate_per_s": 0, "latency_ms": {"p50": "-", "p99": "-"}}
    )
    return [
        (
            "callbacks/s via receiver; bare endpoint",
            f"{r['callback_rps']}; {r['bare_callback_rps']}",
            "",
        ),
        (
            "callback_vs_bare_ratio",
            f"{r['callback_vs_bare_ratio']}",
            mark("callback_vs_bare_ratio >= 0.5"),
        ),
        (
            f"callback → applied p50 / p99 ms at {r['callback_paced']['rate_per_s']:g}/s",
            f"{cb['p50']} / {cb['p99']}",
            mark("callback_to_applied_p99_ms < 100 at 100/s"),
        ),
        (
            "  of which send → workflow task p50 / p99 ms",
            f"{paced_split['p50']} / {paced_split['p99']}",
            "",
        ),
        (
            f"callback → applied p50 / p99 ms at {low['rate_per_s']:g}/s",
            f"{low['latency_ms']['p50']} / {low['latency_ms']['p99']}",
            "",
        ),
    ]


def _quantiles(latency: dict[str, float]) -> str:
    return f"{latency['p50']} / {latency['p95']} / {latency['p99']} / {latency['max']}"


def _workspace_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    ws = r["workspaces"]
    changes = ws["changes"]
    rss = ws["worker_rss_mb"]
    temporal, floor = changes["temporal"], changes["floor"]
    rows = [
        (
            f"workspaces: {ws['objects']} provisioned in s; objects/s",
            f"{ws['all_provisioned_s']}; {ws['provisioned_per_s']}",
            "",
        ),
        (
            "  create → written back p50 / p95 / p99 / max ms",
            _quantiles(ws["create_to_written_back_ms"]),
            "",
        ),
        (
            f"  worker RSS MB before / peak / at rest, {ws['live_workflows']} live",
            f"{rss['before']} / {rss['peak']} / {rss['at_rest']}",
            mark("workspaces_worker_peak_rss_mb < 500"),
        ),
        ("workspaces_lost", f"{r['workspaces_lost']}", mark("workspaces_lost == 0")),
        (
            f"change → metadata applied ms at {changes['rate_per_s']:g}/s, p50 / p95 / p99 / max",
            _quantiles(temporal["latency_ms"]),
            "",
        ),
        ("  floor (no Temporal), same run", _quantiles(floor["latency_ms"]), ""),
    ]
    low = changes.get("low_rate")
    if low:
        rows += [
            (
                f"change → metadata applied ms at {low['rate_per_s']:g}/s",
                _quantiles(low["temporal"]["latency_ms"]),
                "",
            ),
            ("  floor (no Temporal), same run", _quantiles(low["floor"]["latency_ms"]), ""),
        ]
    return [
        *rows,
        (
            "workspace_changes_lost",
            f"{r['workspace_changes_lost']}",
            mark("workspace_changes_lost == 0"),
        ),
    ]


def _content_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    content = r["content"]
    temporal, floor, outage = content["temporal"], content["floor"], content["outage"]
    paced = content["paced"]
    others, down = outage["others"], outage["down_target"]
    rss = content["worker_rss_mb"]

    def p50_p99(latency: dict[str, float]) -> str:
        return f"{latency['p50']} / {latency['p99']}"

    return [
        (
            f"content: items/s, 3 targets + 2 channels, {content['items_per_path']} items, "
            f"window {content['window']}; floor",
            f"{temporal['items_per_s']}; {floor['items_per_s']}",
            "",
        ),
        (
            "  at that load: approved → 3 targets p50 / p99 ms; floor",
            f"{p50_p99(temporal['approved_to_targets_ms'])}; "
            f"{p50_p99(floor['approved_to_targets_ms'])}",
            "",
        ),
        (
            f"content: approved → 3 targets delivered at {paced['rate_per_s']:g}/s, "
            "p50 / p95 / p99 / max ms",
            _quantiles(paced["temporal"]["approved_to_targets_ms"]),
            "",
        ),
        (
            "  floor (no Temporal), same run",
            _quantiles(paced["floor"]["approved_to_targets_ms"]),
            "",
        ),
        (
            "  approved → all 5 (with the channels) p50 / p99 ms; floor",
            f"{p50_p99(paced['temporal']['approved_to_all_ms'])}; "
            f"{p50_p99(paced['floor']['approved_to_all_ms'])}",
            "",
        ),
        ("content_lost", f"{r['content_lost']}", mark("content_lost == 0")),
        (
            f"content outage: {outage['down_endpoint']} down 1 h (compressed "
            f"{outage['compression']:g}x: {outage['outage_s']} s), {outage['items']} approved "
            "meanwhile; the other 4 got (before recovery)",
            f"{others['delivered']}/{outage['items']} ({others['delivered_during_outage']})",
            "",
        ),
        (
            "  approved → the other 4 delivered p50 / p95 / p99 / max ms",
            _quantiles(others["approved_to_all_ms"]),
            "",
        ),
        (
            "  the same at the same rate, every target up",
            _quantiles(paced["temporal"]["approved_to_others_ms"]),
            "",
        ),
        (
            "  down target after recovery: delivered (exactly once); drain s (compressed h)",
            f"{down['delivered']} ({down['exactly_once']}); {down['drain_s']} "
            f"({down['drain_compressed_hours']} h)",
            "",
        ),
        (
            "content_outage_lost",
            f"{r['content_outage_lost']}",
            mark("content_outage_lost == 0"),
        ),
        (
            "content_outage_duplicates",
            f"{r['content_outage_duplicates']}",
            mark("content_outage_duplicates == 0"),
        ),
        (
            "  worker RSS MB before / peak / after (content)",
            f"{rss['before']} / {rss['peak']} / {rss['after']}",
            mark("content_worker_peak_rss_mb < 500"),
        ),
    ]


def _ecm_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    ecm = r["ecm"]
    temporal, floor, paced, outage = ecm["temporal"], ecm["floor"], ecm["paced"], ecm["outage"]
    rss = ecm["worker_rss_mb"]
    rows = [
        (
            f"ecm: events/s to 3 subscribers, {ecm['documents_per_path']} documents x "
            f"{ecm['events_per_document']} events, window {ecm['window']}; floor",
            f"{temporal['events_per_s']}; {floor['events_per_s']}",
            "",
        ),
        ("  ecm relay vs floor ratio", f"{ecm['temporal_vs_floor_ratio']}", ""),
        (
            f"ecm: event → delivered to all 3 at {paced['rate_per_s']:g}/s, "
            "p50 / p95 / p99 / max ms",
            _quantiles(paced["temporal"]["event_to_delivered_ms"]),
            "",
        ),
        (
            "  floor (signal-with-start + 3 POSTs), same run",
            _quantiles(paced["floor"]["event_to_delivered_ms"]),
            "",
        ),
        (
            "  relay without the hold (submit_event, hold_s 0), same run",
            _quantiles(paced["temporal_no_hold"]["event_to_delivered_ms"]),
            "",
        ),
        ("ecm_lost", f"{r['ecm_lost']}", mark("ecm_lost == 0")),
    ]
    if outage.get("ran"):
        down, others = outage["down"], outage["others"]
        rows += [
            (
                f"ecm outage: {outage['down_subscriber']} down 1 h (compressed "
                f"{outage['compression']:g}x: {outage['outage_s']} s), {outage['events']} "
                f"events about {outage['documents']} documents meanwhile; the other 2 got",
                f"{others['delivered']}/{outage['events']}",
                "",
            ),
            (
                "  event → the other 2 delivered p50 / p95 / p99 / max ms",
                _quantiles(others["event_to_delivered_ms"]),
                "",
            ),
            (
                "  down subscriber: delivered (before recovery); drain s (compressed h)",
                f"{down['delivered']} ({down['delivered_before_recovery']}); "
                f"{down['drain_s']} ({down['drain_compressed_hours']} h)",
                "",
            ),
            ("ecm_outage_lost", f"{r['ecm_outage_lost']}", mark("ecm_outage_lost == 0")),
            (
                "ecm_outage_duplicates",
                f"{r['ecm_outage_duplicates']}",
                mark("ecm_outage_duplicates == 0"),
            ),
            (
                "  the same webhook-id POSTed again after it was accepted (absorbed by the "
                "subscriber's dedupe)",
                f"{outage.get('redelivered', '-')}",
                "",
            ),
            (
                "ecm_outage_out_of_order",
                f"{r['ecm_outage_out_of_order']}",
                mark("ecm_outage_out_of_order == 0"),
            ),
        ]
    else:
        rows.append(("ecm outage", f"not run: {outage.get('reason', '')}", ""))
    rows.append(
        (
            "  worker RSS MB before / peak / after (ecm)",
            f"{rss['before']} / {rss['peak']} / {rss['after']}",
            mark("ecm_worker_peak_rss_mb < 500"),
        )
    )
    return rows


def _records_rows(r: dict[str, Any], mark: Callable[[str], str]) -> list[tuple[str, str, str]]:
    rec = r["records"]
    api, floor, seeding = rec["api"], rec["floor"], rec["seeding"]

    def load(run: dict[str, Any]) -> str:
        lat = run["latency_ms"]
        return (
            f"{lat['p50']} / {lat['p90']} / {lat['p99']} / {lat['max']}; "
            f"{run['achieved_rate_per_s']}/s; {run['errors']} errors"
        )

    rows = [
        (
            f"records: seeded {seeding['records']} via bulk_apply ({rec['database']}), records/s",
            f"{seeding['records_per_s']}",
            "",
        ),
        (
            f"records API p50 / p90 / p99 / max ms at {api['target_rate_per_s']:g}/s "
            "(from schedule); achieved; errors",
            load(api),
            mark("records_api_errors == 0"),
        ),
        (
            f"  records API at {rec['api_low_rate']['target_rate_per_s']:g}/s (a fifth)",
            load(rec["api_low_rate"]),
            "",
        ),
        ("  floor (one primary-key SELECT, same server)", load(floor), ""),
        ("  records API vs floor p99 ratio", f"{r['records_api_vs_floor_p99_ratio']}", ""),
        (
            "  server CPU % / peak RSS MB / other cores busy (API; floor)",
            f"{api['server_cpu_pct']} / {api['server_rss_mb_peak']} / "
            f"{api.get('other_cores_busy', '-')}; {floor['server_cpu_pct']} / "
            f"{floor['server_rss_mb_peak']} / {floor.get('other_cores_busy', '-')}",
            "",
        ),
    ]
    content = rec["content"]
    for key, pair in content.items():
        if not isinstance(pair, dict) or "portal" not in pair:
            continue
        portal, static = pair["portal"], pair["static"]
        rows.append(
            (
                f"portal {key.replace('_', ' ')}, {content['clients']} clients: MB/s, req/s "
                "(portal; static)",
                f"{portal['mb_per_s']}, {portal['requests_per_s']}; "
                f"{static['mb_per_s']}, {static['requests_per_s']} "
                f"(ratio {pair['portal_vs_static_mb_ratio']})",
                "",
            )
        )
    return rows


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    return (
        f"{m['cores_logical']} logical cores ({m['cpu_model']}), {m['memory_gb']} GB, "
        f"Python {m['python']}, temporalio {m['temporalio']}, {m['temporal_cli']}"
    )


def print_table(report: dict[str, Any], console: Console) -> None:
    title = "docflow bench" + (" --quick" if report["quick"] else "")
    table = Table(title=title, caption=machine_line(report))
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    for figure, value, goal in headline(report):
        style = "red" if "MISSED" in goal else ("green" if goal else "")
        table.add_row(figure, value, f"[{style}]{goal}[/]" if style else goal)
    console.print(table)
    faults = report.get("faults")
    if faults:
        console.print(f"fault suite (long versions): {faults['summary']}")
        for line in faults.get("failed", []):
            console.print(f"  {line}")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_table(report: dict[str, Any]) -> str:
    phases = report.get("cpu_seconds_by_phase", {})
    names = sorted({k for cpu in phases.values() for k in cpu if k != "wall_s"})
    rows = [
        [phase, f"{cpu['wall_s']}"] + [f"{cpu.get(n, 0)}" for n in names]
        for phase, cpu in phases.items()
    ]
    return _md_table(["phase", "wall s", *[f"{n} CPU s" for n in names]], rows)


def _profile_section(report: dict[str, Any]) -> str:
    profile = report.get("profile")
    if not profile or not profile.get("available"):
        return "No profile in this run (`docflow bench --profile` records one with py-spy)."
    parts = [
        f"py-spy at {profile['rate_hz']} Hz on an extra B1 batch of {profile['documents']} "
        f"documents ({profile['docs_per_s_under_profiler']} documents/s under the profiler). "
        "Shares are of on-CPU samples of all Python threads; *inclusive* counts a sample for "
        "every component on its stack."
    ]
    for name in ("worker", "api_and_simulators"):
        summary = profile.get(name)
        if not summary:
            continue
        parts.append(f"**{name}** — {summary['samples']} samples")
        inclusive = summary["inclusive_pct"]
        own = summary["self_pct_by_component"]
        rows = [[k, f"{v}", f"{own.get(k, '')}"] for k, v in inclusive.items()]
        parts.append(_md_table(["component", "inclusive %", "self %"], rows))
        top = [[f"`{k}`", f"{v}"] for k, v in summary["top_self_pct"].items()]
        parts.append(_md_table(["hottest functions (self)", "%"], top))
    return "\n\n".join(parts)


def _rewrap(text: str, width: int = 92) -> str:
    """Paragraphs refilled (interpolated values make the source's line breaks uneven)."""
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), width, break_long_words=False, break_on_hyphens=False)
        for p in text.split("\n\n")
    )


def _not_run(name: str) -> str:
    return f"Not run in this run (`docflow bench --only` chose other phases than {name})."


def _method_pipeline(r: dict[str, Any]) -> str:
    if "actions_breakdown" not in r:
        return _not_run("pipeline")
    breakdown = r["actions_breakdown"]
    floor = r["floor_actions_breakdown"]
    keys = [k for k in breakdown if k != "total"] + ["total"]
    actions = _md_table(
        ["per document", "B1 pipeline", "B0 floor"],
        [[k, f"{breakdown.get(k, 0)}", f"{floor.get(k, 0)}"] for k in keys],
    )
    return f"""\
B1 is the real signing process: a contract with one approval stage (legal, any quorum) is
started over HTTP (`POST /v1/signing-processes`, multipart PDF), the harness polls
`GET /v1/signing-processes/{{key}}` every 50 ms until the stage is open, approves over HTTP as
alice, the simulated signer (Core Signature autopilot, 0 ms) views and signs, the callbacks
come in through the receiver, the signed PDF and signing log are archived in the Content
Server simulator and the outcome is reported to the CRM simulator. A document's latency runs
from sending the start request to the workflow's result (long poll through the Temporal
client, no polling granularity). B0 is `benchmarks/floor.py`: the same number of activities
before the update, after it and after the signals, the same update (with a validator) and as
many signals as B1's histories show, with no-op bodies; the harness drives it the same way
through the Temporal client (start, query every 50 ms until the stage is open, update, the
signals, result). The floor's shape is calibrated from the warm-up B1 histories:
`{json.dumps(r["floor_shape"])}`. Both run the same number of documents with the same
concurrency, after a warm-up, on the same server, in two alternating halves (B0, B1, B0,
B1) so that drift on the machine hits both.

Actions are counted from the finished histories: starts, activity attempts (the attempt of
each `ActivityTaskStarted`), signals, accepted updates and started timers — the issue's unit.
Search-attribute upserts, workflow tasks and history length are shown but not in the total.
The harness's queries are not counted.

{actions}"""


def _method_callbacks(r: dict[str, Any]) -> str:
    if "callback_paced" not in r:
        return _not_run("callbacks")
    return f"""\
{r["sizes"]["parked"]} NDAs (no approval) are parked waiting for the signature. The same HTTP
client (one httpx client, {r["sizes"]["callback_concurrency"]} requests in flight) sends
{r["sizes"]["callbacks"]} signed `signer_viewed` callbacks (event hash as Core Signature
computes it) to the bare endpoint (`POST /bench/bare-callback`: the receiver's parsing and
verification, then 200) and then to the receiver (`POST /webhooks/core-signature`: verify,
map to the workflow, signal, 200). `signer_viewed` is applied and audited but not terminal,
so the processes stay parked. Then callbacks are sent open-loop at
{r["callback_paced"]["rate_per_s"]:g}/s; each one's latency runs from sending it until a
`status` query shows its event id in the audit trail (the first query right after the 200 —
queries are answered after the pending workflow task, so one query usually suffices — then
every 5 ms). The time at which the workflow applied it (its audit entry's time, the workflow
task's start on the server's clock, the same machine's) splits that latency into getting the
event to the workflow and reading it back. The same run at a tenth of the rate shows the
latency without queueing. Afterwards the parked processes are signed and finish.

Receiver answers: `{json.dumps(r["callback_statuses"])}`;
bare endpoint: `{json.dumps(r["bare_callback_statuses"])}`."""


def _method_scale(r: dict[str, Any]) -> str:
    if "scale" not in r:
        return _not_run("scale")
    bound = round(120 + r["scale"]["processes"] * 0.2)
    return f"""\
{r["scale"]["processes"]} NDAs are started through the Temporal client
(`starter.processes.signing.SigningProcesses.start`, the Python helper business apps use; the PDF is
stored once and every process carries its reference) ({r["sizes"]["scale_concurrency"]} in
flight) and parked waiting for the signature; visibility (`count_workflows` on
`DocflowSourceRecord` and `DocflowStatus`, once a second) tells when all are parked. Then the
simulated signer signs every document through the simulator's control API, so the real
callbacks flow (signer_signed, signed) and every process archives and reports — at most 100
signed-but-unfinished at once (each signature waits for its process's result), so the
callbacks come at the pace the system completes them, not as one storm of 20,000 that
would exhaust the simulator's delivery retries. `parked_lost` is the number not completed
(visibility: `ExecutionStatus = "Completed" AND DocflowStatus = "completed"`) within {bound} s.

`{json.dumps(r["scale"])}`"""


def _method_workspaces(r: dict[str, Any]) -> str:
    if "workspaces" not in r:
        return _not_run("workspaces")
    ws = r["workspaces"]
    changes = ws["changes"]
    per_path = {
        path: {k: v for k, v in changes[path].items() if k != "path"}
        for path in ("temporal", "floor")
    }
    provision = {k: v for k, v in ws.items() if k != "changes"}
    rest = {k: v for k, v in changes.items() if k not in ("temporal", "floor", "low_rate")}
    low = changes.get("low_rate", {})
    return _rewrap(f"""\
**Many live objects.** The CRM simulator creates {ws["objects"]} Accounts through its control
API (`POST /_control/objects/Account`; ids `001BW<run tag><n>`, a name, an account number, an
owner the Content Server's members directory knows, a region, status Active). Each creation is
one signed Standard Webhooks event from the CRM to the API's receiver (`POST
/webhooks/business-objects/SFDC`), which signal-with-starts the object's
`BusinessObjectWorkflow`; the workflow plans the workspace (`plan_workspace`), provisions it in
the Content Server simulator (`provision_workspace`: lookup by business object, create from
template 20001 with the category values, role members, permissions, RM classification) and
writes the workspace id back to the CRM through a `DeliveryWorkflow` child. At most
{ws["window"]} objects are created but not yet written back (the harness reads the CRM's
write-back count every 250 ms), so the CRM's sender — 10 attempts with about 11 s of back-off
between them — is never handed more events than the system takes. The time to provision all runs
from the first create until the CRM holds every write-back, the Content Server binds a workspace
to every bo id and visibility counts every object's workflow `Running` in `in_sync`. Then each
object is checked: bound in the Content Server (`/_control/bindings`), the same workspace id
written back to the CRM record (`/_control/writebacks`); `workspaces_lost` counts those that are
not. Per object, create → bound is the workspace's creation time in the Content Server minus the
CRM's create (the event's `occurred_at`), create → written back the CRM record's write-back time
minus the same; all clocks are this machine's. The worker's RSS is read before the phase, at its
peak (sampled every 200 ms) and after {r["sizes"].get("rest_seconds", 10):g} s idle with every
workflow still running ("at rest"); the SDK's `max_cached_workflows` (1000) bounds how many of
them the worker keeps in memory. Actions per object are counted from
{ws["actions_per_object"].get("sampled", 0)} sampled histories, with their delivery children
(`child_*`).

**Change latency.** Existing objects (shuffled, round robin, so each is renamed at most every
objects / rate seconds and the workflow cache sees them in no helpful order) are renamed in the
CRM (`PATCH /_control/objects/Account/{{id}}`) open-loop at {changes["rate_per_s"]:g}/s for
{changes["seconds_per_path"]:g} s per path. A change's latency runs from the CRM's change (its
event's `occurred_at`) to the Content Server simulator's write of the new name
(`/_control/categories/changes`: each category write with its values and time; the harness reads
the log every 200 ms, which adds nothing to the figure). Path *temporal*: receiver →
signal-with-start → the workflow's task → `update_workspace_metadata` → `set_categories`. Path
*floor* (`benchmarks/workspace_floor.py`, mounted only in the benchmark's API process): the
CRM's events pointed at `POST /bench/bare-business-object/SFDC` (`PUT /_control/events/url`),
which verifies the Standard Webhooks signature and parses like the receiver, maps the fields
like the workflow's plan and calls the same `ContentServerClient.set_categories` directly,
knowing each object's workspace id as the workflow does. The halves alternate (floor, temporal,
floor, temporal) on the same objects; each half waits until its changes are written (at most 60
s). The same is then run at a tenth of the rate ({low.get("rate_per_s", 0):g}/s): the latency
without queueing. A change overtaken by a newer version of the same object before it was applied
is `superseded` (last writer wins), one never written is `not_applied`; `workspace_changes_lost`
is the temporal path's `not_applied` at the full rate. `temporal_stages` traces the temporal
path's changes of {changes.get("traced_objects", 0)} sampled objects through their histories
(server time): CRM change → signal recorded → the workflow task that took it started → completed
→ the `update_workspace_metadata` activity started → the value written. `crm_events` counts the
CRM's deliveries of the events (attempts, every answer: a 503 is the receiver not taking an
event within its 5 s, which the CRM retries).

Provisioning: `{json.dumps(provision)}`

Changes, temporal path: `{json.dumps(per_path["temporal"])}`

Changes, floor: `{json.dumps(per_path["floor"])}`

Changes at a tenth of the rate: `{json.dumps(low)}`

Changes, both: `{json.dumps(rest)}`""")


def _method_content(r: dict[str, Any]) -> str:
    if "content" not in r:
        return _not_run("content")
    content = r["content"]
    outage = content["outage"]
    per_path = {
        path: {k: v for k, v in content[path].items() if k != "path"}
        for path in ("temporal", "floor")
    }
    paced = content["paced"]
    rest = {k: v for k, v in content.items() if k not in ("temporal", "floor", "outage", "paced")}
    return _rewrap(f"""\
**Throughput and latency.** {content["items_per_path"]} product items per path are seeded in
the Amplience simulator as Draft (`POST /_control/items`) and moved to 'Approved' through its
control API (`POST /_control/items/{{id}}/workflow`); the simulator signs and sends its own
`content-item.workflow.updated` webhook. Path *temporal*: the API's receiver (`POST
/webhooks/amplience`) verifies it and signal-with-starts the item's
`ContentDistributionWorkflow`, which reads and routes the version (`plan_distribution`: the
Content Management API over HTTP, `plan_for`) and delivers to the route's three targets
({", ".join(content["targets"])}) and two channels ({", ".join(content["channels"])}) in the
webhook target simulator (`deliver_to_target`: one signed Standard Webhooks POST each), then
moves the item to 'Distributed' in Amplience (not part of the figure). Path *floor*
(`benchmarks/content_floor.py`, mounted only in the benchmark's API process): the simulator's
webhooks pointed at `POST /bench/bare-amplience` (`PUT /_control/webhook`), which verifies
and parses like the receiver, reads the version with the same `AmplienceClient`, plans with
the same `plan_for` and POSTs every message with the same `WebhookSender` and the targets'
secrets, in parallel, inline. An item's latency runs from the approval (just before the
control call) to the receive time of its last message in the webhook target simulator (the
harness reads `/_control/deliveries?since=` every 250 ms, which adds nothing to the figure):
*3 targets* is the last of the three targets, *all 5* includes the channels. At most
{content["window"]} items are approved but not yet delivered everywhere; items/s is the items
delivered everywhere over the time from each half's first approval to its last message (the
latency at that load is mostly the window's queue). The halves alternate (floor, temporal,
floor, temporal) after a warm-up of each path. The bench stack's bundle lifts the targets'
per-worker rate limit (10/s by default) to `BENCH_RATE_LIMIT_PER_S` so the figure is the
system's, not the configured limit's. The latency without a window: {paced["items_per_path"]}
items per path approved open-loop at {paced["rate_per_s"]:g}/s (the outage's rate), every
target up, floor then temporal.

**Outage.** The bench stack runs on a copy of the checkout's bundles
(`benchmarks/content_bundle.py`) in which every target keeps the standard Standard Webhooks
schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with time compressed
{outage["compression"]:g} times: `{outage["retry_schedule_s"]}` s. The
`{outage["down_endpoint"]}` endpoint answers 503 to every call (the webhook target's `down`
knob) for one hour, compressed ({outage["outage_s"]} s), while {outage["items"]} items are
approved at an even pace through the receiver and the workflows. Then the knob is lifted and
the harness waits until every item reached every endpoint. *Others* are the four other
endpoints: every item must reach them (`delivered`; `delivered_during_outage` of them before
recovery), and their latency, approved → the last of the four, is the "unaffected" figure,
beside the same figure of the paced temporal run (the same rate with every target up). The down
target must get every item after recovery exactly once: the simulator keeps each webhook-id
(`item:version:target`) once and counts any redelivery (`duplicates`). The drain is recovery
→ the down target's last delivery; the schedule sets it, not the system's capacity: an item
first refused up to 25 minutes into the outage has its fourth attempt (after 35 min) still in
it and its fifth 2 h 35 min after its first (± 10 % jitter of the 2 h), up to about 2 h
after recovery. `lost` counts items
not delivered to every endpoint. `integration_failed_workflows` counts distribution
workflows that gave up (visibility).

Paced runs: `{json.dumps(paced)}`

Temporal path (window): `{json.dumps(per_path["temporal"])}`

Floor (window): `{json.dumps(per_path["floor"])}`

Outage: `{json.dumps(outage)}`

Both: `{json.dumps(rest)}`""")


def _method_ecm(r: dict[str, Any]) -> str:
    if "ecm" not in r:
        return _not_run("ecm")
    ecm = r["ecm"]
    outage = ecm["outage"]
    paced = ecm["paced"]
    bundle = ecm["bundle"]
    per_path = {
        path: {k: v for k, v in ecm[path].items() if k != "path"} for path in ("temporal", "floor")
    }
    rest = {k: v for k, v in ecm.items() if k not in ("temporal", "floor", "outage", "paced")}
    outage_text = (
        f"""The `{outage["down_subscriber"]}` endpoint answers 503 to every call (the webhook
target's `down` knob) for one hour, compressed ({outage["outage_s"]} s), while
{outage["events"]} events about {outage["documents"]} documents ({outage["events_per_document"]}
each: created, versions added, the last version approved; documents interleaved, so each
document's events are spread over the hour) are sent to the receiver at an even pace
({outage["rate_per_s"]:g}/s offered). The knob is lifted when the compressed hour has passed
and the receiver has taken the last event (a sender retries a 503), so every event arrives
while the subscriber is down; `outage_s` is how long that was. Then the harness waits until
every event reached every subscriber."""
        if outage.get("ran")
        else f"Not run in this run: {outage.get('reason', '')}."
    )
    return _rewrap(f"""\
**How events are submitted.** The cheapest realistic way: the load generator signs docflow's ECM
event contract (`{{type, timestamp, data: {{node, workspace, audit: {{event_type, audit_date}},
version}}}}`, Standard Webhooks with the bundle's ECM secret) and POSTs it, as the Content
Server's event handler would, to the API's receiver (`POST /webhooks/ecm`: verify, parse,
`submit_event`, i.e. signal-with-start of the document's `EcmDocumentWorkflow`). The relay then
holds the document's events `hold_s`, plans each (`plan_ecm_event`) and delivers one message
per subscriber, FIFO per (document, subscriber), one `relay_to_subscriber` activity per HTTP
attempt. Subscribers: {", ".join(ecm["subscribers"])} on the webhook target simulator; the
third exists only in the bench stack's bundle (`benchmarks/ecm_bundle.py`). No Content Server
node is involved: each document's first event is its creation, so the relay never reads the
audit trail, and the names match no lifecycle rule. A document's events are sent in its order
(each after the previous one was answered), documents interleaved. *Floor*
(`benchmarks/ecm_floor.py`, mounted only in the bench's API process): the same signed webhook
to `POST /bench/bare-ecm`, which verifies and parses like the receiver, signal-with-starts
`EcmFloorWorkflow` (it only counts signals; floor worker) with the intake's arguments, then
POSTs the relay's message body to every subscriber the bundle names (`subscribers_for`) with
the same `signed_by` sender, in parallel, inline, once. An event's latency runs from just before
its first POST to the last of the three subscribers' receive times in the webhook target (its
clock, this machine's; the harness polls `/_control/deliveries?since=`, which adds nothing to
the figure). The bench bundle compresses time {bundle["compression"]:g} times: the standard
schedule (`{bundle["retry_schedule_s"]}` s), the disable-after-failing time and the hold
({bundle["hold_s"]} s instead of {bundle["configured_hold_s"]:g} s: latencies here leave out
most of the hold production adds by design); rate limits are lifted.

**Throughput.** {ecm["documents_per_path"]} documents per path, {ecm["events_per_document"]}
events each, at most {ecm["window"]} events sent but not yet received by all three; halves
alternate (floor, temporal, floor, temporal) after a warm-up of each path; events/s = events
received by all three over the time from each half's first send to its last receipt.
**Latency.** {paced["events_per_path"]} events per path sent open loop at
{paced["rate_per_s"]:g}/s: floor, temporal, then *temporal_no_hold*: the same events handed
straight to the intake (`docflow.ecm_intake.submit_event`, the receiver's call, from the load
generator) with `hold_s` 0, so the relay's own latency shows apart from the hold's.
`*_stages` break sampled documents' histories down (server clock): each workflow task's and
activity's queue wait and run, the hold timers, and signal → the first relay scheduled.

**Outage.** {outage_text} Every event must reach every subscriber exactly once: as one message
(`duplicates` counts events a subscriber accepted under a second webhook-id, which it would act
on twice); the same webhook-id POSTed again after it was accepted is counted apart
(`redelivered`: the simulator, like any Standard Webhooks receiver, keeps each webhook-id once,
and `redelivery_samples` shows the relay's attempts at such messages) and, per document, in its
order at each subscriber (arrival order against the document's life and the relay's `sequence`:
`out_of_order`); `lost` counts events not received by all three. The drain is recovery → the
down subscriber's last receipt; the schedule sets it (the fifth attempt, 2 h 35 min after the
first). The down subscriber's answers to this run's messages are counted during and after the
outage, and its health (`EcmSubscriberWorkflow`) read afterwards; `relay_failed_documents`
counts documents with a dead-lettered message (visibility).

Paced runs: `{json.dumps(paced)}`

Temporal path (window): `{json.dumps(per_path["temporal"])}`

Floor (window): `{json.dumps(per_path["floor"])}`

Outage: `{json.dumps(outage)}`

Both: `{json.dumps(rest)}`""")


def _method_records(r: dict[str, Any]) -> str:
    if "records" not in r:
        return _not_run("records")
    rec = r["records"]
    api, content = rec["api"], rec["content"]
    mix = ", ".join(f"{k} {v}" for k, v in rec["mix"].items())
    by_kind = [
        [
            kind,
            f"{v['requests']}",
            _quantiles(v["latency_ms"]),
            f"{api['errors_by_kind'].get(kind, 0)}",
        ]
        for kind, v in api["by_kind"].items()
    ]
    text = _rewrap(f"""No Temporal: the records phase runs after the stack's phases, with its own
processes. The load generator seeds a RecordStore ({rec["database"]}; SQLite in the run's
directory unless `--records-url` names a PostgreSQL) with {rec["seeding"]["records"]} process
records through `bulk_apply`, {rec["seeding"]["batch"]} per call: five process types, five
source systems, their states, 2,000 workspaces, 40,000 documents, three audit entries (one an
approval decision) each and a hold on every 500th. Then `python -m benchmarks.records_floor
api` serves the real API app (`create_app`, uvicorn, no Temporal) over that database with an
API key whose `records:read` covers {", ".join(rec["visible_source_systems"])} of
{", ".join(rec["source_systems"])} (every query is filtered by the caller's systems), plus the
floor `GET /bench/records-floor/{{key}}`: one primary-key SELECT through the same engine and
thread offload, no auth. Each is driven by an open loop at {api["target_rate_per_s"]:g}
requests/s ({r["sizes"].get("records_connections", 64)} connections) for the same length
(floor first, then the API, after a warm-up of both): the
API also runs at a fifth of the rate, and each request kind alone, one at a time. The
i-th request is scheduled at t0 + i/rate and its latency is measured from that moment, so a
server that falls behind shows its queueing; `achieved` is answers per second until the last
answer (what the server sustained when it fell behind), `offered` the schedule's rate.
Any answer other than 2xx is an error. The API's
mix (weights): {mix}; `next_page` follows a `next_cursor` from an earlier list answer. CPU
and RSS are of the server process, sampled every 200 ms; `other cores busy` is the machine's
busy CPU outside the server and the load generator (other engineers' tests); the load
average (1/5/15 min) before and after each run is in `report.json`
(`records.api.load_average_*`).""")
    lat = _md_table(
        ["request kind", "requests", "p50 / p95 / p99 / max ms (from schedule)", "errors"], by_kind
    )
    alone = [
        [kind, f"{v['requests']}", f"{v['ms']['p50']} / {v['ms']['p90']} / {v['ms']['max']}"]
        for kind, v in rec["api_unloaded_by_kind"].items()
    ]
    unloaded = "Each kind alone, one request at a time (no queueing):\n\n" + _md_table(
        ["request kind", "requests", "p50 / p90 / max ms"], alone
    )
    downloads = _rewrap(f"""**Content.** Approved ECM versions of
{" and ".join(f"{v:g}" for v in content["files_mb"].values())} MiB are
written to the document store under their SHA-256 and into the read model with that hash and size,
so `GET /v1/portal/documents/{{node}}` (scope `content:read`) finds them in its cache: look
up the approved version, read the file, verify its hash, answer with ETag, write the access
log. The same files are served by a bare Starlette `StaticFiles` app on the same uvicorn in
its own process (`benchmarks.records_floor static`). {content["clients"]} clients download
back to back for {content["seconds_per_run"]:g} s per file, mode and server: whole files,
then single `Range`s of {content["range_bytes"] // 1024} KiB at random offsets.""")
    return "\n\n".join([text, lat, unloaded, downloads])


def markdown(report: dict[str, Any], analysis: str) -> str:
    r = report
    rows = [[a, b, c] for a, b, c in headline(r)]
    faults = r.get("faults")
    env = " ".join(f"{k}={v}" for k, v in (faults or {}).get("env", {}).items())
    faults_text = (
        f"Fault suite, long versions (`{env} pytest tests/faults -q`): **{faults['summary']}**"
        if faults
        else "Fault suite not run (`docflow bench --faults` runs its long versions)."
    )
    if faults and faults.get("note"):
        faults_text += f" ({faults['note']})"
    for line in (faults or {}).get("failed", []):
        faults_text += f"\n\n- `{line}`"
    return f"""# docflow benchmarks

Generated by `uv run docflow bench{" --quick" if r["quick"] else ""}` at {r["generated_at"]}
({"quick smoke run" if r["quick"] else "full run"}).

**Machine:** {machine_line(r)}.

## Figures

{_md_table(["figure", "value", "goal"], rows)}

Sizes: `{json.dumps(r["sizes"])}`. All keys are in [`report.json`](report.json).

## Analysis

{ANALYSIS_START}
{analysis}
{ANALYSIS_END}

## Method

### Process layout

{LAYOUT}

### 1. Floor (B0) vs pipeline (B1)

{_method_pipeline(r)}

### 2. Callbacks

{_method_callbacks(r)}

### 3. Scale

{_method_scale(r)}

### 4. Business workspaces

{_method_workspaces(r)}

### 5. Content distribution

{_method_content(r)}

### 6. ECM event relay

{_method_ecm(r)}

### 7. Records API and portal content

{_method_records(r)}

### CPU by process and phase

{_cpu_table(r)}

Worker peak RSS by phase (MB): `{json.dumps(r.get("worker_peak_rss_mb_by_phase", {}))}`.

### Profile

{_profile_section(r)}

### Fault suite

{faults_text}
"""
