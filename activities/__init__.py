"""docflow's activities, one module per external system, and the factory that wires them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from activities.clients.content_server import ContentServerClient
from activities.clients.core_signature import CoreSignatureClient
from activities.clients.oauth import ClientCredentialsTokenProvider
from activities.clients.otcs_auth import OtcsTicketAuth
from activities.clients.webhooks import WebhookSender
from activities.content_server import ContentServerActivities
from activities.core_signature import CoreSignatureActivities
from activities.notifications import NotificationActivities
from activities.source_systems import SourceSystemActivities
from activities.validation import ValidationActivities
from docflow.docstore import DocumentStore, document_store_from_settings
from docflow.settings import Settings

__all__ = [
    "ContentServerActivities",
    "CoreSignatureActivities",
    "NotificationActivities",
    "SourceSystemActivities",
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
) -> list[Callable[..., Any]]:
    """All activities as bound methods, with clients built from `settings`.

    Pass the worker's pooled `http` client (the caller closes it); without one a new pool
    is created for the life of the process.
    """
    http = http or new_http_client()
    store = store or document_store_from_settings(settings.documents)

    cs = settings.core_signature
    tokens = ClientCredentialsTokenProvider(
        http,
        cs.token_url,
        cs.client_id,
        settings.secret(cs.client_secret),
        system="core-signature-oauth",
        timeout_s=cs.timeout_s,
    )
    core_signature = CoreSignatureClient(http, cs.base_url, tokens, timeout_s=cs.timeout_s)

    otcs = settings.content_server
    ticket_auth = OtcsTicketAuth(
        http, otcs.base_url, otcs.username, settings.secret(otcs.password), timeout_s=otcs.timeout_s
    )
    content_server = ContentServerClient(http, otcs.base_url, ticket_auth, timeout_s=otcs.timeout_s)

    notification_sender = WebhookSender(
        http,
        settings.secret(settings.notifications.webhook_secret),
        system="notifications",
        timeout_s=settings.notifications.timeout_s,
    )

    validation = ValidationActivities(settings, store)
    signing = CoreSignatureActivities(core_signature, store, settings)
    ecm = ContentServerActivities(content_server, store)
    source = SourceSystemActivities(http, settings)
    notifications = NotificationActivities(notification_sender, settings)
    return [
        validation.validate_signing_request,
        signing.create_signature_request,
        signing.cancel_signature_request,
        signing.get_signature_status,
        signing.fetch_signed_artifacts,
        ecm.ensure_business_workspace,
        ecm.archive_document,
        source.report_to_source,
        notifications.notify,
    ]
