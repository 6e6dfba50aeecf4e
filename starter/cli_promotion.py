"""`docflow config promote | promotion | decide | rollback | versions`: configuration
promotions through the target environment's API (its DOCFLOW_API_URL and your key there).

A promotion runs in the environment it changes: `--api-url` names the target (test, prod);
`--from` names where the files come from (a profile's bundle in this checkout, a bundle
directory, or an archive written by `docflow config export`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from docflow.config.bundle import CONCERN_FILES, concern_texts
from docflow.settings import PROFILES, config_location
from starter.api_client import DocflowApiClient

console = Console()
err = Console(stderr=True)
WAIT_STATES = frozenset({"validating", "checking_live"})

ApiUrl = Annotated[
    str,
    typer.Option(envvar="DOCFLOW_API_URL", help="The target environment's docflow API."),
]
ApiKey = Annotated[
    str, typer.Option(envvar="DOCFLOW_API_KEY", help="Your API key in the target environment.")
]


def _run(coro: Any) -> Any:
    from starter.cli import run_command  # the one place CLI errors become exit codes

    return run_command(coro)


def concern_files(source: str, config_dir: Path | None = None) -> dict[str, str]:
    """The concern files of a profile's bundle, a bundle directory or an exported archive."""
    path = Path(source)
    if source in PROFILES and not path.exists():
        _, directory = config_location(source, config_dir)
        path = directory / source
    if path.is_dir():
        return concern_texts(path)
    if path.is_file():
        try:
            files = json.loads(path.read_text())["files"]
        except (ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{path} is not a bundle archive: {exc}") from None
        return {name: text for name, text in files.items() if name in CONCERN_FILES}
    raise typer.BadParameter(f"{source!r}: not a profile, a bundle directory or an archive")


async def _call(api_url: str, api_key: str, method: str, path: str, **kwargs: Any) -> Any:
    async with DocflowApiClient(api_url, api_key) as client:
        return await client.call(method, path, **kwargs)


def _show(status: dict[str, Any]) -> None:
    console.print(
        f"[bold]{status['promotion_id']}[/] ({status['kind']} to {status['environment']}, "
        f"from {status['source']}, proposed by {status['proposer']}): [bold]{status['state']}[/]"
    )
    if status.get("waiting_for") and status["state"] not in ("applied", "refused"):
        console.print(f"  waiting for {status['waiting_for']}")
    check = status.get("check")
    if check:
        against = f"version {check['current']}" if check["current"] else "its files"
        console.print(f"  diff against {against}: {check['diff_summary']}")
        if check["diff_text"]:
            console.print(check["diff_text"], markup=False, highlight=False)
        for problem in check["problems"]:
            console.print(f"  [red]✗[/] {problem}", highlight=False)
    live = status.get("live")
    if live:
        failed = [c for c in live["checks"] if not c["ok"]]
        console.print(f"  live checks: {len(live['checks'])} checked, {len(failed)} failed")
        for check_ in failed:
            console.print(
                f"  [red]✗[/] {check_['file']}: {check_['path']}: {check_['subject']}: "
                f"{check_['message']}",
                highlight=False,
            )
    if status.get("approver"):
        comment = f" — {status['comment']}" if status.get("comment") else ""
        console.print(f"  decided by {status['approver']}{comment}")
    if status.get("applied_version"):
        console.print(f"  applied as configuration version {status['applied_version']}")
    if status.get("outcome_reason") and status["state"] != "applied":
        console.print(f"  {status['outcome_reason']}", highlight=False)


async def _wait(api_url: str, api_key: str, promotion_id: str, timeout_s: float) -> dict[str, Any]:
    """Poll until the promotion is past its checks (awaiting approval, or ended)."""
    path = f"/v1/config/promotions/{promotion_id}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    with console.status("validating and checking the live systems…"):
        while True:
            status: dict[str, Any] = await _call(api_url, api_key, "GET", path)
            if status["state"] not in WAIT_STATES or loop.time() > deadline:
                return status
            await asyncio.sleep(0.5)


def promote(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="Where the files come from: a profile (its bundle in this checkout), a "
            "bundle directory, or an archive from `docflow config export`.",
        ),
    ],
    api_url: ApiUrl,
    api_key: ApiKey,
    reason: Annotated[str, typer.Option(help="Why: shown to the release approver.")] = "",
    promotion_id: Annotated[
        str | None, typer.Option("--id", help="Your id (default: from the content).")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="How the source is named in the audit (default --from).")
    ] = None,
    config_dir: Annotated[
        Path | None, typer.Option(envvar="DOCFLOW_CONFIG_DIR", show_default=False)
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Show the checks' results.")
    ] = True,
) -> None:
    """Propose the concern files of --from for the environment behind --api-url.

    The promotion diffs, validates and live-checks them in the target environment, then
    waits for a release approver (not you); `docflow config promotion ID` follows it.
    """
    files = concern_files(source, config_dir)
    body = {
        "source": label or source,
        "reason": reason,
        "files": files,
        **({"promotion_id": promotion_id} if promotion_id else {}),
    }
    answer = _run(_call(api_url, api_key, "POST", "/v1/config/promotions", json=body))
    key = answer["status_url"].rsplit("/", 1)[-1]
    console.print(f"promotion {key} {'proposed' if answer['created'] else 'already exists'}")
    console.print(f"  {answer['status_url']}\n  {answer['web_ui_url']}")
    if wait:
        status = _run(_wait(api_url, api_key, key, 120.0))
        _show(status)
        if status["state"] == "refused":
            raise typer.Exit(1)


