"""Fixtures for the simulator tests: each simulator served once per session on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from simulators import content_server, core_signature, crm
from simulators.kit.delivery import RetryPolicy
from simulators.kit.server import ServedApp

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.05, timeout_s=2)


@dataclass
class CallbackReceiver:
    """A stand-in for docflow's callback endpoint: records bodies, fails on demand."""

    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 500
    base_url: str = ""

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def reset(self) -> None:
        self.received.clear()
        self.fail_next = 0
        self.fail_status = 500

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "try later"}, status_code=self.fail_status)
            raw = await request.body()
            self.received.append(
                {"body": await request.json(), "raw": raw, "headers": dict(request.headers)}
            )
            return JSONResponse({"ok": True})

        return app


@dataclass
class Served:
    """A running simulator: its app (for direct state checks) and an HTTP client."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return str(self.client.base_url).rstrip("/")


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    async with ServedApp(receiver.app(), name="callback-receiver") as served:
        receiver.base_url = served.base_url
        yield receiver


async def _serve(app: FastAPI, name: str) -> AsyncIterator[Served]:
    async with (
        ServedApp(app, name=name) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as client,
    ):
        yield Served(app, client)


@pytest.fixture(scope="session")
async def _core_signature_session() -> AsyncIterator[Served]:
    config = core_signature.CoreSignatureConfig(seed=7, callback_retry=FAST_RETRY)
    async for served in _serve(core_signature.create_app(config), "core-signature"):
        yield served


@pytest.fixture(scope="session")
async def _content_server_session() -> AsyncIterator[Served]:
    async for served in _serve(content_server.create_app(), "content-server"):
        yield served


@pytest.fixture(scope="session")
async def _crm_session() -> AsyncIterator[Served]:
    async for served in _serve(crm.create_app(), "crm"):
        yield served


@pytest.fixture
async def core_sig(
    _core_signature_session: Served, receiver: CallbackReceiver
) -> AsyncIterator[Served]:
    await _core_signature_session.client.post("/_control/reset")
    receiver.reset()
    yield _core_signature_session


@pytest.fixture
async def otcs(_content_server_session: Served) -> AsyncIterator[Served]:
    await _content_server_session.client.post("/_control/reset")
    yield _content_server_session


@pytest.fixture
async def crm_sim(_crm_session: Served) -> AsyncIterator[Served]:
    await _crm_session.client.post("/_control/reset")
    yield _crm_session
