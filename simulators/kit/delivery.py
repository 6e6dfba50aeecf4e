"""Outbound callback delivery for the simulators: retries plus seeded misbehaviour.

Real vendors deliver at-least-once and unordered; the knobs here (drop, duplicate, delay,
reorder) reproduce that on demand, and every attempt is logged for tests to inspect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

DeliveryState = Literal["held", "pending", "delivered", "rejected", "failed", "dropped"]


class RetryPolicy(BaseModel):
    """When a sender tries again, and how long it waits in between.

    `retry_statuses` None retries every 5xx (the Standard Webhooks senders); a list retries
    only those answers (Core Signature: `[500]`). Timeouts and connection failures are always
    retried; 2xx ends the delivery, any other answer rejects it.

    `schedule` "exponential" waits `backoff_initial_s * backoff_factor ** n` (capped at
    `backoff_max_s`); "fibonacci" waits `backoff_initial_s` before the second attempt, then
    `backoff_initial_s` times 1, 2, 3, 5, ... (SignRequest / Core Signature: 1 minute, then
    Fibonacci minutes, at most 10 attempts, about 90 minutes in all; see `core_signature()`).
    """

    max_attempts: int = Field(default=10, ge=1)
    backoff_initial_s: float = Field(default=0.1, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_max_s: float = Field(default=2.0, ge=0)
    timeout_s: float = Field(default=5.0, gt=0)
    schedule: Literal["exponential", "fibonacci"] = "exponential"
    retry_statuses: list[int] | None = Field(
        default=None, description="Answers that are retried; None = any 5xx."
    )

    @classmethod
    def core_signature(cls, minute_s: float = 60.0, *, timeout_s: float = 30.0) -> RetryPolicy:
        """Core Signature's callback retries: only after a timeout or a 500, first after one
        minute, then on a Fibonacci schedule, at most 10 attempts. `minute_s` compresses the
        schedule for demos and tests (the real one is `minute_s=60`)."""
        return cls(
            max_attempts=10,
            backoff_initial_s=minute_s,
            backoff_max_s=minute_s * 100,
            timeout_s=timeout_s,
            schedule="fibonacci",
            retry_statuses=[500],
        )

    def delay_before(self, attempt: int) -> float:
        """Wait before attempt number `attempt` (2, 3, ...)."""
        if self.schedule == "fibonacci":
            a, b = 1, 1
            for _ in range(attempt - 2):
                a, b = b, a + b
            return float(min(self.backoff_initial_s * a, self.backoff_max_s))
        delay = self.backoff_initial_s * self.backoff_factor ** (attempt - 2)
        return float(min(delay, self.backoff_max_s))

    def retries(self, status: int) -> bool:
        """Whether an answer with this status is tried again."""
        if self.retry_statuses is None:
            return status >= 500
        return status in self.retry_statuses


class DeliveryFaults(BaseModel):
    """How badly the sender behaves; set through the simulator's control API."""

    drop_rate: float = Field(default=0.0, ge=0, le=1, description="Share of events never sent.")
    drop_next: int = Field(default=0, ge=0, description="Never send the next N events.")
    duplicate_min: int = Field(default=1, ge=1, description="Each event is sent min..max times.")
    duplicate_max: int = Field(default=1, ge=1)
    delay_ms: int = Field(default=0, ge=0, description="Wait before the first attempt.")
    reorder_window: int = Field(
        default=0, ge=0, description="Hold this many events, then send them shuffled (0 = off)."
    )
    reorder_max_hold_ms: int = Field(
        default=1000, ge=0, description="Release a partly filled window after this long."
    )
    seed: int | None = Field(default=None, description="Reseed the random source when set.")


@dataclass
class Attempt:
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "at": self.at.isoformat(),
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Delivery:
    """One copy of one event on its way to one URL."""

    id: str
    event_id: str
    event_type: str
    url: str
    body: bytes
    headers: Callable[[], Mapping[str, str]]
    copy: int
    meta: dict[str, Any]
    created_at: datetime
    state: DeliveryState = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "url": self.url,
            "copy": self.copy,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "last_status_code": self.attempts[-1].status_code if self.attempts else None,
            "attempts": [a.to_json() for a in self.attempts],
            **self.meta,
        }


