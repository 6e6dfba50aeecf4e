"""httpx clients for the external systems: one module per concern (auth, models, calls, errors)."""

from activities.clients.content_server import ContentServerClient
from activities.clients.core_signature import CoreSignatureClient, SignerSpec
from activities.clients.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ExternalServiceError,
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
    parse_retry_after,
    raise_for_response,
)
from activities.clients.oauth import ClientCredentialsTokenProvider
from activities.clients.otcs_auth import OtcsTicketAuth
from activities.clients.webhooks import EndpointGoneError, WebhookSender

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "ClientCredentialsTokenProvider",
    "ContentServerClient",
    "CoreSignatureClient",
    "EndpointGoneError",
    "ExternalServiceError",
    "NotFoundError",
    "OtcsTicketAuth",
    "PermanentServiceError",
    "RetryableServiceError",
    "SignerSpec",
    "WebhookSender",
    "parse_retry_after",
    "raise_for_response",
]
