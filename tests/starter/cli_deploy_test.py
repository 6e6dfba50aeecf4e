"""`docflow deploy status|ramp|promote|drain-status` against a dev server with two builds."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from docflow.settings import Settings
from starter.cli_deploy import app
from tests.workflows.conftest import FakeSystems
from worker import build_worker


async def deploy(env: WorkflowEnvironment, *args: str) -> Result:
    target = env.client.service_client.config.target_host
    variables = {"TEMPORAL_ADDRESS": target, "TEMPORAL_NAMESPACE": env.client.namespace}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=variables)


async def until_ok(env: WorkflowEnvironment, *args: str) -> Result:
    """The server knows a build from its worker's first poll."""
    for _ in range(100):
        result = await deploy(env, *args)
        if result.exit_code == 0:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(result.output)


async def test_ramp_promote_status_and_drain_status(
    dev_server_env: WorkflowEnvironment, task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = f"docflow-{task_queue}"
    monkeypatch.setenv("DOCFLOW_TEMPORAL__DEPLOYMENT_NAME", deployment)

    def settings(build: str) -> Settings:
        return Settings().with_overrides(
            temporal={"deployment_name": deployment, "build_id": build, "task_queue": task_queue}
        )

    client = dev_server_env.client
    async with (
        build_worker(client, settings("build-1"), FakeSystems().activities()),
        build_worker(client, settings("build-2"), FakeSystems().activities()),
    ):
        await until_ok(dev_server_env, "promote", "build-1")
        ramped = await until_ok(dev_server_env, "ramp", "build-2", "--percentage", "25")
        assert "build-2 ramping at 25 %" in ramped.output
        status = await deploy(dev_server_env, "status")
        assert status.exit_code == 0, status.output
        assert "current build-1, ramping build-2 at 25 %" in status.output
        assert "ramping" in status.output and "current" in status.output
        promoted = await deploy(dev_server_env, "promote", "build-2")
        assert promoted.exit_code == 0 and "build-2 is current" in promoted.output
        # No run was pinned to build-1: it drains (at the server's next check).
        old = await deploy(dev_server_env, "drain-status", "build-1")
        assert old.exit_code in (0, 3) and "build-1: " in old.output
        current = await deploy(dev_server_env, "drain-status", "build-2")
        assert current.exit_code == 3 and "build-2: current" in current.output
