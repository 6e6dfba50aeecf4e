"""Wait for an external outcome: a callback, or failing that a poll whose history stays flat.

Rules (the samples' "infrequent polling" pattern):
- callbacks are awaited first, for `first_poll_after`, with one timer;
- then ONE poll activity runs whose retry policy is the poll clock (`every`, backoff 1.0):
  each "not yet" is a retry, and retries add no history events, so a wait of a month costs
  the same few events as a wait of an hour;
- a callback that makes `ready()` true cancels the poll; a poll that returns is the outcome;
- a poll that gives up (bad credentials, the vendor lost the object) raises GaveUp: the
  process decides what that means (usually an exception an operator can repair).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.kit.calls import activity_options, gave_up

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions

T = TypeVar("T")
FIRST_POLL_TIMER = "kit.await.first-poll-timer"
MIN_TIMER = timedelta(milliseconds=1)


async def await_outcome(
    ready: Callable[[], bool],
    *,
    poll: Callable[..., Awaitable[T]],
    poll_arg: Any,
    options: CallOptions,
    first_poll_after: timedelta,
    every: timedelta,
    give_up: timedelta,
    summary: str,
) -> T | None:
    """None when `ready()` became true (callbacks won); the poll's answer otherwise."""
    if ready():
        # Already decided (events arrived while the caller was busy): start no timer or poll
        # only to cancel it again in the same task.
        return None
    # The first-poll timer is started even when its time has come: whether a timer is there
    # must not hang on a difference of clocks (a history the chaos test left showed a run that
    # skipped it where its replay started it). Runs begun before keep their old choice.
    always = workflow.patched(FIRST_POLL_TIMER)
    if always or first_poll_after > timedelta(0):
        try:
            await workflow.wait_condition(
                ready,
                timeout=max(first_poll_after, MIN_TIMER),
                timeout_summary=f"{summary}: first poll",
            )
            return None
        except TimeoutError:
            pass
    clock = RetryPolicy(
        initial_interval=every,
        backoff_coefficient=1.0,
        maximum_interval=every,
        non_retryable_error_types=options.retry.non_retryable_error_types,
    )
    handle = workflow.start_activity_method(
        poll,
        poll_arg,
        summary=f"{summary}: poll every {every}",
        **activity_options(replace(options, give_up=give_up, retry=clock)),
    )
    try:
        await workflow.wait_condition(lambda: ready() or handle.done())
    finally:
        if not handle.done():
            handle.cancel()  # a callback won, or the process itself is being cancelled
    if not handle.done() or handle.cancelled():
        return None
    try:
        return handle.result()
    except ActivityError as err:
        raise gave_up(err, options.system, summary) from err
