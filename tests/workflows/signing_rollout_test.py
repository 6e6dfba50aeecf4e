"""A routing rollout on the time-skipping server: the real validation activity reads a bundle
that is changed while processes run. A process keeps the route its validation recorded (the
activity result in its history); a rollback only changes what new processes get."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.validation import ValidationActivities
from docflow.docstore import LocalDocumentStore
from docflow.models import (
    ApprovalDecision,
    Decision,
    DocumentRef,
    SignatureEventType,
    SigningState,
)
from docflow.settings import Settings
from tests.workflows.conftest import FakeSystems, Harness, event, in_state, signing_input, wait_for
from workflows.signing import SigningWorkflow

PDF = b"%PDF-1.4\n% MSA\n%%EOF\n"
PILOT = "pilot.1"


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """A copy of the suite's bundle whose routing rules have a rollout for SFDC: its rules
    send from another address and file elsewhere."""
    profile = Settings().profile
    shutil.copytree(Settings().bundle_dir, tmp_path / "config" / profile)
    path = tmp_path / "config" / profile / "signing-routing.json"
    rules = json.loads(path.read_text())
    pilot = json.loads(json.dumps(rules["rules"]))
    for rule in pilot:
        rule.update(
            sender_email="pilot@example.com",
            signature_template="sales-contract-v4",
            rm_classification_id=5009,
            archive_folder="Pilot",
        )
    rules["rollout"] = {"version": PILOT, "source_systems": ["SFDC"], "rules": pilot}
    path.write_text(json.dumps(rules))
    return path


@pytest.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, task_queue: str, rules_file: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    """Stand-ins for every system but validation, which is the real activity."""
    systems = FakeSystems()
    settings = Settings().with_overrides(config_dir=str(rules_file.parent.parent))
    validation = ValidationActivities(settings, LocalDocumentStore(tmp_path / "documents"))
    activities = [a for a in systems.activities() if a != systems.validate]
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[SigningWorkflow],
        activities=[*activities, validation.validate_signing_request],
    ):
        harness = Harness(time_skipping_env, time_skipping_env.client, task_queue, systems)
        yield harness
        for handle in harness.started:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


def _roll_back(path: Path) -> None:
    """Remove the rollout (a new bundle version); move the mtime so the reader reloads."""
    rules = json.loads(path.read_text())
    del rules["rollout"]
    before = path.stat().st_mtime_ns
    path.write_text(json.dumps(rules))
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def _stored(tmp_path: Path) -> DocumentRef:
    return await LocalDocumentStore(tmp_path / "documents").put(
        PDF, filename="contract.pdf", content_type="application/pdf"
    )


async def _approve_and_sign(handle: WorkflowHandle, key: str) -> None:
    await handle.execute_update(
        SigningWorkflow.decide,
        ApprovalDecision(actor="alice@example.com", decision=Decision.APPROVE, stage="legal"),
    )
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))


async def test_a_rolled_back_rollout_leaves_processes_past_routing_on_their_route(
    harness: Harness, rules_file: Path, tmp_path: Path
) -> None:
    doc = await _stored(tmp_path)
    first = signing_input(business_key="ROLLOUT-A").model_copy(update={"document": doc})
    a = await harness.start(first)
    await wait_for(a, in_state(SigningState.AWAITING_APPROVAL))

    _roll_back(rules_file)
    second = signing_input(business_key="ROLLOUT-B").model_copy(update={"document": doc})
    b = await harness.start(second)
    await wait_for(b, in_state(SigningState.AWAITING_APPROVAL))

    # A is approved, sent and archived after the rollback: still on the rollout's route.
    await _approve_and_sign(a, "ROLLOUT-A")
    await _approve_and_sign(b, "ROLLOUT-B")
    done_a, done_b = await a.result(), await b.result()
    assert done_a.state is done_b.state is SigningState.COMPLETED

    systems = harness.systems
    senders = {c.external_id: c.sender_email for c in systems.created}
    assert senders == {"ROLLOUT-A#1": "pilot@example.com", "ROLLOUT-B#1": "contracts@example.com"}
    filed = {a.name: (a.folder, a.rm_classification_id) for a in systems.archived}
    assert filed["ROLLOUT-A - contract (signed).pdf"] == ("Pilot", 5009)
    assert filed["ROLLOUT-B - contract (signed).pdf"] == ("Contracts", 5001)
    routes = {w.route.signature_template: w.route for w in systems.workspaces}
    pilot, default = routes["sales-contract-v4"], routes["sales-contract-v3"]
    assert (pilot.track, pilot.rules_version) == ("rollout", PILOT)
    assert (default.track, default.rules_version) == ("default", "2026-11-01.1")
    assert pilot.config_version and default.config_version
    assert pilot.config_version != default.config_version  # two bundle versions

    # Each process's audit trail names the rule, the track and the versions it used.
    [routed_a] = [e for e in done_a.audit if e.kind == "routed"]
    [routed_b] = [e for e in done_b.audit if e.kind == "routed"]
    assert routed_a.data == {
        "rule": "sales-contracts",
        "track": "rollout",
        "rules_version": PILOT,
        "config_version": pilot.config_version,
    }
    assert routed_a.detail.startswith(f"rule sales-contracts (rollout rules {PILOT}, ")
    assert routed_b.data["track"] == "default"
    assert routed_b.data["config_version"] == default.config_version
