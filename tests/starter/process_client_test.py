"""ProcessClient on the dev server: start with its conflict policy, signal-/update-with-start,
updates, queries and the error mapping every process's helpers rely on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.settings import Settings
from starter.processes.base import ProcessClient, ProcessNotFound, ProcessRuleViolation
from tests.starter.entity_stand_in import Amount, EntityStandIn, Total


class Entities(ProcessClient):
    workflow_type = "TestEntity"
    process_name = "test entity"

    def workflow_id(self, key: str) -> str:
        return f"entity-{key}"


@pytest.fixture
async def entities(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> AsyncIterator[Entities]:
    client: Client = dev_server_env.client
    settings = Settings(
        data_dir=tmp_path, temporal={"task_queue": task_queue, "ui_url": "http://ui.test/"}
    )
    async with Worker(client, task_queue=task_queue, workflows=[EntityStandIn]):
        yield Entities(client, settings)


def new_key() -> str:
    return f"E-{uuid.uuid4().hex[:10]}"


async def test_start_twice_returns_the_first_run(entities: Entities) -> None:
    key = new_key()
    first = await entities.start_process(key, Amount(value=1))
    again = await entities.start_process(key, Amount(value=99))
    assert first.created and not again.created
    assert again.run_id == first.run_id and again.workflow_id == f"entity-{key}"
    assert (await entities.query(key, "total", result_type=Total)).total == 1


async def test_signal_with_start_starts_once_then_signals(entities: Entities) -> None:
    key = new_key()
    first = await entities.signal_with_start(key, "add", Amount(value=5), Amount(value=10))
    second = await entities.signal_with_start(key, "add", Amount(value=2), Amount(value=10))
    assert second.run_id == first.run_id
    assert (await entities.query(key, "total", result_type=Total)).total == 17


async def test_update_with_start_answers_and_refuses(entities: Entities) -> None:
    key = new_key()
    total = await entities.update_with_start(
        key, "add_and_get", Amount(value=3), Amount(value=1), result_type=Total
    )
    assert total.total == 4
    total = await entities.update_with_start(
        key, "add_and_get", Amount(value=3), Amount(value=1), result_type=Total
    )
    assert total.total == 7  # the running workflow took it; no second start
    with pytest.raises(ProcessRuleViolation, match="must not be negative"):
        await entities.update_with_start(
            key, "add_and_get", Amount(value=-1), Amount(value=1), result_type=Total
        )


async def test_update_request_id_applies_once(entities: Entities) -> None:
    key = new_key()
    await entities.start_process(key, Amount(value=0))
    for _ in range(2):
        total = await entities.update(
            key, "add_and_get", Amount(value=5), result_type=Total, request_id="r-1"
        )
        assert total.total == 5


async def test_unknown_and_ended_processes(entities: Entities) -> None:
    with pytest.raises(ProcessNotFound, match="no test entity for"):
        await entities.update(new_key(), "add_and_get", Amount(value=1), result_type=Total)
    with pytest.raises(ProcessNotFound):
        await entities.signal(new_key(), "add", Amount(value=1))

    key = new_key()
    await entities.start_process(key, Amount(value=1))
    assert await entities.signal(key, "close", Amount(value=0)) == "accepted"
    await entities.handle(key).result()
    assert await entities.is_closed(key)
    assert await entities.signal(key, "add", Amount(value=1)) == "ignored"
    with pytest.raises(ProcessRuleViolation, match="has already ended"):
        await entities.update(key, "add_and_get", Amount(value=1), result_type=Total)


def test_web_ui_links(entities: Entities) -> None:
    assert entities.web_ui_url("Q:1") == "http://ui.test/namespaces/default/workflows/entity-Q%3A1"
    assert entities.web_ui_url("Q:1", "r1").endswith("/entity-Q%3A1/r1/history")
