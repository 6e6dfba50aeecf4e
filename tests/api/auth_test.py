"""OIDC bearer tokens: verified against the issuer's JWKS (served locally) for iss, aud, exp."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef, SigningStatus
from starter.api import create_app
from starter.processes.signing import SigningProcesses
from tests.api.conftest import make_settings
from tests.api.support import new_key, signing_request, workflow

ISSUER = "https://idp.example.com/realms/docflow"
AUDIENCE = "docflow-api"
ERIN = "erin@example.com"


class Issuer:
    """An identity provider's signing key, published as a JWKS on a loopback HTTP server."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": int(time.time()) + 300,
            "email": ERIN,
            "scope": "openid processes:read approvals:decide",
            **overrides,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[Issuer, str]]:
    idp = Issuer()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = idp.jwks.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp, f"http://127.0.0.1:{server.server_port}/certs"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def oidc_api(
    issuer: tuple[Issuer, str],
    tmp_path: Path,
    task_queue: str,
    temporal: Client,
    store: LocalDocumentStore,
) -> AsyncIterator[httpx.AsyncClient]:
    oidc = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": issuer[1]}
    settings = make_settings(tmp_path, task_queue, api={"oidc": oidc})
    app = create_app(settings, temporal, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_token_decides_as_its_subject(
    oidc_api: httpx.AsyncClient,
    issuer: tuple[Issuer, str],
    processes: SigningProcesses,
    document: DocumentRef,
) -> None:
    key = new_key("JWT")
    await processes.start(signing_request(key, approvers=[ERIN]), document, "app:crm")

    response = await oidc_api.post(
        f"/v1/signing-processes/{key}/decisions",
        json={"decision": "approve"},
        headers=bearer(issuer[0].token()),
    )

    assert response.status_code == 200, response.text
    status = await workflow(processes.client, key).query("status", result_type=SigningStatus)
    assert [e.actor for e in status.audit if e.kind == "decision"] == [ERIN]


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"aud": "another-api"}, id="wrong-audience"),
        pytest.param({"iss": "https://evil.example.com"}, id="wrong-issuer"),
        pytest.param({"email": None}, id="no-subject"),
    ],
)
async def test_invalid_tokens_are_401(
    oidc_api: httpx.AsyncClient, issuer: tuple[Issuer, str], claims: dict[str, Any]
) -> None:
    response = await oidc_api.get(
        "/v1/signing-processes/ANY-1", headers=bearer(issuer[0].token(**claims))
    )

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_token_signed_by_another_key_is_401_and_scopes_are_enforced(
    oidc_api: httpx.AsyncClient, issuer: tuple[Issuer, str]
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = await oidc_api.get(
        "/v1/signing-processes/ANY-1", headers=bearer(issuer[0].token(key=stranger))
    )
    read_only = await oidc_api.post(
        "/v1/signing-processes/ANY-1/cancel",
        json={"reason": "x"},
        headers=bearer(issuer[0].token(scope="processes:read")),
    )

    assert forged.status_code == 401
    assert read_only.status_code == 403
