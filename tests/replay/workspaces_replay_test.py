"""The BusinessObjectWorkflow corpus replays against the current code (determinism guard).

Recorded by `python -m tests.replay.record_workspaces` from the branch tests on a dev server.
A failure means a change would break objects whose workflows are running (they live for
years): patch it (`workflow.patched`) or ship it as a new build, then record again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.kit.support import RUNNER
from workflows.delivery import DeliveryWorkflow
from workflows.workspace import BusinessObjectWorkflow

CORPUS = Path(__file__).parent / "BusinessObjectWorkflow"
FILES = sorted(CORPUS.glob("*/*.json"))


def test_the_corpus_covers_the_branches() -> None:
    """Every activity, signal and Update of the workflow occurs in some recorded history."""
    text = "".join(f.read_text() for f in FILES)
    names = {
        "plan_workspace",
        "provision_workspace",
        "update_workspace_metadata",
        "close_workspace",
        "file_document",
        "business_object_event",
        "workspace_milestone",
        '"provision"',
        "DeliveryWorkflow",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    }
    assert {n for n in names if n not in text} == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[BusinessObjectWorkflow, DeliveryWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNER,
    )
    await replayer.replay_workflow(history)
