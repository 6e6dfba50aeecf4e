"""Record EcmDocumentWorkflow and EcmSubscriberWorkflow histories for the replay tests.

Runs the scenarios of tests/workflows/ecm_events_test.py on a time-skipping server (the five
days of an endpoint failing pass in a moment), then writes every run's history to
`tests/replay/<type>/scenarios/` (`uv run python -m tests.replay.record_ecm`). Record again
after a deliberate change that ships as a new build (see the README).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from tests.conftest import start_time_skipping_server, write_history
from tests.workflows import ecm_events_test as scenarios

HERE = Path(__file__).parent
TYPES = ("EcmDocumentWorkflow", "EcmSubscriberWorkflow")
SCENARIOS = [
    scenarios.test_events_are_relayed_once_in_ecm_order_and_actions_start_once,
    scenarios.test_a_message_past_its_schedule_is_dead_lettered_then_replayed,
    scenarios.test_an_endpoint_failing_for_five_days_is_disabled_and_re_enabled,
]


async def record() -> list[Path]:
    written: list[Path] = []
    env = await start_time_skipping_server()
    try:
        for scenario in SCENARIOS:
            await scenario(env, f"tq-{uuid.uuid4().hex[:8]}")
        for workflow_id in dict.fromkeys(scenarios.STARTED):
            handle = env.client.get_workflow_handle(workflow_id)
            history = await handle.fetch_history()
            workflow_type = TYPES[1] if workflow_id.startswith("ecm-subscriber:") else TYPES[0]
            out = HERE / workflow_type / "scenarios"
            out.mkdir(parents=True, exist_ok=True)
            written.append(write_history(history, out / f"{workflow_id.replace(':', '_')}.json"))
    finally:
        await env.shutdown()
    return written


def main() -> None:
    for path in asyncio.run(record()):
        print(path.relative_to(HERE))


if __name__ == "__main__":
    main()
