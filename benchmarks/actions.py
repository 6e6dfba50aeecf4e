"""Temporal actions (what Temporal Cloud bills) counted from finished workflow histories."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

# The unit: starts, activity attempts, signals, updates, timers.
BILLED = ("starts", "activity_attempts", "signals", "updates", "timers")


def count_actions(history: WorkflowHistory) -> Counter[str]:
    """Actions of one run, plus upserts and workflow tasks (shown, not in the total)."""
    counts: Counter[str] = Counter()
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            counts["starts"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            # Written once per activity, with the attempt that finished it: retries included.
            counts["activity_attempts"] += max(
                1, event.activity_task_started_event_attributes.attempt
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            counts["signals"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            counts["updates"] += 1
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            counts["timers"] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            counts["search_attribute_upserts"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            counts["workflow_tasks"] += 1
    counts["history_events"] = len(history.events)
    return counts


def summarize(per_run: Iterable[Counter[str]]) -> dict[str, float]:
    """Mean per document of every counter, and `total` = the billed ones."""
    runs = list(per_run)
    if not runs:
        return {"total": 0.0}
    keys = sorted({k for run in runs for k in run})
    mean = {k: round(sum(run[k] for run in runs) / len(runs), 2) for k in keys}
    mean["total"] = round(sum(sum(run[k] for k in BILLED) for run in runs) / len(runs), 2)
    return mean


async def actions_of(
    client: Client, workflow_ids: list[str], concurrency: int = 16
) -> dict[str, float]:
    """Fetch the histories of `workflow_ids` and summarize their actions."""
    gate = asyncio.Semaphore(concurrency)

    async def one(workflow_id: str) -> Counter[str]:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        return count_actions(history)

    return summarize(await asyncio.gather(*(one(w) for w in workflow_ids)))
