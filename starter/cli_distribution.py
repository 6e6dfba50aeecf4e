"""`docflow content …`: content distribution through the HTTP API — an item's distribution
and its delivery audit trail, the deliveries to one target, and retrying failed targets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docflow.models.content import DistributionStatus, TargetDelivery
from starter.api_client import DocflowApiClient
from starter.cli_content import master_data
from starter.cli_output import audit_table

app = typer.Typer(
    help="Content distribution (Amplience → partner portals, catalogues, B2B networks, "
    "notification channels) and master data into Amplience.",
    no_args_is_help=True,
)
app.add_typer(master_data, name="master-data")
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key.")]
ItemArg = Annotated[str, typer.Argument(help="The Amplience content item id.")]


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


def deliveries_table(entries: Iterable[TargetDelivery], *, item: bool = False) -> Table:
    """Deliveries: target, version, status, attempts, HTTP status, times, payload hash, reason."""
    columns = [
        "target",
        "kind",
        "version",
        "round",
        "status",
        "attempts",
        "HTTP",
        "started",
        "finished",
        "payload sha-256",
        "reason",
    ]
    table = Table(*columns)
    for d in entries:
        table.add_row(
            d.target,
            d.kind,
            str(d.version),
            str(d.round),
            d.status.value,
            str(d.attempts),
            str(d.http_status or ""),
            d.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.finished_at.strftime("%H:%M:%S") if d.finished_at else "",
            d.payload_sha256[:12],
            d.reason[:120],
        )
    return table


@app.command()
def status(
    item_id: ItemArg,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = False,
) -> None:
    """An item's distribution: version, route, each delivery and what it waits for."""

    async def go() -> DistributionStatus:
        async with DocflowApiClient(api_url, api_key) as client:
            data = await client.call("GET", f"/v1/content/items/{item_id}")
            return DistributionStatus.model_validate(data)

    result: DistributionStatus = _run(go())
    console.print(
        f"[bold]{result.label or result.item_id}[/] v{result.version}: {result.state}"
        + (f" (route {result.route})" if result.route else "")
    )
    console.print(
        f"distributed version: {result.distributed_version or 'none yet'} · approvals ignored "
        f"(duplicates, older versions): {result.ignored}"
    )
    console.print(f"waiting for: {result.waiting_for}")
    console.print(deliveries_table(result.deliveries))
    if audit:
        console.print(audit_table(result.audit))


@app.command()
def retry(
    item_id: ItemArg,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="A failed target to retry (repeatable); none: all."),
    ] = None,
    comment: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Deliver only the failed targets of the item's current version again."""

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            body = {"targets": target or [], "comment": comment}
            result: dict[str, Any] = await client.call(
                "POST", f"/v1/content/items/{item_id}/retries", json=body
            )
            return result

    result = _run(go())
    console.print(
        f"{item_id}: {result['status']} {', '.join(target or []) or 'every failed target'}"
    )


@app.command()
def distribute(
    item_id: ItemArg,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Distribute the item's current version if Amplience shows it approved (a lost webhook)."""

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            result: dict[str, Any] = await client.call(
                "POST", f"/v1/content/items/{item_id}/distributions"
            )
            return result

    result = _run(go())
    console.print(f"{item_id}: {result['status']} (see `docflow content status {item_id}`)")


@app.command()
def deliveries(
    target: Annotated[str, typer.Argument(help="A configured target or channel id.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """The deliveries to one target, newest first (items most recently routed to it)."""

    async def go() -> list[TargetDelivery]:
        async with DocflowApiClient(api_url, api_key) as client:
            data = await client.call("GET", f"/v1/content/targets/{target}/deliveries")
            return [TargetDelivery.model_validate(d) for d in data["results"]]

    found: list[TargetDelivery] = _run(go())
    console.print(f"[bold]{target}[/]: {len(found)} deliveries")
    console.print(deliveries_table(found))
