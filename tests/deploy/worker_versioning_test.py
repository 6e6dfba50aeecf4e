"""Worker Versioning on the dev server: a run stays on the build it started on.

This is how docflow ships workflow changes that do not replay old histories (the workflow
kit rewrite was one): the new build joins the deployment beside the old one and becomes
current; running processes finish on the old workers, new ones start on the new build.
The second test runs the whole procedure of the README (start beside, ramp, set current,
drain, stop the old build) with a pinned process and an auto-upgrading step.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as DeploymentVersion
from temporalio.api.enums.v1 import VersionDrainageStatus, WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow import search_attributes as sa
from docflow.models import SignatureEventType, SigningProcessInput, SigningState
from docflow.models.delivery import OutboundMessage, RedeliverRequest
from docflow.models.ecm_events import PollerInput, PollInput, PollResult
from docflow.models.integration import Notification
from docflow.settings import Settings
from tests.conftest import _binary
from tests.workflows.conftest import FakeSystems, event, in_state, signing_input, wait_for
from worker import build_worker
from workflows.delivery import DeliveryInput, DeliveryWorkflow, delivery_workflow_id
from workflows.ecm_poller import EcmAuditPollerWorkflow
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


# ------------------------------------------------ the procedure: beside, ramp, current, drain
RAMPING = WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
# The server re-checks a draining version's open pinned runs every RefreshInterval, after a
# GracePeriod for visibility to catch up (minutes by default; a second here).
FAST_DRAINAGE = [
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusVisibilityGracePeriod="1s"',
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusRefreshInterval="1s"',
]


@pytest.fixture(scope="module")
async def fast_drainage_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
        dev_server_extra_args=FAST_DRAINAGE,
    )
    try:
        yield env
    finally:
        await env.shutdown()


class Target:
    """A delivery target (stand-in) of one build's worker: refuses until it is fixed."""

    def __init__(self, *, refusing: bool) -> None:
        self.refusing = refusing
        self.accepted: list[str] = []
        self.tried: list[str] = []

    @activity.defn(name="deliver_message")
    async def deliver(self, message: OutboundMessage) -> None:
        self.tried.append(message.business_key)
        if self.refusing:
            raise ApplicationError(f"{message.target} answered 400", non_retryable=True)
        self.accepted.append(message.business_key)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """A worker polling in the background until stopped (here or on leaving)."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        if not task.done():
            await worker.shutdown()
        await task


async def set_ramping(client: Client, deployment: str, build_id: str, percentage: float) -> None:
    """`temporal worker deployment set-ramping-version --percentage ...`."""
    for _ in range(100):
        try:
            await client.workflow_service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=client.namespace,
                    deployment_name=deployment,
                    build_id=build_id,
                    percentage=percentage,
                    identity="docflow-test",
                )
            )
            return
        except RPCError:
            await asyncio.sleep(0.1)  # the version registers with its worker's first poll
    raise AssertionError(f"build {build_id} never ramped")


async def describe_version(client: Client, deployment: str, build_id: str) -> Any:
    """`temporal worker deployment describe-version`."""
    described = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=DeploymentVersion(deployment_name=deployment, build_id=build_id),
        )
    )
    return described.worker_deployment_version_info


async def drainage(client: Client, deployment: str, build_id: str) -> int:
    return int((await describe_version(client, deployment, build_id)).drainage_info.status)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.2)


async def build_of(handle: WorkflowHandle) -> str:
    info = await versioning(handle)
    return str(info.deployment_version.build_id) if info is not None else ""


async def test_start_beside_ramp_set_current_drain_then_stop_the_old_build(
    fast_drainage_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = fast_drainage_env.client
    deployment = f"docflow-{task_queue}"

    def settings(build: str) -> Settings:
        return Settings().with_overrides(
            temporal={"deployment_name": deployment, "build_id": build, "task_queue": task_queue}
        )

    old_systems, new_systems = FakeSystems(), FakeSystems()
    old_target, new_target = Target(refusing=True), Target(refusing=False)
    old_worker = build_worker(
        client, settings("build-1"), [*old_systems.activities(), old_target.deliver]
    )
    new_worker = build_worker(
        client, settings("build-2"), [*new_systems.activities(), new_target.deliver]
    )

    async def start_signing(prefix: str) -> tuple[WorkflowHandle, SigningProcessInput]:
        process = signing_input(stages=[])
        handle = await client.start_workflow(
            SigningWorkflow.run,
            process,
            id=f"{prefix}-{process.request.business_key}",
            task_queue=task_queue,
        )
        await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE), within=30)
        return handle, process

    async def sign(handle: WorkflowHandle, process: SigningProcessInput) -> None:
        key = process.request.business_key
        await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
        assert (await handle.result()).state is SigningState.COMPLETED

    async with running(old_worker):
        # 1. build-1 is current: a long process (pinned) and a short step (auto-upgrade),
        # which the target refuses: dead-lettered, it waits for an operator's redelivery.
        await make_current(client, deployment, "build-1")
        long_run, long_input = await start_signing("long")
        message = OutboundMessage(
            target="erp",
            event_type="document.signed",
            idempotency_key=f"{task_queue}:erp",
            business_key=f"step-{task_queue}",
            payload={},
        )
        step = await client.start_workflow(
            DeliveryWorkflow.run,
            DeliveryInput(message=message),
            id=delivery_workflow_id(message),
            task_queue=task_queue,
        )

        async def dead_lettered() -> bool:
            return (await step.query(DeliveryWorkflow.status)).state == "dead_lettered"

        await eventually(dead_lettered, "the step dead-lettered on build-1")
        assert (await versioning(long_run)).behavior == VersioningBehavior.PINNED.value
        assert (await versioning(step)).behavior == VersioningBehavior.AUTO_UPGRADE.value
        assert await build_of(long_run) == await build_of(step) == "build-1"

        async with running(new_worker):
            # 2. build-2 beside build-1, then ramped to 100 %: new runs go to build-2, while
            # build-1 stays current (a smaller percentage splits new runs by workflow id).
            await set_ramping(client, deployment, "build-2", 100)
            ramping = await describe_version(client, deployment, "build-2")
            assert (
                ramping.status
                == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
            )
            assert ramping.ramp_percentage == 100
            ramped_run, ramped_input = await start_signing("ramped")
            assert await build_of(ramped_run) == "build-2"
            assert await build_of(long_run) == "build-1"  # pinned: untouched by the ramp

            # 3. build-2 current (the ramp ends): build-1 drains its pinned run.
            await make_current(client, deployment, "build-2")
            new_run, new_input = await start_signing("new")
            assert await build_of(new_run) == "build-2"

            async def draining() -> bool:
                status = await drainage(client, deployment, "build-1")
                return status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING

            await eventually(draining, "build-1 draining while its pinned run is open")

            # The auto-upgrading step's next task runs on build-2: redelivered by build-2's
            # worker (its target stand-in accepts), and the run now belongs to build-2.
            await step.execute_update(
                DeliveryWorkflow.redeliver, RedeliverRequest(actor="ops@example.com")
            )
            result = await step.result()
            assert result.delivered and result.rounds == 2
            assert old_target.tried == [message.business_key]  # round 1, on build-1
            assert new_target.accepted == [message.business_key]  # round 2, on build-2
            assert await build_of(step) == "build-2"

            # The pinned run finishes on build-1's worker although build-2 is current.
            await sign(long_run, long_input)
            assert await build_of(long_run) == "build-1"
            assert old_systems.reports[-1].business_key == long_input.request.business_key
            assert long_input.request.business_key not in {
                r.business_key for r in new_systems.reports
            }

            # 4. drained: no pinned run open on build-1 any more; only now stop its workers.
            async def drained() -> bool:
                status = await drainage(client, deployment, "build-1")
                return status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED

            await eventually(drained, "build-1 drained after its pinned run closed")
            await old_worker.shutdown()

            # build-2 alone finishes everything that started on it.
            await sign(ramped_run, ramped_input)
            await sign(new_run, new_input)
    assert {r.business_key for r in new_systems.reports} >= {
        ramped_input.request.business_key,
        new_input.request.business_key,
    }


# ------------------------------------- lifelong processes move at continue-as-new
async def wait_until(
    read: Callable[[], Any], check: Callable[[Any], bool] = bool, within: float = 30.0
) -> Any:
    """Read (a value or an awaitable) until `check` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = read()
        if inspect.isawaitable(value):
            value = await value
        if check(value):
            return value
        assert loop.time() < deadline, f"not reached in {within:.0f} s: {value}"
        await asyncio.sleep(0.1)


