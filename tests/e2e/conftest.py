"""The whole embedded stack (dev server, simulators, worker, API) on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.embedded import EmbeddedStack
from starter.api_client import DocflowApiClient
from tests.stacks import fast_polling_stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    async with fast_polling_stack(tmp_path_factory.mktemp("docflow-e2e")) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def crm_app(stack: EmbeddedStack, http: httpx.AsyncClient) -> DocflowApiClient:
    return DocflowApiClient(stack.api_url, "dev-crm-key", http=http)
