"""Worker Versioning on the dev server: a run stays on the build it started on.

This is how docflow ships workflow changes that do not replay old histories (the workflow
kit rewrite was one): the new build joins the deployment beside the old one and becomes
current; running processes finish on the old workers, new ones start on the new build.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from docflow.models import SignatureEventType, SigningState
from docflow.settings import Settings
from tests.workflows.conftest import FakeSystems, event, in_state, signing_input, wait_for
from worker import build_worker
from workflows.signing import SigningWorkflow


async def make_current(client: Client, deployment: str, build_id: str) -> None:
    """`temporal worker deployment set-current-version`, once the server knows the build."""
    for _ in range(100):
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=deployment,
                    build_id=build_id,
                    identity="docflow-test",
                )
            )
            return
        except RPCError:
            await asyncio.sleep(0.1)  # the version registers with its worker's first poll
    raise AssertionError(f"build {build_id} never became current")


async def versioning(handle: WorkflowHandle) -> Any:
    described = await handle.describe()
    return described.raw_description.workflow_execution_info.versioning_info


async def test_running_processes_stay_pinned_to_their_build(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_server_env.client
    deployment = f"docflow-{task_queue}"

    def settings(build: str) -> Settings:
        return Settings().with_overrides(
            temporal={"deployment_name": deployment, "build_id": build, "task_queue": task_queue}
        )

    old_systems, new_systems = FakeSystems(), FakeSystems()
    async with build_worker(client, settings("build-1"), old_systems.activities()):
        await make_current(client, deployment, "build-1")
        old = signing_input(stages=[])
        old_handle = await client.start_workflow(
            SigningWorkflow.run, old, id=f"pinned-{old.request.business_key}", task_queue=task_queue
        )
        await wait_for(old_handle, in_state(SigningState.AWAITING_SIGNATURE), within=30)

        async with build_worker(client, settings("build-2"), new_systems.activities()):
            await make_current(client, deployment, "build-2")
            new = signing_input(stages=[])
            new_handle = await client.start_workflow(
                SigningWorkflow.run,
                new,
                id=f"pinned-{new.request.business_key}",
                task_queue=task_queue,
            )
            await wait_for(new_handle, in_state(SigningState.AWAITING_SIGNATURE), within=30)
            for handle, process in ((old_handle, old), (new_handle, new)):
                await handle.signal(
                    SigningWorkflow.signature_event,
                    event(process.request.business_key, SignatureEventType.SIGNED),
                )
            assert (await old_handle.result()).state is SigningState.COMPLETED
            assert (await new_handle.result()).state is SigningState.COMPLETED

    old_info, new_info = await versioning(old_handle), await versioning(new_handle)
    assert old_info.deployment_version.build_id == "build-1"
    assert new_info.deployment_version.build_id == "build-2"
    assert old_info.behavior == VersioningBehavior.PINNED.value
    # The old run's archive and report ran on the old build's worker, after build-2 was current.
    assert [a.name for a in old_systems.archived] and not [
        a for a in new_systems.archived if old.request.business_key in a.name
    ]
    assert old_systems.reports[-1].business_key == old.request.business_key
    assert new_systems.reports[-1].business_key == new.request.business_key
