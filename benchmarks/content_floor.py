"""The floor of a content distribution: the Amplience receiver's verification, then the
planning activity's read and `plan_for`, then every message signed and POSTed to its target
with the same WebhookSender — no Temporal.

Mounted only in the benchmark's API process, beside the real receiver
(`POST /webhooks/amplience`). The Amplience simulator's webhooks are pointed here
(`PUT /_control/webhook`) for the floor's halves of the throughput runs, so the two paths
differ by Temporal: signal-with-start, the workflow's tasks, the activities' tasks and their
bookkeeping (and the workflow's report back to Amplience, which the floor leaves out). The
floor delivers inline, in parallel, once: no retry schedule (its targets are up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi import APIRouter, FastAPI, Request

from activities import new_http_client
from activities.amplience.client import AmplienceClient
from activities.amplience.distribution import plan_for
from activities.amplience.webhooks import SIGNATURE_HEADER, verify_signature
from activities.http.webhooks import WebhookSender
from activities.targets.registry import TargetRegistry
from docflow.config.distribution import ContentDistribution
from docflow.models.content import PlanDistributionInput, TargetMessage
from docflow.settings import Settings
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, NotFound, ServiceUnavailable
from starter.api.receivers.amplience import SignatureRejected
from starter.api.schemas import CallbackAck
from starter.processes.content import approval_of

FLOOR_AMPLIENCE_PATH = "/bench/bare-amplience"
router = APIRouter(tags=["benchmarks"], include_in_schema=False)


@dataclass
class FloorState:
    """The floor's own HTTP pool (as the worker has one), Amplience client and targets."""

    http: httpx.AsyncClient
    amplience: AmplienceClient
    registry: TargetRegistry

    @classmethod
    def from_settings(cls, settings: Settings) -> FloorState:
        http = new_http_client()
        return cls(http, AmplienceClient.from_settings(settings, http), TargetRegistry(settings))


def _state(request: Request) -> FloorState:
    state: FloorState | None = getattr(request.app.state, "bench_content_floor", None)
    if state is None:
        state = FloorState.from_settings(api_context(request).settings)
        request.app.state.bench_content_floor = state
    return state


async def close(app: FastAPI) -> None:
    """Close the floor's HTTP pool if a run opened it."""
    state: FloorState | None = getattr(app.state, "bench_content_floor", None)
    if state is not None:
        with contextlib.suppress(Exception):
            await state.http.aclose()


async def _send(state: FloorState, settings: Settings, message: TargetMessage) -> None:
    """What `deliver_to_target` does on a first attempt: sign with the target's secret and
    POST `{type, timestamp, data}`; `webhook-id` is the idempotency key."""
    target = await state.registry.target(message.target)
    sender = WebhookSender(
        state.http,
        settings.secret(target.secret),
        system=f"target:{target.target}",
        timeout_s=target.timeout_s,
    )
    body = json.dumps(
        {
            "type": message.event_type,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": message.payload,
        }
    )
    await sender.send(target.url, message.idempotency_key, body)


@router.post(FLOOR_AMPLIENCE_PATH)
async def floor_amplience(request: Request) -> CallbackAck:
    """Verify and parse like the receiver, read and plan like `plan_distribution`, deliver
    every message like `deliver_to_target`, then answer."""
    context = api_context(request)
    raw = await request.body()
    secret_ref = context.settings.amplience.webhook_secret
    if secret_ref is None:
        raise NotFound("this environment takes no Amplience webhooks")
    secret = context.settings.secret(secret_ref)
    if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret):
        raise SignatureRejected(f"missing or invalid {SIGNATURE_HEADER}")
    try:
        envelope = json.loads(raw)
    except ValueError:
        raise InvalidRequest("not an Amplience webhook") from None
    bundle = await context.config.current()
    config = bundle.get(ContentDistribution)
    approvals, _ = approval_of(config, envelope, datetime.now(UTC))
    if not approvals:
        return CallbackAck(status="ignored")
    state = _state(request)
    for approval in approvals:
        if approval.version is None:
            raise InvalidRequest("the floor distributes named versions only")
        item = await state.amplience.get_version(approval.item_id, approval.version)
        plan = plan_for(
            config,
            item,
            PlanDistributionInput(
                item_id=approval.item_id,
                version=approval.version,
                event_name=approval.event_name,
                state_id=approval.state_id,
            ),
            config_version=bundle.version,
        )
        try:
            await asyncio.gather(*(_send(state, context.settings, m) for m in plan.messages))
        except Exception as exc:  # a target refused or is down: the floor does not retry
            raise ServiceUnavailable(f"floor delivery failed: {exc}") from None
    return CallbackAck(status="applied")
