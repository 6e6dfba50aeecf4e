"""Run any ASGI app with uvicorn on loopback inside the current event loop.

Used by the embedded stack and the tests for every HTTP server (simulators and docflow's API).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

logger = logging.getLogger(__name__)

# How long an idle keep-alive connection stays open. uvicorn's default (5 s) equals httpx's
# pool expiry (5 s): a client reusing a connection just as the server closes it gets a
# ReadError on a request the server never saw. The server must outlast its clients' pools
# (the convention of load balancers: 60-75 s), so a reused connection is always still open.
KEEP_ALIVE_S = 75


class ServerStartError(RuntimeError):
    """The server could not start (bad app, failed lifespan startup, bind error)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: could not start: {reason}")
        self.name = name
        self.reason = reason


class PortInUseError(ServerStartError):
    """The requested port is already taken by another process or server."""

    def __init__(self, port: int, name: str, host: str = "127.0.0.1") -> None:
        super().__init__(name, f"port {host}:{port} is already in use")
        self.port = port
        self.host = host


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now. Prefer ServedApp(port=0), which cannot race."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the host process.

    uvicorn installs SIGINT/SIGTERM handlers while serving; with several servers in one
    process they would steal each other's signals, so the owner calls stop() instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn versions
        return None


class ServedApp:
    """One ASGI app served on host:port until stop(); also an async context manager.

    The socket is bound before uvicorn starts, so port 0 picks a free port without racing
    and a taken port raises PortInUseError instead of uvicorn calling sys.exit().
    """

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        name: str | None = None,
        log_level: str = "warning",
        startup_timeout_s: float = 10.0,
        shutdown_timeout_s: float = 5.0,
        keep_alive_s: int = KEEP_ALIVE_S,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.name = name or getattr(app, "title", None) or type(app).__name__
        self.log_level = log_level
        self.startup_timeout_s = startup_timeout_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self.keep_alive_s = keep_alive_s
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> str:
        """Bind, run the app's lifespan startup, start serving; return the base URL."""
        if self.running:
            return self.base_url
        sock = self._bind()
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            log_config=None,  # leave the host's logging configuration alone
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=max(1, int(self.shutdown_timeout_s)),
            timeout_keep_alive=self.keep_alive_s,
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(self._serve(server, sock), name=f"serve:{self.name}")
        try:
            await self._wait_started(server, self._task)
        except BaseException:
            await self._abort()
            sock.close()
            self._port = None
            raise
        logger.debug("%s listening on %s", self.name, self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop accepting connections, finish in-flight requests, run lifespan shutdown."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.shutdown_timeout_s + 2)
        except TimeoutError:
            logger.warning("%s did not stop in time; forcing", self.name)
            await self._abort()
        except ServerStartError:
            pass
        finally:
            self._server = None
            self._task = None

    async def __aenter__(self) -> ServedApp:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _bind(self) -> socket.socket:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(_family(self.host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            # SO_REUSEADDR lets us rebind a port in TIME_WAIT, but still fails on a live listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.requested_port, self.name, self.host) from None
            raise ServerStartError(
                self.name, f"cannot bind {self.host}:{self.requested_port}: {exc.strerror or exc}"
            ) from None
        return sock

    async def _serve(self, server: _EmbeddedServer, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:
            # uvicorn exits the process when lifespan startup fails; turn that into an error.
            raise ServerStartError(self.name, f"startup failed (exit code {exc.code})") from None

    async def _wait_started(self, server: _EmbeddedServer, task: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_s
        while not server.started:
            if task.done():
                task.result()  # raises the startup error, if any
                raise ServerStartError(self.name, "server exited during startup")
            if loop.time() > deadline:
                raise ServerStartError(self.name, f"not started after {self.startup_timeout_s}s")
            await asyncio.sleep(0.005)

    async def _abort(self) -> None:
        server, task = self._server, self._task
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._server = None
        self._task = None


def quiet_client_disconnects(app: FastAPI) -> None:
    """A caller that hangs up mid-request (a SIGKILLed worker) is one log line, not a traceback."""

    async def client_gone(request: Request, exc: Exception) -> Response:
        logger.info("%s %s: client disconnected mid-request", request.method, request.url.path)
        return Response(status_code=499)

    app.add_exception_handler(ClientDisconnect, client_gone)
