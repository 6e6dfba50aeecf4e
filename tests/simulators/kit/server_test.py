"""ServedApp: real uvicorn on loopback in the test's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request

from simulators.kit.server import (
    PortInUseError,
    ServedApp,
    ServerStartError,
    free_port,
    quiet_client_disconnects,
)
from tests.hangup import assert_logged_without_error, hang_up_mid_body


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


async def _get_on(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    await writer.drain()
    return await reader.read(4096)


async def test_idle_connections_outlast_the_clients_pool() -> None:
    """The server keeps an idle connection open longer than httpx keeps it in its pool.

    Otherwise a client reusing a pooled connection as the server closes it gets a ReadError
    for a request the server never saw (uvicorn's and httpx's defaults are both 5 s).
    """
    assert ServedApp(hello_app()).keep_alive_s > httpx.Limits().keepalive_expiry  # type: ignore[operator]
    # The knob reaches uvicorn: with 1 s, a connection idle for 2 s has been closed.
    async with ServedApp(hello_app(), keep_alive_s=1) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        assert b"200 OK" in await _get_on(reader, writer)
        await asyncio.sleep(2)
        assert await _get_on(reader, writer) == b""  # closed by the server
        writer.close()
    # With the default, the same pause leaves it open for the next request.
    async with ServedApp(hello_app()) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        assert b"200 OK" in await _get_on(reader, writer)
        await asyncio.sleep(2)
        assert b"200 OK" in await _get_on(reader, writer)
        writer.close()


async def test_a_caller_hanging_up_mid_body_is_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    quiet_client_disconnects(app)

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    caplog.set_level(logging.INFO)
    async with ServedApp(app) as served:
        await hang_up_mid_body(served.port, "/upload", b"abc")
        await assert_logged_without_error(caplog, "POST /upload: client disconnected mid-request")
