"""`docflow records …`: the read model through the HTTP API (scope `records:read`) — process
records, everything about a document or workspace, audit entries, and CSV exports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from starter.api.routes.records import EXPORT_LIMIT_HEADER
from starter.api_client import DocflowApiClient, DocflowApiError, _error_message

app = typer.Typer(
    help="Records for dashboards and auditors: processes, documents, workspaces, audit "
    "trails and CSV exports from the read model (needs scope records:read).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
EXPORT_TIMEOUT = httpx.Timeout(30.0, read=300.0)

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key.")]
ProcessType = Annotated[
    list[str] | None, typer.Option("--type", help="Process type, e.g. signing (repeatable).")
]
State = Annotated[list[str] | None, typer.Option(help="State, e.g. archived (repeatable).")]
SourceSystem = Annotated[list[str] | None, typer.Option(help="Source system (repeatable).")]
Outcome = Annotated[str | None, typer.Option(help="open, closed or attention.")]
BusinessKey = Annotated[str | None, typer.Option(help="The source's business key.")]
Document = Annotated[int | None, typer.Option(help="ECM document node id.")]
Workspace = Annotated[int | None, typer.Option(help="Business workspace id.")]
Since = Annotated[str | None, typer.Option(help="Changed at or after (ISO, e.g. 2026-12-01).")]
Until = Annotated[str | None, typer.Option(help="Changed before (ISO).")]
Where = Annotated[
    list[str] | None,
    typer.Option(
        help="Any other filter of the API as NAME=VALUE (repeatable), e.g. "
        "started_from=2026-01-01, business_object_type=Account, party=partner:acme."
    ),
]
Limit = Annotated[int, typer.Option(min=1, max=500, help="At most this many (one page).")]
Cursor = Annotated[str | None, typer.Option(help="Continue where the last page ended.")]


class Listing(StrEnum):
    processes = "processes"
    audit = "audit"
    approvals = "approvals"
    access_log = "access-log"


class Order(StrEnum):
    updated = "updated"
    started = "started"


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


async def _get(api_url: str, api_key: str, path: str, params: dict[str, Any] | None = None) -> Any:
    given = {name: value for name, value in (params or {}).items() if value is not None}
    async with DocflowApiClient(api_url, api_key) as client:
        return await client.call("GET", f"/v1/records{path}", params=given)


def _filters(
    process_type: list[str] | None,
    state: list[str] | None,
    source_system: list[str] | None,
    outcome: str | None,
    business_key: str | None,
    document: int | None,
    workspace: int | None,
    since: str | None,
    until: str | None,
    where: list[str] | None,
) -> dict[str, Any]:
    """The API's query parameters (the API checks them: a bad one is a clear error)."""
    found: dict[str, Any] = {
        "process_type": process_type,
        "state": state,
        "source_system": source_system,
        "outcome": outcome,
        "business_key": business_key,
        "document_node_id": document,
        "workspace_id": workspace,
        "updated_from": since,
        "updated_to": until,
    }
    for condition in where or []:
        name, equals, value = condition.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{condition!r}: write NAME=VALUE", param_hint="--where")
        found[name.strip()] = value
    return {name: value for name, value in found.items() if value not in (None, [])}


def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def _print_rows(columns: list[str], rows: list[tuple[str, ...]], title: str = "") -> None:
    """A table on a terminal; piped (grep, awk, a script): one tab-separated line each."""
    if not console.is_terminal:
        for row in rows:
            print("\t".join(row))
        return
    table = Table(*columns, title=title or None)
    table.columns[0].no_wrap = True  # a key is copied whole into the next command
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _processes(items: list[dict[str, Any]], title: str = "") -> None:
    rows = [
        (
            p["process_key"],
            p["process_type"],
            p["business_key"],
            p["state"] + (" (attention)" if p.get("attention_reason") else ""),
            p.get("source_system") or "",
            _when(p.get("updated_at")),
            str(p.get("document_node_id") or ""),
        )
        for p in items
    ]
    columns = ["process key", "type", "business key", "state", "source", "updated", "document"]
    _print_rows(columns, rows, title)


