"""Activities for the source business systems (CRM, ERP): signed status reports."""

from __future__ import annotations

from temporalio import activity

from activities.http.error_mapping import external_call
from activities.http.webhooks import WebhookSender
from docflow.models import SourceReport
from docflow.settings import Settings


class SourceSystemActivities:
    def __init__(self, sender: WebhookSender, settings: Settings) -> None:
        self._sender = sender
        self._default_url = settings.crm.callback_url

    @activity.defn(name="report_to_source")
    async def report_to_source(self, report: SourceReport) -> None:
        """POST the report as a Standard Webhooks message; its idempotency key is the msg id."""
        url = report.callback_url or self._default_url
        record = f"{report.source.system} {report.source.record_type} {report.source.record_id}"
        with external_call(f"report '{report.outcome.value}' to {record}"):
            response = await self._sender.send(
                url, report.idempotency_key, report.model_dump_json()
            )
        activity.logger.info(
            "reported '%s' of %s to %s (%s, HTTP %s)",
            report.outcome.value,
            report.business_key,
            record,
            url,
            response.status_code,
        )
