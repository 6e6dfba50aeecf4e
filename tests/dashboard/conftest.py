"""Dashboard harness: the real app (no Temporal needed) over a seeded SQLite read model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.records.store import RecordStore
from docflow.settings import ApiKeyConfig, Settings
from starter.api import create_app
from tests.api.conftest import closed_port
from tests.dashboard.seed import seed

KEYS = {
    # name: (subject, scopes, source systems)
    "records": ("auditor@example.com", ["records:read"], ["*"]),
    "crm": ("app:crm", ["processes:start", "processes:read"], ["SFDC"]),
}
UI_URL = "http://temporal-ui.test"


def key(name: str) -> str:
    return f"test-{name}-dash-key"


def dashboard_settings(tmp_path: Path) -> Settings:
    return Settings(
        profile="local",
        data_dir=tmp_path,
        temporal={"ui_url": UI_URL},
        documents={"root": tmp_path / "documents"},
        records={"url": f"sqlite:///{tmp_path / 'records.db'}"},
        api={
            "api_keys": [
                ApiKeyConfig(
                    name=name,
                    key=f"value:{key(name)}",
                    subject=sub,
                    scopes=scopes,
                    source_systems=systems,
                )
                for name, (sub, scopes, systems) in KEYS.items()
            ]
        },
    )


async def no_temporal() -> Client:
    raise RuntimeError("the dashboard needs no Temporal")


def dashboard_app(settings: Settings, store: RecordStore) -> FastAPI:
    app = create_app(settings, no_temporal, LocalDocumentStore(settings.documents.root))
    app.state.records_store = store  # what get_store hands out
    return app


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordStore]:
    store = seed(f"sqlite:///{tmp_path / 'records.db'}")
    yield store
    store.close()


@pytest.fixture
def app(tmp_path: Path, records: RecordStore) -> FastAPI:
    return dashboard_app(dashboard_settings(tmp_path), records)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as http:
        yield http


@dataclass
class Served:
    base_url: str
    app: FastAPI


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[Served]:
    """The app on a free 127.0.0.1 port, as a browser reaches it."""
    port = closed_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "the API did not start"
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await serving