def _audit(items: list[dict[str, Any]], title: str = "audit trail") -> None:
    rows = [
        (
            _when(a["at"]),
            a["business_key"],
            a["kind"],
            a["actor"],
            a.get("detail", "") + (f" ({a['repeated']} times)" if a.get("repeated", 1) > 1 else ""),
        )
        for a in items
    ]
    _print_rows(["at", "business key", "what", "who", "detail"], rows, title)


def _approvals(items: list[dict[str, Any]]) -> None:
    rows = [
        (_when(a["at"]), a["business_key"], a["stage"], a["actor"], a["decision"], a["comment"])
        for a in items
    ]
    _print_rows(["at", "business key", "stage", "who", "decision", "comment"], rows, "approvals")


def _subject(found: dict[str, Any]) -> None:
    """The sections a document, workspace or business-object view has."""
    _processes(found["processes"], "processes")
    _approvals(found["approvals"])
    holds = [
        (
            str(h["document_node_id"]),
            h["hold"],
            _when(h["applied_at"]),
            h["applied_by"],
            f"released {_when(h['released_at'])}" if h.get("released_at") else "active",
        )
        for h in found["holds"]
    ]
    _print_rows(["document", "hold", "applied", "by", "state"], holds, "holds")
    retention = [
        (
            str(r["document_node_id"]),
            str(r["retention_class"] if r["retention_class"] is not None else ""),
            _when(r.get("disposition_at")) or "-",
            "suspended by a hold" if r["on_hold"] else "",
        )
        for r in found["retention"]
    ]
    _print_rows(["document", "retention class", "disposition", ""], retention, "retention")
    _audit(found["audit"])
    if found["truncated"]:
        err.print("[yellow]more than shown:[/] use `docflow records list/audit` with filters")


