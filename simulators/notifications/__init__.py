"""Notification-service simulator: receives docflow's signed approver and support messages.

Served alone by `create_app`, or next to the CRM on one port (`simulators.crm.create_app`).
"""

from simulators.notifications.api import create_app, notification_routes
from simulators.notifications.sim import NotificationsConfig, NotificationsSim

__all__ = ["NotificationsConfig", "NotificationsSim", "create_app", "notification_routes"]
