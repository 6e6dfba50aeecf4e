"""Activities for the notification service: approver messages and the support queue."""

from __future__ import annotations

from temporalio import activity

from docflow.models import Notification


class NotificationActivities:
    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        raise NotImplementedError
