"""The floor of the ECM event relay: the receiver's verification and parsing, a bare Temporal
signal-with-start per event, then one signed POST per subscriber — no relay workflow.

Mounted only in the benchmark's API process, beside the real receiver (`POST /webhooks/ecm`).
The load generator sends the same signed webhooks here for the floor's halves, so the two
paths differ by the relay: the document workflow's tasks and hold, `plan_ecm_event`, one
`relay_to_subscriber` activity per subscriber and their bookkeeping. The floor's
signal-with-start goes to `EcmFloorWorkflow` (`benchmarks.floor`, a workflow that only
counts its signals, on the floor worker's task queue), with the same arguments the intake
gives the real one; its subscribers are the bundle's (`subscribers_for`, as the planning
activity decides) and its POSTs are made with the same `signed_by` sender, the
subscriptions' secrets and endpoints, in parallel, inline, once (its subscribers are up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from temporalio.common import WorkflowIDReusePolicy

from activities import new_http_client
from activities.content_server.events import subject_of
from activities.http.webhooks import signed_by
from activities.subscribers.registry import SubscriberRegistry
from benchmarks.floor import ECM_FLOOR_SIGNAL, ECM_FLOOR_WORKFLOW, FLOOR_TASK_QUEUE
from docflow.config.ecm_events import EcmEvents
from docflow.models.bounds import CALLER_INPUT
from docflow.models.ecm_events import DocumentEventsInput, EcmEvent
from docflow.settings import Settings
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, NotFound, ServiceUnavailable
from starter.api.receivers.ecm import EventRejected
from starter.api.schemas import CallbackAck
from starter.processes.ecm_events import EcmWebhook, event_from_webhook

FLOOR_ECM_PATH = "/bench/bare-ecm"
router = APIRouter(tags=["benchmarks"], include_in_schema=False)


@dataclass
class FloorState:
    """The floor's own HTTP pool (as the worker has one), registry and per-node sequence."""

    http: httpx.AsyncClient
    registry: SubscriberRegistry
    sequence: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> FloorState:
        return cls(new_http_client(), SubscriberRegistry(settings))


def _state(request: Request) -> FloorState:
    state: FloorState | None = getattr(request.app.state, "bench_ecm_floor", None)
    if state is None:
        state = FloorState.from_settings(api_context(request).settings)
        request.app.state.bench_ecm_floor = state
    return state


async def close(app: FastAPI) -> None:
    """Close the floor's HTTP pool if a run opened it."""
    state: FloorState | None = getattr(app.state, "bench_ecm_floor", None)
    if state is not None:
        with contextlib.suppress(Exception):
            await state.http.aclose()


def _payload(event: EcmEvent, seq: int) -> dict[str, object]:
    """The relay's message body (workflows.ecm_events `_payload`): the same bytes to sign."""
    return {
        "node": event.node.model_dump(),
        "workspace": event.workspace.model_dump() if event.workspace else None,
        "audit": {"event_type": event.audit_event_type, "audit_date": event.audit_date},
        **({"details": event.details} if event.details else {}),
        "sequence": seq,
        "source": event.source,
    }


async def _send(
    state: FloorState, settings: Settings, name: str, event: EcmEvent, seq: int
) -> None:
    """What one `relay_to_subscriber` attempt does: sign with the subscription's secret and
    POST `{type, timestamp, data}`; webhook-id is the event's message id."""
    subscriber = await state.registry.subscriber(name)
    sender = signed_by(
        state.http,
        settings.secret,
        subscriber.secret,
        owner=f"subscription {name!r}",
        system=f"subscriber:{name}",
        timeout_s=subscriber.timeout_s,
    )
    body = json.dumps(
        {
            "type": event.type,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": _payload(event, seq),
        }
    )
    await sender.send(subscriber.url, f"msg_{event.key_digest}", body)


@router.post(FLOOR_ECM_PATH)
async def floor_ecm(request: Request) -> CallbackAck:
    """Verify and parse like `POST /webhooks/ecm`, signal-with-start a bare workflow, POST to
    every subscriber like `relay_to_subscriber`, then answer."""
    context = api_context(request)
    raw = await request.body()
    config = (await context.config.current()).get(EcmEvents)
    if config.secret is None:
        raise NotFound("this environment takes no ECM webhooks")
    try:
        Webhook(context.settings.secret(config.secret)).verify(raw, dict(request.headers))
    except WebhookVerificationError as exc:
        raise EventRejected(f"missing or invalid webhook-signature: {exc}") from None
    try:
        body = json.loads(raw)
        message = EcmWebhook.model_validate(body, context={CALLER_INPUT: True})
        event = event_from_webhook(body, message, request.headers["webhook-id"], datetime.now(UTC))
    except (ValidationError, ValueError) as exc:
        raise InvalidRequest(f"not an ECM event: {exc}"[:300]) from None
    if event.type not in config.accept:
        return CallbackAck(status="ignored")
    client = await context.temporal.client()
    await client.start_workflow(
        ECM_FLOOR_WORKFLOW,
        DocumentEventsInput(
            node_id=event.node.id,
            environment=context.settings.profile,
            hold_s=config.ordering.hold_s,
        ),
        id=f"ecm-floor:{event.node.id}",
        task_queue=FLOOR_TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal=ECM_FLOOR_SIGNAL,
        start_signal_args=[event],
        rpc_timeout=timedelta(seconds=5),
    )
    state = _state(request)
    seq = state.sequence[event.node.id] = state.sequence.get(event.node.id, 0) + 1
    subscribers = config.subscribers_for(subject_of(event))
    try:
        await asyncio.gather(
            *(_send(state, context.settings, name, event, seq) for name in subscribers)
        )
    except Exception as exc:  # a subscriber refused or is down: the floor does not retry
        raise ServiceUnavailable(f"floor delivery failed: {exc}") from None
    return CallbackAck(status="applied")
