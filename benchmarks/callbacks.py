"""Part 2: signed Core Signature callbacks vs the bare endpoint, and send-to-applied latency."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from temporalio.client import Client

from benchmarks.parked import SIGNER, Parked
from benchmarks.stats import latency_summary, rate
from docflow.models import SigningStatus
from docflow.temporal import signing_workflow_id

EVENT_TYPE = "signer_viewed"  # applied and audited, but not terminal: the process stays parked
APPLY_TIMEOUT_S = 10.0
READBACK_RETRY_S = 0.005


@dataclass(frozen=True)
class Callback:
    parked: Parked
    event_id: str
    body: bytes


def callback(parked: Parked, key: bytes, event_type: str = EVENT_TYPE) -> Callback:
    """A callback as Core Signature sends it: event_hash = HMAC-SHA256(key, time + type)."""
    event_id = str(uuid.uuid4())
    event_time = str(int(time.time()))
    payload = {
        "uuid": event_id,
        "status": "ok",
        "event_type": event_type,
        "event_time": event_time,
        "event_hash": hmac.new(key, (event_time + event_type).encode(), hashlib.sha256).hexdigest(),
        "document": {
            "uuid": parked.document_uuid,
            "external_id": f"{parked.key}#1",
            "status": "vi",
        },
        "signer": {"email": SIGNER},
    }
    return Callback(parked, event_id, json.dumps(payload).encode())


def callbacks_for(parked: list[Parked], count: int, key: bytes) -> list[Callback]:
    """`count` callbacks spread round-robin over the parked processes."""
    return [callback(parked[i % len(parked)], key) for i in range(count)]


@dataclass
class Throughput:
    requests: int
    wall_s: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return rate(self.requests, self.wall_s)


async def fire(url: str, items: list[Callback], concurrency: int) -> Throughput:
    """POST every callback to `url`, `concurrency` in flight, on one fresh HTTP client."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[Callback] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    statuses: Counter[int] = Counter()
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def sender() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                response = await http.post(url, content=item.body, headers=headers)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return Throughput(len(items), wall, statuses)


async def _applied(client: Client, item: Callback) -> datetime | None:
    """When the workflow applied the callback's event (its audit time), if it has."""
    handle = client.get_workflow_handle(signing_workflow_id(item.parked.key))
    status = await handle.query("status", result_type=SigningStatus)
    return next((e.at for e in status.audit if e.data.get("event_id") == item.event_id), None)


@dataclass
class Paced:
    per_second: float
    applied_s: list[float] = field(default_factory=list)  # send -> visible by query
    answered_s: list[float] = field(default_factory=list)  # send -> HTTP 200
    # send -> the workflow task that applied it (its workflow.now(), the server's clock: the
    # same machine's) — splits the latency into getting there and reading it back.
    in_workflow_s: list[float] = field(default_factory=list)
    queries: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "rate_per_s": self.per_second,
            "sent": len(self.answered_s) + sum(1 for f in self.failures if "HTTP" in f),
            "applied": len(self.applied_s),
            "readback_queries_per_callback": round(self.queries / max(1, len(self.answered_s)), 2),
            "failures": self.failures[:5],
            "latency_ms": latency_summary(self.applied_s),
            "http_answer_ms": latency_summary(self.answered_s),
            "send_to_workflow_task_ms": latency_summary(self.in_workflow_s),
        }


async def paced(url: str, items: list[Callback], per_second: float, client: Client) -> Paced:
    """Open loop at `per_second`: send, then query until the workflow shows the event."""
    result = Paced(per_second)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(item: Callback) -> None:
            sent, sent_at = time.perf_counter(), time.time()
            response = await http.post(url, content=item.body, headers=headers)
            if response.status_code != 200:
                result.failures.append(f"{item.event_id}: HTTP {response.status_code}")
                return
            result.answered_s.append(time.perf_counter() - sent)
            while True:
                result.queries += 1
                if (at := await _applied(client, item)) is not None:
                    result.in_workflow_s.append(max(0.0, at.timestamp() - sent_at))
                    break
                if time.perf_counter() - sent > APPLY_TIMEOUT_S:
                    result.failures.append(f"{item.event_id}: not applied in {APPLY_TIMEOUT_S} s")
                    return
                await asyncio.sleep(READBACK_RETRY_S)
            result.applied_s.append(time.perf_counter() - sent)

        tasks = []
        started = time.perf_counter()
        for i, item in enumerate(items):
            delay = started + i / per_second - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(item)))
        await asyncio.gather(*tasks)
    return result


def paced_summary(
    latencies: list[float], failures: list[str], per_second: float
) -> dict[str, object]:
    return {
        "rate_per_s": per_second,
        "sent": len(latencies) + len(failures),
        "applied": len(latencies),
        "failures": failures[:5],
        "latency_ms": latency_summary(latencies),
    }
