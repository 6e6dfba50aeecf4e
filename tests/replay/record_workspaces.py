"""Record BusinessObjectWorkflow and case histories for the replay tests.

Runs the branch tests of tests/workflows/workspace_test.py and case_assembly_test.py on a dev
server (stand-in activities), then writes every closed or open run's history to
`tests/replay/<WorkflowType>/stand-in/` (`uv run python -m tests.replay.record_workspaces`).
Record again after a deliberate change that ships as a new build (see the README).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from tests.conftest import start_dev_server, write_history
from tests.workflows import workspace_test as workspaces

ROOT = Path(__file__).parent
TYPES = ("BusinessObjectWorkflow",)
SCENARIOS = [
    workspaces.test_first_event_provisions_and_tells_the_source,
    workspaces.test_a_storm_ends_at_the_newest_version_each_change_applied_once,
    workspaces.test_milestones_and_filings_reach_the_source_and_the_team,
    workspaces.test_the_objects_closure_closes_the_workspace_and_ends_the_sync,
    workspaces.test_a_refused_object_waits_for_a_newer_event,
    workspaces.test_a_portal_request_is_answered_with_the_workspace_or_every_reason,
]


async def record() -> list[Path]:
    """One dev server per scenario (they reuse business objects), every run written."""
    written: list[Path] = []
    for scenario in SCENARIOS:
        env = await start_dev_server()
        name = scenario.__name__.removeprefix("test_")
        try:
            await scenario(env, f"tq-{uuid.uuid4().hex[:8]}")  # type: ignore[operator]
            for workflow_type in TYPES:
                out = ROOT / workflow_type / "stand-in"
                out.mkdir(parents=True, exist_ok=True)
                query = f"WorkflowType = '{workflow_type}'"
                async for execution in env.client.list_workflows(query):
                    handle = env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                    history = await handle.fetch_history()
                    ident = execution.id.replace(":", "_").replace("/", "_")
                    path = out / f"{name}-{ident}-{execution.run_id[:8]}.json"
                    written.append(write_history(history, path))
        finally:
            await env.shutdown()
    return written


def main() -> None:
    for path in asyncio.run(record()):
        print(path)


if __name__ == "__main__":
    main()
