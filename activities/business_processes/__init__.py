"""Business processes in registered business systems (ERP, CRM): start one, read its state."""

from activities.business_processes.activities import BusinessProcessActivities

__all__ = ["BusinessProcessActivities"]
