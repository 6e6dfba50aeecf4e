"""The ECM relay's corpora replay against the current code (determinism guard).

Recorded by `python -m tests.replay.record_ecm`. A failure means a change would break relays
whose workflows are running: patch it (`workflow.patched`) or ship it as a new build, then
record again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.kit.support import RUNNER
from workflows.ecm_events import EcmDocumentWorkflow
from workflows.ecm_subscriber import EcmSubscriberWorkflow

HERE = Path(__file__).parent
FILES = sorted(
    [*HERE.glob("EcmDocumentWorkflow/*/*.json"), *HERE.glob("EcmSubscriberWorkflow/*/*.json")]
)


def test_the_corpus_covers_the_branches() -> None:
    """Every activity and message the relay uses occurs in some recorded history."""
    text = "".join(f.read_text() for f in FILES)
    names = {
        "plan_ecm_event",
        "relay_to_subscriber",
        "report_ecm_endpoint",
        "plan_ecm_operational",
        '"notify"',
        '"replay"',
        '"enable"',
        "endpoint_report",
        "LifecycleActionWorkflow",
    }
    assert {n for n in names if n not in text} == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[EcmDocumentWorkflow, EcmSubscriberWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNER,
    )
    await replayer.replay_workflow(history)
