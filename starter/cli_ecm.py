"""`docflow ecm …`: the ECM event relay through the HTTP API — a document's relayed events and
messages, subscribers' health and recent attempts, replay, enable, recover, the audit poller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docflow.models.ecm_events import (
    DocumentEventsStatus,
    EndpointHealth,
    PollerStatus,
    RecoverResult,
    RelayMessage,
    ReplayResult,
)
from starter.api_client import DocflowApiClient

app = typer.Typer(
    help="ECM: events relayed to subscribed systems (documents, subscribers, recovery), "
    "review tasks and content updates requested in ECM.",
    no_args_is_help=True,
)
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="DOCFLOW_API_URL", help="docflow API base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key.")]
STATE_COLOURS = {"delivered": "green", "pending": "yellow", "failed": "red"}
HEALTH_COLOURS = {"healthy": "green", "failing": "yellow", "disabled": "red"}


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


async def _call(api_url: str, api_key: str, method: str, path: str, **kwargs: Any) -> Any:
    async with DocflowApiClient(api_url, api_key) as client:
        return await client.call(method, path, **kwargs)


def _messages_table(messages: list[RelayMessage], title: str) -> Table:
    table = Table("#", "event", "subscriber", "state", "attempts", "last answer", title=title)
    for m in messages:
        last = m.attempts[-1] if m.attempts else None
        answer = ""
        if last is not None:
            answer = f"{last.status_code or last.outcome} in {last.latency_ms} ms {last.excerpt}"
        colour = STATE_COLOURS.get(m.status, "white")
        table.add_row(
            str(m.seq),
            m.event_type,
            m.subscription,
            f"[{colour}]{m.status}[/]" + (f" (round {m.rounds})" if m.rounds > 1 else ""),
            str(m.tries),
            (m.reason or answer)[:80],
        )
    return table


@app.command()
def document(
    node_id: Annotated[int, typer.Argument(help="Content Server node id.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """A document's events (in the order relayed) and every message to a subscriber."""
    raw = _run(_call(api_url, api_key, "GET", f"/v1/ecm/documents/{node_id}"))
    status = DocumentEventsStatus.model_validate(raw)
    console.print(f"[bold]node {node_id}[/]: {status.summary.state}, {status.counts}")
    events = Table("#", "event", "version", "audit date", "source", "subscribers", "actions")
    for e in status.events:
        events.add_row(
            str(e.seq),
            e.type + (" [yellow](late)[/]" if e.late else ""),
            str(e.version or ""),
            e.audit_date,
            e.source,
            ", ".join(e.subscribers),
            ", ".join(e.actions),
        )
    console.print(events)
    console.print(_messages_table(status.messages, "messages"))


@app.command()
def replay(
    node_id: Annotated[int, typer.Argument(help="Content Server node id.")],
    subscription: Annotated[str, typer.Argument(help="The subscriber, e.g. erp-finance.")],
    message_id: Annotated[str, typer.Argument(help="The message (webhook-id), e.g. msg_…")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Deliver one message of a document again (a new round of its schedule)."""
    body = {"subscription": subscription, "message_id": message_id}
    raw = _run(_call(api_url, api_key, "POST", f"/v1/ecm/documents/{node_id}/replays", json=body))
    result = ReplayResult.model_validate(raw)
    console.print(f"replaying {', '.join(result.replayed) or 'nothing'} to {subscription}")


@app.command()
def subscribers(api_url: ApiUrl = "http://127.0.0.1:8100", api_key: ApiKey = "dev-ops-key") -> None:
    """Every subscriber of this environment and its endpoint's health."""
    found = _run(_call(api_url, api_key, "GET", "/v1/ecm/subscriptions"))
    table = Table("subscriber", "health", "since / why", "event types")
    for view in found:
        health = EndpointHealth.model_validate(view["health"])
        table.add_row(view["subscription"], *_health_cells(health), ", ".join(view["event_types"]))
    console.print(table)


def _health_cells(health: EndpointHealth) -> tuple[str, str]:
    colour = HEALTH_COLOURS[health.state]
    detail = ""
    if health.state == "failing" and health.failing_since:
        detail = f"failing since {health.failing_since:%Y-%m-%d %H:%M}: {health.last_failure}"
    elif health.state == "disabled":
        detail = health.disabled_reason
    return f"[{colour}]{health.state}[/]", detail[:100]


@app.command()
def subscriber(
    name: Annotated[str, typer.Argument(help="The subscriber, e.g. erp-finance.")],
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """One subscriber: its health and its recent messages with their attempts."""
    found = _run(_call(api_url, api_key, "GET", f"/v1/ecm/subscriptions/{name}"))
    health = EndpointHealth.model_validate(found["health"])
    state, detail = _health_cells(health)
    console.print(f"[bold]{name}[/]: {state} {detail}")
    messages = [RelayMessage.model_validate(m) for m in found["messages"]]
    console.print(_messages_table(messages, "recent messages"))


@app.command()
def enable(
    name: Annotated[str, typer.Argument(help="The disabled subscriber.")],
    comment: Annotated[str, typer.Option(help="Why it can be called again.")] = "",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Re-enable a disabled endpoint (then `recover` what failed while it was down)."""
    body = {"comment": comment}
    raw = _run(_call(api_url, api_key, "POST", f"/v1/ecm/subscriptions/{name}/enable", json=body))
    console.print(f"{name}: {EndpointHealth.model_validate(raw).state}")


@app.command()
def recover(
    name: Annotated[str, typer.Argument(help="The subscriber.")],
    since: Annotated[
        str, typer.Option(help="ISO time, or hours back ('6h'); failed at or after it.")
    ] = "24h",
    api_url: ApiUrl = "http://127.0.0.1:8100",
    api_key: ApiKey = "dev-ops-key",
) -> None:
    """Deliver again every message to the endpoint that failed since a time."""
    moment = _since(since)
    body = {"since": moment.isoformat()}
    raw = _run(_call(api_url, api_key, "POST", f"/v1/ecm/subscriptions/{name}/recover", json=body))
    result = RecoverResult.model_validate(raw)
    console.print(
        f"{name}: {result.messages} message(s) on {result.documents} document(s) delivered again"
    )


def _since(value: str) -> datetime:
    if value.endswith("h") and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(hours=int(value[:-1]))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("an ISO time (2026-12-07T08:00Z) or hours back (6h)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def poll(api_url: ApiUrl = "http://127.0.0.1:8100", api_key: ApiKey = "dev-ops-key") -> None:
    """Read the watched workspaces' audit trails now (starts the poller if needed)."""
    raw = _run(_call(api_url, api_key, "POST", "/v1/ecm/poller/polls", json={}))
    _show_poller(PollerStatus.model_validate(raw))


@app.command()
def poller(api_url: ApiUrl = "http://127.0.0.1:8100", api_key: ApiKey = "dev-ops-key") -> None:
    """The audit poller: cursor, polls, events handed on."""
    raw = _run(_call(api_url, api_key, "GET", "/v1/ecm/poller"))
    _show_poller(PollerStatus.model_validate(raw))


def _show_poller(status: PollerStatus) -> None:
    last = status.last
    console.print(
        f"audit poller: {status.polls} polls, {status.submitted} events handed on, "
        f"cursor {status.cursor or '-'}"
        + (f", last: {last.nodes} nodes in {last.workspaces} workspaces" if last else "")
        + (f" [red]failing: {status.failing}[/]" if status.failing else "")
    )
