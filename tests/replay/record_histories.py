"""Record SigningWorkflow histories for the replay tests: every branch, one JSON file each.

Run `uv run python -m tests.replay.record_histories` after a deliberate workflow change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow import search_attributes as sa
from docflow.models import SigningProcessInput
from tests.conftest import _binary
from tests.workflows import signing_test as scenarios
from tests.workflows.conftest import FakeSystems, Harness
from workflows.signing import SigningWorkflow

HISTORIES = Path(__file__).parent / "histories"

Scenario = Callable[[Harness], Awaitable[None]]

# File name → the branch test of tests/workflows/signing_test.py that drives the run.
SCENARIOS: dict[str, Scenario] = {
    "approved_signed_archived": (
        scenarios.test_any_quorum_approval_then_signed_archived_and_reported
    ),
    "all_quorum": scenarios.test_all_quorum_needs_every_approver_and_validator_guards,
    "two_stages": scenarios.test_two_stages_run_in_order,
    "approval_expired_after_escalation": (
        scenarios.test_reminder_escalation_then_final_timeout_expires
    ),
    "escalation_approver_decides": scenarios.test_escalation_approver_decides_alone,
    "rejected": scenarios.test_rejection_ends_and_tells_the_source,
    "changes_requested_new_version": (
        scenarios.test_changes_requested_waits_for_new_version_and_restarts_approval
    ),
    "changes_requested_expired": scenarios.test_changes_requested_without_new_version_expires,
    "refused": scenarios.test_validation_refusal_reports_reasons,
    "declined": scenarios.test_declined_reports_the_reason,
    "expired_resent_exception_cancelled": scenarios.test_expired_resends_then_escalates_to_support,
    "bounce_corrected": scenarios.test_bounce_opens_exception_and_correction_resends,
    "exception_unresolved_failed": scenarios.test_unresolved_exception_fails_at_its_deadline,
    "lost_callback_polled": scenarios.test_lost_callback_is_caught_by_polling,
    "polling_then_late_callback": scenarios.test_polling_keeps_going_while_the_document_is_out,
    "duplicate_early_out_of_order_events": scenarios.test_duplicate_out_of_order_and_early_events,
    "cancelled_during_approval": scenarios.test_cancel_during_approval,
    "archive_failed": scenarios.test_archive_failure_ends_failed_and_reports,
}


@dataclass
class RecordingHarness(Harness):
    """The workflow tests' harness, remembering every run it starts."""

    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(self, process: SigningProcessInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start(process)
        self.handles.append(handle)
        return handle


async def _time_skipping_env() -> WorkflowEnvironment:
    """The same server as the `time_skipping_env` fixture of tests/conftest.py."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in sa.ALL
            },
        )
    )
    return env


async def record(names: list[str]) -> dict[str, WorkflowHistory]:
    """Run each named scenario on a fresh worker; the finished run's history by name."""
    histories: dict[str, WorkflowHistory] = {}
    env = await _time_skipping_env()
    try:
        for name in names:
            systems = FakeSystems()
            task_queue = f"record-{uuid.uuid4().hex[:8]}"
            async with Worker(
                env.client,
                task_queue=task_queue,
                workflows=[SigningWorkflow],
                activities=systems.activities(),
            ):
                harness = RecordingHarness(env, env.client, task_queue, systems)
                await SCENARIOS[name](harness)
                if len(harness.handles) != 1:
                    raise RuntimeError(f"{name}: expected one run, got {len(harness.handles)}")
                await harness.handles[0].result()
                histories[name] = await harness.handles[0].fetch_history()
    finally:
        await env.shutdown()
    return histories


def write(histories: dict[str, WorkflowHistory], out_dir: Path = HISTORIES) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, history in histories.items():
        path = out_dir / f"{name}.json"
        # Re-indented so a refresh shows up as a readable diff.
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=HISTORIES, help="output directory")
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    histories = asyncio.run(record(args.scenarios or list(SCENARIOS)))
    for path in write(histories, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