class AuditTrail:
    """The audit poller's stand-ins on one build's worker: every poll finds nothing."""

    def __init__(self) -> None:
        self.polls = 0

    @activity.defn(name="poll_ecm_audit")
    async def poll(self, request: PollInput) -> PollResult:
        self.polls += 1
        return PollResult(cursor=request.cursor, interval_s=0.05)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        return None


async def test_a_lifelong_pinned_process_moves_to_the_new_build_at_continue_as_new(
    fast_drainage_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Pinned runs never change build; a process that lives for years (one per business
    object, the audit poller) continues as new onto the current build, so the old one drains."""
    client = fast_drainage_env.client
    deployment = f"docflow-{task_queue}"

    def settings(build: str) -> Settings:
        return Settings().with_overrides(
            temporal={"deployment_name": deployment, "build_id": build, "task_queue": task_queue}
        )

    old, new = AuditTrail(), AuditTrail()
    async with build_worker(client, settings("build-1"), [old.poll, old.notify]):
        await make_current(client, deployment, "build-1")
        handle = await client.start_workflow(
            EcmAuditPollerWorkflow.run,
            PollerInput(history_budget=100),
            id=f"poller-{task_queue}",
            task_queue=task_queue,
        )
        first = (await handle.describe()).run_id
        await wait_until(lambda: old.polls >= 3)
        assert (await versioning(handle)).deployment_version.build_id == "build-1"
        try:
            async with build_worker(client, settings("build-2"), [new.poll, new.notify]):
                await make_current(client, deployment, "build-2")
                await wait_until(lambda: new.polls >= 3, within=60)
                latest = client.get_workflow_handle(handle.id)
                info = await versioning(latest)
                assert info.deployment_version.build_id == "build-2"
                assert info.behavior == VersioningBehavior.PINNED.value  # pinned again
                assert (await latest.describe()).run_id != first
                await wait_until(
                    lambda: describe_version(client, deployment, "build-1"),
                    check=lambda v: (
                        v.drainage_info.status
                        == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED
                    ),
                    within=60,
                )
        finally:
            await client.get_workflow_handle(handle.id).terminate("end of the test")
