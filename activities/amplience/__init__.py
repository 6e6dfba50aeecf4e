"""Amplience Dynamic Content: content items, workflow states, publishing, delivery, webhooks."""

from activities.amplience.activities import AmplienceActivities
from activities.amplience.client import AmplienceClient
from activities.amplience.webhooks import InvalidWebhookError, parse_webhook, verify_signature

__all__ = [
    "AmplienceActivities",
    "AmplienceClient",
    "InvalidWebhookError",
    "parse_webhook",
    "verify_signature",
]
