"""Activities for the notification service: approver messages and the support queue."""

from __future__ import annotations

import json

from temporalio import activity

from activities.clients.webhooks import WebhookSender
from activities.error_mapping import external_call
from docflow.models import Notification
from docflow.settings import Settings


class NotificationActivities:
    def __init__(self, sender: WebhookSender, settings: Settings) -> None:
        self._sender = sender
        self._url = settings.notifications.url
        self._support_queue = settings.notifications.support_queue

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        """Deliver to the named recipients or, when there are none, to the support queue."""
        payload = notification.model_dump(mode="json")
        payload["support_queue"] = None if notification.recipients else self._support_queue
        audience = ", ".join(notification.recipients) or f"queue {self._support_queue}"
        with external_call(f"notify {audience} ({notification.kind.value})"):
            await self._sender.send(self._url, notification.idempotency_key, json.dumps(payload))
        activity.logger.info(
            "notified %s: %s (%s)", audience, notification.subject, notification.kind.value
        )
