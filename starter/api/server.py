"""`docflow api` in production: the API on one plain uvicorn server that owns the process.

The socket is bound before uvicorn starts, so a taken port is one clear error instead of
uvicorn's log line and `sys.exit`; uvicorn handles SIGINT/SIGTERM (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

logger = logging.getLogger("docflow.api")

# How long an idle keep-alive connection stays open. uvicorn's default (5 s) equals httpx's
# pool expiry (5 s): a client reusing a connection just as the server closes it gets a
# ReadError on a request the server never saw. The server must outlast its clients' pools
# (the convention of load balancers: 60-75 s), so a reused connection is always still open.
KEEP_ALIVE_S = 75
SHUTDOWN_TIMEOUT_S = 5
NAME = "docflow API"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ApiServerError(RuntimeError):
    """The API server could not start; the message says why in one line."""


class PortInUse(ApiServerError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"{NAME}: could not start: port {host}:{port} is already in use")
        self.host = host
        self.port = port


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0 = any free port); PortInUse if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # SO_REUSEADDR rebinds a port in TIME_WAIT after a restart, but not a live listener.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise ApiServerError(
            f"{NAME}: could not start: cannot bind {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def server_config(app: ASGIApp, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        log_config=None,  # leave the CLI's logging configuration alone
        access_log=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
    )


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, telling its owner once it accepts connections.

    uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, so the process dies by the
    signal (a KeyboardInterrupt traceback on Ctrl-C); here a stop signal ends the shutdown
    and the command returns normally (exit code 0). A second signal forces the exit.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_started is not None:
            self._on_started()


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    *,
    log_level: str = "info",
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve `app` on the bound socket until SIGINT/SIGTERM; `on_started()` once it is up."""
    server = _Server(server_config(app, log_level), on_started)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        # uvicorn returns (rather than raises) when lifespan startup fails.
        raise ApiServerError(f"{NAME}: could not start: startup failed (see the log above)")
