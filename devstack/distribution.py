"""The outbound side of the dev stack: the webhook target simulator's endpoints, one per
content-distribution target and channel and per ECM event subscription of the bundle, and the
settings that send docflow there."""

from __future__ import annotations

from urllib.parse import urlsplit

from docflow.config.distribution import ContentDistribution
from docflow.config.ecm_events import EcmEvents
from docflow.settings import Settings

BUNDLE_FILE = "content-distribution.json"
ECM_FILE = "ecm-events.json"


def endpoint_name(url: str) -> str:
    """The simulator endpoint standing in for a target: the last path segment of its URL."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def distribution(settings: Settings) -> ContentDistribution:
    return ContentDistribution.load(settings.bundle_dir / BUNDLE_FILE)


def subscriptions(settings: Settings) -> EcmEvents:
    return EcmEvents.load(settings.bundle_dir / ECM_FILE)


def target_endpoints(settings: Settings) -> dict[str, str]:
    """Simulator endpoint name -> the secret docflow signs that target's (or subscriber's)
    messages with."""
    endpoints: dict[str, str] = {}
    targets = distribution(settings).targets
    subscribers = subscriptions(settings).subscriptions
    outbound = [
        *((name, t.endpoint, t.secret) for name, t in targets.items()),
        *((name, s.endpoint, s.secret) for name, s in subscribers.items()),
    ]
    for name, url, secret_ref in outbound:
        endpoint, secret = endpoint_name(url), settings.secret(secret_ref)
        if endpoints.setdefault(endpoint, secret) != secret:
            raise ValueError(f"{name!r}: endpoint {endpoint!r} is another target's")
    return endpoints


def subscriber_urls(settings: Settings, base_url: str) -> dict[str, str]:
    """ECM subscription -> its endpoint on the webhook target simulator at `base_url`."""
    base = base_url.rstrip("/")
    return {
        name: f"{base}/{endpoint_name(sub.endpoint)}"
        for name, sub in subscriptions(settings).subscriptions.items()
    }


def target_urls(settings: Settings, base_url: str) -> dict[str, str]:
    """Target id -> its endpoint on the webhook target simulator at `base_url`."""
    base = base_url.rstrip("/")
    return {
        name: f"{base}/{endpoint_name(target.endpoint)}"
        for name, target in distribution(settings).targets.items()
    }
