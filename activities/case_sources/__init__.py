"""Case sources: mail archive, forms portal, ERP transaction history, request attachments."""

from activities.case_sources.activities import CaseSourceActivities

__all__ = ["CaseSourceActivities"]