class CallbackDispatcher:
    """Sends JSON callbacks in background tasks of the running event loop."""

    def __init__(self, retry: RetryPolicy, faults: DeliveryFaults, seed: int = 0) -> None:
        self.retry = retry
        self._seed = seed
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.deliveries: list[Delivery] = []
        self._held: list[Delivery] = []
        self._hold_timer: asyncio.TimerHandle | None = None
        self.configure(faults)

    def configure(self, faults: DeliveryFaults) -> None:
        self.faults = faults.model_copy(deep=True)
        self._drop_left = faults.drop_next
        self._rng = random.Random(faults.seed if faults.seed is not None else self._seed)
        if not faults.reorder_window:
            self.release_held()

    def submit(
        self,
        url: str,
        body: bytes,
        *,
        event_id: str,
        event_type: str,
        headers: Callable[[], Mapping[str, str]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> list[Delivery]:
        """Queue one event; returns its deliveries (several if duplicated, one if dropped)."""
        f = self.faults
        drop = False
        if self._drop_left > 0:
            self._drop_left -= 1
            drop = True
        elif f.drop_rate and self._rng.random() < f.drop_rate:
            drop = True
        copies = (
            1 if drop else self._rng.randint(f.duplicate_min, max(f.duplicate_min, f.duplicate_max))
        )
        created = []
        for copy in range(1, copies + 1):
            delivery = Delivery(
                id=f"dlv_{next(self._ids)}",
                event_id=event_id,
                event_type=event_type,
                url=url,
                body=body,
                headers=headers or _json_headers,
                copy=copy,
                meta=dict(meta or {}),
                created_at=datetime.now(UTC),
                state="dropped" if drop else "pending",
            )
            self.deliveries.append(delivery)
            created.append(delivery)
        if drop:
            return created
        if f.reorder_window > 1:
            for delivery in created:
                delivery.state = "held"
                self._held.append(delivery)
            if len(self._held) >= f.reorder_window:
                self.release_held()
            elif self._hold_timer is None:
                loop = asyncio.get_running_loop()
                self._hold_timer = loop.call_later(f.reorder_max_hold_ms / 1000, self.release_held)
        else:
            for delivery in created:
                self._start(delivery)
        return created

    def release_held(self) -> None:
        """Send everything held by the reorder window, in shuffled order."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held = self._held, []
        self._rng.shuffle(held)
        for delivery in held:
            delivery.state = "pending"
            self._start(delivery)

    def send(
        self,
        url: str,
        body: bytes,
        *,
        event_id: str,
        event_type: str,
        headers: Callable[[], Mapping[str, str]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Delivery:
        """Send one copy now, past the fault knobs (no drop, duplicate, delay or reorder):
        what a control route uses to replay an event exactly when a test says so."""
        delivery = Delivery(
            id=f"dlv_{next(self._ids)}",
            event_id=event_id,
            event_type=event_type,
            url=url,
            body=body,
            headers=headers or _json_headers,
            copy=1,
            meta=dict(meta or {}),
            created_at=datetime.now(UTC),
        )
        self.deliveries.append(delivery)
        self._start(delivery, delay_ms=0)
        return delivery

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send a stored delivery's exact body again (a late duplicate)."""
        again = Delivery(
            id=f"dlv_{next(self._ids)}",
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            url=delivery.url,
            body=delivery.body,
            headers=delivery.headers,
            copy=delivery.copy,
            meta={**delivery.meta, "redelivery_of": delivery.id},
            created_at=datetime.now(UTC),
        )
        self.deliveries.append(again)
        self._start(again, delay_ms=0)
        return again

    async def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Release held events and wait for in-flight deliveries; False on timeout."""
        self.release_held()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    def clear(self) -> None:
        """Forget the log and cancel whatever is in flight (control API reset)."""
        self._cancel_all()
        self.deliveries.clear()

    async def aclose(self) -> None:
        tasks = self._cancel_all()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _cancel_all(self) -> list[asyncio.Task[None]]:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self._held.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks

    def _start(self, delivery: Delivery, delay_ms: int | None = None) -> None:
        wait = self.faults.delay_ms if delay_ms is None else delay_ms
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, wait))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, delay_ms: int) -> None:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        client = self._http()
        for number in range(1, self.retry.max_attempts + 1):
            if number > 1:
                await asyncio.sleep(self.retry.delay_before(number))
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            try:
                response = await client.post(
                    delivery.url, content=delivery.body, headers=dict(delivery.headers())
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}".strip()
            delivery.attempts.append(
                Attempt(
                    number=number,
                    at=datetime.now(UTC),
                    status_code=status,
                    error=error,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
            )
            if status is not None and 200 <= status < 300:
                delivery.state = "delivered"
                return
            if status is not None and not self.retry.retries(status):
                delivery.state = "rejected"
                return
        delivery.state = "failed"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.retry.timeout_s, follow_redirects=False, trust_env=False
            )
        return self._client


def _json_headers() -> Mapping[str, str]:
    return {"Content-Type": "application/json"}
