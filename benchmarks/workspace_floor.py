"""The floor of a business-object change: the receiver's verification, then the Content Server
client's `set_categories` called directly — no Temporal.

Mounted only in the benchmark's API process, beside the real receiver
(`POST /webhooks/business-objects/{system}`). The CRM simulator's events are pointed here
(`PUT /_control/events/url`) for the floor's half of the change runs, so the two paths differ
exactly by Temporal: signal-with-start, the workflow's task, the activity's task and its
bookkeeping. What the workflow keeps in its state (the object's workspace id) the floor keeps
in a dict the harness fills from the Content Server simulator's bindings.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, FastAPI, Path, Request
from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from activities import new_http_client
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.provisioning import flat_categories
from docflow.config.workspaces import WorkspaceMappings, category_values
from docflow.models.bounds import CALLER_INPUT
from docflow.models.workspaces import BusinessObjectRef
from docflow.settings import Settings
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, NotFound
from starter.api.receivers.business_objects import BusinessObjectMessage, EventRejected
from starter.api.schemas import CallbackAck
from starter.processes.workspaces import event_secret, is_mapped

FLOOR_EVENTS_PATH = "/bench/bare-business-object/{system}"
FLOOR_WORKSPACES_PATH = "/bench/bare-business-object/workspaces"
router = APIRouter(tags=["benchmarks"], include_in_schema=False)


@dataclass
class FloorState:
    """The floor's Content Server client (its own pool, as the worker has one) and what the
    workflows would hold: each object's workspace id."""

    http: httpx.AsyncClient
    client: ContentServerClient
    workspaces: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> FloorState:
        otcs = settings.content_server
        http = new_http_client()
        auth = OtcsTicketAuth(
            http,
            otcs.base_url,
            otcs.username,
            settings.secret(otcs.password),
            timeout_s=otcs.timeout_s,
        )
        return cls(http, ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s))


def _state(request: Request) -> FloorState:
    state: FloorState | None = getattr(request.app.state, "bench_workspace_floor", None)
    if state is None:
        state = FloorState.from_settings(api_context(request).settings)
        request.app.state.bench_workspace_floor = state
    return state


async def close(app: FastAPI) -> None:
    """Close the floor's HTTP pool if a run opened it."""
    state: FloorState | None = getattr(app.state, "bench_workspace_floor", None)
    if state is not None:
        with contextlib.suppress(Exception):
            await state.http.aclose()


@router.put(FLOOR_WORKSPACES_PATH)
async def floor_workspaces(workspaces: dict[str, int], request: Request) -> dict[str, int]:
    """`{"SFDC/Account/001...": workspace_id}`: merged into what the floor knows."""
    known = _state(request).workspaces
    known.update(workspaces)
    return {"known": len(known)}


@router.post(FLOOR_EVENTS_PATH)
async def floor_event(
    request: Request, system: str = Path(pattern=r"^[A-Za-z0-9_.-]{1,50}$")
) -> CallbackAck:
    """Verify and parse like the receiver, map the fields like the workflow's plan, then
    `set_categories` on the object's workspace and answer."""
    context = api_context(request)
    raw = await request.body()
    secret_ref = await event_secret(context.config, system)
    if secret_ref is None:
        raise NotFound(f"docflow takes no business-object events from system {system!r}")
    try:
        Webhook(context.settings.secret(secret_ref)).verify(raw, dict(request.headers))
    except WebhookVerificationError as exc:
        raise EventRejected(f"missing or invalid webhook-signature: {exc}") from None
    try:
        message = BusinessObjectMessage.model_validate_json(raw, context={CALLER_INPUT: True})
        change = message.data
        obj = BusinessObjectRef.model_validate(
            change.model_dump(include={"ext_system_id", "bo_type", "bo_id"}),
            context={CALLER_INPUT: True},
        )
    except ValidationError as exc:
        raise InvalidRequest(str(exc.errors()[0]["msg"])) from None
    if not await is_mapped(context.config, obj):
        return CallbackAck(status="ignored")
    state = _state(request)
    workspace_id = state.workspaces.get(obj.key)
    if workspace_id is None:
        raise NotFound(f"the floor knows no workspace of {obj.key}")
    mapping = (await context.config.current()).get(WorkspaceMappings).types[obj.type_key]
    values = flat_categories(mapping.category_id, category_values(mapping.attributes, change.data))
    if values:
        await state.client.set_categories(workspace_id, mapping.category_id, values)
    return CallbackAck(status="applied")
