"""The dev commands `docflow demo`, `docflow simulators` and `docflow bench` (checkout only).

`starter.cli` finds this package and calls `register(app)`. Imports of the stack, the
simulators and the benchmarks stay inside the commands, so `docflow --help` stays fast and
importing this module pulls in no dev code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

DEV_PANEL = "Development (checkout only, not in the production install)"
T = TypeVar("T")


def run_dev(coro: Coroutine[Any, Any, T]) -> T:
    """`starter.cli.run_command`, plus one clear line for a simulator or stack port in use."""
    from simulators.kit.server import PortInUseError, ServerStartError
    from starter.cli import err, run_command

    try:
        return run_command(coro)
    except PortInUseError as exc:
        err.print(f"[red]error:[/] {exc} (pick another with its --*-port option; 0 = any free)")
        raise typer.Exit(2) from None
    except ServerStartError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


async def until_interrupted() -> None:
    """Wait for Ctrl-C or SIGTERM (the dev servers leave signals to their host process)."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def demo(
    once: Annotated[
        bool, typer.Option(help="Exit when the batch is done (non-zero on failure).")
    ] = False,
    rounds: Annotated[int, typer.Option(min=1, help="How many times to run every sample.")] = 1,
    data_dir: Annotated[Path, typer.Option(help="Temporal SQLite file and documents.")] = Path(
        ".docflow"
    ),
    api_port: Annotated[int, typer.Option(help="docflow API port.")] = 8100,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend (gRPC) port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    core_signature_port: Annotated[int, typer.Option(help="Core Signature simulator port.")] = 8101,
    content_server_port: Annotated[int, typer.Option(help="Content Server simulator port.")] = 8102,
    crm_port: Annotated[int, typer.Option(help="CRM simulator port.")] = 8103,
    erp_port: Annotated[int, typer.Option(help="ERP simulator port.")] = 8104,
    mail_archive_port: Annotated[int, typer.Option(help="Mail archive simulator port.")] = 8105,
    forms_portal_port: Annotated[int, typer.Option(help="Forms portal simulator port.")] = 8106,
    amplience_port: Annotated[int, typer.Option(help="Amplience simulator port.")] = 8107,
    webhook_target_port: Annotated[
        int, typer.Option(help="Webhook target simulator (the distribution targets) port.")
    ] = 8108,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what every part does.")
    ] = False,
) -> None:
    """Start the embedded stack and run sample contracts through every path.

    Starts a Temporal dev server with its Web UI (state persisted under --data-dir), the
    Core Signature, Content Server, CRM, ERP, Amplience and other simulators, a worker and the
    HTTP API; then runs the samples, the workspace and case steps and the content distribution
    and master data steps with live progress, prints a summary and where to look (Web UI
    links, API paths, CLI commands), and keeps the stack up until Ctrl-C (or exits with
    --once). Use 0 for any port to pick a free one.
    """
    from devstack.demo import run_demo
    from devstack.embedded import StackPorts
    from starter.cli import configure_logging, console

    configure_logging(verbose)
    if not verbose:
        # The demo provokes failures on purpose (a source down, lookups before a workspace
        # exists): the tables show what became of them; --verbose shows every retry too.
        for noisy in ("temporalio.activity", "docflow.api"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    ports = StackPorts(
        api=api_port,
        core_signature=core_signature_port,
        content_server=content_server_port,
        crm=crm_port,
        erp=erp_port,
        mail_archive=mail_archive_port,
        forms_portal=forms_portal_port,
        amplience=amplience_port,
        webhook_target=webhook_target_port,
        temporal=temporal_port,
        temporal_ui=ui_port,
    )
    ok = run_dev(
        run_demo(
            ports, data_dir, console, once=once, rounds=rounds, until_stopped=until_interrupted
        )
    )
    if once and not ok:
        raise typer.Exit(1)


def simulators(
    core_signature_port: Annotated[int, typer.Option()] = 8101,
    content_server_port: Annotated[int, typer.Option()] = 8102,
    crm_port: Annotated[int, typer.Option()] = 8103,
    erp_port: Annotated[int, typer.Option()] = 8104,
    mail_archive_port: Annotated[int, typer.Option()] = 8105,
    forms_portal_port: Annotated[int, typer.Option()] = 8106,
    amplience_port: Annotated[int, typer.Option()] = 8107,
    webhook_target_port: Annotated[int, typer.Option()] = 8108,
    events_api: Annotated[
        str | None,
        typer.Option(
            help="docflow API base URL: the CRM and ERP send their business-object events to "
            "its /webhooks/business-objects/{system}, Amplience its webhooks to "
            "/webhooks/amplience (unset: events are kept, not sent)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the simulators' randomness.")] = 7,
) -> None:
    """Run every simulator: Core Signature, Content Server, CRM, ERP, mail archive, forms portal,
    Amplience and the webhook target (an endpoint per distribution target of the bundle)."""
    from starter.cli import configure_logging

    configure_logging(True)
    ports = SimulatorPorts(
        core_signature_port,
        content_server_port,
        crm_port,
        erp_port,
        mail_archive_port,
        forms_portal_port,
        amplience_port,
        webhook_target_port,
    )
    run_dev(_serve_simulators(host, seed, ports, events_api))


@dataclass(frozen=True)
class SimulatorPorts:
    core_signature: int
    content_server: int
    crm: int
    erp: int
    mail_archive: int
    forms_portal: int
    amplience: int
    webhook_target: int


async def _serve_simulators(
    host: str, seed: int, ports: SimulatorPorts, events_api: str | None
) -> None:
    from devstack.distribution import target_endpoints
    from docflow.settings import Settings
    from simulators import (
        amplience,
        content_server,
        core_signature,
        crm,
        erp,
        forms_portal,
        mail_archive,
        webhook_target,
    )
    from simulators.kit.server import ServedApp
    from starter.cli import console

    def events_url(system: str) -> str | None:
        if not events_api:
            return None
        return f"{events_api.rstrip('/')}/webhooks/business-objects/{system}"

    crm_config = crm.CrmConfig(seed=seed, events_url=events_url("SFDC"))
    erp_config = erp.ErpConfig(seed=seed, events_url=events_url("SAP"))
    # The bundle of this environment (DOCFLOW_PROFILE, default dev) names the targets, their
    # secrets and Amplience's webhook secret: the simulators verify and sign as docflow does.
    settings = Settings()
    hub_secret = settings.amplience.webhook_secret
    hub_config = amplience.AmplienceConfig(
        seed=seed,
        webhook_url=f"{events_api.rstrip('/')}/webhooks/amplience" if events_api else None,
    )
    if hub_secret:
        hub_config = hub_config.model_copy(update={"webhook_secret": settings.secret(hub_secret)})
    targets_config = webhook_target.WebhookTargetConfig(
        seed=seed, endpoints=target_endpoints(settings)
    )
    servers = [
        ServedApp(
            core_signature.create_app(core_signature.CoreSignatureConfig(seed=seed)),
            host=host,
            port=ports.core_signature,
            name="Core Signature simulator",
        ),
        ServedApp(
            content_server.create_app(content_server.ContentServerConfig(seed=seed)),
            host=host,
            port=ports.content_server,
            name="Content Server simulator",
        ),
        ServedApp(crm.create_app(crm_config), host=host, port=ports.crm, name="CRM simulator"),
        ServedApp(erp.create_app(erp_config), host=host, port=ports.erp, name="ERP simulator"),
        ServedApp(
            mail_archive.create_app(),
            host=host,
            port=ports.mail_archive,
            name="mail archive simulator",
        ),
        ServedApp(
            forms_portal.create_app(),
            host=host,
            port=ports.forms_portal,
            name="forms portal simulator",
        ),
        ServedApp(
            amplience.create_app(hub_config),
            host=host,
            port=ports.amplience,
            name="Amplience simulator",
        ),
        ServedApp(
            webhook_target.create_app(targets_config),
            host=host,
            port=ports.webhook_target,
            name="webhook target simulator",
        ),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
            console.print(f"{server.name} on {server.base_url}")
        await until_interrupted()


def register(app: typer.Typer) -> None:
    """Add the dev commands to the `docflow` CLI; `bench` only where `benchmarks` exists."""
    app.command(rich_help_panel=DEV_PANEL)(demo)
    app.command(rich_help_panel=DEV_PANEL)(simulators)
    if importlib.util.find_spec("benchmarks") is not None:
        from benchmarks.cli import bench

        app.command(rich_help_panel=DEV_PANEL)(bench)
