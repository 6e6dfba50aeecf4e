"""The MasterDataWorkflow corpus replays against the current code (determinism guard).

Recorded by `python -m tests.replay.record_master_data` from the branch tests on a dev server
with the Amplience simulator. A failure means a change would break records whose workflows
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
from workflows.master_data import MasterDataWorkflow

CORPUS = Path(__file__).parent / "MasterDataWorkflow"
FILES = sorted(CORPUS.glob("*/*.json"))


def test_the_corpus_covers_the_branches() -> None:
    """Every activity and signal, a refusal or failure told to support (`notify`), a lost
    ledger (a terminated run) and continue-as-new occur in some recorded history."""
    text = "".join(f.read_text() for f in FILES)
    names = {
        "validate_master_data",
        "amplience_find_by_delivery_key",
        "amplience_upsert_item",
        "amplience_publish",
        '"notify"',
        "master_data_record",
        "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
    }
    assert {n for n in names if n not in text} == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[MasterDataWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNER,
    )
    await replayer.replay_workflow(history)
