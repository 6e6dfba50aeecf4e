"""`docflow partner documents|link`: what an external party sees through docflow's API — the
approved documents it is entitled to, and an expiring download link to one version.

The API key is the party's own (scope `partner`); everything else is refused by the API.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from starter.api_client import DocflowApiClient

app = typer.Typer(
    name="partner",
    help="External parties: entitled approved documents and expiring download links.",
    no_args_is_help=True,
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_KEY", help="The party's API key (scope partner)."),
]
Source = Annotated[str, typer.Option(help="ecm or amplience.")]


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the CLI's one error rendering (imported late)

    return run_command(coro)


@app.command("documents")
def documents(
    source: Source = "ecm",
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option(help="From the previous page.")] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-party-acme-supplies-key",
) -> None:
    """The approved documents your party may read (latest versions, with SHA-256)."""
    params: dict[str, Any] = {"source": source, "limit": limit}
    if cursor:
        params["cursor"] = cursor

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            answer: dict[str, Any] = await client.call(
                "GET", "/v1/partner/documents", params=params
            )
            return answer

    page = _run(go())
    table = Table("id", "version", "name", "type", "approved", "sha256")
    for item in page["items"]:
        table.add_row(
            item["object_id"],
            str(item["version"]),
            item["name"],
            item["document_type"],
            item["approved_at"][:19],
            item["sha256"] or "(learnt on first read)",
        )
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}")


@app.command("link")
def link(
    object_id: Annotated[str, typer.Argument(help="ECM node id or Amplience item id.")],
    source: Source = "ecm",
    version: Annotated[int | None, typer.Option(help="Default: the latest approved.")] = None,
    ttl_seconds: Annotated[
        int | None, typer.Option(help="Default and maximum: read-access.json.")
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-party-acme-supplies-key",
) -> None:
    """An expiring download link to one approved version, bound to your party."""
    body: dict[str, Any] = {"source": source, "object_id": object_id}
    if version is not None:
        body["version"] = version
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds

    async def go() -> dict[str, Any]:
        async with DocflowApiClient(api_url, api_key) as client:
            answer: dict[str, Any] = await client.call("POST", "/v1/partner/links", json=body)
            return answer

    answer = _run(go())
    console.print(
        f"[bold]{answer['source']} {answer['object_id']} v{answer['version']}[/] "
        f"sha256 {answer['sha256']}, expires {answer['expires_at']}"
    )
    console.print(answer["url"])