def promotion(promotion_id: str, api_url: ApiUrl, api_key: ApiKey) -> None:
    """A promotion's state, diff, checks, decision and the version it applied."""
    _show(_run(_call(api_url, api_key, "GET", f"/v1/config/promotions/{promotion_id}")))


def decide(
    promotion_id: str,
    decision: Annotated[str, typer.Argument(help="approve or reject")],
    api_url: ApiUrl,
    api_key: ApiKey,
    comment: Annotated[str, typer.Option(help="Recorded with the decision.")] = "",
) -> None:
    """Approve or reject a promotion (release approvers; never your own proposal)."""
    if decision not in ("approve", "reject"):
        raise typer.BadParameter("approve or reject", param_hint="DECISION")
    path = f"/v1/config/promotions/{promotion_id}/decision"
    answer = _run(
        _call(api_url, api_key, "POST", path, json={"decision": decision, "comment": comment})
    )
    console.print(f"{promotion_id}: {decision} recorded ({answer['detail']})")


def rollback(
    api_url: ApiUrl,
    api_key: ApiKey,
    reason: Annotated[str, typer.Option(help="Why (required, audited).")],
) -> None:
    """Roll the environment back to the configuration version before the current one."""
    answer = _run(_call(api_url, api_key, "POST", "/v1/config/rollbacks", json={"reason": reason}))
    key = answer["status_url"].rsplit("/", 1)[-1]
    status = _run(_wait(api_url, api_key, key, 60.0))
    _show(status)


def versions(
    api_url: ApiUrl,
    api_key: ApiKey,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    diff: Annotated[
        int | None,
        typer.Option(help="Show what this version changed (against the one it replaced)."),
    ] = None,
    against: Annotated[
        int | None, typer.Option(help="With --diff: compare with this version (0: the files).")
    ] = None,
    export: Annotated[
        int | None,
        typer.Option(
            help="Write this version's files as an archive (to --out), e.g. to promote the "
            "version an environment runs into the next one: `config promote --from FILE`."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="With --export: the file (default stdout).")] = (
        None
    ),
) -> None:
    """The environment's applied configuration versions, newest first; --diff N shows what
    one changed, --export N writes one as an archive."""
    if export is not None:
        version = _run(_call(api_url, api_key, "GET", f"/v1/config/versions/{export}"))
        archive = json.dumps(
            {
                "profile": version["environment"],
                "source": f"{version['environment']} version {version['number']}",
                "content_version": version["content_version"],
                "files": version["files"],
            },
            ensure_ascii=False,
            indent=1,
        )
        if out is None:
            typer.echo(archive)
        else:
            out.write_text(archive + "\n")
            err.print(f"{out}: {version['environment']} version {version['number']}")
        return
    if diff is not None:
        params = {} if against is None else {"against": against}
        path = f"/v1/config/versions/{diff}/diff"
        answer = _run(_call(api_url, api_key, "GET", path, params=params))
        console.print(answer["text"], markup=False, highlight=False, end="")
        return
    active = _run(_call(api_url, api_key, "GET", "/v1/config", params={"limit": limit}))
    runs_on = f"version {active['applied']}" if active["applied"] else "its bundle files"
    console.print(
        f"[bold]{active['environment']}[/] runs on {runs_on} (content {active['content_version']})"
    )
    for v in active["versions"]:
        approver = f", approved by {v['approver']}" if v["approver"] else ""
        console.print(
            f"  v{v['number']}  {v['applied_at'][:19]}  {v['kind']:<9} {v['change_id']}  "
            f"from {v['source']} by {v['proposer']}{approver}: {v['summary']}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add the promotion commands to `docflow config`."""
    for command in (promote, promotion, decide, rollback, versions):
        app.command(rich_help_panel="Promotions (through the target's API)")(command)
