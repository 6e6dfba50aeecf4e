"""The content-distribution targets (partner portal, ERP catalogue, B2B network, notification
channels): a registry of their endpoints, their retry schedules and rate limits, and signed
deliveries."""

from activities.targets.activities import TargetActivities
from activities.targets.options import DELIVER
from activities.targets.registry import TargetRegistry

__all__ = ["DELIVER", "TargetActivities", "TargetRegistry"]
