"""Business-object events from CRM/ERP (the xConnector contract, Standard Webhooks): verify the
sender with its registered secret first, then signal-with-start the object's workflow.

The same endpoint takes the system's `process.completed` / `process.failed` events: a process
a lifecycle action started (its `data.reference` is the action's workflow id) has finished;
the action is signalled `process_result` (a hint it confirms), any other reference is ignored.

401 for a bad signature, 404 for a system docflow takes no events from, 413 over the limit,
422 for a malformed body, 503 (with Retry-After) when Temporal cannot take the event within
the receiver's deadline — Standard Webhooks senders retry every non-2xx answer, and the
workflow applies a retried event once (webhook-id) and a stale one never (version).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from docflow.models.bounds import CALLER_INPUT
from docflow.models.business_processes import PROCESS_EVENT_TYPES, ProcessResultHint
from docflow.models.workspaces import (
    BusinessObjectEvent,
    BusinessObjectEventKind,
    BusinessObjectRef,
    Fields,
)
from docflow.secrets import SecretResolutionError
from starter.api.context import api_context
from starter.api.errors import (
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    error_responses,
)
from starter.api.receivers import (
    MAX_EVENT_BYTES,
    NOT_TAKEN,
    RECEIVER_DEADLINE_S,
)
from starter.api.receivers import StandardWebhookRejected as EventRejected
from starter.api.schemas import CallbackAck
from starter.processes.base import TemporalUnavailable
from starter.processes.ecm_actions import LifecycleActions, is_action_reference
from starter.processes.workspaces import event_secret, is_mapped

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

EVENT_TYPES = {f"business_object.{kind.value}": kind for kind in BusinessObjectEventKind}


class BusinessObjectChange(BaseModel):
    ext_system_id: str
    bo_type: str
    bo_id: str
    version: int = Field(ge=0, description="Monotonic per object (or modification time, ms).")
    occurred_at: datetime
    data: Fields = Field(default_factory=dict, description="The object's fields (a snapshot).")


class BusinessObjectMessage(BaseModel):
    """`{type, timestamp, data}` — type `business_object.created|updated|status_changed|deleted`."""

    type: str = Field(max_length=100, examples=["business_object.updated"])
    timestamp: datetime
    data: BusinessObjectChange


class ProcessResult(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    process: str = Field(default="", max_length=64)
    reference: str = Field(max_length=200)
    status: Literal["completed", "failed"]


class ProcessResultMessage(BaseModel):
    """`{type, timestamp, data}` — type `process.completed|failed`: a process a lifecycle
    action started has finished."""

    type: str = Field(max_length=100, examples=["process.completed"])
    timestamp: datetime
    data: ProcessResult


System = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.-]{1,50}$", description="Registered source system id.")
]


@router.post(
    "/business-objects/{system}",
    summary="Business-object event from a CRM/ERP (xConnector contract)",
    description="A Standard Webhooks message signed with the system's `event_secret` "
    "(source-systems.json). The object's workspace process is signalled (and started if it "
    "is the object's first event). `accepted`: durably with the process; `ignored`: not a "
    "business-object type, no workspace mapping for the object's type, or the object's "
    "workspace is closed. 503 (Retry-After) when Temporal cannot take it now: send it again; "
    "a repeat (same webhook-id) is applied once and an older version never overwrites a newer. "
    "`process.completed|failed` events (ProcessResultMessage) are handed to the lifecycle "
    "action their `data.reference` names (`ignored`: no such action, or it has ended).",
    response_model=CallbackAck,
    responses=error_responses(
        401,
        404,
        413,
        422,
        503,
        examples=[
            EventRejected("missing or invalid webhook-signature"),
            NotFound("docflow takes no business-object events from system 'X'"),
            PayloadTooLarge("event body too large"),
            InvalidRequest("body.data.version: Field required"),
            ServiceUnavailable(NOT_TAKEN),
        ],
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/BusinessObjectMessage"}
                }
            },
        }
    },
)
async def business_object_event(system: System, request: Request) -> CallbackAck:
    context = api_context(request)
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("event body too large")
    secret_ref = await event_secret(context.config, system)
    if secret_ref is None:
        raise NotFound(f"docflow takes no business-object events from system {system!r}")
    try:
        secret = context.settings.secret(secret_ref)
    except SecretResolutionError as exc:
        log.error("event secret of %s does not resolve: %s", system, exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    try:
        Webhook(secret).verify(raw, dict(request.headers))
    except WebhookVerificationError as exc:
        raise EventRejected(f"missing or invalid webhook-signature: {exc}") from None
    if _message_type(raw) in PROCESS_EVENT_TYPES:
        return await _process_result(request, system, raw)
    try:
        message = BusinessObjectMessage.model_validate_json(raw, context={CALLER_INPUT: True})
        change = message.data
        obj = BusinessObjectRef.model_validate(
            change.model_dump(include={"ext_system_id", "bo_type", "bo_id"}),
            context={CALLER_INPUT: True},
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(f"body.{where}: {first['msg']}") from None
    if obj.ext_system_id != system:
        raise InvalidRequest(f"an event of {obj.ext_system_id!r} was posted for {system!r}")
    kind = EVENT_TYPES.get(message.type)
    event_id = request.headers["webhook-id"]
    if kind is None:
        log.info(
            "event %s (%s) from %s ignored: not a business-object event",
            event_id,
            message.type,
            system,
        )
        return CallbackAck(status="ignored")
    if not await is_mapped(context.config, obj):
        log.info("event %s for %s ignored: no workspace mapping", event_id, obj.key)
        return CallbackAck(status="ignored")
    event = BusinessObjectEvent(
        event_id=event_id[:200],
        kind=kind,
        object=obj,
        version=change.version,
        occurred_at=change.occurred_at,
        data=change.data,
    )

    async def deliver() -> str:
        objects = await context.business_objects()
        return await objects.deliver_event(event)

    try:
        outcome = await asyncio.wait_for(deliver(), RECEIVER_DEADLINE_S)
    except (TemporalUnavailable, TimeoutError) as exc:
        # Whether the signal got through is unknown: the retry is deduplicated by webhook-id.
        log.warning("event %s for %s not taken: %s", event_id, obj.key, exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    log.info("event %s %s v%d for %s %s", event_id, kind.value, event.version, obj.key, outcome)
    return CallbackAck(status=outcome)


def _message_type(raw: bytes) -> str | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None  # malformed: answered by the business-object path (422)
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


async def _process_result(request: Request, system: str, raw: bytes) -> CallbackAck:
    """A verified `process.completed|failed`: signal the lifecycle action it names."""
    context = api_context(request)
    try:
        result = ProcessResultMessage.model_validate_json(raw).data
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(f"body.{where}: {first['msg']}") from None
    event_id = request.headers["webhook-id"][:200]
    if not is_action_reference(result.reference):
        log.info("event %s from %s ignored: %r is no action", event_id, system, result.reference)
        return CallbackAck(status="ignored")
    hint = ProcessResultHint(
        system=system,
        event_id=event_id,
        process_id=result.id,
        reference=result.reference,
        status=result.status,
    )

    async def deliver() -> str:
        actions = LifecycleActions(await context.temporal.client(), context.settings)
        return await actions.deliver_result(hint)

    try:
        outcome = await asyncio.wait_for(deliver(), RECEIVER_DEADLINE_S)
    except (TemporalUnavailable, TimeoutError) as exc:
        log.warning("event %s for %s not taken: %s", event_id, result.reference, exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    log.info(
        "event %s %s %s for %s %s", event_id, result.status, result.id, hint.reference, outcome
    )
    return CallbackAck(status=outcome)


OPENAPI_MODELS: list[type[BaseModel]] = [BusinessObjectMessage, ProcessResultMessage]
