"""deliver_to_target against the webhook target simulator over real HTTP (ActivityEnvironment,
attempt numbers set per test): accepted once, retried on the target's schedule, refused,
gone, aborted, rate limited, and never sent outside the registry."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.http.limiter import RateLimiter
from activities.targets import TargetActivities
from docflow.models.content import TargetMessage, TargetReceipt
from docflow.settings import Settings
from tests.activities.simulated import Sim
from tests.activities.targets.conftest import bundle_with

# The suite's bundle: PARTNER_PORTAL retries after 0.2, 0.5 and 1.0 s (4 attempts).
PORTAL = "PARTNER_PORTAL"
ENDPOINT = "partner-portal"


def _message(key: str = "item-1:3:PARTNER_PORTAL", **payload: Any) -> TargetMessage:
    data = payload or {"id": "item-1", "version": 3, "title": "Winter boots", "price": 99}
    return TargetMessage(
        target=PORTAL,
        kind="target",
        event_type="content.approved",
        idempotency_key=key,
        business_key="item-1",
        payload=data,
        payload_sha256="0" * 64,
    )


def _env(attempt: int = 1) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


@pytest.fixture
def targets(http: httpx.AsyncClient, target_settings: Settings) -> TargetActivities:
    # rand 0.5: the jitter is zero, so the delays are the schedule's own.
    return TargetActivities(http, target_settings, rand=lambda: 0.5)


async def _knobs(sim: Sim, **knobs: Any) -> None:
    await sim.control("PUT", f"/endpoints/{ENDPOINT}", json=knobs)


async def _failure(acts: TargetActivities, attempt: int = 1, **payload: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as failed:
        await _env(attempt).run(acts.deliver, _message(**payload))
    return failed.value


async def test_a_signed_message_is_accepted_once(
    targets: TargetActivities, target_sim: Sim
) -> None:
    first = await _env().run(targets.deliver, _message())
    again = await _env().run(targets.deliver, _message())
    assert isinstance(first, TargetReceipt)
    assert (first.status_code, first.attempts, again.status_code) == (200, 1, 200)
    assert first.latency_ms >= 0

    seen = await target_sim.control("GET", "/deliveries", params={"endpoint": ENDPOINT})
    assert (seen["count"], seen["duplicates"], seen["rejected"]) == (1, 1, 0)
    [received] = seen["results"]
    assert received["webhook_id"] == received["idempotency_key"] == "item-1:3:PARTNER_PORTAL"
    body = json.loads(received["body"])
    assert body["type"] == "content.approved" and body["timestamp"]
    assert body["data"] == {"id": "item-1", "version": 3, "title": "Winter boots", "price": 99}


async def test_a_down_target_is_retried_after_the_schedules_delay(
    targets: TargetActivities, target_sim: Sim
) -> None:
    await _knobs(target_sim, down=True)
    failure = await _failure(targets, attempt=1)
    assert not failure.non_retryable and failure.type == "TargetUnavailable"
    assert failure.next_retry_delay == timedelta(seconds=0.2)
    details = failure.details[0]
    assert (details["status"], details["attempts"]) == (503, 1)
    assert "service unavailable" in details["excerpt"]
    later = await _failure(targets, attempt=3)
    assert later.next_retry_delay == timedelta(seconds=1.0)

    await _knobs(target_sim, down=False)
    receipt = await _env(attempt=4).run(targets.deliver, _message())
    assert (receipt.status_code, receipt.attempts) == (200, 4)


async def test_jitter_varies_the_delay_within_its_share(
    http: httpx.AsyncClient, target_settings: Settings, target_sim: Sim
) -> None:
    await _knobs(target_sim, down=True)
    # The bundle's default jitter is 0.1: rand 0 and 1 give -10 % and +10 %.
    low = await _failure(TargetActivities(http, target_settings, rand=lambda: 0.0), attempt=2)
    high = await _failure(TargetActivities(http, target_settings, rand=lambda: 1.0), attempt=2)
    assert low.next_retry_delay == timedelta(seconds=0.45)
    assert high.next_retry_delay == timedelta(seconds=0.55)


async def test_the_receivers_retry_after_is_honoured(
    targets: TargetActivities, target_sim: Sim
) -> None:
    await _knobs(target_sim, script=[{"status": 503, "retry_after_s": 3}, {"status": 429}])
    failure = await _failure(targets, attempt=1)
    assert failure.next_retry_delay == timedelta(seconds=3)
    # Without a Retry-After the schedule's delay stands.
    failure = await _failure(targets, attempt=2)
    assert (failure.next_retry_delay, failure.details[0]["status"]) == (timedelta(seconds=0.5), 429)


async def test_past_the_schedule_the_delivery_is_exhausted(
    targets: TargetActivities, target_sim: Sim
) -> None:
    await _knobs(target_sim, down=True)
    failure = await _failure(targets, attempt=4)
    assert failure.non_retryable and failure.type == "DeliveryExhausted"
    assert "gave up after 4 attempts over the schedule (0 s, 0.2 s, 0.5 s, 1 s)" in failure.message
    assert "last answer HTTP 503" in failure.message


async def test_a_validation_refusal_carries_the_receivers_reasons(
    targets: TargetActivities, target_sim: Sim
) -> None:
    await _knobs(target_sim, required_fields=["title", "price"])
    failure = await _failure(targets, title="Winter boots")
    assert failure.non_retryable and failure.type == "TargetRefused"
    validation = '{"errors":[{"field":"price","message":"is required"}]}'
    assert validation in failure.message
    assert failure.details[0] == {"status": 422, "attempts": 1, "excerpt": validation}

    # The content team fixes the item: the fixed version is accepted.
    receipt = await _env().run(targets.deliver, _message("item-1:4:PARTNER_PORTAL"))
    assert receipt.status_code == 200


async def test_a_long_refusal_is_cut_to_500_characters(
    targets: TargetActivities, target_sim: Sim
) -> None:
    body = {"errors": [{"field": f"f{n}", "message": "is required"} for n in range(50)]}
    await _knobs(target_sim, script=[{"status": 400, "body": body}])
    failure = await _failure(targets)
    assert failure.type == "TargetRefused"
    assert len(failure.details[0]["excerpt"]) == 500


@pytest.mark.parametrize("status", [408, 409, 425])
async def test_transient_client_errors_are_retried(
    targets: TargetActivities, target_sim: Sim, status: int
) -> None:
    await _knobs(target_sim, script=[status])
    failure = await _failure(targets)
    assert not failure.non_retryable and failure.next_retry_delay == timedelta(seconds=0.2)


async def test_a_gone_target_is_not_retried(targets: TargetActivities, target_sim: Sim) -> None:
    await _knobs(target_sim, gone=True)
    failure = await _failure(targets)
    assert failure.non_retryable and failure.type == "TargetGone"
    assert failure.details[0]["status"] == 410


async def test_abort_message_stops_the_retries(targets: TargetActivities, target_sim: Sim) -> None:
    await _knobs(target_sim, script=[{"status": 503, "abort": True}])
    failure = await _failure(targets)
    assert failure.non_retryable and failure.type == "TargetAborted"


async def test_a_timeout_is_retried_on_the_schedule(
    http: httpx.AsyncClient, target_settings: Settings, target_sim: Sim, tmp_path: Path
) -> None:
    settings = bundle_with(target_settings, tmp_path, PORTAL, timeout_s=0.05)
    await _knobs(target_sim, latency_ms=300)
    failure = await _failure(TargetActivities(http, settings, rand=lambda: 0.5))
    assert not failure.non_retryable and failure.type == "TargetUnavailable"
    assert failure.next_retry_delay == timedelta(seconds=0.2)
    assert "timed out" in failure.message


async def test_the_rate_limit_waits_in_turn_then_defers(
    http: httpx.AsyncClient, target_settings: Settings, target_sim: Sim
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    # A frozen clock: the bundle's 10 per second, then one turn 0.1 s later, then too long.
    limiter = RateLimiter(clock=lambda: 100.0, sleep=sleep, max_wait_s=0.15)
    acts = TargetActivities(http, target_settings, limiter=limiter, rand=lambda: 0.5)
    for n in range(11):
        await _env().run(acts.deliver, _message(f"item-{n}:1:PARTNER_PORTAL"))
    assert slept == [pytest.approx(0.1)]
    with pytest.raises(ApplicationError) as deferred:
        await _env().run(acts.deliver, _message("item-11:1:PARTNER_PORTAL"))
    assert not deferred.value.non_retryable and deferred.value.type == "RateLimited"
    assert deferred.value.next_retry_delay == pytest.approx(
        timedelta(seconds=0.2), abs=timedelta(milliseconds=1)
    )
    seen = await target_sim.control("GET", "/deliveries", params={"endpoint": ENDPOINT})
    assert seen["count"] == 11


async def test_an_unknown_target_is_refused(targets: TargetActivities, target_sim: Sim) -> None:
    message = _message().model_copy(update={"target": "NOWHERE"})
    with pytest.raises(ApplicationError) as refused:
        await _env().run(targets.deliver, message)
    assert refused.value.non_retryable and refused.value.type == "TargetNotRegistered"


async def test_an_endpoint_outside_the_allowed_hosts_is_never_called(
    http: httpx.AsyncClient, target_settings: Settings, target_sim: Sim
) -> None:
    moved = target_settings.with_overrides(
        distribution={"endpoints": {PORTAL: "https://evil.example.com/partner-portal"}}
    )
    with pytest.raises(ApplicationError) as refused:
        await _env().run(TargetActivities(http, moved).deliver, _message())
    assert refused.value.non_retryable and refused.value.type == "EndpointNotAllowed"
    assert "evil.example.com" in refused.value.message
