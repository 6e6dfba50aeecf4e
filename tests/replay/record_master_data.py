"""Record MasterDataWorkflow histories for the replay tests.

Runs the branch tests of tests/workflows/master_data_test.py on a dev server, against the
Amplience simulator, then writes every run's history to
`tests/replay/MasterDataWorkflow/simulator/` (`uv run python -m tests.replay.record_master_data`).
Record again after a deliberate change that ships as a new build (see the README).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from simulators.amplience import create_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim
from tests.conftest import start_dev_server, write_history
from tests.workflows import master_data_test as scenarios

OUT = Path(__file__).parent / "MasterDataWorkflow" / "simulator"
SCENARIOS = [
    scenarios.test_a_record_creates_its_item_and_a_newer_version_updates_the_same_item,
    scenarios.test_older_and_same_versions_are_ignored,
    scenarios.test_an_invalid_record_is_refused_and_nothing_is_written,
    scenarios.test_a_version_conflict_is_re_read_and_re_applied,
    scenarios.test_a_lost_ledger_finds_the_item_by_its_delivery_key,
    scenarios.test_a_failed_publishing_job_is_an_outcome_told_to_support,
    scenarios.test_history_is_bounded_by_continuing_as_new,
]


async def record() -> list[Path]:
    written: list[Path] = []
    env = await start_dev_server()
    try:
        async with (
            ServedApp(create_app(scenarios.CONFIG), name="amplience-sim") as served,
            httpx.AsyncClient(timeout=10.0) as http,
        ):
            sim = Sim(served, http)
            for scenario in SCENARIOS:
                await sim.control("POST", "/reset")
                systems = scenarios.Systems(sim, http)
                await scenario(env, f"tq-{uuid.uuid4().hex[:8]}", sim, systems)  # type: ignore[arg-type]
        OUT.mkdir(parents=True, exist_ok=True)
        async for execution in env.client.list_workflows("WorkflowType = 'MasterDataWorkflow'"):
            handle = env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
            history = await handle.fetch_history()
            ident = execution.id.replace(":", "_")
            path = OUT / f"{ident}-{execution.run_id[:8]}.json"
            written.append(write_history(history, path))
    finally:
        await env.shutdown()
    return written


def main() -> None:
    for path in asyncio.run(record()):
        print(path)


if __name__ == "__main__":
    main()
