"""Activity-test fixtures: simulators on free loopback ports, one HTTP pool, a temp store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.core_signature.client import CoreSignatureClient
from activities.http.oauth import ClientCredentialsTokenProvider
from docflow.docstore import LocalDocumentStore
from docflow.settings import Settings
from simulators.content_server import create_app as content_server_app
from simulators.core_signature import CoreSignatureConfig
from simulators.core_signature import create_app as core_signature_app
from simulators.crm import create_app as crm_app
from simulators.erp import create_app as erp_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
async def _core_signature_served() -> AsyncIterator[ServedApp]:
    # No conversion delay: the tests drive each document's life through the control API.
    app = core_signature_app(CoreSignatureConfig(convert_delay_ms=0))
    async with ServedApp(app, name="core-signature-sim") as served:
        yield served


@pytest.fixture
async def core_signature_sim(
    _core_signature_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_core_signature_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture(scope="session")
async def _content_server_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(content_server_app(), name="content-server-sim") as served:
        yield served


@pytest.fixture
async def content_server_sim(
    _content_server_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_content_server_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture(scope="session")
async def _crm_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(crm_app(), name="crm-sim") as served:
        yield served


@pytest.fixture
async def crm_sim(_crm_served: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_crm_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture(scope="session")
async def _erp_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(erp_app(), name="erp-sim") as served:
        yield served


@pytest.fixture
async def erp_sim(_erp_served: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_erp_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture
def otcs_auth(http: httpx.AsyncClient, content_server_sim: Sim) -> OtcsTicketAuth:
    return OtcsTicketAuth(
        http, f"{content_server_sim.url}/otcs/cs.exe/api", "docflow", "dev-otcs-password"
    )


@pytest.fixture
def content_server_client(
    http: httpx.AsyncClient, content_server_sim: Sim, otcs_auth: OtcsTicketAuth
) -> ContentServerClient:
    return ContentServerClient(
        http, f"{content_server_sim.url}/otcs/cs.exe/api", otcs_auth, timeout_s=5.0
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalDocumentStore:
    return LocalDocumentStore(tmp_path / "documents")


@pytest.fixture
def settings(
    tmp_path: Path,
    _core_signature_served: ServedApp,
    _crm_served: ServedApp,
    _erp_served: ServedApp,
    _content_server_served: ServedApp,
) -> Settings:
    """The suite's settings pointed at the simulators (their default credentials match); the
    ERP simulator is SAP, the CRM simulator every other source system."""
    signing, crm, erp = _core_signature_served.base_url, _crm_served.base_url, _erp_served.base_url
    return Settings().with_overrides(
        core_signature={
            "base_url": signing,
            "token_url": f"{signing}/tenants/docflow/oauth2/token",
            "events_callback_url": "",  # no callbacks: the tests poll
            "timeout_s": 5.0,
        },
        content_server={"base_url": f"{_content_server_served.base_url}/otcs/cs.exe/api"},
        source_systems={
            "endpoints": {
                "SFDC": f"{crm}/webhooks/docflow",
                "SAP": f"{erp}/webhooks/docflow",
                "WORKDAY": f"{crm}/webhooks/docflow",
            }
        },
        case_sources={"endpoints": {"erp_history": erp}},
        notifications={"url": f"{crm}/notifications"},
        documents={"root": str(tmp_path / "documents")},
    )


@pytest.fixture
def token_provider(
    http: httpx.AsyncClient, core_signature_sim: Sim
) -> ClientCredentialsTokenProvider:
    return ClientCredentialsTokenProvider(
        http,
        f"{core_signature_sim.url}/tenants/docflow/oauth2/token",
        "docflow-dev",
        "dev-core-signature-secret",
    )


@pytest.fixture
def core_signature_client(
    http: httpx.AsyncClient,
    core_signature_sim: Sim,
    token_provider: ClientCredentialsTokenProvider,
) -> CoreSignatureClient:
    return CoreSignatureClient(http, core_signature_sim.url, token_provider, timeout_s=5.0)


@pytest.fixture
def activity_env() -> ActivityEnvironment:
    return ActivityEnvironment()
