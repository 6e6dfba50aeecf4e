"""The source business systems (CRM, ERP): a registry of their endpoints and signed reports."""

from activities.source_systems.activities import SourceSystemActivities
from activities.source_systems.options import REPORT
from activities.source_systems.registry import SourceSystemRegistry

__all__ = ["REPORT", "SourceSystemActivities", "SourceSystemRegistry"]
