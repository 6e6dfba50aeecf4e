"""`docflow deploy status|ramp|promote|drain-status`: the Worker Versioning procedure.

Thin wrappers over the server's Worker Deployment API (the same calls as `temporal worker
deployment ...`), for the deployment docflow's workers join (`temporal.deployment_name`);
README, "Changing the workflow safely": start the new build beside the old, ramp, promote,
wait for the old build to drain, stop it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import VersionDrainageStatus, WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

app = typer.Typer(
    name="deploy",
    help="Ship a new worker build: status, ramp, promote, drain status (Worker Versioning).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
IDENTITY = "docflow-cli"

Deployment = Annotated[
    str | None,
    typer.Option(help="Worker Deployment name (default: the settings' temporal.deployment_name)."),
]


def status_name(value: int) -> str:
    name = WorkerDeploymentVersionStatus.Name(value)  # type: ignore[arg-type]
    return name.removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_").lower()


def drainage_name(value: int) -> str:
    name = VersionDrainageStatus.Name(value)  # type: ignore[arg-type]
    return name.removeprefix("VERSION_DRAINAGE_STATUS_").lower()


async def _client_and_name(deployment: str | None) -> tuple[Client, str]:
    from docflow.settings import Settings
    from docflow.temporal import connect

    settings = Settings()
    client = await connect(settings.temporal.env_profile)
    return client, deployment or settings.temporal.deployment_name


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except RPCError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None


async def describe_version(client: Client, deployment: str, build_id: str) -> Any:
    described = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=WorkerDeploymentVersion(
                deployment_name=deployment, build_id=build_id
            ),
        )
    )
    return described.worker_deployment_version_info


@app.command("status")
def status(deployment: Deployment = None) -> None:
    """The current and ramping builds and every version's status and drainage."""

    async def go() -> None:
        client, name = await _client_and_name(deployment)
        info = (
            await client.workflow_service.describe_worker_deployment(
                DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=name)
            )
        ).worker_deployment_info
        routing = info.routing_config
        current = routing.current_deployment_version.build_id or "(unversioned)"
        ramping = routing.ramping_deployment_version.build_id
        console.print(f"deployment [bold]{name}[/]: current {current}", end="")
        console.print(
            f", ramping {ramping} at {routing.ramping_version_percentage:g} %" if ramping else ""
        )
        table = Table("build", "status", "drainage", "created")
        for summary in info.version_summaries:
            table.add_row(
                summary.deployment_version.build_id,
                status_name(summary.status),
                drainage_name(summary.drainage_status) if summary.drainage_status else "",
                summary.create_time.ToDatetime().isoformat(timespec="seconds"),
            )
        console.print(table)

    _run(go())


@app.command("ramp")
def ramp(
    build_id: Annotated[str, typer.Argument(help="The new build, already polling.")],
    percentage: Annotated[
        float, typer.Option(min=0, max=100, help="Share of new runs sent to the build.")
    ],
    deployment: Deployment = None,
) -> None:
    """Send a share of new runs (and auto-upgrading runs' next tasks) to a new build."""

    async def go() -> None:
        client, name = await _client_and_name(deployment)
        await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace,
                deployment_name=name,
                build_id=build_id,
                percentage=percentage,
                identity=IDENTITY,
            )
        )
        console.print(f"{build_id} ramping at {percentage:g} % in {name}")

    _run(go())


@app.command("promote")
def promote(
    build_id: Annotated[str, typer.Argument(help="The build to make current.")],
    deployment: Deployment = None,
) -> None:
    """Make a build current: new runs and auto-upgrading runs move to it; pinned runs stay."""

    async def go() -> None:
        client, name = await _client_and_name(deployment)
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=name,
                build_id=build_id,
                identity=IDENTITY,
            )
        )
        console.print(f"{build_id} is current in {name}")

    _run(go())


@app.command("drain-status")
def drain_status(
    build_id: Annotated[str, typer.Argument(help="The old build.")],
    deployment: Deployment = None,
    wait: Annotated[bool, typer.Option(help="Poll until the build is drained.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls with --wait.")] = 30,
) -> None:
    """Whether pinned runs are still open on a build: exit 0 once drained (stop it then)."""

    async def go() -> str:
        client, name = await _client_and_name(deployment)
        while True:
            info = await describe_version(client, name, build_id)
            drainage = drainage_name(info.drainage_info.status)
            if drainage == "drained" or not wait:
                return drainage if info.drainage_info.status else status_name(info.status)
            console.print(f"{build_id}: {drainage}; checking again in {interval:g} s")
            await asyncio.sleep(interval)

    drainage = _run(go())
    console.print(f"{build_id}: {drainage}")
    if drainage != "drained":
        raise typer.Exit(3)
