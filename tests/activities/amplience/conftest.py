"""Amplience client tests: the simulator on a free loopback port, a client per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from activities.amplience.auth import token_provider
from activities.amplience.client import AmplienceClient
from activities.http.oauth import ClientCredentialsTokenProvider
from simulators.amplience import AmplienceConfig, create_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim

CONFIG = AmplienceConfig(job_step_ms=10)
SCHEMA = "https://docflow.example.com/product.json"


@pytest.fixture(scope="session")
async def _amplience_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(create_app(CONFIG), name="amplience-sim") as served:
        yield served


@pytest.fixture
async def amplience_sim(
    _amplience_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_amplience_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture
def tokens(amplience_sim: Sim, http: httpx.AsyncClient) -> ClientCredentialsTokenProvider:
    return token_provider(
        http, f"{amplience_sim.url}/oauth/token", CONFIG.client_id, CONFIG.client_secret
    )


@pytest.fixture
def client(
    amplience_sim: Sim, http: httpx.AsyncClient, tokens: ClientCredentialsTokenProvider
) -> AmplienceClient:
    return AmplienceClient(
        http,
        api_url=f"{amplience_sim.url}/v2/content",
        delivery_url=amplience_sim.url,
        hub_id=CONFIG.hub_id,
        tokens=tokens,
        timeout_s=5.0,
        poll_interval_s=0.01,
        publish_timeout_s=5.0,
    )
