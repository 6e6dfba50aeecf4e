"""The SigningWorkflow corpus replays against the current code (determinism guard).

The corpus (`tests/replay/SigningWorkflow/`) holds every branch recorded with stand-ins and
the demo's samples recorded from real runs on the dev server. A failure here means a change
would break runs in flight: patch it (`workflow.patched`), or ship it as a new build with
Worker Versioning and re-record (README, "Changing the workflow safely").
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

# The workflow variants below live in this module, which the sandbox re-imports: the
# project's modules must be the same objects inside and outside it.
with workflow.unsafe.imports_passed_through():
    from docflow.models import RoutingDecision, SigningProcessInput, SigningState, SigningStatus
    from docflow.models.status import TERMINAL_STATES
    from tests.replay.record_histories import CORPUS, HISTORIES, REAL_HISTORIES, SCENARIOS
    from workflows.signing import SigningWorkflow

FILES = sorted(CORPUS.glob("*/*.json"))

# Audit entries only a particular branch writes: replaying them all exercises every branch.
BRANCH_MARKERS = {
    "refused",
    "exception",
    "archive_exception",
    "repair_retry",
    "cancel_refused",
    "decision",
    "reminder",
    "escalated",
    "new_version",
    "resend",
    "correction",
    "cancel_requested",
    "polled",
    "event_ignored",
    "archived",
    "reported",
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


async def recorded_result(history: WorkflowHistory) -> SigningStatus:
    """The SigningStatus the recorded run returned (its completion event's payload)."""
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    payloads = last.workflow_execution_completed_event_attributes.result.payloads
    [status] = await pydantic_data_converter.decode(list(payloads), [SigningStatus])
    assert isinstance(status, SigningStatus)
    return status


def replayer(workflow_class: type) -> Replayer:
    return Replayer(workflows=[workflow_class], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
async def test_recorded_history_replays_on_current_code(path: Path) -> None:
    result = await replayer(SigningWorkflow).replay_workflow(load(path))
    assert result.replay_failure is None


async def test_histories_cover_every_scenario_and_branch() -> None:
    names = {path.stem for path in HISTORIES.glob("*.json")}
    missing = set(SCENARIOS) - names
    record = "uv run python -m tests.replay.record_histories"
    assert not missing, f"not recorded yet; run: {record} {' '.join(sorted(missing))}"
    # Besides one file per scenario, only histories kept from before a patch (see README).
    assert all(name.startswith("pre-") for name in names - set(SCENARIOS)), names
    results = {path.stem: await recorded_result(load(path)) for path in HISTORIES.glob("*.json")}
    assert {status.state for status in results.values()} == TERMINAL_STATES
    kinds = {entry.kind for status in results.values() for entry in status.audit}
    assert kinds >= BRANCH_MARKERS, f"branches without a history: {BRANCH_MARKERS - kinds}"
    # The two-stage and escalation runs really went through those paths.
    assert [s.outcome for s in results["two_stages"].stages] == ["approve", "approve"]
    assert results["escalation_approver_decides"].stages[0].escalated
    assert results["expired_resent_exception_cancelled"].signature.cycle == 2
    assert results["bounce_corrected"].state is SigningState.COMPLETED


async def test_the_corpus_has_real_runs_from_the_dev_server() -> None:
    real = {path.stem: await recorded_result(load(path)) for path in REAL_HISTORIES.glob("*.json")}
    assert len(real) >= 10, sorted(real)
    assert {status.state for status in real.values()} >= {
        SigningState.COMPLETED,
        SigningState.REJECTED,
        SigningState.DECLINED,
        SigningState.EXPIRED,
        SigningState.REFUSED,
    }
    # The real runs went through the simulators: a real document uuid, a workspace, a node.
    completed = real["approved"]
    assert completed.archive.document_node_id and completed.signature.document_uuid


# --------------------------------------------------------------- the guard works
async def _extra_routing_lookup(process: SigningProcessInput) -> None:
    """A new activity call, as a careless change would add before validation."""
    await workflow.execute_activity(
        "validate_signing_request", process, start_to_close_timeout=timedelta(seconds=30)
    )


@workflow.defn(name="SigningWorkflow")
class UnpatchedChange(SigningWorkflow):
    """The careless change: an extra activity before validation, unconditionally."""

    @workflow.init
    def __init__(self, process: SigningProcessInput) -> None:
        super().__init__(process)

    @workflow.run
    async def run(self, process: SigningProcessInput) -> SigningStatus:
        return await super().run(process)

    async def _validate(self) -> RoutingDecision:
        await _extra_routing_lookup(self._input)
        return await super()._validate()


@workflow.defn(name="SigningWorkflow")
class PatchedChange(SigningWorkflow):
    """The same change behind workflow.patched: old runs keep their old path."""

    @workflow.init
    def __init__(self, process: SigningProcessInput) -> None:
        super().__init__(process)

    @workflow.run
    async def run(self, process: SigningProcessInput) -> SigningStatus:
        return await super().run(process)

    async def _validate(self) -> RoutingDecision:
        if workflow.patched("extra-routing-lookup"):
            await _extra_routing_lookup(self._input)
        return await super()._validate()


async def test_replayer_catches_an_unpatched_change() -> None:
    history = load(HISTORIES / "approved_signed_archived.json")
    with pytest.raises(workflow.NondeterminismError):
        await replayer(UnpatchedChange).replay_workflow(history)


async def test_patched_change_replays_old_histories() -> None:
    history = load(HISTORIES / "approved_signed_archived.json")
    result = await replayer(PatchedChange).replay_workflow(history)
    assert result.replay_failure is None
