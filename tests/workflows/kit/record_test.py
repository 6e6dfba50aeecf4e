"""ProcessRecord in a tiny workflow: since/until, condensed and bounded audit, indexed upserts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowHandle

from tests.workflows.kit.support import kit_worker

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
        await record.flush(closed=True)
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
    upserts = await upserted_names(handle)
    # "waiting" with its since and deadline; the refresh without a deadline drops it; "done".
    assert upserts == [
        {sa.STATUS.name, sa.SINCE.name, sa.DEADLINE.name},
        {sa.DEADLINE.name},
        {sa.STATUS.name, sa.SINCE.name},
    ]
    attributes = await attributes_now(handle)
    assert attributes[sa.STATUS.name] == "done"
    assert attributes[sa.SINCE.name] == summary.since.isoformat()
    assert attributes[sa.DEADLINE.name] is None and sa.ATTENTION.name not in attributes


async def upserts(handle: WorkflowHandle) -> list[dict[str, Any]]:
    """The docflow attributes each upsert of the run set (None = unset), in order; the SDK's
    patch marker aside. (The time-skipping server's describe cannot decode an unset Datetime.)
    """
    found = []
    async for event in handle.fetch_history_events():
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            values = {
                name: json.loads(payload.data) if payload.data else None
                for name, payload in fields.indexed_fields.items()
                if name.startswith("Docflow")
            }
            if values:
                found.append(values)
    return found


async def upserted_names(handle: WorkflowHandle) -> list[set[str]]:
    return [set(values) for values in await upserts(handle)]


async def attributes_now(handle: WorkflowHandle) -> dict[str, Any]:
    """Every docflow attribute the run upserted, folded to its current value."""
    current: dict[str, Any] = {}
    for values in await upserts(handle):
        current |= values
    return current


@workflow.defn(sandboxed=True)
class AttentionWorkflow:
    """An exception opens (attention), is repaired, and the process ends."""

    def __init__(self) -> None:
        self.repaired = False
        self.record = ProcessRecord("demo", "K-3", state="s", indexed_states={"done"})

    @workflow.run
    async def run(self) -> ProcessSummary:
        record = self.record
        record.set_state("working", "the archive")  # not indexed, no attention: no upsert
        record.set_state("archive_exception", "a repair", until=timedelta(days=5), attention=True)
        await workflow.wait_condition(lambda: self.repaired)
        record.set_state("working", "the archive again")
        await workflow.sleep(timedelta(hours=1))
        record.set_state("done", "nothing (finished)")
        await record.flush(closed=True)
        return ProcessSummary.model_validate(record.summary_fields())

    @workflow.signal
    def repair(self) -> None:
        self.repaired = True

    @workflow.query
    def summary(self) -> ProcessSummary:
        return ProcessSummary.model_validate(self.record.summary_fields())


async def test_attention_is_upserted_with_since_and_deadline_and_cleared(
    time_skipping_env, task_queue: str
) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [AttentionWorkflow]):
        handle = await client.start_workflow(
            AttentionWorkflow.run, id=f"attention-{task_queue}", task_queue=task_queue
        )
        open_ = await handle.query(AttentionWorkflow.summary)
        assert open_.attention and open_.attention_reason == sa.EXCEPTION_OPEN
        assert open_.since is not None and open_.until is not None
        attributes = await attributes_now(handle)
        # A state nobody indexes still becomes findable while it needs attention.
        assert attributes[sa.ATTENTION.name] == sa.EXCEPTION_OPEN
        assert attributes[sa.STATUS.name] == "archive_exception"
        assert attributes[sa.SINCE.name] == open_.since.isoformat()
        assert attributes[sa.DEADLINE.name] == open_.until.isoformat()
        await handle.signal(AttentionWorkflow.repair)
        summary = await handle.result()
    assert not summary.attention and summary.attention_reason == ""
    attributes = await attributes_now(handle)
    assert attributes[sa.ATTENTION.name] is None and attributes[sa.STATUS.name] == "done"
    upserts = await upserted_names(handle)
    assert upserts[1] == {sa.ATTENTION.name}  # cleared on its own; "working" is not indexed
    assert len(upserts) == 3


@workflow.defn(sandboxed=True)
class CondenseWorkflow:
    @workflow.run
    async def run(self) -> ProcessSummary:
        record = ProcessRecord("demo", "K-2", state="s", indexed_states=())
        record.record("started", "app:test")
        for _ in range(100):
            record.record("polled", "system", "status 'sent'")
        record.set_state("waiting", "x", until=timedelta(days=1))
        await record.flush(closed=True)
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
