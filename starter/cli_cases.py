"""`docflow case start|status|retry`: case assembly through docflow's HTTP API.

Like every process operation, these go through the API with an API key, so a retry is
recorded for the key's principal exactly as for any other caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docflow.models import DocumentRef, UpdateAccepted
from docflow.models.workspaces import CaseRequest, CaseStatus
from starter.api_client import DocflowApiClient
from starter.cli_output import audit_table

app = typer.Typer(
    name="case",
    help="Assemble service, claims, audit and compliance cases from their sources.",
    no_args_is_help=True,
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key (a retry is recorded for it)."),
]


class CasesApiClient(DocflowApiClient):
    """The case routes of docflow's API."""

    async def start_case(self, request: CaseRequest) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", "/v1/cases", json=request.model_dump(mode="json")
        )
        return result

    async def case_status(self, case_type: str, case_id: str) -> CaseStatus:
        body = await self._call("GET", f"/v1/cases/{case_type}/{case_id}")
        return CaseStatus.model_validate(body)

    async def retry_case_source(self, case_type: str, case_id: str, source: str) -> UpdateAccepted:
        body = await self._call("POST", f"/v1/cases/{case_type}/{case_id}/sources/{source}/retry")
        return UpdateAccepted.model_validate(body)


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the CLI's one error rendering (imported late)

    return run_command(coro)


@app.command("start")
def start(
    request_file: Annotated[Path, typer.Argument(help="CaseRequest JSON.", exists=True)],
    attachment: Annotated[
        list[Path] | None,
        typer.Option(help="A document filed with the case (repeatable).", exists=True),
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-portal-key",
) -> None:
    """Start a case's assembly (the same case again returns the same run)."""
    request = CaseRequest.model_validate_json(request_file.read_text())

    async def go() -> dict[str, Any]:
        async with CasesApiClient(api_url, api_key) as client:
            uploaded: list[DocumentRef] = [
                await client.upload(path.read_bytes(), filename=path.name)
                for path in attachment or []
            ]
            if uploaded:
                request.attachments = [*request.attachments, *uploaded]
            return await client.start_case(request)

    console.print_json(json.dumps(_run(go())))


@app.command("status")
def status(
    case_type: str,
    case_id: str,
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = False,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Show a case's progress: sources done, items filed, gaps."""

    async def go() -> CaseStatus:
        async with CasesApiClient(api_url, api_key) as client:
            return await client.case_status(case_type, case_id)

    result: CaseStatus = _run(go())
    console.print(
        f"[bold]{result.business_key}[/]: {result.state} — sources done "
        f"{result.sources_done}/{len(result.sources)}, items filed {result.items_filed}"
    )
    console.print(f"waiting for: {result.waiting_for}")
    if result.outcome_reason:
        console.print(f"outcome: {result.outcome_reason}")
    if result.workspace:
        console.print(f"workspace: {result.workspace.name} ({result.workspace.link})")
    table = Table("source", "state", "listed", "filed", "duplicates", "attempts", "reason")
    for p in result.sources:
        table.add_row(
            p.source,
            p.state,
            str(p.listed),
            str(p.filed),
            str(p.duplicates),
            str(p.attempts),
            p.reason,
        )
    console.print(table)
    if result.gaps and not result.finished:
        until = f" until {result.retry_until:%Y-%m-%d %H:%M} UTC" if result.retry_until else ""
        console.print(
            f"gaps: {', '.join(result.gaps)} (retried automatically{until}; now: "
            f"docflow case retry {case_type} {case_id} <source>)"
        )
    if audit:
        console.print(audit_table(result.audit))


@app.command("retry")
def retry(
    case_type: str,
    case_id: str,
    source: str,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Gather a source that failed again now (recorded for your API key's principal)."""

    async def go() -> UpdateAccepted:
        async with CasesApiClient(api_url, api_key) as client:
            return await client.retry_case_source(case_type, case_id, source)

    console.print(_run(go()).detail)
