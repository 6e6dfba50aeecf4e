"""Registry of source systems: system id -> status endpoint, secret reference, allowed hosts.

The entries come from the bundle's `source-systems.json`; `settings.source_systems.endpoints`
may move an endpoint (the dev stack's free ports) but never outside its allowed hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config.bundle import bundle_reader
from docflow.config.source_systems import EndpointNotAllowed, SourceSystems, endpoint_problem
from docflow.settings import Settings


class SourceSystemNotRegistered(LookupError):
    """The record's system has no entry in this environment's registry."""


@dataclass(frozen=True)
class ReportTarget:
    """Where one system's reports go and how they are signed (a reference, not the secret)."""

    system: str
    url: str
    webhook_secret: str
    timeout_s: float
    registry_version: str


class SourceSystemRegistry:
    def __init__(self, settings: Settings) -> None:
        self._config = bundle_reader(settings)
        self._overrides = dict(settings.source_systems.endpoints)

    async def target(self, system: str) -> ReportTarget:
        """Raises SourceSystemNotRegistered, EndpointNotAllowed, or BundleError (bad files)."""
        bundle = await self._config.current()
        registry = bundle.get(SourceSystems)
        entry = registry.systems.get(system)
        if entry is None:
            raise SourceSystemNotRegistered(
                f"source system {system!r} is not registered in {bundle.profile} "
                f"(source systems {registry.version})"
            )
        url = self._overrides.get(system, entry.status_endpoint)
        # Checked again on every call: an override is not validated with the bundle.
        problem = endpoint_problem(url, entry.allowed_hosts)
        if problem:
            raise EndpointNotAllowed(f"source system {system!r}: {problem}")
        return ReportTarget(
            system=system,
            url=url,
            webhook_secret=entry.webhook_secret,
            timeout_s=entry.timeout_s,
            registry_version=registry.version,
        )
