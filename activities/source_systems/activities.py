"""Activities for the source business systems (CRM, ERP): signed status reports, sent only to
the endpoint the registry holds for the record's system, signed with that system's secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from temporalio import activity

from activities.http.error_mapping import configuration_lookup, external_call
from activities.http.webhooks import WebhookSender, signed_by
from activities.source_systems.registry import (
    EndpointNotAllowed,
    ReportTarget,
    SourceSystemNotRegistered,
    SourceSystemRegistry,
)
from docflow.models import SourceReport
from docflow.models.delivery import OutboundMessage
from docflow.settings import Settings


class SourceSystemActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        registry: SourceSystemRegistry | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self._registry = registry or SourceSystemRegistry(settings)

    @activity.defn(name="report_to_source")
    async def report_to_source(self, report: SourceReport) -> None:
        """POST the report as a Standard Webhooks message; its idempotency key is the msg id."""
        target = await self._target(report.source.system)
        sender = self._sender(target)
        record = f"{report.source.system} {report.source.record_type} {report.source.record_id}"
        with external_call(f"report '{report.outcome.value}' to {record}"):
            response = await sender.send(
                target.url, report.idempotency_key, report.model_dump_json()
            )
        activity.logger.info(
            "reported '%s' of %s to %s (%s, registry %s, HTTP %s)",
            report.outcome.value,
            report.business_key,
            record,
            target.url,
            target.registry_version,
            response.status_code,
        )

    @activity.defn(name="deliver_message")
    async def deliver_message(self, message: OutboundMessage) -> None:
        """POST one Standard Webhooks message (`{type, timestamp, data}`) to a registered
        system; `webhook-id` is the message's idempotency key, so receivers apply it once."""
        target = await self._target(message.target)
        body = json.dumps(
            {
                "type": message.event_type,
                "timestamp": datetime.now(UTC).isoformat(),
                "data": message.payload,
            }
        )
        with external_call(f"deliver {message.event_type} to {message.target}"):
            response = await self._sender(target).send(target.url, message.idempotency_key, body)
        activity.logger.info(
            "delivered %s (%s) to %s (%s, HTTP %s)",
            message.event_type,
            message.idempotency_key,
            message.target,
            target.url,
            response.status_code,
        )

    async def _target(self, system: str) -> ReportTarget:
        # Retrying cannot help an unregistered system: the workflow reports to support instead.
        with configuration_lookup(SourceSystemNotRegistered, EndpointNotAllowed):
            return await self._registry.target(system)

    def _sender(self, target: ReportTarget) -> WebhookSender:
        return signed_by(
            self._http,
            self._settings.secret,
            target.webhook_secret,
            owner=f"source system {target.system!r}",
            system=f"source-system:{target.system}",
            timeout_s=target.timeout_s,
        )
