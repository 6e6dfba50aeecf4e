"""The `docflow` command: the production processes (worker, API) and process operations.

Process operations (start, status, approve, ...) go through docflow's HTTP API with an API
key, so every decision is recorded for the key's principal, exactly as for any other caller.
In a checkout, the dev commands (demo, simulators, bench) are added from `devstack` (see
`_add_dev_commands`); an installed wheel has no `devstack`, so production has none of them.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from docflow.models import Signer, SigningRequest
from starter import (
    cli_cases,
    cli_deploy,
    cli_distribution,
    cli_ecm,
    cli_ecm_requests,
    cli_environment,
    cli_partner,
    cli_promotion,
    cli_records,
    cli_workspaces,
    config_cli,
)
from starter.api.server import ApiServerError, PortInUse
from starter.api_client import DocflowApiClient, DocflowApiError
from starter.cli_output import audit_table

app = typer.Typer(
    name="docflow",
    help="Durable document processes on Temporal: approval → signature → archive.\n\n"
    "Run the production processes (worker, api) and operate processes through the API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")
RUN_PANEL = "Run docflow"
OPERATIONS_PANEL = "Process operations (through the HTTP API)"

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key (decisions are recorded for it)."),
]


def run_command(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn the errors a user can act on into one line and an exit code."""
    try:
        return asyncio.run(coro)
    except PortInUse as exc:
        err.print(f"[red]error:[/] {exc} (pick another with --port; 0 = any free)")
        raise typer.Exit(2) from None
    except ApiServerError as exc:
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


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# ------------------------------------------------------------- production processes
@app.command(rich_help_panel=RUN_PANEL)
def worker(
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = True,
) -> None:
    """Run a worker against the configured Temporal (TEMPORAL_* env / temporal.toml)."""
    import worker as worker_module

    configure_logging(verbose)
    worker_module.main()


@app.command(rich_help_panel=RUN_PANEL)
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = True,
) -> None:
    """Run the HTTP API (process starts, decisions, status, webhook receivers)."""
    configure_logging(verbose)
    run_command(_serve_api(host, port))


async def _serve_api(host: str | None, port: int | None) -> None:
    from docflow.docstore import document_store_from_settings
    from docflow.settings import Settings
    from docflow.temporal import connect
    from starter.api import server
    from starter.api.app import create_app

    settings = Settings()
    # Bind first: a taken port is reported before anything else is set up.
    sock = server.bind(host or settings.api.host, port if port is not None else settings.api.port)
    url = server.base_url(sock)

    async def temporal() -> Any:
        return await connect(settings.temporal.env_profile)

    try:
        api_app = create_app(settings, temporal, document_store_from_settings(settings.documents))
    except BaseException:
        sock.close()
        raise
    announce = f"docflow API on {url} (docs at {url}/docs)"
    await server.serve(api_app, sock, on_started=lambda: console.print(announce))


# --------------------------------------------------------------- process operations
@app.command(rich_help_panel=OPERATIONS_PANEL)
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

    result = run_command(go())
    console.print_json(json.dumps(result))


@app.command(rich_help_panel=OPERATIONS_PANEL)
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

    result = run_command(go())
    console.print(
        f"[bold]{result.business_key}[/]: {result.state.value}"
        + (f" (stage {result.stage})" if result.stage else "")
    )
    console.print(f"waiting for: {result.waiting_for}")
    if result.outcome_reason:
        console.print(f"outcome: {result.outcome_reason}")
    if audit:
        console.print(audit_table(result.audit))


def _decide(
    decision: str, business_key: str, comment: str, stage: str | None, api_url: str, api_key: str
) -> None:
    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.decide(business_key, decision, comment=comment, stage=stage)

    result = run_command(go())
    console.print(f"{decision} recorded: {result.detail}")


Comment = Annotated[str, typer.Option(help="Comment kept in the audit trail.")]
Stage = Annotated[str | None, typer.Option(help="Stage you decide for (guards against races).")]


