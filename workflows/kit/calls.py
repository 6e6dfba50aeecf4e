"""Calls to external systems with their system's preset, and the one give-up policy.

Rules:
- every activity call takes its options from the called system's preset
  (`activities/<vendor>/options.py`), so every process calls a system the same way;
- an activity that gives up (its give-up time passed, or a non-retryable error) raises
  `GaveUp` with a readable reason: the process turns it into a business outcome in one place
  (source told, support notified) or opens an exception an operator can repair, never a
  FAILED run;
- `best_effort` is for calls whose failure must not stop the process (notifications): the
  give-up is recorded and the process goes on;
- a call given the process `record` is raced against its preset's `expected` duration: still
  running past it, the record is flagged `step_retrying` (DocflowAttention) with the step's
  summary, and cleared when the call ends either way — so "retrying for hours" is findable
  long before the give-up. The race is one timer, cancelled when the call ends in time;
- a Temporal cancellation is not a give-up: it propagates, and the process's lifecycle treats
  it as the business cancel.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
)
from temporalio.workflow import ActivityCancellationType

from workflows.kit.record import ProcessRecord

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions

T = TypeVar("T")


class GaveUp(Exception):
    """An external call gave up; `reason` says why in words an operator can act on."""

    def __init__(
        self,
        system: str,
        operation: str,
        reason: str,
        error_type: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{operation}: {reason}")
        self.system = system
        self.operation = operation
        self.reason = reason
        self.error_type = error_type
        self.details = details or {}


def activity_options(options: CallOptions) -> dict[str, Any]:
    found: dict[str, Any] = {
        "start_to_close_timeout": options.start_to_close,
        "schedule_to_close_timeout": options.give_up,
        "heartbeat_timeout": options.heartbeat,
        "retry_policy": options.retry,
    }
    if options.wait_cancelled:
        found["cancellation_type"] = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    return found


def gave_up(err: ActivityError, system: str, operation: str) -> GaveUp:
    """Translate an activity's final failure into GaveUp (re-raising cancellations)."""
    cause = err.cause
    if isinstance(cause, CancelledError):
        raise err
    if isinstance(cause, ApplicationError):
        first = cause.details[0] if cause.details else None
        details = first if isinstance(first, dict) else None
        return GaveUp(system, operation, cause.message, cause.type or "", details)
    if isinstance(cause, TimeoutError):
        last = cause.last_heartbeat_details
        return GaveUp(
            system,
            operation,
            f"no success before the give-up time ({cause.type.name.lower()} timeout)"
            + (f", last progress: {last[0]}" if last else ""),
            "Timeout",
        )
    return GaveUp(system, operation, str(cause or err), type(cause or err).__name__)


async def call(
    activity: Callable[..., Awaitable[T]],
    arg: Any,
    options: CallOptions,
    *,
    summary: str,
    give_up: timedelta | None = None,
    record: ProcessRecord | None = None,
) -> T:
    """Run one activity with its system's preset; raise GaveUp when it gives up.

    With `record`, a call running past the preset's `expected` time flags `step_retrying`.
    """
    if give_up is not None:
        options = options.giving_up_after(give_up)
    watched = record is not None and options.expected is not None and record.operator_attributes()
    try:
        if not watched:
            return await workflow.execute_activity_method(
                activity, arg, summary=summary, **activity_options(options)
            )
        assert record is not None and options.expected is not None
        return await _watched(activity, arg, options, options.expected, summary, record)
    except ActivityError as err:
        raise gave_up(err, options.system, summary) from err


async def _watched(
    activity: Callable[..., Awaitable[T]],
    arg: Any,
    options: CallOptions,
    expected: timedelta,
    summary: str,
    record: ProcessRecord,
) -> T:
    handle = workflow.start_activity_method(
        activity, arg, summary=summary, **activity_options(options)
    )
    try:
        await workflow.wait_condition(
            handle.done, timeout=expected, timeout_summary=f"expected time of: {summary}"
        )
    except builtins.TimeoutError:  # (TimeoutError here is Temporal's)
        record.step_retrying(summary)
    try:
        return await handle
    finally:
        record.step_retrying(None)


async def watched_phase(
    step: Callable[[], Awaitable[T]],
    *,
    expected: timedelta,
    summary: str,
    record: ProcessRecord,
) -> T:
    """Run a multi-call step (its calls unwatched) under one expected-time watch: past it,
    `step_retrying` is raised until the step ends. One timer for the phase, not one per call:
    each timer is a billed action."""
    if not record.operator_attributes():
        return await step()
    task = asyncio.ensure_future(step())  # deterministic: the workflow's own event loop
    try:
        await workflow.wait_condition(
            task.done, timeout=expected, timeout_summary=f"expected time of: {summary}"
        )
    except builtins.TimeoutError:  # (TimeoutError here is Temporal's)
        record.step_retrying(summary)
    try:
        return await task
    finally:
        record.step_retrying(None)


async def best_effort(
    activity: Callable[..., Awaitable[Any]],
    arg: Any,
    options: CallOptions,
    *,
    summary: str,
    on_give_up: Callable[[GaveUp], None],
) -> bool:
    """Run a call whose failure must not end the process; False (and on_give_up) if it gave up."""
    try:
        await call(activity, arg, options, summary=summary)
    except GaveUp as failure:
        on_give_up(failure)
        return False
    return True
