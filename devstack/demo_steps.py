"""What the demo's checked parts share: a step (what it shows, its state and evidence), polling
the API until something holds, the live table, and running steps in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from starter.api_client import DocflowApiError


@dataclass
class Step:
    name: str
    what: str
    needs: str = ""  # the step this one builds on: skipped when that one did not succeed
    state: str = "pending"
    detail: str = ""
    ok: bool = False
    seconds: float = 0.0


async def poll_until(
    read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], within: float = 60
) -> Any:
    """Read until `check` holds; a 404 (not there yet) or 503 (retry later) reads again."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = await read()
        except DocflowApiError as error:
            if error.status not in (404, 503):
                raise
            value = None
        if value is not None and check(value):
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"not reached in {within:.0f} s: {str(value)[:100]}")
        await asyncio.sleep(0.25)


def steps_table(title: str, steps: list[Step], *, final: bool) -> Table:
    table = Table(title=title + (" (done)" if final else ""))
    for column in ("step", "what", "state", "result", "s"):
        table.add_column(column)
    for step in steps:
        style = "green" if step.ok else ("red" if step.state == "failed" else "")
        mark = " ✓" if step.ok else (" ✗" if step.state in ("failed", "skipped") else "")
        table.add_row(
            step.name,
            step.what,
            f"[{style}]{step.state}{mark}[/]" if style else f"{step.state}{mark}",
            step.detail,
            f"{step.seconds:5.1f}",
        )
    return table


async def run_steps(
    title: str,
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]],
    console: Console,
    *,
    chained: bool = False,
) -> list[Step]:
    """Run the steps in order with live progress; a failing step is shown, never raised.

    `chained`: every step builds on the one before (all later ones are skipped after a
    failure); otherwise only a step whose `needs` did not succeed is skipped."""
    steps = [step for step, _ in plan]
    by_name = {step.name: step for step in steps}
    with Live(
        steps_table(title, steps, final=False), console=console, refresh_per_second=4
    ) as live:
        failed = False
        for step, run in plan:
            blocked = (chained and failed) or (step.needs and not by_name[step.needs].ok)
            if blocked:
                step.state = "skipped"
                step.detail = f"needs '{step.needs}'" if step.needs else ""
                continue
            step.state = "running"
            live.update(steps_table(title, steps, final=False))
            began = time.monotonic()
            try:
                step.detail = await run()
                step.state, step.ok = "done", True
            except Exception as exc:  # a failing step is shown, not raised
                step.state, step.detail = "failed", str(exc)[:200] or type(exc).__name__
                failed = True
            step.seconds = time.monotonic() - began
            live.update(steps_table(title, steps, final=False))
        live.update(steps_table(title, steps, final=True))
    return steps
