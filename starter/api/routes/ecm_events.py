"""ECM event relay routes: a document's relayed events and messages (every attempt), replaying
one message, the subscribers (health, recent messages and their attempts), re-enabling an
endpoint and recovering its failed messages since a time, and the audit poller.

Callers acting for `OTCS` (the ECM integration team) or for everything (support) see the
relay; others get 404. Replays, enabling and recovery need `processes:correct`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from docflow.models.ecm_events import (
    DocumentEventsStatus,
    EnableRequest,
    EndpointHealth,
    PollerStatus,
    RecoverRequest,
    RecoverResult,
    RelayMessage,
    ReplayRequest,
    ReplayResult,
)
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, NotFound, error_responses
from starter.api.uploads import json_body, json_request_body
from starter.processes.ecm_events import EcmRelay

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/ecm", tags=["ECM event relay"])
SOURCE_SYSTEM = "OTCS"
MAX_RECOVERY = timedelta(days=90)

NodeId = Annotated[int, Path(ge=1, le=2**53, examples=[100123])]
SubscriptionName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["erp-finance"])]


class ReplayBody(BaseModel):
    """One message of the document to deliver again (any state, same webhook-id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"subscription": "erp-finance", "message_id": "msg_0a1b2c3d4e5f"}]
        },
    )

    subscription: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    message_id: str = Field(min_length=1, max_length=200)


class EnableBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "receiver fixed"}]}
    )

    comment: str = Field(default="", max_length=500)


