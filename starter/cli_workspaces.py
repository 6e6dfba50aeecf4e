"""`docflow workspace …`: business workspaces through the HTTP API — the sync process of a
business object, portal requests, documents filed for an object, repairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from docflow.models.workspaces import FiledDocument, ProvisionAnswer, WorkspaceStatus
from starter.api_client import DocflowApiClient
from starter.cli_output import audit_table

app = typer.Typer(
    help="Business workspaces: provisioning and sync per business object, portal requests, "
    "documents filed for an object.",
    no_args_is_help=True,
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key.")]
ObjectArg = Annotated[
    str,
    typer.Argument(
        help="The business object: EXT_SYSTEM/BO_TYPE/BO_ID, e.g. SFDC/Account/0015ACME."
    ),
]


def _path(business_object: str) -> str:
    parts = business_object.split("/")
    if len(parts) != 3 or not all(parts):
        raise typer.BadParameter("write the business object as EXT_SYSTEM/BO_TYPE/BO_ID")
    return "/v1/business-objects/" + "/".join(parts)


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


@app.command()
def status(
    business_object: ObjectArg,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = True,
) -> None:
    """The object's workspace, the source version applied, and what happened."""
    path = _path(business_object)

    async def go() -> WorkspaceStatus:
        async with DocflowApiClient(api_url, api_key) as client:
            return WorkspaceStatus.model_validate(await client.call("GET", path))

    result: WorkspaceStatus = _run(go())
    workspace = result.workspace
    console.print(f"[bold]{result.object.key}[/]: {result.state}")
    console.print(
        f"workspace: {workspace.workspace_id} '{workspace.name}' ({workspace.how}) {workspace.link}"
        if workspace
        else "workspace: not provisioned yet"
    )
    console.print(
        f"source version applied: {result.applied_version} · changes applied {result.applied}, "
        f"ignored {result.ignored}"
    )
    console.print(f"waiting for: {result.waiting_for}")
    if result.outcome_reason:
        console.print(f"outcome: {result.outcome_reason}")
    if audit:
        console.print(audit_table(result.audit))


@app.command()
def request(
    request_type: Annotated[str, typer.Argument(help="onboarding, legal_matter, ...")],
    request_id: Annotated[str, typer.Argument(help="The portal's request id.")],
    field: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="NAME=VALUE, repeatable.")
    ] = None,
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="ROLE=MEMBER, repeatable.")
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-portal-key",
) -> None:
    """Request a structured workspace (as a portal does); prints its reference."""
    fields = dict(_pair(f, "--field") for f in field or [])
    roles: dict[str, list[str]] = {}
    for role, who in (_pair(m, "--member") for m in member or []):
        roles.setdefault(role, []).append(who)
    body = {
        "request_type": request_type,
        "request_id": request_id,
        "fields": fields,
        "members": [{"role": r, "members": m} for r, m in roles.items()],
    }

    async def go() -> ProvisionAnswer:
        async with DocflowApiClient(api_url, api_key) as client:
            answer = await client.call("POST", "/v1/workspace-requests", json=body)
            return ProvisionAnswer.model_validate(answer)

    answer: ProvisionAnswer = _run(go())
    console.print_json(answer.model_dump_json())


@app.command("file")
def file_document(
    business_object: ObjectArg,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The document.")],
    document_type: Annotated[str, typer.Option("--type", help="contract, drawing, ...")],
    source_record: Annotated[str | None, typer.Option(help="The record to update.")] = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """File a document into the object's workspace (a new version if its name exists)."""
    url = _path(business_object) + "/documents"
    filing = {"document_type": document_type, "source_record": source_record}

    async def go() -> FiledDocument:
        async with DocflowApiClient(api_url, api_key) as client:
            body = await client.call(
                "POST",
                url,
                files={"file": (path.name, path.read_bytes(), "application/pdf")},
                data={"filing": json.dumps(filing)},
            )
            return FiledDocument.model_validate(body)

    filed: FiledDocument = _run(go())
    console.print_json(filed.model_dump_json())


@app.command()
def repair(
    business_object: ObjectArg,
    action: Annotated[str, typer.Argument(help="retry or abandon")],
    comment: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")] = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Retry (after fixing the cause) or abandon a workspace step that gave up."""
    url = _path(business_object) + "/repairs"

    async def go() -> Any:
        async with DocflowApiClient(api_url, api_key) as client:
            return await client.call("POST", url, json={"action": action, "comment": comment})

    console.print_json(json.dumps(_run(go())))


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{option} takes NAME=VALUE, got {text!r}")
    return name, value
