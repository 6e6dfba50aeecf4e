"""Fixtures for the simulator tests: each simulator served once per session on loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from standardwebhooks import Webhook

from simulators import content_server, core_signature, crm, erp, notifications, webhook_target
from simulators.kit.delivery import RetryPolicy
from simulators.kit.server import ServedApp

# Core Signature's own policy (timeout or 500 only, Fibonacci), the minute compressed to 10 ms.
FAST_CORE_SIGNATURE_RETRY = RetryPolicy.core_signature(minute_s=0.01, timeout_s=2).model_copy(
    update={"max_attempts": 4}
)


def signed(
    payload: dict[str, Any], secret: str, msg_id: str | None = None, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks message as docflow sends it: body and headers."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    body = json.dumps(payload)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "Idempotency-Key": msg_id,
    }
    return body.encode(), headers


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
    config = core_signature.CoreSignatureConfig(seed=7, callback_retry=FAST_CORE_SIGNATURE_RETRY)
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


@pytest.fixture(scope="session")
async def _erp_session() -> AsyncIterator[Served]:
    async for served in _serve(erp.create_app(), "erp"):
        yield served


@pytest.fixture(scope="session")
async def _notifications_session() -> AsyncIterator[Served]:
    async for served in _serve(notifications.create_app(), "notifications"):
        yield served


@pytest.fixture(scope="session")
async def _webhook_target_session() -> AsyncIterator[Served]:
    config = webhook_target.WebhookTargetConfig(endpoints={"portal": PORTAL_SECRET})
    async for served in _serve(webhook_target.create_app(config), "webhook-target"):
        yield served


PORTAL_SECRET = "whsec_cGFydG5lci1wb3J0YWwtc2VjcmV0LTEyMzQ1Ng=="


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


@pytest.fixture
async def erp_sim(_erp_session: Served) -> AsyncIterator[Served]:
    await _erp_session.client.post("/_control/reset")
    yield _erp_session


@pytest.fixture
async def notifications_sim(_notifications_session: Served) -> AsyncIterator[Served]:
    await _notifications_session.client.post("/_control/reset")
    yield _notifications_session


@pytest.fixture
async def target(_webhook_target_session: Served) -> AsyncIterator[Served]:
    await _webhook_target_session.client.post("/_control/reset")
    yield _webhook_target_session
