"""The control API every simulator shares (`/_control/{faults,reset,...}`) and app assembly.

Rules: a simulator's state object is `app.state.sim` and has `faults` and `reset()`; vendor
routes carry the fault gate, `/_control/*` never does. A simulator adds its own knobs to the
router `control_router()` returns instead of writing its own faults/reset/flush routes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request

from simulators.kit.delivery import CallbackDispatcher, DeliveryFaults
from simulators.kit.faults import FaultInjector, FaultSettings, install_fault_handler
from simulators.kit.server import quiet_client_disconnects


class SimState(Protocol):
    """What the shared control routes need of a simulator's state."""

    faults: FaultInjector

    def reset(self) -> None: ...


@dataclass(frozen=True)
class Outbound:
    """A simulator's outbound callbacks, inspected and steered under `/_control/{path}`.

    `flush` waits until the simulator is idle (default: the dispatcher's in-flight deliveries);
    `filters` names delivery fields (from the delivery's `meta`) a listing may be filtered on,
    besides `event_type` and `state`.
    """

    path: str
    dispatcher: Callable[[Any], CallbackDispatcher]
    flush: Callable[[Any, float], Awaitable[bool]] | None = None
    filters: tuple[str, ...] = ()


def current_sim(request: Request) -> Any:
    return request.app.state.sim


def control_router(outbound: Outbound | None = None) -> APIRouter:
    """`/_control` with faults and reset, plus the outbound delivery routes when given."""
    router = APIRouter(prefix="/_control", tags=["control"])

    @router.get("/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        sim: SimState = current_sim(request)
        return sim.faults.snapshot()

    @router.put("/faults")
    async def put_faults(body: FaultSettings, request: Request) -> dict[str, Any]:
        sim: SimState = current_sim(request)
        sim.faults.configure(body)
        return sim.faults.snapshot()

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, bool]:
        sim: SimState = current_sim(request)
        sim.reset()
        return {"reset": True}

    if outbound is not None:
        _outbound_routes(router, outbound)
    return router


def _outbound_routes(router: APIRouter, out: Outbound) -> None:
    def dispatcher(request: Request) -> CallbackDispatcher:
        return out.dispatcher(current_sim(request))

    @router.get(f"/{out.path}", name=f"control_{out.path}")
    async def deliveries(
        request: Request,
        event_type: str | None = None,
        state: str | None = None,
        summary: bool = False,
    ) -> dict[str, Any]:
        """The deliveries (filtered); `summary=true` counts them instead of listing them:
        by state, by number of attempts, and every attempt's answer (status or error)."""
        wanted = {k: request.query_params.get(k) for k in out.filters}
        found = [
            d
            for d in dispatcher(request).deliveries
            if event_type in (None, d.event_type)
            and state in (None, d.state)
            and all(v is None or str(d.meta.get(k)) == v for k, v in wanted.items())
        ]
        counted: dict[str, Any] = {
            "count": len(found),
            "by_state": dict(Counter(d.state for d in found)),
        }
        if summary:
            counted["by_attempts"] = dict(Counter(str(len(d.attempts)) for d in found))
            counted["answers"] = dict(
                Counter(
                    str(a.status_code) if a.status_code is not None else (a.error or "?")[:80]
                    for d in found
                    for a in d.attempts
                )
            )
            return counted
        return {**counted, "results": [d.to_json() for d in found]}

    @router.post(f"/{out.path}/flush", name=f"control_{out.path}_flush")
    async def flush(request: Request, timeout_s: float = 10.0) -> dict[str, bool]:
        """Wait until the simulator is idle; held (reordered) deliveries are released first."""
        if out.flush is not None:
            return {"idle": await out.flush(current_sim(request), timeout_s)}
        return {"idle": await dispatcher(request).wait_idle(timeout_s)}

    @router.get(f"/{out.path}/faults", name=f"control_{out.path}_faults")
    async def get_delivery_faults(request: Request) -> dict[str, Any]:
        return dispatcher(request).faults.model_dump()

    @router.put(f"/{out.path}/faults", name=f"control_put_{out.path}_faults")
    async def put_delivery_faults(body: DeliveryFaults, request: Request) -> dict[str, Any]:
        sender = dispatcher(request)
        sender.configure(body)
        return sender.faults.model_dump()


def simulator_app(
    title: str,
    sim: SimState,
    *routers: APIRouter,
    error_body: Callable[[int, str], dict[str, Any]],
) -> FastAPI:
    """A simulator's FastAPI app: state on `app.state.sim`, routers, fault rendering.

    `error_body(status, message)` renders an injected fault in the vendor's own error shape.
    The sim's `aclose()`, if it has one, runs at shutdown (it owns background deliveries).
    """
    close: Callable[[], Awaitable[None]] | None = getattr(sim, "aclose", None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if close is not None:
            await close()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.sim = sim
    for router in routers:
        app.include_router(router)
    install_fault_handler(app, error_body)
    quiet_client_disconnects(app)
    return app
