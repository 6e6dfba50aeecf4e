"""The `docflow` command: the embedded demo, the production processes, and process operations.

Process operations (start, status, approve, ...) go through docflow's HTTP API with an API
key, so every decision is recorded for the key's principal, exactly as for any other caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from docflow.models import Signer, SigningRequest
from starter.api_client import DocflowApiClient, DocflowApiError

app = typer.Typer(
    name="docflow",
    help="Durable document processes on Temporal: approval → signature → archive.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key (decisions are recorded for it)."),
]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn the errors a user can act on into one line and an exit code."""
    from simulators.kit.server import PortInUseError, ServerStartError

    try:
        return asyncio.run(coro)
    except PortInUseError as exc:
        err.print(f"[red]error:[/] {exc} (pick another with its --*-port option; 0 = any free)")
        raise typer.Exit(2) from None
    except ServerStartError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except DocflowApiError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except httpx.ConnectError as exc:
        err.print(
            f"[red]error:[/] cannot reach {exc.request.url.host}:{exc.request.url.port} ({exc})"
        )
        raise typer.Exit(1) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --------------------------------------------------------------------------- demo
@app.command()
def demo(
    once: Annotated[
        bool, typer.Option(help="Exit when the batch is done (non-zero on failure).")
    ] = False,
    rounds: Annotated[int, typer.Option(min=1, help="How many times to run every sample.")] = 1,
    data_dir: Annotated[Path, typer.Option(help="Temporal SQLite file and documents.")] = Path(
        ".docflow"
    ),
    api_port: Annotated[int, typer.Option(help="docflow API port.")] = 8100,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend (gRPC) port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    core_signature_port: Annotated[int, typer.Option(help="Core Signature simulator port.")] = 8101,
    content_server_port: Annotated[int, typer.Option(help="Content Server simulator port.")] = 8102,
    crm_port: Annotated[int, typer.Option(help="CRM simulator port.")] = 8103,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what every part does.")
    ] = False,
) -> None:
    """Start the embedded stack and run sample contracts through every path.

    Starts a Temporal dev server with its Web UI (state persisted under --data-dir), the
    Core Signature, Content Server and CRM simulators, a worker and the HTTP API; then runs
    the samples with live progress, prints a summary and the Web UI links, and keeps the
    stack up until Ctrl-C (or exits with --once). Use 0 for any port to pick a free one.
    """
    from starter.embedded import StackPorts

    _logging(verbose)
    ports = StackPorts(
        api=api_port,
        core_signature=core_signature_port,
        content_server=content_server_port,
        crm=crm_port,
        temporal=temporal_port,
        temporal_ui=ui_port,
    )
    ok = _run(_demo(ports, data_dir, once=once, rounds=rounds))
    if once and not ok:
        raise typer.Exit(1)


async def _demo(ports: Any, data_dir: Path, *, once: bool, rounds: int) -> bool:
    from docflow.settings import Settings
    from starter.demo import DemoContext, print_links, run_batch
    from starter.embedded import EmbeddedStack

    settings = Settings().with_overrides(
        signing_policy={
            "signature_poll_after": timedelta(seconds=4),
            "signature_poll_interval": timedelta(seconds=3),
        }
    )
    console.print(f"[bold]docflow demo[/] — starting the embedded stack (data in {data_dir})")
    async with EmbeddedStack(settings=settings, ports=ports, data_dir=data_dir) as stack:
        console.print(
            f"  API        {stack.api_url}  (OpenAPI docs: {stack.api_url}/docs)\n"
            f"  Web UI     {stack.ui_url}\n"
            f"  simulators Core Signature {stack.core_signature_url}, "
            f"Content Server {stack.content_server_url}, CRM {stack.crm_url}"
        )
        async with httpx.AsyncClient(timeout=30) as http:
            ctx = DemoContext(
                api=DocflowApiClient(stack.api_url, "dev-crm-key", http=http),
                http=http,
                core_signature_url=stack.core_signature_url,
                ui_url=stack.ui_url,
            )
            runs = await run_batch(ctx, console, rounds=rounds)
            print_links(runs, ctx, console)
        failed = [r for r in runs if not r.ok]
        console.print(
            f"[bold]{len(runs) - len(failed)}/{len(runs)}[/] samples ended as expected."
            + (f" [red]Unexpected: {', '.join(r.name for r in failed)}[/]" if failed else "")
        )
        if once:
            return not failed
        console.print("Stack is up; press Ctrl-C to stop.")
        await _until_interrupted()
    return not failed


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# ------------------------------------------------------------- production processes
@app.command()
def worker(
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = True,
) -> None:
    """Run a worker against the configured Temporal (TEMPORAL_* env / temporal.toml)."""
    import worker as worker_module

    _logging(verbose)
    worker_module.main()


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = True,
) -> None:
    """Run the HTTP API (process starts, decisions, status, webhook receivers)."""
    _logging(verbose)
    _run(_serve_api(host, port))


async def _serve_api(host: str | None, port: int | None) -> None:
    from docflow.docstore import document_store_from_settings
    from docflow.settings import Settings
    from docflow.temporal import connect
    from simulators.kit.server import ServedApp
    from starter.api.app import create_app

    settings = Settings()
    store = document_store_from_settings(settings.documents)

    async def temporal() -> Any:
        return await connect(settings.temporal.env_profile)

    server = ServedApp(
        create_app(settings, temporal, store),
        host=host or settings.api.host,
        port=port if port is not None else settings.api.port,
        name="docflow API",
        log_level="info",
    )
    async with server:
        console.print(f"docflow API on {server.base_url} (docs at {server.base_url}/docs)")
        await _until_interrupted()


