"""Record SigningWorkflow histories for the replay tests (the corpus of its current build).

Two sources, one directory each under `tests/replay/SigningWorkflow/`:
- `stand-in/`: every branch of tests/workflows, on the time-skipping server with stand-in
  activities (`uv run python -m tests.replay.record_histories`);
- `dev-server/`: the demo's samples run for real — dev server, simulators, API, worker
  (`uv run python -m tests.replay.record_histories --dev-server`).
Record both after a deliberate change that ships as a new build (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import WorkflowHistory
from temporalio.worker import Worker

from tests.conftest import start_time_skipping_server, write_history
from tests.workflows import signing_give_up_test as give_up
from tests.workflows import signing_test as scenarios
from tests.workflows.conftest import FakeSystems, Harness
from workflows.signing import SigningWorkflow

CORPUS = Path(__file__).parent / "SigningWorkflow"
HISTORIES = CORPUS / "stand-in"
REAL_HISTORIES = CORPUS / "dev-server"

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
    "duplicate_early_out_of_order_events": scenarios.test_duplicate_and_impossible_early_events,
    "cancelled_during_approval": scenarios.test_cancel_during_approval,
    "archive_exception_failed": (
        scenarios.test_archive_failure_opens_an_exception_that_ends_failed_at_its_deadline
    ),
    "archive_repaired": scenarios.test_archive_repaired_by_support_completes,
    "poll_refused_corrected": give_up.test_poll_refused_with_401_opens_a_repairable_exception,
    "create_refused_corrected": (
        give_up.test_core_signature_400_on_create_is_an_exception_not_a_crash
    ),
    "temporal_cancel": give_up.test_temporal_cancellation_is_the_business_cancel,
    "cancel_after_signed": give_up.test_cancel_after_the_signer_signed_archives_instead,
}


async def record(names: list[str]) -> dict[str, WorkflowHistory]:
    """Run each named scenario on a fresh worker; the finished run's history by name."""
    histories: dict[str, WorkflowHistory] = {}
    env = await start_time_skipping_server()
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
                harness = Harness(env, env.client, task_queue, systems)
                await SCENARIOS[name](harness)
                if len(harness.started) != 1:
                    raise RuntimeError(f"{name}: expected one run, got {len(harness.started)}")
                await harness.started[0].result()
                histories[name] = await harness.started[0].fetch_history()
    finally:
        await env.shutdown()
    return histories


def write(histories: dict[str, WorkflowHistory], out_dir: Path = HISTORIES) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, history in histories.items():
        # Re-indented so a refresh shows up as a readable diff.
        written.append(write_history(history, out_dir / f"{name}.json"))
    return written


async def record_dev_server() -> dict[str, WorkflowHistory]:
    """Run the demo's samples on the embedded stack; each finished run's history by sample."""
    from rich.console import Console

    from devstack.demo import DemoContext, run_batch
    from devstack.embedded import EmbeddedStack, StackPorts
    from devstack.samples import CRM_KEY
    from docflow.settings import Settings
    from docflow.temporal import signing_workflow_id
    from starter.api_client import DocflowApiClient

    settings = Settings().with_overrides(
        signing_policy={
            "signature_poll_after": timedelta(seconds=4),
            "signature_poll_interval": timedelta(seconds=3),
        }
    )
    ports = StackPorts.any_free()
    histories: dict[str, WorkflowHistory] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        async with (
            EmbeddedStack(settings=settings, ports=ports, data_dir=Path(data_dir)) as stack,
            httpx.AsyncClient(timeout=30) as http,
        ):
            ctx = DemoContext(
                api=DocflowApiClient(stack.api_url, CRM_KEY, http=http),
                http=http,
                core_signature_url=stack.core_signature_url,
                ui_url=stack.ui_url,
                crm_url=stack.crm_url,
            )
            runs = await run_batch(ctx, Console(quiet=True))
            assert stack.client is not None
            for run in runs:
                if not run.ok:
                    raise RuntimeError(f"sample {run.name} ended {run.state}: {run.note}")
                handle = stack.client.get_workflow_handle(signing_workflow_id(run.business_key))
                histories[run.name] = await handle.fetch_history()
    return histories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument(
        "--dev-server", action="store_true", help="record the demo's samples run for real"
    )
    args = parser.parse_args()
    if args.dev_server:
        for path in write(asyncio.run(record_dev_server()), args.out or REAL_HISTORIES):
            print(f"wrote {path}")
        return
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    histories = asyncio.run(record(args.scenarios or list(SCENARIOS)))
    for path in write(histories, args.out or HISTORIES):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
