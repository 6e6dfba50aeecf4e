"""docflow's activities, one package per external system, and the factory that wires them.

Vendor packages own their client, models, activities and call presets; `activities.http`
holds the plumbing they share (errors, authenticated transport, webhooks, heartbeats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from temporalio.client import Client

from activities.amplience import AmplienceActivities
from activities.amplience.distribution import DistributionActivities
from activities.business_processes import BusinessProcessActivities
from activities.case_sources import CaseSourceActivities
from activities.content_server import ContentServerActivities
from activities.content_server.document_status import EcmRequestActivities
from activities.content_server.events import EcmEventSource
from activities.content_server.status_writeback import StatusWritebackActivities
from activities.core_signature import CoreSignatureActivities
from activities.notifications import NotificationActivities
from activities.promotion import PromotionActivities
from activities.records.activities import RecordActivities
from activities.source_systems import SourceSystemActivities
from activities.subscribers import SubscriberActivities
from activities.targets import TargetActivities
from activities.validation import ValidationActivities
from docflow.config.bundle import bundle_reader
from docflow.config.versions import ConfigVersions
from docflow.docstore import DocumentStore, document_store_from_settings
from docflow.records.store import RecordStore
from docflow.settings import Settings

__all__ = [
    "AmplienceActivities",
    "BusinessProcessActivities",
    "CaseSourceActivities",
    "ContentServerActivities",
    "CoreSignatureActivities",
    "EcmRequestActivities",
    "NotificationActivities",
    "SourceSystemActivities",
    "StatusWritebackActivities",
    "SubscriberActivities",
    "TargetActivities",
    "ValidationActivities",
    "build_activities",
    "new_http_client",
]


def new_http_client() -> httpx.AsyncClient:
    """The process-wide connection pool; each client sets its own per-request timeout."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )


def build_activities(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    *,
    store: DocumentStore | None = None,
    client: Client | None = None,
    records: RecordStore | None = None,
) -> list[Callable[..., Any]]:
    """All activities as bound methods, each vendor package wired from `settings`.

    Pass the worker's pooled `http` client (the caller closes it); without one a new pool
    is created for the life of the process. `client` (the worker's Temporal client) lets the
    ECM relay hand polled events to their workflows and keep its subscribers' health.
    `records` is the read model's store (migrated by the caller); without one, the settings'
    store is opened (and must be migrated: `docflow records migrate`).
    """
    http = http or new_http_client()
    store = store or document_store_from_settings(settings.documents)

    validation = ValidationActivities(settings, store)
    signing = CoreSignatureActivities.from_settings(settings, http, store)
    ecm = ContentServerActivities.from_settings(settings, http, store)
    source = SourceSystemActivities(http, settings)
    notifications = NotificationActivities.from_settings(settings, http)
    cases = CaseSourceActivities.from_settings(settings, http, store)
    distribution = DistributionActivities.from_settings(settings, http)
    targets = TargetActivities(http, settings)
    amplience = _amplience(settings, http)
    ecm_events = EcmEventSource.from_settings(settings, http, client=client)
    subscribers = SubscriberActivities(http, settings, client=client)
    processes = BusinessProcessActivities(settings, http)
    status = StatusWritebackActivities.from_settings(settings, http)
    ecm_requests = EcmRequestActivities.from_settings(settings, http, store)
    records = records or RecordStore.from_settings(settings)
    read_model = RecordActivities(records, bundle_reader(settings))
    promotion = PromotionActivities(settings, store, ConfigVersions(records), http)
    return [
        read_model.record_process_change,
        promotion.check_candidate,
        promotion.check_live,
        promotion.apply,
        distribution.plan,
        distribution.report,
        validation.validate_signing_request,
        validation.validate_correction,
        validation.plan_workspace,
        validation.validate_master_data,
        signing.create_signature_request,
        signing.cancel_signature_request,
        signing.await_final_status,
        signing.confirm_event,
        signing.fetch_signed_artifacts,
        ecm.ensure_business_workspace,
        ecm.archive_document,
        ecm.provision_workspace,
        ecm.update_workspace_metadata,
        ecm.file_document,
        ecm.resolve_inbox,
        ecm.file_documents,
        ecm.close_workspace,
        source.report_to_source,
        source.deliver_message,
        notifications.notify,
        cases.plan_case,
        cases.list_case_items,
        cases.fetch_case_items,
        targets.deliver,
        ecm_events.plan,
        ecm_events.earlier_events,
        ecm_events.poll_audit,
        subscribers.plan_operational,
        subscribers.relay,
        subscribers.report_endpoint,
        subscribers.recover,
        processes.resolve_rule,
        processes.start,
        processes.read,
        processes.await_finished,
        status.write_ecm_status,
        ecm_requests.confirm_document,
        ecm_requests.write_review_status,
        ecm_requests.node_versions,
        ecm_requests.add_version,
        ecm_requests.apply_metadata,
        *amplience,
    ]


def _amplience(settings: Settings, http: httpx.AsyncClient) -> list[Callable[..., Any]]:
    """Amplience's activities, when this environment has a hub and credentials."""
    amp = settings.amplience
    if not amp.hub_id or amp.client_secret is None:
        return []
    activities = AmplienceActivities.from_settings(settings, http)
    return [
        activities.get_item,
        activities.find_by_delivery_key,
        activities.upsert_item,
        activities.set_workflow_state,
        activities.publish,
    ]
