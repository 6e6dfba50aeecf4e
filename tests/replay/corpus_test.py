"""Every workflow type the worker registers has a replay corpus, and every history in every
type's corpus replays against the current code (the determinism guard CI runs).

`tests/replay/<type>/<source>/*.json` are histories of that type's runs, recorded by the
recorders of this package (`record_corpus` for the types recorded from their own tests). A
failure means a change would break runs in flight: patch it (`workflow.patched`), or, for a
pinned type, ship it as a new build with Worker Versioning and record again (README,
"Changing the workflow safely"). Auto-upgrading types move to the new build mid-run, so
their changes are always patched.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import _Definition

from tests.workflows.kit.support import RUNNER
from worker import registered_workflows

HERE = Path(__file__).parent
WORKFLOWS = {_Definition.must_from_class(cls).name or "": cls for cls in registered_workflows()}
# Directories here that are not a type's corpus: histories that must NOT replay.
NOT_A_CORPUS = {"nondeterminism", "__pycache__"}
FILES = sorted(HERE.glob("*/*/*.json"))
# Types whose corpora their own modules replay (with checks of their own: branches reached,
# results equal): counted here for "every type has a corpus", not replayed twice.
REPLAYED_ELSEWHERE = {
    "SigningWorkflow",  # replay_test.py
    "ContentDistributionWorkflow",  # content_replay_test.py
    "EcmDocumentWorkflow",  # ecm_replay_test.py
    "EcmSubscriberWorkflow",  # ecm_replay_test.py
    "MasterDataWorkflow",  # master_data_replay_test.py
    "BusinessObjectWorkflow",  # workspaces_replay_test.py
}


def workflow_type(path: Path) -> str:
    return path.parent.parent.name


def workflow_id(path: Path) -> str:
    """`<quoted workflow id>@<run>.json` (record_corpus), else the file's stem (older
    recorders, whose workflows derive nothing from their own id)."""
    quoted, at, _ = path.stem.rpartition("@")
    return urllib.parse.unquote(quoted) if at else path.stem


def test_every_registered_type_has_a_corpus() -> None:
    recorded = {workflow_type(path) for path in FILES}
    missing = sorted(set(WORKFLOWS) - recorded)
    assert not missing, (
        f"no replay corpus for {missing}: record one into tests/replay/<type>/ (see "
        "tests/replay/record_corpus.py) before the type ships"
    )


def test_every_corpus_is_a_registered_type() -> None:
    dirs = {p.name for p in HERE.iterdir() if p.is_dir()} - NOT_A_CORPUS
    assert dirs <= set(WORKFLOWS), sorted(dirs - set(WORKFLOWS))


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if workflow_type(p) not in NOT_A_CORPUS | REPLAYED_ELSEWHERE],
    ids=lambda p: f"{workflow_type(p)}/{p.parent.name}/{p.stem}",
)
async def test_history_replays_on_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(workflow_id(path), await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[WORKFLOWS[workflow_type(path)]],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNER,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
