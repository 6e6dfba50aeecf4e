"""Live-check tests: the dev bundle against every simulator it names, on loopback ports (the
Core Signature and Content Server simulators of the activity tests, plus Amplience and the
webhook target with one endpoint per target and subscriber of the dev bundle)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.distribution import endpoint_name
from docflow.config.bundle import Bundle, load_bundle
from docflow.config.distribution import ContentDistribution
from docflow.config.ecm_events import EcmEvents
from docflow.secrets import resolve_secret
from docflow.settings import DEFAULT_CONFIG_DIR, Settings
from simulators.amplience import AmplienceConfig
from simulators.amplience import create_app as amplience_app
from simulators.kit.server import ServedApp
from simulators.webhook_target import WebhookTargetConfig
from simulators.webhook_target import create_app as webhook_target_app
from tests.activities.simulated import Sim

AMPLIENCE = AmplienceConfig(job_step_ms=10)


@pytest.fixture(scope="session")
def dev_bundle() -> Bundle:
    return load_bundle("dev", DEFAULT_CONFIG_DIR, check_secrets=False)


def _outbound(bundle: Bundle) -> list[tuple[str, str, str, str]]:
    """(kind, name, url, secret reference) of every target and subscriber."""
    targets = bundle.get(ContentDistribution).targets
    subscriptions = bundle.get(EcmEvents).subscriptions
    return [
        *(("target", n, t.endpoint, t.secret) for n, t in targets.items()),
        *(("subscriber", n, s.endpoint, s.secret) for n, s in subscriptions.items()),
    ]


@pytest.fixture(scope="session")
async def _live_target_served(dev_bundle: Bundle) -> AsyncIterator[ServedApp]:
    endpoints = {
        endpoint_name(url): resolve_secret(ref) for _, _, url, ref in _outbound(dev_bundle)
    }
    app = webhook_target_app(WebhookTargetConfig(endpoints=endpoints))
    async with ServedApp(app, name="live-webhook-target-sim") as served:
        yield served


@pytest.fixture(scope="session")
async def _live_amplience_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(amplience_app(AMPLIENCE), name="live-amplience-sim") as served:
        yield served


@pytest.fixture
async def live_target_sim(
    _live_target_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_live_target_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture
async def live_amplience_sim(
    _live_amplience_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_live_amplience_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture
def live_settings(
    settings: Settings,
    dev_bundle: Bundle,
    core_signature_sim: Sim,
    content_server_sim: Sim,
    live_amplience_sim: Sim,
    live_target_sim: Sim,
) -> Settings:
    """The environment: every system of the dev bundle is a simulator on loopback."""
    amp = live_amplience_sim.url
    urls = {
        kind: {
            name: f"{live_target_sim.url}/{endpoint_name(url)}"
            for k, name, url, _ in _outbound(dev_bundle)
            if k == kind
        }
        for kind in ("target", "subscriber")
    }
    return settings.with_overrides(
        amplience={
            "auth_url": f"{amp}/oauth/token",
            "api_url": f"{amp}/v2/content",
            "delivery_url": amp,
            "hub_id": AMPLIENCE.hub_id,
            "hub_name": AMPLIENCE.hub_name,
            "client_id": AMPLIENCE.client_id,
            "client_secret": f"value:{AMPLIENCE.client_secret}",
        },
        distribution={"endpoints": urls["target"]},
        ecm_events={"endpoints": urls["subscriber"]},
    )
