"""The API docs: served offline, every operation names its scopes, real error examples."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef
from docflow.settings import Settings
from starter.api import create_app
from starter.api.auth import Scope
from starter.api.docs import SCOPES_EXTENSION
from starter.api.errors import EXAMPLE_BUSINESS_KEY, EXAMPLE_SUBJECT, ErrorResponse
from tests.api.conftest import make_settings
from tests.api.support import new_key, signing_request, workflow

BASE = "http://docflow.test"
# One key per scope, one with none and one with all; every key is the documented caller.
KEYS: dict[str, list[Scope]] = {
    **{scope.value: [scope] for scope in Scope},
    "none": [],
    "all": list(Scope),
}
MAX_UPLOAD = 1000


def key_header(name: str) -> dict[str, str]:
    return {"X-API-Key": f"docs-{name.replace(':', '-')}-key"}


def docs_settings(tmp_path: Path, task_queue: str) -> Settings:
    keys = [
        {"name": name, "key": f"value:{key_header(name)['X-API-Key']}", "subject": EXAMPLE_SUBJECT}
        | {"scopes": [scope.value for scope in scopes], "source_systems": ["*"]}
        for name, scopes in KEYS.items()
    ]
    return make_settings(
        tmp_path, task_queue, api={"api_keys": keys, "max_upload_bytes": MAX_UPLOAD}
    )


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def temporal_down() -> Client:
    raise ConnectionError("Temporal is down in this test")


@pytest.fixture
async def docs_api(
    tmp_path: Path, task_queue: str, temporal: Client
) -> AsyncIterator[httpx.AsyncClient]:
    settings = docs_settings(tmp_path, task_queue)
    store = LocalDocumentStore(settings.documents.root)
    async with client_for(create_app(settings, temporal, store)) as client:
        yield client


@pytest.fixture
async def offline_api(tmp_path: Path, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API with Temporal unreachable: the docs must not need it."""
    settings = docs_settings(tmp_path, task_queue)
    store = LocalDocumentStore(settings.documents.root)
    async with client_for(create_app(settings, temporal_down, store)) as client:
        yield client


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def examples(operation: dict[str, Any], status: int) -> dict[str, dict[str, Any]]:
    content = operation["responses"][str(status)]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


def header_example(operation: dict[str, Any], status: int, header: str) -> str:
    example: str = operation["responses"][str(status)]["headers"][header]["example"]
    return example


