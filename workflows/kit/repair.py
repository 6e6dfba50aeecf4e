"""A step that gave up waits for support: fix the cause and retry it, or abandon it.

Rules:
- the give-up opens an exception: recorded, the process flagged for attention, support told
  why; the process waits in `state` until `deadline`;
- support answers with the `repair` Update (retry | abandon), validated with `refusal()` so
  only an open exception accepts one answer; the actor is the authenticated caller;
- retry runs the step again (and may open a new exception); abandon or the deadline returns
  None and the process reports its failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow

from workflows.kit.calls import GaveUp
from workflows.kit.human_task import wait_for_person
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord

with workflow.unsafe.imports_passed_through():
    from docflow.models import RepairRequest

T = TypeVar("T")


class Repairable:
    def __init__(self, record: ProcessRecord, notify: Notifier) -> None:
        self._record = record
        self._notify = notify
        self._waiting_in: str | None = None
        self.answer: RepairRequest | None = None

    async def run(
        self,
        step: Callable[[], Awaitable[T]],
        *,
        name: str,
        running: str,
        waiting: str,
        deadline: timedelta,
    ) -> T | str:
        """The step's result, or the reason it was given up (abandoned or not repaired)."""
        attempt = 0
        while True:
            attempt += 1
            self._record.set_state(running, name)
            try:
                return await step()
            except GaveUp as failure:
                reason = f"{failure.operation}: {failure.reason}"
            self._record.record(f"{waiting}", "system", reason)
            self._record.set_state(
                waiting,
                f"support to fix and retry (or abandon) {name}: {reason}",
                until=deadline,
                attention=True,
            )
            await self._notify.support(
                f"{name} failed: {reason}", key=f"{waiting}:{attempt}", reason=reason
            )
            self.answer, self._waiting_in = None, waiting
            repaired = await wait_for_person(
                lambda: self.answer is not None, deadline=deadline, what=f"repairing {name}"
            )
            self._waiting_in = None
            if not repaired or self.answer is None or self.answer.action == "abandon":
                return reason

    def refusal(self, request: RepairRequest) -> str | None:
        if self._waiting_in is None or self.answer is not None:
            return f"no step is waiting for a repair (process is {self._record.state})"
        return None

    def apply(self, request: RepairRequest) -> None:
        self.answer = request
        self._record.record(f"repair_{request.action}", request.actor, request.comment)
