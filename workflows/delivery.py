"""DeliveryWorkflow: one signed message to one configured target; `fan_out` runs one per target.

Delivers on the target's schedule; a dead letter tells support and waits (for
`redelivery_window`) for an operator's `redeliver`, then runs the schedule again. Its result
is the final DeliveryResult; each delivery has its own history and Web UI entry.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from workflows.kit.calls import best_effort
from workflows.kit.delivery import deliver
from workflows.kit.human_task import wait_for_person
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.notifications import options as notifications
    from activities.source_systems import SourceSystemActivities
    from activities.source_systems import options as source_systems
    from docflow import search_attributes as sa
    from docflow.models import Notification, NotificationKind, ProcessSummary
    from docflow.models.delivery import DeliveryResult, OutboundMessage, RedeliverRequest


class DeliveryInput(BaseModel):
    message: OutboundMessage
    redelivery_window: timedelta = timedelta(days=7)


@workflow.defn(name="DeliveryWorkflow", versioning_behavior=behaviour("DeliveryWorkflow"))
class DeliveryWorkflow:
    @workflow.init
    def __init__(self, delivery: DeliveryInput) -> None:
        message = delivery.message
        self._record = ProcessRecord(
            "delivery",
            message.business_key,
            state="delivering",
            indexed_states={"dead_lettered", "delivered", "abandoned"},
            read_model=False,  # a step of the process it reports for
        )
        self._redeliver: RedeliverRequest | None = None

    @workflow.run
    async def run(self, delivery: DeliveryInput) -> DeliveryResult:
        message, rounds = delivery.message, 0
        while True:
            rounds += 1
            self._record.set_state("delivering", f"{message.target} to accept the message")
            result = await deliver(
                SourceSystemActivities.deliver_message,
                message,
                source_systems.REPORT,
                target=message.target,
                idempotency_key=message.idempotency_key,
                summary=f"Deliver {message.event_type} to {message.target}",
            )
            result.rounds = rounds
            if result.delivered:
                self._record.record("delivered", "system", f"to {message.target}")
                self._record.set_state("delivered", "nothing (finished)")
                return result
            self._record.record("dead_lettered", "system", result.reason)
            self._record.set_state(
                "dead_lettered",
                "an operator to redeliver (after fixing the target)",
                until=delivery.redelivery_window,
                attention=sa.DELIVERY_DEAD_LETTERED,
            )
            await best_effort(
                NotificationActivities.notify,
                Notification(
                    idempotency_key=f"{message.idempotency_key}:dead-letter:{rounds}",
                    kind=NotificationKind.SIGNATURE_EXCEPTION,
                    business_key=message.business_key,
                    subject=f"Delivery of {message.event_type} to {message.target} failed",
                    data={"reason": result.reason, "workflow_id": workflow.info().workflow_id},
                ),
                notifications.NOTIFY,
                summary="Tell support about the dead letter",
                on_give_up=lambda f: self._record.record("notify_failed", "system", f.reason),
            )
            self._redeliver = None
            if not await wait_for_person(
                lambda: self._redeliver is not None,
                deadline=delivery.redelivery_window,
                what="redelivery",
            ):
                self._record.set_state("abandoned", "nothing (finished)", attention=True)
                return result

    @workflow.update(name="redeliver")
    def redeliver(self, request: RedeliverRequest) -> str:
        self._redeliver = request
        self._record.record("redeliver", request.actor, request.comment)
        return "redelivering"

    @redeliver.validator
    def _validate_redeliver(self, request: RedeliverRequest) -> None:
        if self._record.state != "dead_lettered" or self._redeliver is not None:
            raise ValueError(f"nothing to redeliver (delivery is {self._record.state})")

    @workflow.query(name="status")
    def status(self) -> ProcessSummary:
        return ProcessSummary.model_validate(self._record.summary_fields())


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
