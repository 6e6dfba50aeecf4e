"""The systems subscribed to ECM events: one signed delivery attempt at a time, their
endpoints' health, recovery of an endpoint's failed messages (Standard Webhooks, the
semantics of external-apis.md §6)."""

from activities.subscribers.activities import SubscriberActivities

__all__ = ["SubscriberActivities"]
