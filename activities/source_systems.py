"""Activities for the source business systems (CRM, ERP): signed status reports."""

from __future__ import annotations

from temporalio import activity

from docflow.models import SourceReport


class SourceSystemActivities:
    @activity.defn(name="report_to_source")
    async def report_to_source(self, report: SourceReport) -> None:
        raise NotImplementedError
