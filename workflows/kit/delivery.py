"""Outbound delivery: one signed message on its target's schedule, dead-letter, fan-out.

Rules:
- a message goes to a configured target id (the activity resolves endpoint and secret from
  the registry), with its idempotency key as webhook-id, so a retry is never applied twice;
- the schedule is the target's preset (Standard Webhooks: immediately, then backing off
  for about three days); past it the message is dead-lettered — the caller records it and
  tells support — it never fails the process;
- many or slow targets are delivered by one `DeliveryWorkflow` child each
  (`workflows.delivery.fan_out`): each
  delivery has its own history and visibility, one slow target holds back no other, and a
  dead-lettered child waits for an operator's `redeliver` without keeping the parent open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

from workflows.kit.calls import GaveUp, call
from workflows.kit.record import ProcessRecord

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from docflow.models.delivery import DeliveryResult


async def deliver(
    activity: Callable[..., Awaitable[Any]],
    message: Any,
    options: CallOptions,
    *,
    target: str,
    idempotency_key: str,
    summary: str,
    record: ProcessRecord | None = None,
) -> DeliveryResult:
    """Deliver once on the preset's schedule; a give-up comes back as a dead letter.

    With `record`, a delivery retrying past the preset's expected time flags the process."""
    try:
        await call(activity, message, options, summary=summary, record=record)
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
