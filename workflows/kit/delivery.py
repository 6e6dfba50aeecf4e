"""Outbound delivery: one signed message on its target's schedule, dead-letter, fan-out.

Rules:
- a message goes to a configured target id (the activity resolves endpoint and secret from
  the registry), with its idempotency key as webhook-id, so a retry is never applied twice;
- the schedule is the target's preset (Standard Webhooks: immediately, then backing off
  for about three days); past it the message is dead-lettered — the caller records it and
  tells support — it never fails the process;
- many or slow targets are delivered by one `DeliveryWorkflow` child each (`fan_out`): each
  delivery has its own history and visibility, one slow target holds back no other, and a
  dead-lettered child waits for an operator's `redeliver` without keeping the parent open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from workflows.kit.calls import GaveUp, call

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from docflow.models.delivery import DeliveryResult, OutboundMessage


async def deliver(
    activity: Callable[..., Awaitable[Any]],
    message: Any,
    options: CallOptions,
    *,
    target: str,
    idempotency_key: str,
    summary: str,
) -> DeliveryResult:
    """Deliver once on the preset's schedule; a give-up comes back as a dead letter."""
    try:
        await call(activity, message, options, summary=summary)
    except GaveUp as failure:
        return DeliveryResult(
            target=target,
            idempotency_key=idempotency_key,
            delivered=False,
            reason=failure.reason,
            finished_at=workflow.now(),
        )
    return DeliveryResult(
        target=target, idempotency_key=idempotency_key, delivered=True, finished_at=workflow.now()
    )


def delivery_workflow_id(message: OutboundMessage) -> str:
    return f"delivery/{message.target}/{message.idempotency_key}"


async def fan_out(
    messages: list[OutboundMessage],
    *,
    task_queue: str | None = None,
    redelivery_window: timedelta = timedelta(days=7),
) -> list[DeliveryResult]:
    """One DeliveryWorkflow child per message, all in parallel; results in input order.

    A child that dead-letters waits up to `redelivery_window` for an operator's redeliver
    before it returns; pass a zero window to learn dead letters at once (the operator can
    then start a new DeliveryWorkflow for the message).
    """
    from workflows.delivery import DeliveryInput, DeliveryWorkflow

    handles = [
        await workflow.start_child_workflow(
            DeliveryWorkflow.run,
            DeliveryInput(message=message, redelivery_window=redelivery_window),
            id=delivery_workflow_id(message),
            task_queue=task_queue,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Deliver {message.event_type} to {message.target}",
        )
        for message in messages
    ]
    return list(await asyncio.gather(*handles))