class RecoverBody(BaseModel):
    """Deliver again every message to the endpoint that failed since `since`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"since": "2026-12-07T08:00:00Z"}]}
    )

    since: datetime


class SubscriberView(BaseModel):
    subscription: str
    description: str
    event_types: list[str]
    enabled_in_config: bool
    health: EndpointHealth


class SubscriberDetail(SubscriberView):
    messages: list[RelayMessage] = Field(
        description="Messages to it across the documents most recently relayed (newest first)."
    )


def _visible(principal: Principal, what: str) -> None:
    if not principal.acts_for(SOURCE_SYSTEM):
        raise NotFound(f"no ECM relay for {what}")


async def _relay(request: Request) -> EcmRelay:
    return await api_context(request).ecm_relay()


Relay = Annotated[EcmRelay, Depends(_relay)]


@router.get(
    "/documents/{node_id}",
    summary="A document's relayed events and messages",
    description="Every event taken in for the document (source, audit date, the rules' version, "
    "subscribers and actions; duplicates counted), and every message to a subscriber with its "
    "attempts (status, latency, response excerpt), state and next attempt.",
    response_model=DocumentEventsStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def document(
    node_id: NodeId,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    relay: Relay,
) -> DocumentEventsStatus:
    _visible(principal, f"node {node_id}")
    return await relay.document(node_id)


@router.post(
    "/documents/{node_id}/replays",
    summary="Deliver one message again",
    description="The message runs a new round of its subscriber's schedule with the same "
    "webhook-id (the receiver dedupes). The document's order per subscriber is kept.",
    response_model=ReplayResult,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("ReplayBody"),
)
async def replay(
    node_id: NodeId,
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    relay: Relay,
) -> ReplayResult:
    _visible(principal, f"node {node_id}")
    body = await json_body(request, ReplayBody)
    result = await relay.replay(
        node_id,
        ReplayRequest(
            actor=principal.subject, subscription=body.subscription, message_id=body.message_id
        ),
    )
    log.info("replay of %s to %s by %s", body.message_id, body.subscription, principal.subject)
    return result


@router.get(
    "/subscriptions",
    summary="Subscribers and their health",
    description="Every subscription of this environment with its endpoint's health: healthy, "
    "failing (since when, last failure) or disabled (when, why).",
    response_model=list[SubscriberView],
    responses=error_responses(401, 403, 404, 503),
)
async def subscriptions(
    principal: Annotated[Principal, Depends(require(Scope.READ))], relay: Relay
) -> list[SubscriberView]:
    _visible(principal, "subscriptions")
    config = await relay.config()
    return [
        SubscriberView(
            subscription=name,
            description=sub.description,
            event_types=sub.event_types,
            enabled_in_config=sub.enabled,
            health=await relay.health(name),
        )
        for name, sub in config.subscriptions.items()
    ]


async def _known(relay: EcmRelay, name: str) -> SubscriberView:
    config = await relay.config()
    sub = config.subscriptions.get(name)
    if sub is None:
        raise NotFound(f"no subscription {name!r} in {config.environment}")
    return SubscriberView(
        subscription=name,
        description=sub.description,
        event_types=sub.event_types,
        enabled_in_config=sub.enabled,
        health=await relay.health(name),
    )


@router.get(
    "/subscriptions/{name}",
    summary="One subscriber: health and recent messages with every attempt",
    response_model=SubscriberDetail,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def subscription(
    name: SubscriptionName,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    relay: Relay,
    limit: Annotated[int, Query(ge=1, le=50)] = 50,
) -> SubscriberDetail:
    _visible(principal, name)
    view = await _known(relay, name)
    return SubscriberDetail(**view.model_dump(), messages=await relay.messages_to(name, limit))


@router.post(
    "/subscriptions/{name}/enable",
    summary="Re-enable a disabled endpoint",
    description="The endpoint is healthy again for the relay (`endpoint.enabled` is emitted). "
    "Messages that failed while it was down are delivered by a recovery.",
    response_model=EndpointHealth,
    responses=error_responses(401, 403, 404, 413, 422, 503),
    openapi_extra=json_request_body("EnableBody"),
)
async def enable(
    name: SubscriptionName,
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    relay: Relay,
) -> EndpointHealth:
    _visible(principal, name)
    await _known(relay, name)
    body = await json_body(request, EnableBody)
    health = await relay.enable(name, EnableRequest(actor=principal.subject, comment=body.comment))
    log.info("subscription %s enabled by %s", name, principal.subject)
    return health


@router.post(
    "/subscriptions/{name}/recover",
    summary="Deliver again every message to an endpoint that failed since a time",
    description="Each document with failed messages to the endpoint (failed at or after "
    "`since`) runs them again, in its order. The endpoint must be enabled (409 otherwise). "
    "At most 90 days back.",
    response_model=RecoverResult,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("RecoverBody"),
)
async def recover(
    name: SubscriptionName,
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    relay: Relay,
) -> RecoverResult:
    _visible(principal, name)
    await _known(relay, name)
    body = await json_body(request, RecoverBody)
    since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
    if since < datetime.now(UTC) - MAX_RECOVERY:
        raise InvalidRequest("since: at most 90 days back")
    result = await relay.recover(name, RecoverRequest(actor=principal.subject, since=since))
    log.info(
        "recovery of %s since %s by %s: %d messages on %d documents",
        name,
        since.isoformat(),
        principal.subject,
        result.messages,
        result.documents,
    )
    return result


@router.get(
    "/poller",
    summary="The audit poller: cursor, polls, events handed on",
    response_model=PollerStatus,
    responses=error_responses(401, 403, 404, 503),
)
async def poller(
    principal: Annotated[Principal, Depends(require(Scope.READ))], relay: Relay
) -> PollerStatus:
    _visible(principal, "the audit poller")
    return await relay.poller()


@router.post(
    "/poller/polls",
    summary="Poll the audit trail now (starts the poller if it is not running)",
    status_code=202,
    response_model=PollerStatus,
    responses=error_responses(401, 403, 404, 503),
)
async def poll_now(
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))], relay: Relay
) -> PollerStatus:
    _visible(principal, "the audit poller")
    await relay.start_poller()
    await relay.poll_now()
    return await relay.poller()


OPENAPI_MODELS: list[type[BaseModel]] = [ReplayBody, EnableBody, RecoverBody]
