"""ServedApp: real uvicorn on loopback in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from simulators.server import PortInUseError, ServedApp, ServerStartError, free_port


def hello_app() -> FastAPI:
    app = FastAPI(title="hello")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


async def test_start_serve_stop_and_port_reuse() -> None:
    served = ServedApp(hello_app())
    base_url = await served.start()
    assert base_url == f"http://127.0.0.1:{served.port}"
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/hello")).json() == {"hello": "world"}
    port = served.port
    await served.stop()
    assert not served.running
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{base_url}/hello")
    # The same port can be bound again right away.
    async with ServedApp(hello_app(), port=port) as again:
        assert again.port == port


async def test_port_in_use_is_a_clear_error() -> None:
    async with ServedApp(hello_app(), name="first") as first:
        with pytest.raises(PortInUseError) as raised:
            await ServedApp(hello_app(), port=first.port, name="second").start()
    assert raised.value.port == first.port
    assert raised.value.name == "second"
    assert "already in use" in str(raised.value)


async def test_failing_lifespan_raises_start_error() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(ServerStartError):
        await ServedApp(FastAPI(lifespan=lifespan), name="broken").start()


def test_free_port() -> None:
    port = free_port()
    assert 1024 < port < 65536
