"""The whole embedded stack (dev server, simulators, worker, API) on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from docflow.settings import Settings
from starter.api_client import DocflowApiClient
from starter.embedded import EmbeddedStack, StackPorts


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    data_dir: Path = tmp_path_factory.mktemp("docflow-e2e")
    settings = Settings().with_overrides(
        signing_policy={
            "signature_poll_after": timedelta(seconds=3),
            "signature_poll_interval": timedelta(seconds=2),
        }
    )
    async with EmbeddedStack(
        settings=settings, ports=StackPorts.any_free(), data_dir=data_dir
    ) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def crm_app(stack: EmbeddedStack, http: httpx.AsyncClient) -> DocflowApiClient:
    return DocflowApiClient(stack.api_url, "dev-crm-key", http=http)
