"""Every simulator's /_control faults and reset come from the kit's one router."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from simulators import content_server, core_signature, crm, erp, notifications, webhook_target
from simulators.kit import control
from simulators.kit.server import ServedApp

SIMULATORS: dict[str, Callable[[], FastAPI]] = {
    "core_signature": core_signature.create_app,
    "content_server": content_server.create_app,
    "crm": crm.create_app,
    "erp": erp.create_app,
    "notifications": notifications.create_app,
    "webhook_target": webhook_target.create_app,
}

# The outbound deliveries of the vendors that send callbacks or events, under their paths.
OUTBOUND = {
    "core_signature": "callbacks",
    "content_server": "webhooks",
    "crm": "events",
    "erp": "events",
}


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # Recent FastAPI keeps an included router whole instead of copying its routes.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def kit_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in api_routes(app.routes)
        if route.endpoint.__module__ == control.__name__
        for method in route.methods
    }


@pytest.mark.parametrize("name", SIMULATORS)
def test_control_routes_come_from_the_kit(name: str) -> None:
    routes = kit_routes(SIMULATORS[name]())
    expected = {("GET", "/_control/faults"), ("PUT", "/_control/faults")}
    expected.add(("POST", "/_control/reset"))
    if name in OUTBOUND:
        path = f"/_control/{OUTBOUND[name]}"
        expected |= {("GET", path), ("POST", f"{path}/flush")}
        expected |= {("GET", f"{path}/faults"), ("PUT", f"{path}/faults")}
    assert routes == expected


@pytest.mark.parametrize("name", SIMULATORS)
async def test_faults_and_reset_over_http(name: str) -> None:
    async with (
        ServedApp(SIMULATORS[name](), name=name) as served,
        httpx.AsyncClient(base_url=served.base_url) as client,
    ):
        put = await client.put("/_control/faults", json={"latency_ms": 5})
        assert put.status_code == 200
        assert (await client.get("/_control/faults")).json()["settings"]["latency_ms"] == 5
        assert (await client.post("/_control/reset")).json() == {"reset": True}
        assert (await client.get("/_control/faults")).json()["settings"]["latency_ms"] == 0
        if name in OUTBOUND:
            path = f"/_control/{OUTBOUND[name]}"
            await client.put(f"{path}/faults", json={"drop_next": 2})
            assert (await client.get(f"{path}/faults")).json()["drop_next"] == 2
            assert (await client.post(f"{path}/flush")).json() == {"idle": True}
            assert (await client.get(path)).json() == {"count": 0, "by_state": {}, "results": []}
