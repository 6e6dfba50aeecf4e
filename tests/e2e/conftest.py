"""The whole embedded stack (dev server, simulators, worker, API) on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.embedded import EmbeddedStack
from simulators.kit.server import PortInUseError
from starter.api_client import DocflowApiClient
from tests.stacks import fast_polling_stack

STARTS = 3  # a free port picked for the stack can be taken by another process before use


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    for attempt in range(1, STARTS + 1):
        try:
            started = fast_polling_stack(tmp_path_factory.mktemp("docflow-e2e"))
            running = await started.__aenter__()
        except PortInUseError:
            if attempt == STARTS:
                raise
            continue
        try:
            yield running
        finally:
            await started.__aexit__(None, None, None)
        return


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def crm_app(stack: EmbeddedStack, http: httpx.AsyncClient) -> DocflowApiClient:
    return DocflowApiClient(stack.api_url, "dev-crm-key", http=http)
