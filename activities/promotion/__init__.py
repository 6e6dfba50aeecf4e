"""Configuration promotions: check a candidate against the environment, apply it as a version."""

from activities.promotion.activities import PromotionActivities

__all__ = ["PromotionActivities"]