@app.command()
def simulators(
    core_signature_port: Annotated[int, typer.Option()] = 8101,
    content_server_port: Annotated[int, typer.Option()] = 8102,
    crm_port: Annotated[int, typer.Option()] = 8103,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the simulators' randomness.")] = 7,
) -> None:
    """Run the Core Signature, Content Server and CRM simulators (for docker-compose)."""
    _logging(True)
    _run(_serve_simulators(host, seed, core_signature_port, content_server_port, crm_port))


async def _serve_simulators(host: str, seed: int, cs: int, otcs: int, crm_port: int) -> None:
    from simulators import content_server, core_signature, crm
    from simulators.kit.server import ServedApp

    servers = [
        ServedApp(
            core_signature.create_app(core_signature.CoreSignatureConfig(seed=seed)),
            host=host,
            port=cs,
            name="Core Signature simulator",
        ),
        ServedApp(
            content_server.create_app(content_server.ContentServerConfig(seed=seed)),
            host=host,
            port=otcs,
            name="Content Server simulator",
        ),
        ServedApp(
            crm.create_app(crm.CrmConfig(seed=seed)), host=host, port=crm_port, name="CRM simulator"
        ),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
            console.print(f"{server.name} on {server.base_url}")
        await _until_interrupted()


# --------------------------------------------------------------- process operations
@app.command()
def start(
    request_file: Annotated[Path, typer.Argument(help="SigningRequest JSON.", exists=True)],
    document: Annotated[Path, typer.Argument(help="The document to sign.", exists=True)],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """Start a signing process (same business key again returns the same run)."""
    request = SigningRequest.model_validate_json(request_file.read_text())

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.start(request, document.read_bytes(), filename=document.name)

    result = _run(go())
    console.print_json(json.dumps(result))


@app.command()
def status(
    business_key: str,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = True,
) -> None:
    """Show a process's state, what it waits for, and its audit trail."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.status(business_key)

    result = _run(go())
    console.print(
        f"[bold]{result.business_key}[/]: {result.state.value}"
        + (f" (stage {result.stage})" if result.stage else "")
    )
    console.print(f"waiting for: {result.waiting_for}")
    if result.outcome_reason:
        console.print(f"outcome: {result.outcome_reason}")
    if audit:
        table = Table("at", "what", "who", "detail")
        for entry in result.audit:
            table.add_row(
                entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, entry.actor, entry.detail
            )
        console.print(table)


def _decide(
    decision: str, business_key: str, comment: str, stage: str | None, api_url: str, api_key: str
) -> None:
    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.decide(business_key, decision, comment=comment, stage=stage)

    result = _run(go())
    console.print(f"{decision} recorded: {result.detail}")


Comment = Annotated[str, typer.Option(help="Comment kept in the audit trail.")]
Stage = Annotated[str | None, typer.Option(help="Stage you decide for (guards against races).")]


@app.command()
def approve(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Approve the open stage as the principal of your API key."""
    _decide("approve", business_key, comment, stage, api_url, api_key)


@app.command()
def reject(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Reject: the process ends and the source system is told."""
    _decide("reject", business_key, comment, stage, api_url, api_key)


@app.command("request-changes")
def request_changes(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Ask for changes: the process waits for a new document version."""
    _decide("request_changes", business_key, comment, stage, api_url, api_key)


@app.command("new-version")
def new_version(
    business_key: str,
    document: Annotated[Path, typer.Argument(exists=True)],
    version: Annotated[int, typer.Option(help="The new version number.")],
    comment: Comment = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """Submit a revised document after changes were requested (approval restarts)."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.submit_new_version(
                business_key,
                document.read_bytes(),
                filename=document.name,
                version=version,
                comment=comment,
            )

    console.print(_run(go()).detail)


@app.command()
def correct(
    business_key: str,
    signer: Annotated[list[str], typer.Option(help="New signer e-mail (repeatable).")],
    comment: Comment = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Resolve a signature exception with corrected recipients (the request is resent)."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.correct(
                business_key, signers=[Signer(email=e) for e in signer], comment=comment
            )

    console.print(_run(go()).detail)


@app.command()
def cancel(
    business_key: str,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail and reported.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """Cancel a process (withdraws an outstanding signature request)."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.cancel(business_key, reason)

    console.print(_run(go()).detail)


# --------------------------------------------------------------------------- bench
@app.command()
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
    out_dir: Annotated[
        Path | None, typer.Option(help="Where report.json and REPORT.md go (default benchmarks/).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Benchmark the pipeline against its floor, the callbacks and 10,000 parked processes.

    Runs against a fresh embedded stack in a child process (worker in its own process),
    prints a table and writes report.json and REPORT.md.
    """
    from benchmarks import report as bench_report
    from benchmarks.options import BenchOptions
    from benchmarks.runner import run_benchmarks

    _logging(verbose)
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
        out_dir=out_dir,
    )
    result = _run(run_benchmarks(options, lambda line: console.print(f"[dim]·[/] {line}")))
    bench_report.print_table(result, console)
    json_path, md_path = bench_report.write(result, options.out_dir)
    console.print(f"wrote {json_path} and {md_path}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
