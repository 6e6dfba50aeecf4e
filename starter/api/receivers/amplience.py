"""Amplience webhooks: verify `X-Amplience-Webhook-Signature` over the raw body first, then
signal-with-start the distribution of every item version the event approves.

401 for a bad signature, 404 when this environment takes no Amplience webhooks, 413 over the
limit, 422 for a malformed body, 200 `ignored` for an event that approves nothing here (every
other event of the hub's webhook), 503 (Retry-After) when Temporal cannot take it within the
receiver's deadline. Amplience documents no retries, so an approval it does not redeliver is
found again by the next approval of the item or by an operator (`docflow content distribute ITEM`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from activities.amplience.webhooks import SIGNATURE_HEADER, verify_signature
from docflow.config.bundle import BundleError
from docflow.config.distribution import ContentDistribution
from docflow.secrets import SecretResolutionError
from starter.api.context import api_context
from starter.api.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    error_responses,
)
from starter.api.receivers import MAX_EVENT_BYTES, NOT_TAKEN, RECEIVER_DEADLINE_S
from starter.api.schemas import CallbackAck
from starter.processes.base import TemporalUnavailable
from starter.processes.content import approval_of

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class AmplienceWebhook(BaseModel):
    """The envelope of every Amplience webhook (content-item events carry the item)."""

    sequenceId: int | None = None
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(
        min_length=1, max_length=128, examples=["dynamic-content.content-item.workflow.updated"]
    )
    requestId: str | None = Field(default=None, max_length=128)
    resource: str | None = Field(default=None, max_length=256)
    payload: dict[str, object] = Field(default_factory=dict)


class SignatureRejected(ApiError):
    status_code = 401
    code = "invalid_signature"


@router.post(
    "/amplience",
    summary="Amplience webhook (content approved or published)",
    description="Signed with the hub's webhook secret (`X-Amplience-Webhook-Signature`: "
    "base64 HMAC-SHA256 of the raw body). A content item moved into this environment's "
    "approval state (or a snapshot/edition published, where configured) starts or signals "
    "the item's distribution; duplicates and older versions collapse there. `ignored`: the "
    "event approves nothing here. 503 (Retry-After) when Temporal cannot take it now.",
    response_model=CallbackAck,
    responses=error_responses(
        401,
        404,
        413,
        422,
        503,
        examples=[
            SignatureRejected("missing or invalid X-Amplience-Webhook-Signature"),
            NotFound("this environment takes no Amplience webhooks"),
            PayloadTooLarge("event body too large"),
            InvalidRequest("body.id: Field required"),
            ServiceUnavailable(NOT_TAKEN),
        ],
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AmplienceWebhook"}}
            },
        }
    },
)
async def amplience_webhook(request: Request) -> CallbackAck:
    context = api_context(request)
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("event body too large")
    secret_ref = context.settings.amplience.webhook_secret
    if secret_ref is None:
        raise NotFound("this environment takes no Amplience webhooks")
    try:
        secret = context.settings.secret(secret_ref)
    except SecretResolutionError as exc:
        log.error("amplience.webhook_secret does not resolve: %s", exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret):
        raise SignatureRejected(f"missing or invalid {SIGNATURE_HEADER}")
    try:
        envelope = json.loads(raw)
        AmplienceWebhook.model_validate(envelope)
    except ValueError as exc:
        raise InvalidRequest(f"not an Amplience webhook: {_first_error(exc)}") from None
    try:
        config = (await context.config.current()).get(ContentDistribution)
    except BundleError as exc:
        log.error("configuration invalid, Amplience webhook not taken: %s", exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    try:
        approvals, why = approval_of(config, envelope, datetime.now(UTC))
    except ValidationError as exc:  # an id or version out of bounds
        raise InvalidRequest(f"not an Amplience approval: {_first_error(exc)}") from None
    if not approvals:
        log.info("amplience event %s (%s) ignored: %s", envelope["id"], envelope["name"], why)
        return CallbackAck(status="ignored")

    async def deliver() -> None:
        distributions = await context.content_distributions()
        for approval in approvals:
            await distributions.approve(approval)

    try:
        await asyncio.wait_for(deliver(), RECEIVER_DEADLINE_S)
    except (TemporalUnavailable, TimeoutError) as exc:
        log.warning("amplience event %s not taken: %s", envelope["id"], exc)
        raise ServiceUnavailable(NOT_TAKEN) from None
    for approval in approvals:
        log.info(
            "amplience event %s: item %s v%s approved",
            envelope["id"],
            approval.item_id,
            approval.version or "(latest published)",
        )
    return CallbackAck(status="accepted")


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"body.{where}: {first['msg']}"
    return str(exc)


OPENAPI_MODELS: list[type[BaseModel]] = [AmplienceWebhook]
