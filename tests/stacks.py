"""The embedded stack as the end-to-end and chaos tests run it, and JSON calls to its parts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import httpx

from devstack.embedded import EmbeddedStack, SimulatorOptions, StackPorts
from docflow.settings import Settings
from simulators.content_server.config import ContentServerConfig


@asynccontextmanager
async def fast_polling_stack(
    data_dir: Path,
    worker: Literal["in-process", "subprocess"] = "in-process",
    *,
    ecm_events: bool = False,
) -> AsyncIterator[EmbeddedStack]:
    """The whole stack on free ports; a lost callback is polled for after seconds, not hours.

    Content Server's events go to the ECM receiver only with `ecm_events` (the relay's own
    tests): elsewhere every node a test creates would be relayed, work no assertion reads."""
    settings = Settings().with_overrides(
        signing_policy={
            "signature_poll_after": timedelta(seconds=3),
            "signature_poll_interval": timedelta(seconds=2),
        },
        # A source that is down becomes a gap after seconds; gaps wait for a person's retry.
        case_policy={
            "source_give_up": timedelta(seconds=4),
            "retry_every": timedelta(hours=1),
            "retry_for": timedelta(hours=2),
        },
    )
    simulators = SimulatorOptions()
    if not ecm_events:
        simulators.content_server = ContentServerConfig(seed=simulators.seed, events_url=None)
    async with EmbeddedStack(
        settings=settings,
        ports=StackPorts.any_free(),
        data_dir=data_dir,
        worker=worker,
        simulators=simulators,
    ) as running:
        yield running


async def get_json(http: httpx.AsyncClient, url: str) -> Any:
    response = await http.get(url)
    response.raise_for_status()
    return response.json()


async def put_json(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    response = await http.put(url, json=body)
    response.raise_for_status()
    return response.json()
