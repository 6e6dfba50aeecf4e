"""Notifications to people and the support queue: best effort, idempotent, recorded.

Rules:
- a notification never ends a process: the notification service being down for an hour is
  recorded in the audit trail ("notify_failed") and the process goes on;
- its idempotency key is the business key plus a key the process chooses per occasion, so a
  retried activity never notifies twice;
- no recipients means the configured support queue;
- an approval message carries the facts its action links are bound to (stage, cycle,
  closing time), never a link or key: the activity mints the signed links.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from workflows.kit.calls import best_effort
from workflows.kit.human_task import Notify
from workflows.kit.record import ProcessRecord

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.notifications import options as notifications
    from docflow.models import ApprovalActionFacts, Notification, NotificationKind

APPROVAL_KINDS = frozenset(
    {
        NotificationKind.APPROVAL_REQUESTED,
        NotificationKind.APPROVAL_REMINDER,
        NotificationKind.APPROVAL_ESCALATED,
    }
)


class Notifier:
    def __init__(self, business_key: str, record: ProcessRecord) -> None:
        self._business_key = business_key
        self._record = record

    async def __call__(
        self,
        kind: NotificationKind,
        recipients: list[str],
        subject: str,
        *,
        key: str,
        data: dict[str, str] | None = None,
        approval: ApprovalActionFacts | None = None,
    ) -> None:
        await best_effort(
            NotificationActivities.notify,
            Notification(
                idempotency_key=f"{self._business_key}:{key}",
                kind=kind,
                business_key=self._business_key,
                recipients=recipients,
                subject=subject,
                data={"workflow_id": workflow.info().workflow_id, **(data or {})},
                approval=approval,
            ),
            notifications.NOTIFY,
            summary=f"Notify {', '.join(recipients) or 'support'}: {kind.value}",
            on_give_up=lambda failure: self._record.record(
                "notify_failed", "system", f"{kind.value}: {failure.reason}"
            ),
        )

    async def support(self, subject: str, *, key: str, reason: str) -> None:
        """Tell the support queue, with the reason an operator acts on."""
        await self(
            NotificationKind.SIGNATURE_EXCEPTION, [], subject, key=key, data={"reason": reason}
        )

    def for_task(
        self, prefix: str, approval: Callable[[], ApprovalActionFacts] | None = None
    ) -> Notify:
        """The `notify` of a human task: one key per task and kind of message; with
        `approval`, approval messages carry the facts of their action links."""

        async def notify(kind: NotificationKind, recipients: list[str], subject: str) -> None:
            facts = approval() if approval is not None and kind in APPROVAL_KINDS else None
            await self(kind, recipients, subject, key=f"{prefix}:{kind.value}", approval=facts)

        return notify
