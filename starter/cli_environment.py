"""`docflow config check-live | rollout`: an environment's live systems against its bundle,
and a routing rollout's lifecycle in a bundle directory (then promoted as usual).

`check-live` runs on a machine of that environment (its settings and credentials): every id
the bundle names is looked up in the systems it points at — what a promotion does before it
asks for approval. `rollout status | finish | drop` edits `signing-routing.json` in a bundle
directory (for review in git, then `docflow config promote`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from activities.environment.live_checks import check_live
from docflow.config.bundle import BundleError, load_bundle
from docflow.config.routing import RoutingRules
from docflow.models.environment import LiveReport
from docflow.settings import Settings, config_location

console = Console()
ROUTING_FILE = "signing-routing.json"

Profile = Annotated[
    str | None,
    typer.Option("--profile", "-p", envvar="DOCFLOW_PROFILE", help="dev | local | test | prod."),
]
ConfigDir = Annotated[
    Path | None,
    typer.Option(envvar="DOCFLOW_CONFIG_DIR", help="Directory of the bundles.", show_default=False),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def check_live_command(
    profile: Profile = None,
    config_dir: ConfigDir = None,
    timeout: Annotated[float, typer.Option(min=0.5, max=120, help="Seconds per call.")] = 10.0,
    show_all: Annotated[bool, typer.Option("--all", help="List the passing checks too.")] = False,
) -> None:
    """Look every id the bundle names up in this environment's live systems (exit 1 if any
    is missing or a system does not answer)."""
    try:
        chosen, directory = config_location(profile, config_dir)
        bundle = load_bundle(chosen, directory, check_secrets=False)
        settings = Settings(profile=chosen, config_dir=directory)
    except (BundleError, ValueError) as exc:
        raise _fail(str(exc)) from None

    async def run() -> LiveReport:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            return await check_live(bundle, settings, http, timeout_s=timeout)

    with console.status(f"checking {chosen}'s live systems…"):
        report = asyncio.run(run())
    for check in report.checks:
        if show_all or not check.ok:
            mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
            console.print(
                f"{mark} {check.file}: {check.path}: {check.subject}: {check.message}",
                highlight=False,
            )
    systems = ", ".join(sorted(report.systems())) or "none"
    typer.echo(f"{chosen}: {len(report.checks)} checked ({systems}), {len(report.problems)} failed")
    if not report.ok:
        raise typer.Exit(1)


def rollout(
    action: Annotated[str, typer.Argument(help="status | finish (make it the default) | drop")],
    bundle_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="The bundle directory (default: the profile's)."),
    ] = None,
    profile: Profile = None,
    config_dir: ConfigDir = None,
) -> None:
    """A routing rollout in a bundle directory: show it, make its rules the default, or drop
    it. Edits signing-routing.json; review it, then `docflow config promote`."""
    if action not in ("status", "finish", "drop"):
        raise _fail("ACTION is status, finish or drop")
    if bundle_dir is None:
        chosen, directory = config_location(profile, config_dir)
        bundle_dir = directory / chosen
    path = bundle_dir / ROUTING_FILE
    try:
        data = json.loads(path.read_text())
        rules = RoutingRules.model_validate(data)
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: {exc}") from None
    current = rules.rollout
    if action == "status":
        if current is None:
            console.print(f"{path}: rules {rules.version}, no rollout")
            return
        who = ", ".join(current.source_systems) or "no named system"
        console.print(
            f"{path}: rules {rules.version}; rollout {current.version} for {who} and "
            f"{current.share_percent} % of other new processes ({len(current.rules)} rules)"
        )
        return
    if current is None:
        raise _fail(f"{path} has no rollout to {action}", 1)
    changed = rules.promote_rollout() if action == "finish" else rules.without_rollout()
    out = changed.model_dump(mode="json", exclude_none=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    done = (
        f"rollout {current.version} is now the default rules"
        if action == "finish"
        else f"rollout {current.version} dropped; rules {rules.version} for every process"
    )
    console.print(f"{path}: {done}; review it, then `docflow config promote`")


def register(app: typer.Typer) -> None:
    """Add the commands to `docflow config`."""
    app.command("check-live")(check_live_command)
    app.command()(rollout)
