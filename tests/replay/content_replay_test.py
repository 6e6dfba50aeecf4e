"""The ContentDistributionWorkflow corpus replays against the current code (determinism guard).

Recorded by `python -m tests.replay.record_content` from the branch tests (time-skipping and
dev servers, stand-in systems). A failure means a change would break items whose workflows
are running: patch it (`workflow.patched`) or ship it as a new build, then record again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.kit.support import RUNNER
from workflows.content_distribution import ContentDistributionWorkflow

CORPUS = Path(__file__).parent / "ContentDistributionWorkflow"
FILES = sorted(CORPUS.glob("*/*.json"))


def test_the_corpus_covers_the_branches() -> None:
    """Every activity, signal and Update, support told, a superseded delivery, an item ended
    idle and continue-as-new occur in some recorded history."""
    text = "".join(f.read_text() for f in FILES)
    names = {
        "plan_distribution",
        "deliver_to_target",
        "report_distribution",
        '"notify"',
        '"approved"',
        "retry_failed",
        "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED",  # a superseded delivery
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED",
    }
    assert {n for n in names if n not in text} == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[ContentDistributionWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNER,
    )
    await replayer.replay_workflow(history)
