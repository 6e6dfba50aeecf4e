"""The notification service: messages to approvers and to the support queue."""

from activities.notifications.activities import NotificationActivities

__all__ = ["NotificationActivities"]
