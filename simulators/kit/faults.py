"""Fault injection for the simulators' vendor API routes: latency, errors, 429s, fail-next.

Attach `fault_gate` as a router dependency on vendor routes only (never on `/_control/*`),
and call `install_fault_handler` once per app so an injected fault renders in the vendor's
own error shape. Randomness is seeded so a failing test can be replayed.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class FailNext(BaseModel):
    """Fail the next `count` calls (optionally only those matching `match`) with `status`."""

    count: int = Field(default=1, ge=0)
    status: int = Field(default=503, ge=400, le=599)
    retry_after_s: int | None = Field(
        default=None, ge=0, description="Sent as Retry-After when set."
    )
    match: str | None = Field(
        default=None,
        description="Only calls whose 'METHOD /path' contains this text; e.g. "
        "'POST /api/v1/signature-requests/'.",
    )


class FaultSettings(BaseModel):
    """The knobs, as set by `PUT /_control/faults` (the whole object is replaced)."""

    latency_ms: int = Field(default=0, ge=0, description="Added to every vendor call.")
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of calls failing.")
    error_status: int = Field(default=503, ge=500, le=599, description="Status for error_rate.")
    rate_limit_every: int = Field(default=0, ge=0, description="Every Nth call answers 429.")
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After of the 429s.")
    fail_next: FailNext | None = None
    seed: int | None = Field(default=None, description="Reseed the random source when set.")


class InjectedFault(Exception):
    """Raised by the gate; rendered by the handler installed with install_fault_handler."""

    def __init__(self, status: int, retry_after_s: int | None, reason: str) -> None:
        super().__init__(f"injected {status}: {reason}")
        self.status = status
        self.retry_after_s = retry_after_s
        self.reason = reason


@dataclass
class InjectedRecord:
    at: datetime
    method: str
    path: str
    status: int
    reason: str


class FaultInjector:
    """Decides, call by call, whether a vendor call is slowed down or failed."""

    def __init__(self, settings: FaultSettings | None = None, seed: int = 0) -> None:
        self._seed = seed
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings.model_copy(deep=True)
        self._fail_next_left = settings.fail_next.count if settings.fail_next else 0
        self._rng = random.Random(settings.seed if settings.seed is not None else self._seed)
        self.calls = 0
        self.injected: deque[InjectedRecord] = deque(maxlen=500)

    async def before_call(self, method: str, path: str) -> None:
        s = self.settings
        self.calls += 1
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        fault = self._decide(f"{method.upper()} {path}")
        if fault is not None:
            self.injected.append(
                InjectedRecord(datetime.now(UTC), method, path, fault.status, fault.reason)
            )
            raise fault

    def _decide(self, call: str) -> InjectedFault | None:
        s = self.settings
        fail = s.fail_next
        if fail is not None and self._fail_next_left > 0 and (not fail.match or fail.match in call):
            self._fail_next_left -= 1
            return InjectedFault(fail.status, fail.retry_after_s, "fail_next")
        if s.rate_limit_every and self.calls % s.rate_limit_every == 0:
            return InjectedFault(429, s.retry_after_s, "rate_limit_every")
        if s.error_rate and self._rng.random() < s.error_rate:
            return InjectedFault(s.error_status, None, "error_rate")
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(),
            "calls": self.calls,
            "fail_next_left": self._fail_next_left,
            "injected": [
                {
                    "at": r.at.isoformat(),
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "reason": r.reason,
                }
                for r in self.injected
            ],
        }


class _HasFaults(Protocol):
    faults: FaultInjector


async def fault_gate(request: Request) -> None:
    """FastAPI dependency: apply `app.state.sim.faults` to this call."""
    sim: _HasFaults = request.app.state.sim
    await sim.faults.before_call(request.method, request.url.path)


def install_fault_handler(app: FastAPI, body: Callable[[int, str], dict[str, Any]]) -> None:
    """Render InjectedFault as `body(status, message)` with Retry-After when it has one."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InjectedFault)
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {}
        message = _MESSAGES.get(exc.status, "Simulated failure.")
        return JSONResponse(body(exc.status, message), status_code=exc.status, headers=headers)

    app.add_exception_handler(InjectedFault, handle)


_MESSAGES = {
    429: "Request was throttled.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
}
