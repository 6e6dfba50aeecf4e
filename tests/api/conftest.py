"""API test harness: the app on the dev server, a stand-in SigningWorkflow, an httpx client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef
from docflow.settings import ApiKeyConfig, Settings
from starter.api import create_app
from starter.processes.signing import SigningProcesses
from tests.api.signing_stand_in import SigningStandIn
from tests.api.support import HASH_KEY, PDF

API_KEYS = {
    "crm": ("app:crm", ["processes:start", "processes:read", "processes:cancel"], ["SFDC"]),
    "alice": ("alice@example.com", ["processes:read", "approvals:decide"], []),
    "bob": ("bob@example.com", ["processes:read", "approvals:decide"], []),
    "auditor": ("auditor@example.com", ["processes:read"], ["*"]),
    "ops": ("ops@example.com", ["processes:read", "processes:correct"], ["*"]),
    # Another business application, with its own source system.
    "erp": ("app:erp", ["processes:start", "processes:read", "processes:cancel"], ["SAP"]),
}


def auth(name: str) -> dict[str, str]:
    return {"X-API-Key": f"test-{name}-key"}


def make_settings(tmp_path: Path, task_queue: str, **overrides: Any) -> Settings:
    settings = Settings(
        profile="local",
        data_dir=tmp_path,
        temporal={"task_queue": task_queue, "ui_url": "http://ui.test"},
        core_signature={"event_hash_key": f"value:{HASH_KEY}"},
        documents={"root": tmp_path / "documents"},
        api={
            "public_url": "http://docflow.test",
            # A person who signs in with OIDC (no API key), known to the approver directory.
            "approvers": ["erin@example.com"],
            "api_keys": [
                ApiKeyConfig(
                    name=name,
                    key=f"value:test-{name}-key",
                    subject=sub,
                    scopes=scopes,
                    source_systems=systems,
                )
                for name, (sub, scopes, systems) in API_KEYS.items()
            ],
        },
    )
    return settings.with_overrides(**overrides) if overrides else settings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path, task_queue: str) -> Settings:
    return make_settings(tmp_path, task_queue)


@pytest.fixture
def store(settings: Settings) -> LocalDocumentStore:
    return LocalDocumentStore(settings.documents.root)


@pytest.fixture
async def temporal(dev_server_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Client]:
    async with Worker(dev_server_env.client, task_queue=task_queue, workflows=[SigningStandIn]):
        yield dev_server_env.client


@pytest.fixture
def processes(temporal: Client, settings: Settings, store: LocalDocumentStore) -> SigningProcesses:
    return SigningProcesses(temporal, settings, store)


@pytest.fixture
async def document(store: LocalDocumentStore) -> DocumentRef:
    return await store.put(PDF, filename="contract.pdf", content_type="application/pdf")


@pytest.fixture
async def api(
    settings: Settings, temporal: Client, store: LocalDocumentStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as client:
        yield client
