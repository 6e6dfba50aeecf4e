"""B0, the floor: a no-op workflow of the signing pipeline's shape, and its worker process.

Same number of activities, the same update, signals and condition waits with timeouts
(timers) as a B1 happy path, with empty bodies. `python -m benchmarks.floor` serves it on
its own task queue with the same Worker defaults as `worker.py`.
"""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.worker import Worker

FLOOR_TASK_QUEUE = "docflow-bench-floor"
FLOOR_WORKFLOW = "FloorWorkflow"
ECM_FLOOR_WORKFLOW = "EcmFloorWorkflow"
ECM_FLOOR_SIGNAL = "ecm_event"
ECM_FLOOR_IDLE = timedelta(hours=1)
# The same "wait for a person, but not forever" timers the signing workflow starts.
APPROVAL_WAIT = timedelta(hours=48)
SIGNATURE_WAIT = timedelta(hours=6)


class FloorShape(BaseModel):
    """How many steps of each kind, in the signing workflow's order (one approval stage)."""

    before_update: int = 2  # validate, notify approvers
    after_update: int = 1  # create signature request
    signals: int = 6  # Core Signature callbacks that reach the workflow
    after_signals: int = 5  # fetch artifacts, ensure workspace, archive x2, report


class FloorDecision(BaseModel):
    actor: str


@activity.defn(name="floor_noop")
async def floor_noop(step: str) -> str:
    """An activity that does nothing (the floor of an activity round trip)."""
    return step


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    def __init__(self) -> None:
        self._stage_open = False
        self._decided = False
        self._signals = 0
        self._seen = 0

    @workflow.run
    async def run(self, shape: FloorShape) -> int:
        for i in range(shape.before_update):
            await self._noop(f"before-{i}")
        self._stage_open = True
        await workflow.wait_condition(lambda: self._decided, timeout=APPROVAL_WAIT)
        for i in range(shape.after_update):
            await self._noop(f"after-update-{i}")
        self._seen = 0
        while self._seen < shape.signals:  # like the signing workflow: a timer per wake-up
            await workflow.wait_condition(
                lambda: self._signals > self._seen, timeout=SIGNATURE_WAIT
            )
            self._seen = self._signals
        for i in range(shape.after_signals):
            await self._noop(f"after-signals-{i}")
        return self._seen

    async def _noop(self, step: str) -> None:
        await workflow.execute_activity(
            floor_noop, step, start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.signal(name="event")
    def event(self, event_id: str) -> None:
        self._signals += 1

    @workflow.update(name="decide")
    def decide(self, decision: FloorDecision) -> str:
        self._decided = True
        return decision.actor

    @decide.validator
    def _validate(self, decision: FloorDecision) -> None:
        if not self._stage_open or self._decided:
            raise ValueError("no stage open")

    @workflow.query(name="stage_open")
    def stage_open(self) -> bool:
        return self._stage_open and not self._decided


@workflow.defn(name=ECM_FLOOR_WORKFLOW)
class EcmFloorWorkflow:
    """The ECM relay's floor (`benchmarks.ecm_floor`): signal-with-started per event like
    EcmDocumentWorkflow, it only counts its signals and ends after an idle hour."""

    def __init__(self) -> None:
        self._events = 0

    @workflow.run
    async def run(self, request: dict[str, Any]) -> int:
        while True:
            seen = self._events
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._events != seen, timeout=ECM_FLOOR_IDLE
                )
            except TimeoutError:
                return self._events

    @workflow.signal(name=ECM_FLOOR_SIGNAL)
    def ecm_event(self, event: dict[str, Any]) -> None:
        self._events += 1


async def _main() -> None:
    from docflow.settings import Settings
    from docflow.temporal import connect

    # As worker.py does for the signing workflow: the sandbox loads this file per run.
    compileall.compile_file(__file__, quiet=2)
    client = await connect(Settings().temporal.env_profile)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=FLOOR_TASK_QUEUE,
        workflows=[FloorWorkflow, EcmFloorWorkflow],
        activities=[floor_noop],
    )
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_main())
