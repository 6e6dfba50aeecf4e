"""`docflow ecm review create|status|decide` and `docflow ecm update`: work requested in ECM
through docflow's HTTP API (a review task on a document, a new version of a node). `register`
adds them to the `docflow ecm` group (the relay's commands live in `cli_ecm.py`).

Like every process operation, these go through the API with an API key: the key's system is
the requester (it gets the signed callbacks), and a decision is recorded for the key's person.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from docflow.models import UpdateAccepted
from docflow.models.ecm_requests import ReviewTaskStatus
from starter.api_client import DocflowApiClient
from starter.cli_output import audit_table

review = typer.Typer(
    name="review",
    help="Review tasks: people decide on a document; the decision becomes its ECM status.",
    no_args_is_help=True,
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key (its system is the requester)."),
]
System = Annotated[
    str | None,
    typer.Option(help="The requesting system (default: the only one your key acts for)."),
]


class EcmApiClient(DocflowApiClient):
    """The /v1/ecm routes of docflow's API."""

    async def request_review(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", "/v1/ecm/review-tasks", json=body)
        return answer

    async def review_status(self, system: str, request_id: str) -> ReviewTaskStatus:
        body = await self._call("GET", f"/v1/ecm/review-tasks/{system}/{request_id}")
        return ReviewTaskStatus.model_validate(body)

    async def decide_review(
        self, system: str, request_id: str, decision: str, comment: str
    ) -> UpdateAccepted:
        body = await self._call(
            "POST",
            f"/v1/ecm/review-tasks/{system}/{request_id}/decision",
            json={"decision": decision, "comment": comment},
        )
        return UpdateAccepted.model_validate(body)

    async def update_content(
        self, node_id: int, filename: str, content: bytes, form: dict[str, str]
    ) -> dict[str, Any]:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        answer: dict[str, Any] = await self._call(
            "POST",
            f"/v1/ecm/nodes/{node_id}/versions",
            data=form,
            files={"file": (filename, content, content_type)},
        )
        return answer


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the CLI's one error rendering (imported late)

    return run_command(coro)


@review.command("create")
def create(
    node: Annotated[int, typer.Argument(help="The document's node id in Content Server.")],
    request_id: Annotated[str, typer.Option(help="Your idempotency key for this request.")],
    title: Annotated[str, typer.Option(help="What the reviewers are asked.")],
    assignee: Annotated[list[str], typer.Option(help="A reviewer (repeatable, 1-20).")],
    version: Annotated[int | None, typer.Option(help="Default: the latest version.")] = None,
    instructions: str = "",
    quorum: Annotated[str, typer.Option(help="any or all.")] = "any",
    deadline: Annotated[str | None, typer.Option(help="ISO 8601 duration, e.g. P3D.")] = None,
    reminder_before: Annotated[str | None, typer.Option(help="e.g. PT24H.")] = None,
    escalation_to: Annotated[str | None, typer.Option(help="Decides alone after it.")] = None,
    escalation_window: Annotated[str | None, typer.Option(help="e.g. P1D.")] = None,
    proposer: Annotated[str | None, typer.Option(help="Who asked (never a reviewer).")] = None,
    system: System = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """Ask for a review task on a document (the same request id again: the same task)."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "node_id": node,
        "title": title,
        "instructions": instructions,
        "assignees": assignee,
        "quorum": quorum,
    }
    optional = {
        "system": system,
        "version": version,
        "deadline": deadline,
        "reminder_before": reminder_before,
        "escalation_to": escalation_to,
        "escalation_window": escalation_window,
        "proposer": proposer,
    }
    body |= {k: v for k, v in optional.items() if v is not None}

    async def go() -> dict[str, Any]:
        async with EcmApiClient(api_url, api_key) as client:
            return await client.request_review(body)

    answer = _run(go())
    status = answer["status"]
    console.print(
        f"[bold]{answer['workflow_id']}[/] {'created' if answer['created'] else 'already known'}"
        f": {status['state']} — {status['waiting_for']}"
    )
    console.print(f"status: {answer['status_url']}")


@review.command("status")
def status(
    system: Annotated[str, typer.Argument(help="The requesting system, e.g. SFDC.")],
    request_id: Annotated[str, typer.Argument(help="The request id.")],
    audit: Annotated[bool, typer.Option(help="Show the audit trail.")] = False,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """A review task: state, reviewers, decision and the status written to ECM."""

    async def go() -> ReviewTaskStatus:
        async with EcmApiClient(api_url, api_key) as client:
            return await client.review_status(system, request_id)

    task = _run(go())
    console.print(f"[bold]{task.business_key}[/] {task.state}: {task.waiting_for}")
    console.print(f"node {task.node_id} v{task.version or '?'} {task.document_name} — {task.title}")
    if task.stage:
        console.print(
            f"reviewers: {', '.join(task.stage.eligible)} ({task.stage.quorum}); "
            f"decided: {', '.join(task.stage.decided) or 'nobody yet'}"
        )
    if task.outcome:
        by = f" by {task.decided_by}" if task.decided_by else ""
        console.print(f"outcome: {task.outcome.value}{by} {task.comment or task.outcome_reason}")
    if task.status_written:
        console.print(f"ECM status: {json.dumps(task.status_written.values)}")
    if audit:
        console.print(audit_table(task.audit))


@review.command("decide")
def decide(
    system: Annotated[str, typer.Argument(help="The requesting system, e.g. SFDC.")],
    request_id: Annotated[str, typer.Argument(help="The request id.")],
    decision: Annotated[str, typer.Argument(help="approve, reject or request_changes.")],
    comment: str = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-alice-key",
) -> None:
    """Decide on a review task assigned to you (recorded for your API key's person)."""

    async def go() -> UpdateAccepted:
        async with EcmApiClient(api_url, api_key) as client:
            return await client.decide_review(system, request_id, decision, comment)

    accepted = _run(go())
    console.print(f"{decision} recorded: {accepted.detail} ({accepted.state})")


def update(
    node: Annotated[int, typer.Argument(help="The document's node id in Content Server.")],
    file: Annotated[Path, typer.Argument(help="The new version's file.", exists=True)],
    base_version: Annotated[
        int, typer.Option(help="The latest version you saw (a newer one in ECM: conflict).")
    ],
    request_id: Annotated[str, typer.Option(help="Your idempotency key for this update.")],
    metadata: Annotated[
        str | None, typer.Option(help='JSON {"<category>": {"<field>": value}}.')
    ] = None,
    system: System = None,
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-crm-key",
) -> None:
    """Add a new version of a document in ECM (the same request id again: the same result)."""
    form = {"base_version": str(base_version), "request_id": request_id}
    if metadata:
        form["metadata"] = metadata
    if system:
        form["system"] = system

    content = file.read_bytes()

    async def go() -> dict[str, Any]:
        async with EcmApiClient(api_url, api_key) as client:
            return await client.update_content(node, file.name, content, form)

    answer = _run(go())
    result = answer.get("result")
    if result is None:
        console.print(f"still running: {answer['status_url']}")
        return
    console.print(f"node {node}: {result['outcome']} — version {result['version']}")


def register(ecm: typer.Typer) -> None:
    """Add `review create|status|decide` and `update` to the `docflow ecm` group."""
    ecm.add_typer(review, name="review")
    ecm.command("update")(update)
