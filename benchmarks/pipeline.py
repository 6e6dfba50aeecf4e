"""B0 (floor) and B1 (signing pipeline) drivers: start, approve, signals, wait for the end."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from benchmarks.batch import BatchResult, poll_until, run_batch
from benchmarks.floor import FLOOR_TASK_QUEUE, FLOOR_WORKFLOW, FloorDecision, FloorShape
from devstack.samples import APPROVER_KEYS, CRM_KEY, contract_pdf, legal, sample_request
from docflow.models import SigningRequest, SigningState, SigningStatus
from docflow.models.status import TERMINAL_STATES
from docflow.temporal import signing_workflow_id
from starter.api_client import DocflowApiClient

APPROVER = "alice@example.com"
STEP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Doc:
    key: str
    request: SigningRequest
    pdf: bytes

    def __str__(self) -> str:
        return self.key


def pipeline_docs(prefix: str, count: int) -> list[Doc]:
    """Contracts with one approval stage (legal, any quorum), PDFs made before timing."""
    docs = []
    for i in range(count):
        key = f"{prefix}-{i:05d}"
        docs.append(Doc(key, sample_request(key, stages=[legal()]), contract_pdf(key)))
    return docs


class PipelineDriver:
    """B1: start over HTTP, approve over HTTP, the autopilot signs, the end via the client."""

    def __init__(self, api_url: str, http: httpx.AsyncClient, client: Client) -> None:
        self.api = DocflowApiClient(api_url, CRM_KEY, http=http)
        self.approver = self.api.as_principal(APPROVER_KEYS[APPROVER])
        self.client = client
        self.polls = 0  # status reads while waiting for the approval stage

    async def drive(self, doc: Doc) -> None:
        await self.api.start(doc.request, doc.pdf, filename=f"{doc.key}.pdf")

        async def stage_open() -> bool:
            self.polls += 1
            status = await self.api.status(doc.key)
            if status.state in TERMINAL_STATES:
                raise RuntimeError(f"ended {status.state.value}: {status.outcome_reason}")
            return status.state is SigningState.AWAITING_APPROVAL

        await poll_until(stage_open, within_s=STEP_TIMEOUT_S, what="awaiting approval")
        await self.approver.decide(doc.key, "approve", comment="bench")
        handle = self.client.get_workflow_handle(
            signing_workflow_id(doc.key), result_type=SigningStatus
        )
        final = await asyncio.wait_for(handle.result(), timeout=STEP_TIMEOUT_S)
        if final.state is not SigningState.COMPLETED:
            raise RuntimeError(f"ended {final.state.value}: {final.outcome_reason}")

    async def run(self, docs: list[Doc], concurrency: int) -> BatchResult:
        return await run_batch(docs, concurrency, self.drive)


class FloorDriver:
    """B0: the same steps through the Temporal client: start, update, signals, the end."""

    def __init__(self, client: Client, shape: FloorShape) -> None:
        self.client = client
        self.shape = shape
        self.polls = 0  # queries while waiting for the stage

    async def drive(self, workflow_id: str) -> None:
        handle = await self.client.start_workflow(
            FLOOR_WORKFLOW, self.shape, id=workflow_id, task_queue=FLOOR_TASK_QUEUE
        )

        async def stage_open() -> bool:
            self.polls += 1
            return bool(await handle.query("stage_open", result_type=bool))

        await poll_until(stage_open, within_s=STEP_TIMEOUT_S, what="stage open")
        await handle.execute_update("decide", FloorDecision(actor=APPROVER), result_type=str)
        await asyncio.gather(
            *(handle.signal("event", f"{workflow_id}:{i}") for i in range(self.shape.signals))
        )
        await asyncio.wait_for(handle.result(), timeout=STEP_TIMEOUT_S)

    async def run(self, workflow_ids: list[str], concurrency: int) -> BatchResult:
        return await run_batch(workflow_ids, concurrency, self.drive)


def floor_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(count)]


def shape_of(history: WorkflowHistory) -> FloorShape:
    """The B1 run's steps: activities before the update, before the first signal, after it."""
    kinds = [e.event_type for e in history.events]
    signals = [
        i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    accepted = next(
        (
            i
            for i, k in enumerate(kinds)
            if k == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ),
        0,
    )
    first_signal = signals[0] if signals else accepted
    scheduled = [
        i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    return FloorShape(
        before_update=sum(1 for i in scheduled if i < accepted),
        after_update=sum(1 for i in scheduled if accepted < i < first_signal),
        signals=len(signals),
        after_signals=sum(1 for i in scheduled if i > first_signal),
    )


async def calibrate(client: Client, keys: list[str]) -> FloorShape:
    """The most common shape among finished B1 runs (the warm-up documents)."""
    shapes: Counter[str] = Counter()
    for key in keys:
        history = await client.get_workflow_handle(signing_workflow_id(key)).fetch_history()
        shapes[shape_of(history).model_dump_json()] += 1
    return FloorShape.model_validate_json(shapes.most_common(1)[0][0])


def run_tag() -> str:
    return uuid.uuid4().hex[:6]
