"""The benchmark command: `python -m benchmarks`, and `docflow bench` in a checkout.

Imports of the runner stay inside the command so registering it with the `docflow` CLI
costs nothing until it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def bench(
    quick: Annotated[bool, typer.Option(help="Small sizes: a smoke check under a minute.")] = False,
    faults: Annotated[
        bool, typer.Option(help="Also run the fault suite's long versions (tests/faults).")
    ] = False,
    profile: Annotated[
        bool, typer.Option(help="Profile the worker and the API with py-spy (extra B1 batch).")
    ] = False,
    docs: Annotated[int | None, typer.Option(min=1, help="B0/B1 documents each.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="B0/B1 in flight.")] = None,
    parked: Annotated[int | None, typer.Option(min=1, help="Parked for callbacks.")] = None,
    callbacks: Annotated[int | None, typer.Option(min=1, help="Callbacks per run.")] = None,
    paced_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Length of the 100/s latency run.")
    ] = None,
    scale: Annotated[int | None, typer.Option(min=1, help="Processes parked at once.")] = None,
    workspaces: Annotated[
        int | None, typer.Option(min=1, help="Business objects provisioned and kept live.")
    ] = None,
    workspace_window: Annotated[
        int | None, typer.Option(min=1, help="Objects created but not yet written back.")
    ] = None,
    change_rate: Annotated[
        float | None, typer.Option(min=0.1, help="Renames per second (change latency).")
    ] = None,
    change_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Length of each path's change runs.")
    ] = None,
    rest_seconds: Annotated[
        float | None, typer.Option(min=0, help="Idle before the RSS at rest is read.")
    ] = None,
    content_items: Annotated[
        int | None, typer.Option(min=2, help="Content items approved per path (throughput).")
    ] = None,
    content_window: Annotated[
        int | None, typer.Option(min=1, help="Content items approved but not yet delivered.")
    ] = None,
    content_paced_items: Annotated[
        int | None, typer.Option(min=1, help="Content items per path at the outage's rate.")
    ] = None,
    outage_items: Annotated[
        int | None, typer.Option(min=1, help="Content items approved while a target is down.")
    ] = None,
    content_compression: Annotated[
        float | None,
        typer.Option(min=1, help="Time compression of the hour-long outage and the schedules."),
    ] = None,
    ecm_documents: Annotated[
        int | None, typer.Option(min=2, help="ECM documents per path (throughput).")
    ] = None,
    ecm_events_per_document: Annotated[
        int | None, typer.Option(min=1, help="ECM events per document (created, versions, ...).")
    ] = None,
    ecm_window: Annotated[
        int | None, typer.Option(min=1, help="ECM events submitted but not yet delivered.")
    ] = None,
    ecm_paced_events: Annotated[
        int | None, typer.Option(min=1, help="ECM events per path in the latency runs.")
    ] = None,
    ecm_paced_rate: Annotated[
        float | None, typer.Option(min=0.1, help="ECM events per second in the latency runs.")
    ] = None,
    ecm_outage_events: Annotated[
        int | None, typer.Option(min=1, help="ECM events arriving while a subscriber is down.")
    ] = None,
    ecm_outage_documents: Annotated[
        int | None, typer.Option(min=1, help="Documents the outage's ECM events are about.")
    ] = None,
    ecm_compression: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Time compression of the ECM outage, schedules and hold (the outage runs "
            "without --faults only when it and its drain fit in about a minute).",
        ),
    ] = None,
    ecm_outage: Annotated[
        bool | None,
        typer.Option(
            "--ecm-outage/--no-ecm-outage",
            help="Run (or skip) the ECM outage whatever its length; default: with --faults, "
            "or when it fits in about a minute.",
        ),
    ] = None,
    records: Annotated[
        int | None, typer.Option(min=1, help="Process records seeded into the read model.")
    ] = None,
    records_batch: Annotated[
        int | None, typer.Option(min=1, help="Records per bulk_apply call while seeding.")
    ] = None,
    records_rate: Annotated[
        float | None, typer.Option(min=0.1, help="Requests/s of the records open loop.")
    ] = None,
    records_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Length of each records open-loop run.")
    ] = None,
    records_connections: Annotated[
        int | None, typer.Option(min=1, help="Connections the records open loop sends on.")
    ] = None,
    records_url: Annotated[
        str | None,
        typer.Option(
            help="Read model database (e.g. postgresql+psycopg://user:pw@host/db); "
            "default SQLite in the run's directory. Its tables are migrated and seeded."
        ),
    ] = None,
    records_download_clients: Annotated[
        int | None, typer.Option(min=1, help="Concurrent portal / static downloads.")
    ] = None,
    records_download_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Length of each download run.")
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated phases to run: pipeline,callbacks,scale,workspaces,content,ecm,"
            "records."
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Where report.json and REPORT.md go (default benchmarks/).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Benchmark the pipeline against its floor, the callbacks, 10,000 parked processes,
    10,000 live business workspaces (provisioning, then change latency against its floor) and
    content distribution (approval to every target against its floor; a target down for a
    time-compressed hour) and the ECM event relay (events to three subscribers against its
    floor; a subscriber down for a time-compressed hour, with --faults at the full size) and
    the records API (100,000 records, an open loop at 200 requests/s against its floor) with
    portal downloads beside a static file server.

    Runs against a fresh embedded stack in a child process (worker in its own process),
    prints a table and writes report.json and REPORT.md.
    """
    from benchmarks import report as bench_report
    from benchmarks.options import BenchOptions
    from benchmarks.runner import run_benchmarks
    from devstack.cli import run_dev
    from starter.cli import configure_logging, console

    configure_logging(verbose)
    try:
        options = BenchOptions.preset(
            quick,
            faults=faults,
            profile=profile,
            docs=docs,
            concurrency=concurrency,
            parked=parked,
            callbacks=callbacks,
            paced_seconds=paced_seconds,
            scale=scale,
            workspaces=workspaces,
            workspace_window=workspace_window,
            change_rate=change_rate,
            change_seconds=change_seconds,
            rest_seconds=rest_seconds,
            content_items=content_items,
            content_window=content_window,
            content_paced_items=content_paced_items,
            outage_items=outage_items,
            content_compression=content_compression,
            ecm_documents=ecm_documents,
            ecm_events_per_document=ecm_events_per_document,
            ecm_window=ecm_window,
            ecm_paced_events=ecm_paced_events,
            ecm_paced_rate=ecm_paced_rate,
            ecm_outage_events=ecm_outage_events,
            ecm_outage_documents=ecm_outage_documents,
            ecm_compression=ecm_compression,
            ecm_outage=ecm_outage,
            records=records,
            records_batch=records_batch,
            records_rate=records_rate,
            records_seconds=records_seconds,
            records_connections=records_connections,
            records_url=records_url,
            records_download_clients=records_download_clients,
            records_download_seconds=records_download_seconds,
            phases=tuple(p.strip() for p in only.split(",") if p.strip()) if only else None,
            out_dir=out_dir,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    result = run_dev(run_benchmarks(options, lambda line: console.print(f"[dim]·[/] {line}")))
    bench_report.print_table(result, console)
    json_path, md_path = bench_report.write(result, options.out_dir)
    console.print(f"wrote {json_path} and {md_path}")


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(bench)  # one command: its options are the program's own
    app(prog_name="python -m benchmarks")
