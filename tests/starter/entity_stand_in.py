"""A tiny entity workflow for ProcessClient's tests: a running total per key.

Signals add, an Update adds and answers (its validator refuses negatives), `close` ends it.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel


class Amount(BaseModel):
    value: int


class Total(BaseModel):
    total: int


@workflow.defn(name="TestEntity")
class EntityStandIn:
    @workflow.init
    def __init__(self, opening: Amount) -> None:
        self._total = opening.value
        self._closed = False

    @workflow.run
    async def run(self, opening: Amount) -> Total:
        await workflow.wait_condition(lambda: self._closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return Total(total=self._total)

    @workflow.signal
    def add(self, amount: Amount) -> None:
        self._total += amount.value

    @workflow.signal
    def close(self, amount: Amount) -> None:
        self._closed = True

    @workflow.update
    def add_and_get(self, amount: Amount) -> Total:
        self._total += amount.value
        return Total(total=self._total)

    @add_and_get.validator
    def _no_negatives(self, amount: Amount) -> None:
        if amount.value < 0:
            raise ApplicationError("amounts must not be negative", non_retryable=True)

    @workflow.query
    def total(self) -> Total:
        return Total(total=self._total)