@app.command("list")
def list_records(
    process_type: ProcessType = None,
    state: State = None,
    source_system: SourceSystem = None,
    outcome: Outcome = None,
    business_key: BusinessKey = None,
    document: Document = None,
    workspace: Workspace = None,
    since: Since = None,
    until: Until = None,
    where: Where = None,
    order: Annotated[Order, typer.Option(help="Newest first by last change or start.")] = (
        Order.updated
    ),
    limit: Limit = 50,
    cursor: Cursor = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """Process records you may see, newest first, with filters (a page per call)."""
    params = _filters(
        process_type, state, source_system, outcome, business_key, document, workspace, since,
        until, where,
    )  # fmt: skip
    paging = {"order": order.value, "limit": limit, "cursor": cursor}
    page = _run(_get(api_url, api_key, "/processes", {**params, **paging}))
    _processes(page["items"])
    if page.get("next_cursor"):
        err.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def show(
    process_key: Annotated[str, typer.Argument(help="The process key (its first run id).")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """One process record with its audit trail and approvals."""
    found = _run(_get(api_url, api_key, f"/processes/{process_key}"))
    p = found["process"]
    console.print(
        f"[bold]{p['business_key']}[/] ({p['process_type']}, {p['source_system'] or '-'}): "
        f"{p['state']}" + (f", stage {p['stage']}" if p.get("stage") else "")
    )
    console.print(f"started {_when(p['started_at'])}, last change {_when(p['updated_at'])}")
    if p.get("waiting_for"):
        console.print(f"waiting for: {p['waiting_for']}")
    if p.get("attention_reason") or p.get("outcome_reason"):
        console.print(f"[yellow]{p.get('attention_reason') or p.get('outcome_reason')}[/]")
    _audit(found["audit"])
    _approvals(found["approvals"])


@app.command("document")
def document_records(
    node_id: Annotated[int, typer.Argument(help="Content Server node id.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """Everything about one ECM document: processes, approvals, holds, retention, audit."""
    _subject(_run(_get(api_url, api_key, f"/documents/{node_id}")))


@app.command("workspace")
def workspace_records(
    workspace_id: Annotated[int, typer.Argument(help="Business workspace id.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """Everything about one business workspace, with its compliance figures."""
    found = _run(_get(api_url, api_key, f"/workspaces/{workspace_id}"))
    c = found["compliance"]
    console.print(
        f"[bold]workspace {workspace_id}[/]: {c['processes']} processes, {c['open']} open, "
        f"{c['attention']} need attention, {c['approved_versions']} approved versions, "
        f"{c['active_holds']} active holds, {c['disposition_due_90d']} due for disposition "
        f"within 90 days; last activity {_when(c.get('last_activity')) or '-'}"
    )
    _subject(found)


@app.command()
def audit(
    process_type: ProcessType = None,
    state: State = None,
    source_system: SourceSystem = None,
    outcome: Outcome = None,
    business_key: BusinessKey = None,
    document: Document = None,
    workspace: Workspace = None,
    since: Since = None,
    until: Until = None,
    where: Where = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """Audit entries of the processes matching the filters, oldest first (a page per call)."""
    params = _filters(
        process_type, state, source_system, outcome, business_key, document, workspace, since,
        until, where,
    )  # fmt: skip
    page = _run(_get(api_url, api_key, "/audit", {**params, "limit": limit, "cursor": cursor}))
    _audit(page["items"], "")
    if page.get("next_cursor"):
        err.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def export(
    listing: Annotated[Listing, typer.Argument(help="What to export.")] = Listing.processes,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV file to write; '-' for stdout.")
    ] = Path("-"),
    process_type: ProcessType = None,
    state: State = None,
    source_system: SourceSystem = None,
    outcome: Outcome = None,
    business_key: BusinessKey = None,
    document: Document = None,
    workspace: Workspace = None,
    since: Since = None,
    until: Until = None,
    where: Where = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-auditor-key",
) -> None:
    """Every matching record as CSV (streamed, all pages; the API stops at its row limit).

    The access log takes --since and its own filters: --where party=… / object_id=….
    """
    params = _filters(
        process_type, state, source_system, outcome, business_key, document, workspace, since,
        until, where,
    )  # fmt: skip
    if listing is Listing.access_log and "updated_from" in params:
        params["since"] = params.pop("updated_from")
    rows, limit = _run(_export(api_url, api_key, listing, params, output))
    err.print(f"{rows:,} rows of {listing.value} → {'stdout' if _stdout(output) else output}")
    if limit is not None and rows >= limit:
        err.print(
            f"[yellow]the export stopped at the API's limit of {limit:,} rows:[/] narrow the "
            "filters (e.g. --since/--until) and export the rest separately"
        )


def _stdout(output: Path) -> bool:
    return str(output) == "-"


async def _export(
    api_url: str, api_key: str, listing: Listing, params: dict[str, Any], output: Path
) -> tuple[int, int | None]:
    """Stream the CSV to `output` with a running count; the rows and the API's row limit."""
    url = f"{api_url.rstrip('/')}/v1/records/{listing.value}"
    headers = {"X-API-Key": api_key}
    async with (
        httpx.AsyncClient(timeout=EXPORT_TIMEOUT) as http,
        http.stream("GET", url, params={**params, "format": "csv"}, headers=headers) as response,
    ):
        if response.status_code >= 400:
            await response.aread()
            raise DocflowApiError(response.status_code, _error_message(response))
        limit = response.headers.get(EXPORT_LIMIT_HEADER)
        lines, cut_crlf = 0, False
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        )
        with _sink(output) as sink, progress:
            task = progress.add_task("exporting", total=None)
            async for chunk in response.aiter_bytes():
                sink.write(chunk)
                # Rows end in CRLF (a bare newline may sit inside a quoted cell).
                lines += chunk.count(b"\r\n") + (cut_crlf and chunk.startswith(b"\n"))
                cut_crlf = chunk.endswith(b"\r")
                progress.update(task, description=f"exporting: {max(lines - 1, 0):,} rows")
    return max(lines - 1, 0), int(limit) if limit and limit.isdigit() else None


@contextmanager
def _sink(output: Path) -> Iterator[IO[bytes]]:
    """stdout, or the file, written beside it first so a failed export leaves no half file."""
    if _stdout(output):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as sink:
            yield sink
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
