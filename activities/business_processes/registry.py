"""Where each business system's process API is: `processes_endpoint` and its key reference
in `source-systems.json`, moved only by `settings.source_systems.processes_endpoints` (the
dev stack's free ports) and never outside the system's allowed hosts."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config.bundle import BundleReader
from docflow.config.source_systems import EndpointNotAllowed, SourceSystems, endpoint_problem
from docflow.settings import Settings


class SystemNotRegistered(LookupError):
    """The rule's system has no entry in this environment's source-system registry."""


class ProcessesNotConfigured(LookupError):
    """The system is registered but has no business-process API (`processes_endpoint`)."""


@dataclass(frozen=True)
class ProcessApi:
    """One system's process API and its bearer key (a reference, not the key)."""

    system: str
    url: str
    api_key: str
    timeout_s: float
    registry_version: str


class ProcessApiRegistry:
    def __init__(self, settings: Settings, config: BundleReader) -> None:
        self._config = config
        self._overrides = dict(settings.source_systems.processes_endpoints)

    async def process_api(self, system: str) -> ProcessApi:
        """Raises SystemNotRegistered, ProcessesNotConfigured, EndpointNotAllowed, or
        BundleError (bad files)."""
        bundle = await self._config.current()
        registry = bundle.get(SourceSystems)
        entry = registry.systems.get(system)
        if entry is None:
            raise SystemNotRegistered(
                f"source system {system!r} is not registered in {bundle.profile} "
                f"(source systems {registry.version})"
            )
        if entry.processes_endpoint is None or entry.processes_api_key is None:
            raise ProcessesNotConfigured(
                f"source system {system!r} has no processes_endpoint in {bundle.profile}"
            )
        url = self._overrides.get(system, entry.processes_endpoint)
        # Checked on every call: an override is not validated with the bundle.
        problem = endpoint_problem(url, entry.allowed_hosts)
        if problem:
            raise EndpointNotAllowed(f"source system {system!r}: processes {problem}")
        return ProcessApi(
            system=system,
            url=url,
            api_key=entry.processes_api_key,
            timeout_s=entry.timeout_s,
            registry_version=registry.version,
        )
