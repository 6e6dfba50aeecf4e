"""The content-distribution side of the dev stack: the webhook target simulator's endpoints,
one per target and channel of the bundle, and the settings that send docflow there."""

from __future__ import annotations

from urllib.parse import urlsplit

from docflow.config.distribution import ContentDistribution
from docflow.settings import Settings

BUNDLE_FILE = "content-distribution.json"


def endpoint_name(url: str) -> str:
    """The simulator endpoint standing in for a target: the last path segment of its URL."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def distribution(settings: Settings) -> ContentDistribution:
    return ContentDistribution.load(settings.bundle_dir / BUNDLE_FILE)


def target_endpoints(settings: Settings) -> dict[str, str]:
    """Simulator endpoint name -> the secret docflow signs that target's messages with."""
    endpoints: dict[str, str] = {}
    for name, target in distribution(settings).targets.items():
        endpoint, secret = endpoint_name(target.endpoint), settings.secret(target.secret)
        if endpoints.setdefault(endpoint, secret) != secret:
            raise ValueError(f"target {name!r}: endpoint {endpoint!r} is another target's")
    return endpoints


def target_urls(settings: Settings, base_url: str) -> dict[str, str]:
    """Target id -> its endpoint on the webhook target simulator at `base_url`."""
    base = base_url.rstrip("/")
    return {
        name: f"{base}/{endpoint_name(target.endpoint)}"
        for name, target in distribution(settings).targets.items()
    }
