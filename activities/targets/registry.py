"""Registry of the content-distribution targets: target id -> endpoint, secret reference,
retry schedule, rate limit.

The entries come from the bundle's `content-distribution.json`; `settings.distribution.endpoints`
may move an endpoint (the dev stack's free ports) but never outside its allowed hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config.bundle import bundle_reader
from docflow.config.distribution import ContentDistribution
from docflow.config.source_systems import EndpointNotAllowed, endpoint_problem
from docflow.settings import Settings


class TargetNotRegistered(LookupError):
    """The message names a target this environment's bundle does not have."""


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one target's messages go and how (the secret is a reference, not the value)."""

    target: str
    kind: str
    url: str
    secret: str
    retry_schedule_s: tuple[float, ...]
    jitter: float
    rate_limit_per_s: float
    timeout_s: float
    config_version: str


class TargetRegistry:
    def __init__(self, settings: Settings) -> None:
        self._config = bundle_reader(settings)
        self._overrides = dict(settings.distribution.endpoints)

    async def target(self, name: str) -> DeliveryTarget:
        """Raises TargetNotRegistered, EndpointNotAllowed, or BundleError (bad files)."""
        bundle = await self._config.current()
        distribution = bundle.get(ContentDistribution)
        entry = distribution.targets.get(name)
        if entry is None:
            raise TargetNotRegistered(
                f"target {name!r} is not registered in {bundle.profile} "
                f"(content distribution {distribution.version})"
            )
        url = self._overrides.get(name, entry.endpoint)
        # Checked again on every call: an override is not validated with the bundle.
        problem = endpoint_problem(url, entry.allowed_hosts)
        if problem:
            raise EndpointNotAllowed(f"target {name!r}: {problem}")
        return DeliveryTarget(
            target=name,
            kind=entry.kind,
            url=url,
            secret=entry.secret,
            retry_schedule_s=tuple(entry.retry_schedule_s),
            jitter=entry.jitter,
            rate_limit_per_s=entry.rate_limit_per_s,
            timeout_s=entry.timeout_s,
            config_version=distribution.version,
        )
