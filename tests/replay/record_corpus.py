"""Record the replay corpus of the workflow types recorded from their own tests.

Runs each type's scenario tests (stand-ins and simulators, on the servers the tests use) with
`DOCFLOW_RECORD_CORPUS` naming the types; the server fixtures of tests/conftest.py then write
every run of those types to `tests/replay/<type>/tests/` before they stop. Replayed by
`tests/replay/corpus_test.py` with every other type's corpus.

    uv run python -m tests.replay.record_corpus                    # every type below
    uv run python -m tests.replay.record_corpus DeliveryWorkflow   # just one

Record again after a deliberate change that ships as a new build (README, "Changing the
workflow safely"); the other types have their own recorders (record_histories,
record_workspaces, record_content, record_master_data, record_ecm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import RECORD_CORPUS, REPLAY_CORPUS

# type -> the tests whose runs are its corpus (pytest arguments)
SCENARIOS: dict[str, list[str]] = {
    "DeliveryWorkflow": ["tests/workflows/kit/delivery_test.py"],
    "CaseAssemblyWorkflow": [
        "tests/workflows/case_assembly_test.py",
        "-k",
        "not 1000_items and not continues_as_new",  # the budget tests: thousands of events
    ],
    "EcmAuditPollerWorkflow": ["tests/workflows/ecm_poller_test.py"],
    "LifecycleActionWorkflow": ["tests/ecm_actions/workflow_test.py"],
    "EcmReviewTaskWorkflow": ["tests/ecm_requests/review_workflow_test.py"],
    "EcmContentUpdateWorkflow": ["tests/ecm_requests/api_test.py", "-k", "update"],
    "PartnerInboxFiling": ["tests/partner/inbox_workflow_test.py"],
    "ConfigPromotionWorkflow": ["tests/promotion/workflow_test.py"],
}
# Runs of these types are recorded by the tests of another (children of its processes).
ALSO = {"CaseAssemblyWorkflow": ["CaseSourceWorkflow"]}


def record(types: list[str]) -> None:
    for workflow_type in types:
        recorded = [workflow_type, *ALSO.get(workflow_type, [])]
        for name in recorded:
            shutil.rmtree(REPLAY_CORPUS / name / "tests", ignore_errors=True)
        env = {**os.environ, RECORD_CORPUS: ",".join(recorded)}
        command = [sys.executable, "-m", "pytest", "-q", "-s"]
        subprocess.run([*command, *SCENARIOS[workflow_type]], env=env, check=True)


def main() -> None:
    asked = sys.argv[1:] or list(SCENARIOS)
    unknown = set(asked) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"no scenarios for {sorted(unknown)}; known: {sorted(SCENARIOS)}")
    record(asked)


if __name__ == "__main__":
    main()
