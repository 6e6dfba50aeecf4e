"""Record ContentDistributionWorkflow histories for the replay tests.

Runs the branch tests of tests/workflows/content_distribution_test.py (the time-skipping ones
on the time-skipping server, continue-as-new on a dev server) and writes every run's history
to `tests/replay/ContentDistributionWorkflow/branches/`
(`uv run python -m tests.replay.record_content`). Record again after a deliberate change that
ships as a new build (see the README).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.client import Client

from tests.conftest import start_dev_server, start_time_skipping_server, write_history
from tests.workflows import content_distribution_test as scenarios

OUT = Path(__file__).parent / "ContentDistributionWorkflow" / "branches"
ON_TIME_SKIPPING = [
    scenarios.test_an_approved_item_reaches_every_target_and_channel_once,
    scenarios.test_a_refusing_target_fails_the_item_and_its_fixed_version_is_delivered,
    scenarios.test_a_field_the_mapping_requires_is_refused_without_sending_and_only_a_fix_helps,
    scenarios.test_an_exhausted_target_is_retried_alone_by_an_operator,
    scenarios.test_a_newer_approved_version_supersedes_one_still_on_its_way,
    scenarios.test_an_approval_amplience_does_not_confirm_distributes_nothing,
    scenarios.test_a_temporal_cancellation_stops_the_distribution_and_says_so,
]
ON_DEV_SERVER = [scenarios.test_an_idle_item_ends_and_a_long_life_continues_as_new]


async def _save(client: Client, written: list[Path], *, listing: bool) -> None:
    """Every run of every workflow the scenarios started (the dev server lists the runs of a
    workflow that continued as new; the time-skipping server has no visibility to list)."""
    for workflow_id in scenarios.STARTED:
        runs: list[str | None] = [None]  # the newest run
        if listing:
            runs = [e.run_id async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        for run in runs:
            history = await client.get_workflow_handle(workflow_id, run_id=run).fetch_history()
            path = OUT / f"{workflow_id.replace(':', '_')}-{(run or 'last')[:8]}.json"
            written.append(write_history(history, path))
    scenarios.STARTED.clear()


async def record() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipping = await start_time_skipping_server()
    try:
        for scenario in ON_TIME_SKIPPING:
            await scenario(skipping, f"tq-{uuid.uuid4().hex[:8]}")  # type: ignore[arg-type]
        await _save(skipping.client, written, listing=False)
    finally:
        await skipping.shutdown()
    dev = await start_dev_server()
    try:
        for scenario in ON_DEV_SERVER:
            await scenario(dev, f"tq-{uuid.uuid4().hex[:8]}")  # type: ignore[arg-type]
        await asyncio.sleep(2)  # visibility catches up
        await _save(dev.client, written, listing=True)
    finally:
        await dev.shutdown()
    return written


def main() -> None:
    for path in asyncio.run(record()):
        print(path)


if __name__ == "__main__":
    main()
