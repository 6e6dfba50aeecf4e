"""The shared transport over real HTTP: a 401 refreshes the credential once, a second 401 raises."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from activities.http.errors import AuthenticationError, RetryableServiceError
from activities.http.transport import AuthenticatedTransport, Credential
from simulators.kit.server import ServedApp, free_port


@dataclass
class Seen:
    """What the server received, in order: the credential header and the body of each request."""

    credentials: list[str | None] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


@dataclass
class Issuer:
    """A credential store like the OAuth provider or the OTCS ticket: caches one value until
    told the server refused it."""

    cached: str | None = None
    issued: int = 0
    invalidated: list[str] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def current(self) -> str:
        if self.cached is None:
            self.cached = f"cred-{next(self._numbers)}"
            self.issued += 1
        return self.cached

    def invalidate(self, value: str) -> None:
        self.invalidated.append(value)
        if self.cached == value:
            self.cached = None


@dataclass
class Server:
    """The far side: accepts the credentials in `valid`, answers 401 to any other."""

    url: str
    seen: Seen
    valid: set[str]


def _app(seen: Seen, valid: set[str], header: str) -> FastAPI:
    app = FastAPI()

    @app.api_route("/resource", methods=["GET", "POST"])
    async def resource(request: Request) -> Response:
        presented = request.headers.get(header)
        seen.credentials.append(presented)
        seen.bodies.append(await request.body())
        if (presented or "").removeprefix("Bearer ") not in valid:
            return Response('{"error": "expired"}', status_code=401)
        return Response('{"ok": true}', media_type="application/json")

    @app.get("/forbidden")
    async def forbidden(request: Request) -> Response:
        seen.credentials.append(request.headers.get(header))
        return Response('{"error": "no"}', status_code=403)

    return app


@pytest.fixture(scope="module")
async def bearer_server() -> AsyncIterator[Server]:
    seen, valid = Seen(), set[str]()
    async with ServedApp(_app(seen, valid, "authorization"), name="bearer-server") as served:
        yield Server(served.base_url, seen, valid)


@pytest.fixture
def server(bearer_server: Server) -> Server:
    bearer_server.seen.credentials.clear()
    bearer_server.seen.bodies.clear()
    bearer_server.valid.clear()
    return bearer_server


def _transport(http: httpx.AsyncClient, issuer: Issuer) -> AuthenticatedTransport:
    credential = Credential(issuer.current, issuer.invalidate, scheme="Bearer")
    return AuthenticatedTransport(http, credential, system="test-system", timeout_s=5.0)


async def test_a_valid_credential_is_sent_once(http: httpx.AsyncClient, server: Server) -> None:
    issuer = Issuer()
    server.valid.add("cred-1")

    response = await _transport(http, issuer).request("GET", f"{server.url}/resource")

    assert response.json() == {"ok": True}
    assert server.seen.credentials == ["Bearer cred-1"]
    assert (issuer.issued, issuer.invalidated) == (1, [])


async def test_401_refreshes_the_credential_and_retries_once(
    http: httpx.AsyncClient, server: Server
) -> None:
    issuer = Issuer(cached="stale")  # e.g. revoked or expired early on the server's side
    server.valid.add("cred-1")

    response = await _transport(http, issuer).request(
        "POST", f"{server.url}/resource", content=b"same body"
    )

    assert response.status_code == 200
    assert server.seen.credentials == ["Bearer stale", "Bearer cred-1"]
    assert server.seen.bodies == [b"same body", b"same body"]  # the retry is the same request
    assert issuer.invalidated == ["stale"]  # the refused value, so a newer one is kept
    assert issuer.issued == 1


async def test_second_401_raises_authentication_error_without_a_third_try(
    http: httpx.AsyncClient, server: Server
) -> None:
    issuer = Issuer()  # the server accepts nothing: the credentials themselves are refused

    with pytest.raises(AuthenticationError) as raised:
        await _transport(http, issuer).request("GET", f"{server.url}/resource")

    assert raised.value.status == 401
    assert raised.value.system == "test-system"
    assert server.seen.credentials == ["Bearer cred-1", "Bearer cred-2"]
    assert issuer.invalidated == ["cred-1"]


async def test_send_returns_the_second_401_for_callers_with_their_own_rules(
    http: httpx.AsyncClient, server: Server
) -> None:
    issuer = Issuer()

    response = await _transport(http, issuer).send("GET", f"{server.url}/resource")

    assert response.status_code == 401
    assert len(server.seen.credentials) == 2


async def test_403_is_not_a_reason_to_refresh(http: httpx.AsyncClient, server: Server) -> None:
    issuer = Issuer()

    with pytest.raises(AuthenticationError) as raised:
        await _transport(http, issuer).request("GET", f"{server.url}/forbidden")

    assert raised.value.status == 403
    assert server.seen.credentials == ["Bearer cred-1"]
    assert issuer.invalidated == []


async def test_a_header_without_scheme_carries_the_bare_value(http: httpx.AsyncClient) -> None:
    seen, valid = Seen(), {"cred-1"}
    issuer = Issuer(cached="expired-ticket")
    credential = Credential(issuer.current, issuer.invalidate, header="OTCSTicket")
    async with ServedApp(_app(seen, valid, "otcsticket"), name="ticket-server") as served:
        transport = AuthenticatedTransport(http, credential, system="test-system", timeout_s=5.0)
        response = await transport.request("GET", f"{served.base_url}/resource")

    assert response.status_code == 200
    assert seen.credentials == ["expired-ticket", "cred-1"]


async def test_connection_refused_is_retryable(http: httpx.AsyncClient) -> None:
    transport = _transport(http, Issuer())

    with pytest.raises(RetryableServiceError):
        await transport.request("GET", f"http://127.0.0.1:{free_port()}/resource")
