"""ProcessRecord in a tiny workflow: since/until, condensed and bounded audit, indexed upserts."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.workflows.kit.support import event_types, kit_worker

with workflow.unsafe.imports_passed_through():
    from docflow import search_attributes as sa
    from docflow.models import ProcessSummary
    from workflows.kit.record import ProcessRecord


@workflow.defn(sandboxed=True)
class RecordWorkflow:
    @workflow.run
    async def run(self, polls: int) -> ProcessSummary:
        record = ProcessRecord(
            "demo", "K-1", state="starting", indexed_states={"waiting", "done"}, audit_limit=5
        )
        record.record("started", "app:test")
        record.set_state("working", "nothing")  # not indexed: no upsert
        record.set_state("waiting", "a callback", until=timedelta(hours=2))
        record.set_state("waiting", "a callback, still")  # same state: no second upsert
        for _ in range(polls):
            await workflow.sleep(timedelta(hours=1))
            record.record("polled", "system", "status 'sent'")
        record.record("polled", "system", "status 'viewed'")
        for n in range(6):
            record.record("note", "system", f"note {n}")
        record.set_state("done", "nothing (finished)")
        return ProcessSummary.model_validate(record.summary_fields())


async def test_record_condenses_bounds_and_upserts_only_indexed_states(
    time_skipping_env, task_queue: str
) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [RecordWorkflow]):
        handle = await client.start_workflow(
            RecordWorkflow.run, 24, id=f"record-{task_queue}", task_queue=task_queue
        )
        summary = await handle.result()

    kinds = [(e.kind, e.detail, e.repeated) for e in summary.audit]
    # 24 identical polls are one entry; the trail keeps "started" and the newest entries.
    assert kinds[0] == ("started", "", 1)
    assert len(summary.audit) == 5 and summary.audit_dropped == 4
    assert kinds[-1] == ("note", "note 5", 1)
    assert summary.state == "done" and summary.since is not None
    history = await event_types(handle)
    upserts = history.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    assert upserts == 2  # "waiting" once, "done" once
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.STATUS) == "done"


@workflow.defn(sandboxed=True)
class CondenseWorkflow:
    @workflow.run
    async def run(self) -> ProcessSummary:
        record = ProcessRecord("demo", "K-2", state="s", indexed_states=())
        record.record("started", "app:test")
        for _ in range(100):
            record.record("polled", "system", "status 'sent'")
        record.set_state("waiting", "x", until=timedelta(days=1))
        return ProcessSummary.model_validate(record.summary_fields())


async def test_repeated_entries_collapse_with_count_and_last_time(
    time_skipping_env, task_queue: str
) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [CondenseWorkflow]):
        summary = await client.execute_workflow(
            CondenseWorkflow.run, id=f"condense-{task_queue}", task_queue=task_queue
        )
    assert [(e.kind, e.repeated) for e in summary.audit] == [("started", 1), ("polled", 100)]
    assert summary.audit[1].last_at is not None
    assert summary.until is not None and summary.until - summary.since == timedelta(days=1)
