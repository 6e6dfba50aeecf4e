"""ProcessRecord writes every change to the read model: one write in flight, bursts coalesced,
audit entries by stable sequence, the last write flushed (closed) before the run ends and
before it continues as new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client

from tests.read_model_fake import changes_of
from tests.workflows.kit.support import event_types, kit_worker

with workflow.unsafe.imports_passed_through():
    from docflow.models.process import RecordState
    from docflow.models.records import ApprovedVersion
    from workflows.kit.lifecycle import ProcessEnded, continue_as_new, run_story
    from workflows.kit.record import ProcessRecord


class Input(BaseModel):
    notes: int
    resume: RecordState | None = None


@workflow.defn(sandboxed=True)
class ReadModelWorkflow:
    @workflow.run
    async def run(self, request: Input) -> int:
        self._record = ProcessRecord(
            "demo",
            "K-7",
            state="starting",
            indexed_states=(),
            saved=request.resume,
            audit_limit=6,
        )
        if request.resume is None:
            await run_story(lambda: self._first(request), on_cancel=self._nothing)
        await run_story(self._second, on_cancel=self._nothing, record=self._record)
        return self._record.data.written_version

    async def _first(self, request: Input) -> None:
        record = self._record
        record.record("started", "app:test")
        record.describe(source_system="crm", document_node_id=501, workspace_id=77)
        record.set_state("working", "the first burst")
        for n in range(request.notes):  # one burst: one or two writes, not one per entry
            record.record("note", "system", f"note {n}")
        await workflow.sleep(timedelta(minutes=1))
        record.record("polled", "system", "same")
        await workflow.sleep(timedelta(minutes=1))
        record.record("polled", "system", "same")  # condensed: the entry's repeat count grows
        await continue_as_new(Input(notes=0, resume=record.data), record=record)

    async def _second(self) -> None:
        record = self._record
        record.set_state("approving", "a decision")
        record.approved(
            ApprovedVersion(
                source="ecm",
                object_id="501",
                version=2,
                approved_at=datetime(2026, 12, 1, tzinfo=UTC),
                approved_by="carol",
            )
        )
        await workflow.sleep(timedelta(minutes=1))
        record.set_state("done", "nothing (finished)")
        raise ProcessEnded

    async def _nothing(self) -> None:
        return None


async def test_every_change_reaches_the_read_model_once_in_order(
    time_skipping_env, task_queue: str
) -> None:
    client: Client = time_skipping_env.client
    workflow_id = f"read-model-{task_queue}"
    async with kit_worker(client, task_queue, [ReadModelWorkflow]):
        handle = await client.start_workflow(
            ReadModelWorkflow.run, Input(notes=10), id=workflow_id, task_queue=task_queue
        )
        last_version = await handle.result()
        types = await event_types(handle)

    changes = changes_of(workflow_id)
    versions = [c.version for c in changes]
    assert versions == list(range(1, last_version + 1))  # no gap, no repeat, in order
    # Twelve entries and four state changes in the first run, yet few writes: bursts coalesce.
    assert len(changes) <= 8
    first_run = {c.run_id for c in changes[:2]}
    assert len({c.process_key for c in changes}) == 1  # one process across continue-as-new
    assert len({c.run_id for c in changes}) == 2 and first_run != {changes[-1].run_id}
    assert changes[0].facts.source_system == "crm" and changes[0].facts.workspace_id == 77

    # Every audit entry was sent with a stable sequence; the trail's bound dropped some from
    # the workflow, but the read model got them all before they were dropped.
    sent: dict[int, tuple[str, str, int]] = {}
    for change in changes:
        for row in change.audit:
            sent[row.seq] = (row.kind, row.detail, row.repeated)
    assert sorted(sent) == list(range(len(sent)))
    assert sent[0][0] == "started"
    assert [sent[s][1] for s in range(1, 11)] == [f"note {n}" for n in range(10)]
    assert ("polled", "same", 2) in sent.values()  # the condensed entry's final count

    last = changes[-1]
    assert last.closed and last.state == "done"
    assert [(v.object_id, v.version) for v in last.facts.approved] == [("501", 2)]
    assert not any(c.closed for c in changes[:-1])
    # The run ended only after its last write completed.
    assert types.count(types[-1]) == 1


async def test_runs_from_before_the_read_model_write_nothing(
    time_skipping_env, task_queue: str
) -> None:
    """The patch gates the writes: a replay of an older history schedules none (the replay
    corpus in tests/replay proves the histories); here a record opted out writes nothing."""
    client: Client = time_skipping_env.client
    workflow_id = f"no-read-model-{task_queue}"
    async with kit_worker(client, task_queue, [OptedOutWorkflow]):
        await client.execute_workflow(OptedOutWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert changes_of(workflow_id) == []


@workflow.defn(sandboxed=True)
class OptedOutWorkflow:
    @workflow.run
    async def run(self) -> None:
        record = ProcessRecord("infra", "K-8", state="polling", indexed_states=(), read_model=False)
        record.record("started", "system")
        record.set_state("polled", "next poll")
        await record.flush(closed=True)