async def call(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", new_key("DOCS"), path)
    body = {"json": {}} if method in ("post", "put", "patch") else {}
    return await api.request(method.upper(), url, headers=headers, **body)


# ------------------------------------------------------------------ offline pages
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_and_every_asset_they_load_are_served_by_docflow(
    offline_api: httpx.AsyncClient, page: str
) -> None:
    response = await offline_api.get(page)
    assert response.status_code == 200
    html = response.text

    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    references += re.findall(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", html)
    assert any(ref.endswith(".js") for ref in references), references
    assert "/openapi.json" in references
    for reference in references:
        url = urljoin(f"{BASE}{page}", reference)
        assert urlsplit(url).netloc == urlsplit(BASE).netloc, f"{page} loads {reference}"
        asset = await offline_api.get(url)
        assert asset.status_code == 200, reference
        assert asset.content, reference
    # Nothing on the page itself reaches out: no CDN, no web fonts, no validator badge.
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"']+", html)


# ------------------------------------------------------------------------- scopes
async def test_every_authenticated_operation_names_its_scopes(
    offline_api: httpx.AsyncClient,
) -> None:
    openapi = (await offline_api.get("/openapi.json")).json()

    authenticated = [(m, p, op) for m, p, op in operations(openapi) if op.get("security")]
    assert len(authenticated) >= 8
    for method, path, operation in authenticated:
        scopes = operation.get(SCOPES_EXTENSION)
        assert scopes, f"{method} {path} names no scope"
        assert set(scopes) <= {scope.value for scope in Scope}
        named = " or ".join(f"`{scope}`" for scope in scopes)
        assert f"Requires scope {named}." in operation["description"]
        for requirement in operation["security"]:
            ((scheme, roles),) = requirement.items()
            assert scheme in openapi["components"]["securitySchemes"]
            assert len(roles) == 1 and roles[0] in scopes
    for method, path, operation in operations(openapi):
        if not operation.get("security"):
            assert SCOPES_EXTENSION not in operation, f"{method} {path}"


async def test_the_named_scopes_are_exactly_those_the_routes_enforce(
    docs_api: httpx.AsyncClient,
) -> None:
    openapi = (await docs_api.get("/openapi.json")).json()

    for method, path, operation in operations(openapi):
        named = set(operation.get(SCOPES_EXTENSION, []))
        if not named:
            # Not documented as authenticated: no credentials must not be what refuses it.
            response = await call(docs_api, method, path)
            refused = response.json().get("error", {}).get("code") if response.content else None
            assert refused not in ("unauthenticated", "insufficient_scope"), f"{method} {path}"
            continue
        documented_403 = examples(operation, 403)["insufficient_scope"]
        for key, scopes in KEYS.items():
            response = await call(docs_api, method, path, key_header(key))
            if named.isdisjoint(scope.value for scope in scopes):
                assert response.status_code == 403, f"{method} {path} with {key}"
                assert response.json() == documented_403, f"{method} {path} with {key}"
            else:
                assert response.status_code not in (401, 403), (method, path, key, response.text)


# ------------------------------------------------------------------ error examples
async def test_every_error_example_has_the_error_shape(offline_api: httpx.AsyncClient) -> None:
    openapi = (await offline_api.get("/openapi.json")).json()

    shown = 0
    for method, path, operation in operations(openapi):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or "content" not in response:
                continue
            for value in examples(operation, int(status)).values():
                ErrorResponse.model_validate(value, strict=True)
                shown += 1
            if status == "401" and operation.get("security"):
                assert response["headers"]["WWW-Authenticate"]["example"].startswith("Bearer")
            if status == "503":
                assert response["headers"]["Retry-After"]["example"].isdigit(), (method, path)
    assert shown >= 40


async def test_error_examples_are_what_the_api_answers(
    docs_api: httpx.AsyncClient, temporal: Client, document: DocumentRef
) -> None:
    openapi = (await docs_api.get("/openapi.json")).json()
    start = openapi["paths"]["/v1/signing-processes"]["post"]
    status = openapi["paths"]["/v1/signing-processes/{business_key}"]["get"]
    repair = openapi["paths"]["/v1/signing-processes/{business_key}/repairs"]["post"]
    cancel = openapi["paths"]["/v1/signing-processes/{business_key}/cancel"]["post"]

    # 401, with the documented challenge
    missing = await docs_api.post("/v1/signing-processes", json={})
    assert missing.status_code == 401
    assert missing.json() == examples(start, 401)["unauthenticated"]
    assert missing.headers["WWW-Authenticate"] == header_example(start, 401, "WWW-Authenticate")
    wrong = await docs_api.post("/v1/signing-processes", json={}, headers={"X-API-Key": "x"})
    assert wrong.json() == examples(start, 401)["unauthenticated_2"]

    # 403 for this route's scope
    lacking = await docs_api.post("/v1/signing-processes", json={}, headers=key_header("none"))
    assert (lacking.status_code, lacking.json()) == (
        403,
        examples(start, 403)["insufficient_scope"],
    )

    # 404
    unknown = await docs_api.get(
        f"/v1/signing-processes/{EXAMPLE_BUSINESS_KEY}", headers=key_header("all")
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        examples(status, 404)["process_not_found"],
    )

    # 409: the documented refusal, for this process
    key = new_key("DOCS")
    started = await docs_api.post(
        "/v1/signing-processes",
        json={
            "request": signing_request(key).model_dump(mode="json"),
            "document": document.model_dump(),
        },
        headers=key_header("all"),
    )
    assert started.status_code == 201, started.text
    cancel_url = f"/v1/signing-processes/{key}/cancel"
    first = await docs_api.post(cancel_url, json={"reason": "lost"}, headers=key_header("all"))
    assert first.status_code == 200, first.text
    await workflow(temporal, key).result()
    ended = await docs_api.post(cancel_url, json={"reason": "again"}, headers=key_header("all"))
    assert ended.status_code == 409
    expected = examples(cancel, 409)["rule_violation"]
    expected["error"]["message"] = expected["error"]["message"].replace(EXAMPLE_BUSINESS_KEY, key)
    assert ended.json() == expected

    # 413 before the body is read
    too_large = await docs_api.post(
        "/v1/signing-processes",
        content=b"x" * (MAX_UPLOAD + 2 * 1024 * 1024),
        headers={**key_header("all"), "Content-Type": "application/json"},
    )
    assert (too_large.status_code, too_large.json()) == (
        413,
        examples(start, 413)["payload_too_large"],
    )

    # 422 with the field locations, for a body FastAPI validates and one the route parses
    no_action = await docs_api.post(
        f"/v1/signing-processes/{key}/repairs", json={}, headers=key_header("all")
    )
    assert (no_action.status_code, no_action.json()) == (
        422,
        examples(repair, 422)["invalid_request"],
    )
    empty_start = await docs_api.post("/v1/signing-processes", json={}, headers=key_header("all"))
    assert empty_start.json() == examples(start, 422)["invalid_request"]
    assert "body.request" in empty_start.json()["error"]["message"]


async def test_the_unavailable_example_is_what_the_api_answers(
    offline_api: httpx.AsyncClient,
) -> None:
    openapi = (await offline_api.get("/openapi.json")).json()
    status = openapi["paths"]["/v1/signing-processes/{business_key}"]["get"]

    down = await offline_api.get("/v1/signing-processes/SFDC-Q-2", headers=key_header("all"))

    assert (down.status_code, down.json()) == (503, examples(status, 503)["temporal_unavailable"])
    assert down.headers["Retry-After"] == header_example(status, 503, "Retry-After")
