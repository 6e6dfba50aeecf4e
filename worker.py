"""The docflow worker: runs the signing workflow and every activity on one task queue.

`python worker.py` connects through the SDK's environment configuration and runs until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.common import VersioningBehavior
from temporalio.worker import Worker, WorkerDeploymentConfig, WorkerDeploymentVersion
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities import build_activities, new_http_client
from activities.http.heartbeat import HeartbeatInterceptor
from docflow.config.bundle import follow_applied_versions
from docflow.config.versions import ConfigVersions
from docflow.records.store import RecordStore
from docflow.settings import Settings
from docflow.temporal import connect
from workflows.case_assembly import CaseAssemblyWorkflow, CaseSourceWorkflow
from workflows.content_distribution import ContentDistributionWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.ecm_action import LifecycleActionWorkflow
from workflows.ecm_events import EcmDocumentWorkflow
from workflows.ecm_poller import EcmAuditPollerWorkflow
from workflows.ecm_review import EcmReviewTaskWorkflow
from workflows.ecm_subscriber import EcmSubscriberWorkflow
from workflows.ecm_update import EcmContentUpdateWorkflow
from workflows.master_data import MasterDataWorkflow
from workflows.partner_inbox import PartnerInboxWorkflow
from workflows.promotion import ConfigPromotionWorkflow
from workflows.signing import SigningWorkflow
from workflows.versioning import declare_behaviours
from workflows.workspace import BusinessObjectWorkflow

logger = logging.getLogger("docflow.worker")

# The processes a worker runs, with the children they start (the composition root).
PROCESSES: dict[str, list[type]] = {
    "signing": [SigningWorkflow, DeliveryWorkflow],
    "workspaces": [BusinessObjectWorkflow, DeliveryWorkflow],
    "cases": [CaseAssemblyWorkflow, CaseSourceWorkflow],
    "content-distribution": [ContentDistributionWorkflow],
    "master-data": [MasterDataWorkflow],
    "ecm-events": [
        EcmDocumentWorkflow,
        EcmSubscriberWorkflow,
        EcmAuditPollerWorkflow,
        LifecycleActionWorkflow,
    ],
    "ecm-requests": [
        EcmReviewTaskWorkflow,
        EcmContentUpdateWorkflow,
        PartnerInboxWorkflow,
        DeliveryWorkflow,
    ],
    "promotion": [ConfigPromotionWorkflow],
}


def registered_workflows() -> list[type]:
    unique: dict[str, type] = {}
    for classes in PROCESSES.values():
        for cls in classes:
            unique.setdefault(cls.__name__, cls)
    return list(unique.values())


def cache_workflow_bytecode() -> bool:
    """Write the bytecode of the workflow modules if it is missing or stale.

    The sandbox imports the workflow module afresh for every run it starts or replays. Without
    a bytecode cache (PYTHONDONTWRITEBYTECODE=1, common in CI and containers) each of those
    imports compiles the source again: about 5 ms of the worker's CPU per run here. compileall
    writes the cache regardless of that setting; a read-only tree only costs the speed.
    """
    try:
        cached = bool(compileall.compile_dir(workflows.__path__[0], quiet=2, maxlevels=1))
    except OSError:
        cached = False
    if not cached:
        logger.info("workflow bytecode not cached (read-only tree?); the sandbox compiles per run")
    return cached


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    task_queue: str | None = None,
) -> Worker:
    """A worker for every registered workflow and the given (async) activities.

    With `temporal.build_id` set the worker joins its Worker Deployment as that version
    (Worker Versioning). Each workflow type then reports its behaviour from
    `workflows.versioning.VERSIONING`: long-running processes stay pinned to the build they
    started on, short self-contained steps move to the current build (auto-upgrade); README,
    "Changing the workflow safely". The deployment's default (PINNED) only covers a type
    the table lacks, which `tests/deploy/versioning_behaviour_test.py` forbids. An
    unversioned worker reports none (a server refuses a behaviour from one).
    """
    cache_workflow_bytecode()
    temporal = settings.temporal
    passthrough = ["docflow", "activities", "workflows.kit"]
    if temporal.build_id:
        # The per-type behaviours, read by the workflow definitions this sandbox imports.
        declare_behaviours()
        passthrough.append("workflows.versioning")
    deployment = (
        WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(
                deployment_name=temporal.deployment_name, build_id=temporal.build_id
            ),
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED,
        )
        if temporal.build_id
        else None
    )
    return Worker(
        client,
        task_queue=task_queue or temporal.task_queue,
        workflows=registered_workflows(),
        activities=list(activities),
        interceptors=[HeartbeatInterceptor()],
        deployment_config=deployment,
        max_cached_workflows=temporal.max_cached_workflows,
        # docflow's models, activity interfaces and the workflow kit are deterministic and
        # stateless: share them with the sandbox instead of re-importing them for every run.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough)
        ),
    )


async def run_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Poll `task_queue` until `stop` is set (or forever); one HTTP pool for all activities."""
    queue = task_queue or settings.temporal.task_queue
    stop = stop or asyncio.Event()
    records = RecordStore.from_settings(settings)
    await asyncio.to_thread(records.migrate_if_embedded)
    # Activities read the environment's newest applied configuration version (promotions
    # reach running workers without a restart); before the first, its bundle's files.
    follow_applied_versions(ConfigVersions(records))
    async with new_http_client() as http:
        activities = build_activities(settings, http, client=client, records=records)
        worker = build_worker(client, settings, activities, queue)
        logger.info(
            "worker polling task queue %r in namespace %r (profile %s)",
            queue,
            client.namespace,
            settings.profile,
        )
        async with worker:
            await stop.wait()
            logger.info("stopping worker on task queue %r", queue)
    follow_applied_versions(None)
    records.close()
    logger.info("worker stopped")


async def _main() -> None:
    settings = Settings()
    client = await connect(settings.temporal.env_profile)
    logger.info(
        "connected to Temporal at %s, namespace %r",
        client.service_client.config.target_host,
        client.namespace,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(client, settings, stop=stop)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The activities log each external call with its outcome; httpx's per-request lines
    # would only repeat them.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(_main())


if __name__ == "__main__":
    main()
