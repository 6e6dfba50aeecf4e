"""How a process ends, is cancelled, and continues as new.

Rules:
- a process ends by recording its terminal state and raising `ProcessEnded`, from wherever
  the story is; `run_story` unwinds to the end and the run returns the status;
- a Temporal cancellation (the Web UI's "Request Cancellation", a batch cancel) is the
  business cancel: the story is interrupted and `on_cancel` runs (close what is open at the
  vendor, tell the source), and the run completes with the process's cancelled outcome;
- before returning or continuing as new, every running Update/signal handler has finished
  (`workflow.all_handlers_finished`), so no caller's Update is dropped; an ending process
  waits for its record's last write (written as closed), a continuing one for the write in
  flight and hands the rest over;
- a process that can outlive its history budget continues as new at a point where its whole
  state is in one model: when Temporal suggests it or when the history passes the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn

from temporalio import workflow
from temporalio.workflow import ContinueAsNewVersioningBehavior

if TYPE_CHECKING:
    from workflows.kit.record import ProcessRecord


class ProcessEnded(Exception):
    """Raised once a terminal state is recorded, to unwind the story to its end."""


async def run_story(
    story: Callable[[], Awaitable[None]],
    *,
    on_cancel: Callable[[], Awaitable[None]],
    record: ProcessRecord | None = None,
) -> None:
    """Run the story to its end; a Temporal cancellation becomes the business cancel."""
    try:
        await story()
    except ProcessEnded:
        pass
    except asyncio.CancelledError:
        # Nothing in a docflow story cancels its own run task: this is the workflow's
        # cancellation. Activities started from here on run normally.
        with contextlib.suppress(ProcessEnded):
            await on_cancel()
    await workflow.wait_condition(workflow.all_handlers_finished)
    if record is not None:
        await record.flush(closed=True)


def history_due(budget: int) -> bool:
    """True when this run should continue as new: suggested, or past its event budget."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() >= budget


async def continue_as_new(arg: Any, *, record: ProcessRecord | None = None) -> NoReturn:
    """Continue as new with `arg` once every handler has finished and, with `record`, its
    read-model write in flight has ended (none is left behind; what is not yet written travels
    in the record's state, which `arg` carries, and the next run writes it first)."""
    await workflow.wait_condition(workflow.all_handlers_finished)
    if record is not None:
        await record.hand_over()
        await workflow.wait_condition(workflow.all_handlers_finished)
    # On a versioned worker, the next run's first task goes to the current build (then the
    # type's own behaviour applies): a pinned process that lives for years moves to new code
    # at its continue-as-new boundaries, so its old build can drain. Unversioned: unchanged.
    versioned = workflow.info().get_current_deployment_version() is not None
    workflow.continue_as_new(
        arg,
        initial_versioning_behavior=ContinueAsNewVersioningBehavior.AUTO_UPGRADE
        if versioned
        else None,
    )
