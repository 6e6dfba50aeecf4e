"""`docflow content master-data …`: through the HTTP API, master data
records of governed sources (PIM, ERP) into Amplience content items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docflow.models.master_data import MAX_BATCH, BatchAnswer, MasterDataStatus
from starter.api_client import DocflowApiClient
from starter.cli_output import audit_table

master_data = typer.Typer(
    help="Master data (PIM, ERP) into Amplience content items.", no_args_is_help=True
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key.")]


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


def _read_batch(path: Path, source: str | None) -> tuple[str, list[dict[str, Any]]]:
    """`{"source": "PIM", "records": [...]}`, or a list of records with --source."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
    records = data.get("records") if isinstance(data, dict) else data
    chosen = source or (data.get("source") if isinstance(data, dict) else None)
    if not isinstance(records, list) or not records:
        raise typer.BadParameter(f"{path}: no records (a list, or an object with 'records')")
    if not isinstance(chosen, str) or not chosen:
        raise typer.BadParameter("name the source: --source PIM, or 'source' in the file")
    return chosen, records


@master_data.command()
def push(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Records (JSON).")],
    source: Annotated[
        str | None, typer.Option(help="The source (default: the file's 'source').")
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-pim-key",
) -> None:
    """Send a file of master data records (in batches of 100); each is accepted or refused
    with every reason. Exits 1 when a batch was refused entirely."""
    chosen, records = _read_batch(path, source)

    async def go() -> list[BatchAnswer]:
        answers = []
        async with DocflowApiClient(api_url, api_key) as client:
            for start in range(0, len(records), MAX_BATCH):
                body = {"records": records[start : start + MAX_BATCH]}
                answer = await client.call("POST", f"/v1/master-data/{chosen}/records", json=body)
                answers.append(BatchAnswer.model_validate(answer))
        return answers

    answers: list[BatchAnswer] = _run(go())
    table = Table("record", "version", "outcome", "reasons")
    for answer in answers:
        for r in answer.results:
            colour = "green" if r.outcome == "accepted" else "red"
            table.add_row(
                f"{r.record_type}/{r.record_id}",
                str(r.version),
                f"[{colour}]{r.outcome}[/]",
                "\n".join(r.reasons),
            )
    console.print(table)
    accepted = sum(a.accepted for a in answers)
    console.print(f"{accepted} accepted, {sum(a.refused for a in answers)} refused")


@master_data.command()
def status(
    source: Annotated[str, typer.Argument(help="e.g. PIM")],
    record_type: Annotated[str, typer.Argument(help="e.g. product")],
    record_id: Annotated[str, typer.Argument(help="e.g. SKU-1001")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-pim-key",
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = True,
) -> None:
    """The record's Amplience item, the versions received and written, the last publish."""
    path = f"/v1/master-data/{source}/{record_type}/{record_id}"

    async def go() -> MasterDataStatus:
        async with DocflowApiClient(api_url, api_key) as client:
            return MasterDataStatus.model_validate(await client.call("GET", path))

    result: MasterDataStatus = _run(go())
    console.print(f"[bold]{result.business_key}[/]: {result.state}")
    console.print(
        f"item: {result.item_id} v{result.item_version} ({result.delivery_key})"
        if result.item_id
        else "item: not written yet"
    )
    console.print(
        f"newest version {result.newest_version}, written {result.applied_version} · applied "
        f"{result.applied}, refused {result.refused}, ignored {result.ignored}"
    )
    if result.reasons:
        console.print("problems: " + "; ".join(result.reasons))
    if result.publish:
        p = result.publish
        console.print(f"last publish: v{p.version} {p.state} {p.error}".rstrip())
    console.print(f"waiting for: {result.waiting_for}")
    if audit:
        console.print(audit_table(result.audit))
