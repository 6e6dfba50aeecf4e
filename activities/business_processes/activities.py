"""Activities for lifecycle actions in business systems: resolve the rule as configured now,
start a process in the system the rule names, read it, and wait for it to finish.

Endpoints and keys come from `source-systems.json` (`processes_endpoint`, moved only by
`settings.source_systems.processes_endpoints`, never outside the system's allowed hosts),
never from a workflow's input.
"""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.business_processes.client import BusinessProcessClient
from activities.business_processes.registry import (
    ProcessApiRegistry,
    ProcessesNotConfigured,
    SystemNotRegistered,
)
from activities.http.error_mapping import configuration_lookup, current_bundle, external_call
from docflow.config.bundle import BundleReader, bundle_reader
from docflow.config.ecm_events import EcmEvents, StartProcess
from docflow.config.source_systems import EndpointNotAllowed
from docflow.models.business_processes import (
    BusinessProcess,
    ProcessLookup,
    ProcessStart,
    ResolvedRule,
    RuleLookup,
)
from docflow.secrets import SecretResolutionError
from docflow.settings import Settings

# The poll's "not yet": retried on the workflow's poll clock.
STILL_RUNNING = "ProcessRunning"


class BusinessProcessActivities:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        config: BundleReader | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._config = config or bundle_reader(settings)
        self._registry = ProcessApiRegistry(settings, self._config)

    # ------------------------------------------------------------ activities
    @activity.defn(name="resolve_lifecycle_rule")
    async def resolve_rule(self, lookup: RuleLookup) -> ResolvedRule:
        """The rule's action and write-back as the current bundle holds them; `refused` says
        why it cannot act (removed meanwhile, or not a process start)."""
        bundle = await current_bundle(self._config)
        rules = {rule.id: rule for rule in bundle.get(EcmEvents).triggers}
        rule = rules.get(lookup.rule_id)
        resolved = ResolvedRule(
            rule_id=lookup.rule_id, config_version=bundle.version, environment=bundle.profile
        )
        if rule is None:
            resolved.refused = (
                f"rule {lookup.rule_id!r} is no longer in ecm-events.json (bundle "
                f"{bundle.version}; planned with {lookup.planned_with or 'unknown'})"
            )
        elif not isinstance(rule.action, StartProcess):
            resolved.refused = f"rule {lookup.rule_id!r} no longer starts a process"
        else:
            resolved.action, resolved.writeback = rule.action, rule.writeback
        activity.logger.info(
            "rule %s (bundle %s): %s",
            lookup.rule_id,
            bundle.version,
            resolved.refused or f"{rule.action.kind if rule else ''}",
        )
        return resolved

    @activity.defn(name="start_business_process")
    async def start(self, start: ProcessStart) -> BusinessProcess:
        """Start the process once: a retry (or a second start) with the same idempotency key
        answers the process started before."""
        client = await self._client(start.system)
        with external_call(f"start {start.process} in {start.system}"):
            process, created = await client.start(start)
        activity.logger.info(
            "%s %s in %s for %s (key %s)",
            "started" if created else "found",
            process.id,
            start.system,
            start.reference,
            start.idempotency_key,
        )
        return process

    @activity.defn(name="read_business_process")
    async def read(self, lookup: ProcessLookup) -> BusinessProcess:
        """The process as the system reports it now (confirms a result event)."""
        client = await self._client(lookup.system)
        with external_call(f"read process {lookup.process_id} in {lookup.system}"):
            return await client.get(lookup.process_id)

    @activity.defn(name="await_business_process")
    async def await_finished(self, lookup: ProcessLookup) -> BusinessProcess:
        """The finished process; while it runs, a retryable `ProcessRunning` (the workflow's
        poll clock retries it, adding no history events)."""
        process = await self.read(lookup)
        if not process.finished:
            # Benign: the retry is the poll clock, not a failure (logged at debug, no alert).
            raise ApplicationError(
                f"process {lookup.process_id} in {lookup.system} is still running",
                type=STILL_RUNNING,
                category=ApplicationErrorCategory.BENIGN,
            )
        return process

    # --------------------------------------------------------------- helpers
    async def _client(self, system: str) -> BusinessProcessClient:
        with configuration_lookup(SystemNotRegistered, ProcessesNotConfigured, EndpointNotAllowed):
            api = await self._registry.process_api(system)
        try:
            key = self._settings.secret(api.api_key)
        except SecretResolutionError as exc:
            raise ApplicationError(
                f"processes api key of {system!r}: {exc}", type="SecretResolutionError"
            ) from exc
        return BusinessProcessClient(
            self._http, system=system, url=api.url, api_key=key, timeout_s=api.timeout_s
        )
