"""Activities of content distribution on the Amplience side: plan a distribution (read the
approved version, confirm it, route it, map each target's payload) and report its outcome back
(the failure loop: 'Integration failed' with the reasons per target, or 'Distributed').

The webhook that starts a distribution is a hint: the plan reads the version it names and
distributes only what Amplience confirms (the version is in the approval state, or published).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.amplience.client import AmplienceClient
from activities.amplience.models import (
    EVENT_EDITION_PUBLISHED,
    EVENT_SNAPSHOT_PUBLISHED,
    EVENT_WORKFLOW_UPDATED,
    ContentItem,
)
from activities.http.error_mapping import current_bundle, external_call
from docflow.config.bundle import Bundle, BundleReader, bundle_reader
from docflow.config.distribution import ContentDistribution, RoutedItem, map_fields
from docflow.models.content import (
    DistributionPlan,
    FeedbackInput,
    FeedbackPlan,
    PlanDistributionInput,
    RefusedTarget,
    TargetMessage,
)
from docflow.settings import Settings

CONTENT_EVENT = "content.approved"
# An operator's request to distribute the item's current version (a lost webhook).
RECONCILE_EVENT = "docflow.content.distribute"
NOTIFICATION_EVENT = "content.approved.notification"
MAX_REASON = 500


def payload_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the payload's canonical JSON (the audit trail's payload hash)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def delivery_key(item_id: str, version: int, target: str) -> str:
    return f"{item_id}:{version}:{target}"


def plan_for(
    config: ContentDistribution,
    item: ContentItem,
    request: PlanDistributionInput,
    *,
    config_version: str,
) -> DistributionPlan:
    """The distribution of one confirmed item version (pure; the activity reads the inputs)."""
    plan = DistributionPlan(
        item_id=item.id,
        version=item.version,
        label=item.label,
        schema_uri=item.schema_uri,
        confirmed=False,
        config_version=config_version,
        feedback=FeedbackPlan(
            approved_state_id=config.approval.workflow_state_id,
            failed_state_id=config.feedback.failed_state_id,
            failed_state_label=config.feedback.failed_state_label,
            distributed_state_id=config.feedback.distributed_state_id,
            distributed_state_label=config.feedback.distributed_state_label,
            failure_field=config.feedback.failure_field,
            failure_window_days=config.failure_window_days,
        ),
    )
    if item.status != "ACTIVE":
        return plan.model_copy(update={"why_not": f"the item is {item.status}"})
    if request.event_name in (EVENT_WORKFLOW_UPDATED, RECONCILE_EVENT):
        approved = config.approval.workflow_state_id
        if approved is None or item.workflow_state != approved:
            return plan.model_copy(
                update={
                    "why_not": f"version {item.version} is not in the "
                    f"{config.approval.workflow_state_label!r} state"
                }
            )
    elif request.event_name not in (EVENT_SNAPSHOT_PUBLISHED, EVENT_EDITION_PUBLISHED):
        return plan.model_copy(update={"why_not": f"{request.event_name} is not an approval"})
    plan.confirmed = True
    route = config.route(
        RoutedItem(
            item_id=item.id,
            version=item.version,
            label=item.label,
            schema_uri=item.schema_uri,
            locale=item.locale,
            folder_id=item.folder_id,
        )
    )
    if route is None:
        plan.why_not = f"no route for content type {item.schema_uri!r} in this environment"
        return plan
    plan.route = route.name
    source = item.model_dump(mode="json", by_alias=True, exclude={"links"})
    size = len(json.dumps(source.get("body", {}), default=str).encode())
    if size > config.max_item_bytes:
        reason = f"the item body is {size} bytes, over the {config.max_item_bytes}-byte limit"
        plan.refused = [RefusedTarget(target=t, reasons=[reason]) for t in route.targets]
        return plan
    summary = {
        "item_id": item.id,
        "version": item.version,
        "label": item.label,
        "schema": item.schema_uri,
        "locale": item.locale,
        "delivery_key": item.meta.delivery_key or item.delivery_key,
    }
    for name in route.targets:
        target = config.targets[name]
        assert target.mapping is not None  # checked with the bundle
        content, problems = map_fields(config.mappings[target.mapping], source)
        if problems:
            plan.refused.append(RefusedTarget(target=name, reasons=problems))
            continue
        plan.messages.append(
            _message(name, "target", CONTENT_EVENT, {**summary, "content": content})
        )
    for name in route.notify:
        notice = {**summary, "route": route.name, "targets": list(route.targets)}
        plan.messages.append(_message(name, "channel", NOTIFICATION_EVENT, notice))
    return plan


def _message(target: str, kind: str, event_type: str, payload: dict[str, Any]) -> TargetMessage:
    item_id, version = payload["item_id"], payload["version"]
    return TargetMessage(
        target=target,
        kind=kind,
        event_type=event_type,
        idempotency_key=delivery_key(item_id, version, target),
        business_key=f"content:{item_id}",
        payload=payload,
        payload_sha256=payload_digest(payload),
    )


class DistributionActivities:
    def __init__(
        self,
        client: AmplienceClient | None,
        settings: Settings,
        config: BundleReader | None = None,
    ) -> None:
        self._amplience = client
        self._config = config or bundle_reader(settings)

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> DistributionActivities:
        """Wired to the environment's hub; without one every call refuses (not retried)."""
        amp = settings.amplience
        configured = bool(amp.hub_id and amp.client_secret)
        return cls(AmplienceClient.from_settings(settings, http) if configured else None, settings)

    @property
    def _client(self) -> AmplienceClient:
        if self._amplience is None:
            raise ApplicationError(
                "Amplience is not configured in this environment "
                "(amplience.hub_id and amplience.client_secret)",
                type="AmplienceNotConfigured",
                non_retryable=True,
            )
        return self._amplience

    @activity.defn(name="plan_distribution")
    async def plan(self, request: PlanDistributionInput) -> DistributionPlan:
        """Read the version the event names (or the latest published), confirm and route it."""
        bundle = await self._bundle()
        config = bundle.get(ContentDistribution)
        with external_call(f"read Amplience item {request.item_id}"):
            version = request.version
            if version is None:
                current = await self._client.get_item(request.item_id)
                published = request.event_name != RECONCILE_EVENT
                version = (current.last_published_version if published else None) or (
                    current.version
                )
            item = await self._client.get_version(request.item_id, version)
        plan = plan_for(config, item, request, config_version=bundle.version)
        activity.logger.info(
            "planned %s v%s: %s",
            request.item_id,
            version,
            f"route {plan.route}, {len(plan.messages)} messages, {len(plan.refused)} refused"
            if plan.confirmed and plan.route
            else plan.why_not,
        )
        return plan

    @activity.defn(name="report_distribution")
    async def report(self, feedback: FeedbackInput) -> int:
        """Move the item to the feedback state (re-read and re-applied on a version conflict),
        with the reasons per target in the configured body field (emptied once nothing failed,
        never added to an item that has none); the item's new version.

        A newer version approved meanwhile is left alone: its own distribution reports."""
        client = self._client
        with external_call(f"report to Amplience item {feedback.item_id}"):
            current = await client.get_item(feedback.item_id)
            if self._approved_since(current, feedback):
                return current.version
            item = await client.set_workflow_state(
                feedback.item_id, feedback.state_id, version=current.version
            )
            field = feedback.failure_field
            if field:
                reasons = [
                    {"target": target, "reason": reason[:MAX_REASON]}
                    for target, reason in sorted(feedback.failures.items())
                ]

                def change(now: ContentItem) -> dict[str, Any] | None:
                    if self._approved_since(now, feedback) or now.body.get(field, []) == reasons:
                        return None
                    return {"body": {**now.body, field: reasons}}

                item = await client.patch_item(feedback.item_id, change)
        activity.logger.info(
            "item %s v%d moved to %r (%d failed targets)",
            feedback.item_id,
            feedback.version,
            feedback.state_label,
            len(feedback.failures),
        )
        return item.version

    @staticmethod
    def _approved_since(current: ContentItem, feedback: FeedbackInput) -> bool:
        return (
            feedback.approved_state_id is not None
            and current.version > feedback.version
            and current.workflow_state == feedback.approved_state_id
        )

    async def _bundle(self) -> Bundle:
        return await current_bundle(self._config)