@app.command(rich_help_panel=OPERATIONS_PANEL)
def approve(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Approve the open stage as the principal of your API key."""
    _decide("approve", business_key, comment, stage, api_url, api_key)


@app.command(rich_help_panel=OPERATIONS_PANEL)
def reject(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Reject: the process ends and the source system is told."""
    _decide("reject", business_key, comment, stage, api_url, api_key)


@app.command("request-changes", rich_help_panel=OPERATIONS_PANEL)
def request_changes(
    business_key: str,
    comment: Comment = "",
    stage: Stage = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Ask for changes: the process waits for a new document version."""
    _decide("request_changes", business_key, comment, stage, api_url, api_key)


@app.command("new-version", rich_help_panel=OPERATIONS_PANEL)
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

    console.print(run_command(go()).detail)


@app.command(rich_help_panel=OPERATIONS_PANEL)
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

    console.print(run_command(go()).detail)


@app.command(rich_help_panel=OPERATIONS_PANEL)
def repair(
    business_key: str,
    abandon: Annotated[
        bool, typer.Option("--abandon", help="Give the step up: the process ends failed.")
    ] = False,
    comment: Comment = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Retry a step that gave up (archiving) after fixing its cause, or --abandon it."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.repair(
                business_key, "abandon" if abandon else "retry", comment=comment
            )

    console.print(run_command(go()).detail)


@app.command("retry-now", rich_help_panel=OPERATIONS_PANEL)
def retry_now(
    business_key: str,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Run a step that is retrying (e.g. after fixing a credential) now, not after its backoff."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.retry_steps_now(business_key)

    reset = run_command(go())
    if not reset:
        console.print(f"no step of {business_key} is retrying")
    for step in reset:
        console.print(
            f"{step['activity']}: runs now (was attempt {step['attempt']}: "
            f"{step['last_error'] or 'no error recorded'})"
        )


@app.command(rich_help_panel=OPERATIONS_PANEL)
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

    console.print(run_command(go()).detail)


@app.command(rich_help_panel=OPERATIONS_PANEL)
def redeliver(
    business_key: str,
    comment: Comment = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Deliver a dead-lettered status report again (after fixing the source's endpoint)."""

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.redeliver(business_key, comment)

    console.print(run_command(go()).detail)


State = Annotated[str | None, typer.Option(help="DocflowStatus, e.g. archive_exception.")]
Attention = Annotated[
    str | None, typer.Option(help="step_retrying | exception_open | report_dead_lettered | any.")
]
SourceSystem = Annotated[str | None, typer.Option(help="Source system, e.g. SFDC.")]
DocumentType = Annotated[str | None, typer.Option(help="Document type.")]
Stuck = Annotated[
    str | None, typer.Option(help="In its state longer than (ISO 8601, e.g. P2D, PT30M).")
]
DeadlineBefore = Annotated[str | None, typer.Option(help="Next deadline before (ISO 8601).")]
Limit = Annotated[int, typer.Option(help="At most this many per page (≤ 100).")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page.")]


def _filters(
    state: str | None,
    attention: str | None,
    source_system: str | None,
    document_type: str | None,
    stuck_longer_than: str | None,
    deadline_before: str | None,
) -> dict[str, Any]:
    found = {
        "state": state,
        "attention": attention,
        "source_system": source_system,
        "document_type": document_type,
        "stuck_longer_than": stuck_longer_than,
        "deadline_before": deadline_before,
    }
    return {k: v for k, v in found.items() if v is not None}


@app.command("list", rich_help_panel=OPERATIONS_PANEL)
def list_processes(
    state: State = None,
    attention: Attention = None,
    source_system: SourceSystem = None,
    document_type: DocumentType = None,
    stuck_longer_than: Stuck = None,
    deadline_before: DeadlineBefore = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """List the processes you may see, with filters (stuck two days: --stuck-longer-than P2D)."""
    filters = _filters(
        state, attention, source_system, document_type, stuck_longer_than, deadline_before
    )

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.list_processes(**filters, limit=limit, cursor=cursor)

    page = run_command(go())
    rows = [
        (
            item["business_key"],
            item.get("state") or "",
            (item.get("since") or "")[:19],
            (item.get("deadline") or "")[:19],
            item.get("attention") or "",
            item.get("source_system") or "",
        )
        for item in page["items"]
    ]
    if not console.is_terminal:  # piped (grep, awk, a script): one tab-separated line each
        for row in rows:
            print("\t".join(row))
    else:
        table = Table("business key", "state", "since", "deadline", "attention", "source")
        table.columns[0].no_wrap = True  # a key is copied whole into the next command
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}")


@app.command(rich_help_panel=OPERATIONS_PANEL)
def batch(
    action: Annotated[str, typer.Argument(help="retry | abandon | redeliver | cancel")],
    state: State = None,
    attention: Attention = None,
    source_system: SourceSystem = None,
    document_type: DocumentType = None,
    stuck_longer_than: Stuck = None,
    deadline_before: DeadlineBefore = None,
    query: Annotated[str | None, typer.Option(help="A visibility query (support only).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (required for cancel).")] = None,
    comment: Comment = "",
    limit: Annotated[int, typer.Option(help="At most this many per call (≤ 100).")] = 20,
    cursor: Cursor = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Repeat safely: nothing is applied twice.")
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Apply one repair to every matching process you may act on (a page per call)."""
    filters = _filters(
        state, attention, source_system, document_type, stuck_longer_than, deadline_before
    )

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.batch(
                action,
                idempotency_key=idempotency_key,
                filters=filters,
                query=query,
                reason=reason,
                comment=comment,
                limit=limit,
                cursor=cursor,
            )

    result = run_command(go())
    table = Table("business key", "outcome", "detail")
    for item in result["results"]:
        table.add_row(item["business_key"], item["outcome"], item["detail"])
    console.print(table)
    if result.get("next_cursor"):
        console.print(f"more: --cursor {result['next_cursor']}")


app.add_typer(cli_deploy.app, name="deploy", rich_help_panel="Run docflow")
cli_environment.register(config_cli.app)
cli_promotion.register(config_cli.app)
app.add_typer(config_cli.app, name="config", rich_help_panel="Run docflow")
app.add_typer(cli_workspaces.app, name="workspace", rich_help_panel=OPERATIONS_PANEL)
app.add_typer(cli_cases.app, name="case", rich_help_panel=OPERATIONS_PANEL)
app.add_typer(cli_distribution.app, name="content", rich_help_panel=OPERATIONS_PANEL)
app.add_typer(cli_ecm.app, name="ecm", rich_help_panel=OPERATIONS_PANEL)
cli_ecm_requests.register(cli_ecm.app)  # review tasks and content updates
app.add_typer(cli_partner.app, name="partner", rich_help_panel=OPERATIONS_PANEL)
app.add_typer(cli_records.app, name="records", rich_help_panel=OPERATIONS_PANEL)


# ---------------------------------------------------------------- dev commands
def _add_dev_commands(cli: typer.Typer) -> None:
    """In a checkout, add `devstack`'s commands (demo, simulators, bench) to the CLI.

    Found by name at run time, never a static import: the wheel ships neither `devstack` nor
    the simulators, so a production install has no dev commands and never loads dev code.
    """
    if importlib.util.find_spec("devstack") is None:
        return
    importlib.import_module("devstack.cli").register(cli)


_add_dev_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
