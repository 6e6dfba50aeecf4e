"""Fault injection: deterministic fail-next, rate limits, seeded error rates, latency."""

from __future__ import annotations

import time

import pytest

from simulators.kit.faults import FailNext, FaultInjector, FaultSettings, InjectedFault


async def outcomes(injector: FaultInjector, calls: int, path: str = "/x") -> list[int]:
    result = []
    for _ in range(calls):
        try:
            await injector.before_call("GET", path)
            result.append(200)
        except InjectedFault as fault:
            result.append(fault.status)
    return result


async def test_seeded_error_rate_is_reproducible() -> None:
    settings = FaultSettings(error_rate=0.5, error_status=500)
    first = await outcomes(FaultInjector(settings, seed=42), 40)
    second = await outcomes(FaultInjector(settings, seed=42), 40)
    other = await outcomes(FaultInjector(settings, seed=43), 40)
    assert first == second
    assert first != other
    assert set(first) == {200, 500}


async def test_fail_next_then_rate_limit() -> None:
    injector = FaultInjector(
        FaultSettings(
            rate_limit_every=3,
            retry_after_s=4,
            fail_next=FailNext(count=2, status=502, match="GET /only"),
        )
    )
    assert await outcomes(injector, 2, "/other") == [200, 200]
    # fail_next wins over the rate limit on call 3; call 6 is rate limited.
    assert await outcomes(injector, 4, "/only") == [502, 502, 200, 429]
    with pytest.raises(InjectedFault) as raised:
        for _ in range(3):
            await injector.before_call("GET", "/x")
    assert (raised.value.status, raised.value.retry_after_s) == (429, 4)
    assert injector.snapshot()["fail_next_left"] == 0


async def test_latency_is_added() -> None:
    injector = FaultInjector(FaultSettings(latency_ms=30))
    started = time.perf_counter()
    await injector.before_call("GET", "/x")
    assert time.perf_counter() - started >= 0.03
