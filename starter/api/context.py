"""What the routes share: settings, document store, authenticator and a lazy Temporal client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

from fastapi import Request
from temporalio.client import Client

from docflow.config.bundle import BundleReader
from docflow.config.versions import ConfigVersions
from docflow.docstore import DocumentStore
from docflow.settings import Settings
from starter.api.auth import Authenticator
from starter.processes.base import TemporalUnavailable
from starter.processes.content import ContentDistributions
from starter.processes.ecm_events import EcmRelay
from starter.processes.signing import SigningProcesses
from starter.processes.workspaces import BusinessObjects

TemporalSource = Client | Callable[[], Awaitable[Client]]

# A blackholed address must not hold an HTTP request for the SDK's full connect timeout.
CONNECT_TIMEOUT_S = 5.0


class TemporalConnection:
    """Connects on first use, so the API starts (and answers 503) while Temporal is down."""

    def __init__(self, source: TemporalSource) -> None:
        self._client = source if isinstance(source, Client) else None
        self._connect = None if isinstance(source, Client) else source
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        assert self._connect is not None
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT_S)
                except Exception as exc:
                    raise TemporalUnavailable(f"cannot connect to Temporal: {exc}") from exc
        return self._client


@dataclass
class ApiContext:
    settings: Settings
    store: DocumentStore
    temporal: TemporalConnection
    auth: Authenticator
    event_hash_key: bytes
    # The environment's applied configuration versions (None: the bundle's files only).
    config_versions: ConfigVersions | None = None

    async def processes(self) -> SigningProcesses:
        return SigningProcesses(await self.temporal.client(), self.settings, self.store)

    async def business_objects(self) -> BusinessObjects:
        return BusinessObjects(await self.temporal.client(), self.settings, self.store, self.config)

    async def content_distributions(self) -> ContentDistributions:
        return ContentDistributions(await self.temporal.client(), self.settings, self.config)

    async def ecm_relay(self) -> EcmRelay:
        return EcmRelay(await self.temporal.client(), self.settings, self.config)

    @cached_property
    def config(self) -> BundleReader:
        """This environment's bundle (workspace mappings, source systems), as activities see it."""
        return BundleReader(
            self.settings.profile, self.settings.config_dir, versions=self.config_versions
        )


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.docflow
    return context


async def business_objects(request: Request) -> BusinessObjects:
    """Dependency: the workspace processes (503 if Temporal is down)."""
    return await api_context(request).business_objects()


async def signing_processes(request: Request) -> SigningProcesses:
    """Dependency: the helpers bound to a connected client (503 if Temporal is down)."""
    return await api_context(request).processes()
