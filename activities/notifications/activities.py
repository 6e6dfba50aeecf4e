"""Activities for the notification service: approver messages and the support queue.

Approval messages get each recipient's action links (approve, reject, request changes),
minted here from the facts the workflow passed: the signing key stays in the worker.
"""

from __future__ import annotations

import json

import httpx
from temporalio import activity

from activities.http.error_mapping import external_call
from activities.http.webhooks import WebhookSender
from docflow.action_links import ActionLinks
from docflow.models import Notification
from docflow.settings import Settings


class NotificationActivities:
    def __init__(self, sender: WebhookSender, settings: Settings) -> None:
        self._sender = sender
        self._url = settings.notifications.url
        self._support_queue = settings.notifications.support_queue
        self._links = ActionLinks(
            settings.secret(settings.api.action_link_key), settings.api.public_url
        )

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> NotificationActivities:
        """The activities with a Standard Webhooks sender on the shared pool."""
        sender = WebhookSender(
            http,
            settings.secret(settings.notifications.webhook_secret),
            system="notifications",
            timeout_s=settings.notifications.timeout_s,
        )
        return cls(sender, settings)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        """Deliver to the named recipients or, when there are none, to the support queue."""
        payload = notification.model_dump(mode="json")
        payload["support_queue"] = None if notification.recipients else self._support_queue
        if notification.approval is not None:
            payload["action_links"] = {
                recipient: self._links.links_for(
                    recipient,
                    notification.business_key,
                    notification.approval,
                    notification.idempotency_key,
                )
                for recipient in notification.recipients
            }
        audience = ", ".join(notification.recipients) or f"queue {self._support_queue}"
        with external_call(f"notify {audience} ({notification.kind.value})"):
            await self._sender.send(self._url, notification.idempotency_key, json.dumps(payload))
        activity.logger.info(
            "notified %s: %s (%s)", audience, notification.subject, notification.kind.value
        )
