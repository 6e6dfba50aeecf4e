"""Target-delivery tests: the webhook target simulator on a free loopback port, with one
endpoint per target of the suite's bundle (`tests/config/local`), signed with its secret
(as the dev stack serves it)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devstack.distribution import target_endpoints, target_urls
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from simulators.webhook_target import WebhookTargetConfig, create_app
from tests.activities.simulated import Sim


@pytest.fixture(scope="session")
async def _webhook_target_served() -> AsyncIterator[ServedApp]:
    app = create_app(WebhookTargetConfig(endpoints=target_endpoints(Settings())))
    async with ServedApp(app, name="webhook-target-sim") as served:
        yield served


@pytest.fixture
async def target_sim(
    _webhook_target_served: ServedApp, http: httpx.AsyncClient
) -> AsyncIterator[Sim]:
    sim = Sim(_webhook_target_served, http)
    await sim.control("POST", "/reset")
    yield sim
    await sim.control("POST", "/reset")


@pytest.fixture
def target_settings(settings: Settings, _webhook_target_served: ServedApp) -> Settings:
    """The suite's settings with every target's endpoint moved to the simulator."""
    endpoints = target_urls(settings, _webhook_target_served.base_url)
    return settings.with_overrides(distribution={"endpoints": endpoints})


def bundle_with(settings: Settings, tmp_path: Path, target: str, **entry: object) -> Settings:
    """A copy of the suite's bundle with one target's entry changed."""
    config_dir = tmp_path / "config"
    shutil.copytree(settings.bundle_dir, config_dir / settings.profile)
    path = config_dir / settings.profile / "content-distribution.json"
    distribution = json.loads(path.read_text())
    distribution["targets"][target].update(entry)
    path.write_text(json.dumps(distribution))
    return settings.with_overrides(config_dir=str(config_dir))
