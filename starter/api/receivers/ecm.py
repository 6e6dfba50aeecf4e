"""Content Server events (docflow's contract, Standard Webhooks): verify the signature with the
environment's ECM event secret first, then hand the event to its document's relay workflow.

401 for a bad signature (or a timestamp older than 5 minutes), 404 when this environment takes
no ECM webhooks, 413 over the limit, 422 for a malformed body, 200 `ignored` for an event type
this environment does not take, 503 (Retry-After) when Temporal cannot take it within the
receiver's deadline — the sender retries, and the document's workflow relays a retried event
once (node, event type, audit date). Events the sender never delivers are found by the audit
poller.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from docflow.config.bundle import BundleError
from docflow.config.ecm_events import EcmEvents
from docflow.models.bounds import CALLER_INPUT
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
from starter.processes.ecm_events import EcmWebhook, event_from_webhook

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/ecm",
    summary="Content Server event (docflow's ECM event contract)",
    description="A Standard Webhooks message signed with the environment's ECM event secret "
    "(`ecm-events.json` → `secret`): `{type, timestamp, data:{node, workspace?, audit:"
    "{event_type, audit_date}}}`. The document's relay workflow is signalled (and started on "
    "its first event); it relays each event once, in ECM's order, to the subscribed systems "
    "and starts the lifecycle actions its rules name. `ignored`: a type this environment does "
    "not take. 503 (Retry-After) when Temporal cannot take it now: send it again.",
    response_model=CallbackAck,
    responses=error_responses(
        401,
        404,
        413,
        422,
        503,
        examples=[
            EventRejected("missing or invalid webhook-signature"),
            NotFound("this environment takes no ECM webhooks"),
            PayloadTooLarge("event body too large"),
            InvalidRequest("body.data.audit: Field required"),
            ServiceUnavailable(NOT_TAKEN),
        ],
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EcmWebhook"}}
            },
        }
    },
)
async def ecm_event(request: Request) -> CallbackAck:
    context = api_context(request)
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("event body too large")
    try:
        config = (await context.config.current()).get(EcmEvents)
    except BundleError as exc:
        log.error("configuration invalid, ECM event not taken: %s", exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    if config.secret is None:
        raise NotFound("this environment takes no ECM webhooks")
    if len(raw) > config.max_event_bytes:
        raise PayloadTooLarge(f"event body over {config.max_event_bytes} bytes")
    try:
        secret = context.settings.secret(config.secret)
    except SecretResolutionError as exc:
        log.error("the ECM event secret does not resolve: %s", exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    try:
        Webhook(secret).verify(raw, dict(request.headers))
    except WebhookVerificationError as exc:
        raise EventRejected(f"missing or invalid webhook-signature: {exc}") from None
    except UnicodeDecodeError:  # what no signature of ours covers: not UTF-8 at all
        raise EventRejected("invalid webhook-signature: the body is not UTF-8") from None
    try:
        body = json.loads(raw)
        message = EcmWebhook.model_validate(body, context={CALLER_INPUT: True})
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        event = event_from_webhook(body, message, request.headers["webhook-id"], datetime.now(UTC))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(f"body.{where}: {first['msg']}") from None
    except ValueError as exc:
        raise InvalidRequest(f"not JSON: {exc}") from None
    if event.type not in config.accept:
        log.info("ECM event %s (%s) ignored: not taken here", event.message_id, event.type)
        return CallbackAck(status="ignored")

    async def deliver() -> None:
        relay = await context.ecm_relay()
        await relay.submit(event)

    try:
        await asyncio.wait_for(deliver(), RECEIVER_DEADLINE_S)
    except (TemporalUnavailable, TimeoutError) as exc:
        log.warning("ECM event %s not taken: %s", event.message_id, exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    log.info(
        "ECM event %s: %s of node %s (%s) taken",
        event.message_id,
        event.type,
        event.node.id,
        event.audit_date,
    )
    return CallbackAck(status="accepted")


OPENAPI_MODELS: list[type[BaseModel]] = [EcmWebhook]
