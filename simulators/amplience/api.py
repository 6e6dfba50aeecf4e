"""HTTP surface of the Amplience simulator: OAuth token, /v2/content, Content Delivery 2.

The three real hosts (auth.amplience.net, api.amplience.net, {hub}.cdn.content.amplience.net)
are one server here; their paths are the real ones (`/oauth/token`, `/v2/content/...`,
`/content/...`), so a client configured with three base URLs works against either.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from simulators.amplience.config import AmplienceConfig
from simulators.amplience.control import control_routes
from simulators.amplience.sim import AmplienceSim, SimError, api_error, current_sim, hal_page
from simulators.kit.control import simulator_app
from simulators.kit.faults import fault_gate


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _require_bearer(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SimError(401, {"message": "Unauthorized"})
    if not current_sim(request).token_valid(token.strip()):
        raise SimError(401, {"message": "Unauthorized"})


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise api_error(400, "Malformed JSON request body.") from None
    if not isinstance(body, dict):
        raise api_error(400, "Request body must be a JSON object.")
    return body


def _page_params(request: Request, default_size: int) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "0"))
        size = int(request.query_params.get("size", str(default_size)))
    except ValueError:
        raise api_error(400, "page and size must be numbers.") from None
    if page < 0 or not 1 <= size <= 100:
        raise api_error(400, "page must be >= 0 and size 1..100.")
    return page, size


def _auth_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        """Client credentials in the form body only: HTTP Basic is not read (Amplience's
        SDK posts `client_id`, `client_secret`, `grant_type` urlencoded)."""
        sim = current_sim(request)
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant."},
                status_code=400,
            )
        client_id = str(form.get("client_id", ""))
        client_secret = str(form.get("client_secret", ""))
        if (client_id, client_secret) != (sim.config.client_id, sim.config.client_secret):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Bad client credentials."},
                status_code=400,
            )
        return JSONResponse(sim.issue_token(), headers={"Cache-Control": "no-store"})

    return router


def _api_routes() -> APIRouter:
    router = APIRouter(
        prefix="/v2/content", dependencies=[Depends(fault_gate), Depends(_require_bearer)]
    )

    @router.get("/content-items/{item_id}")
    async def get_item(item_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.item_json(sim.item(item_id), _api_base(request))

    @router.get("/content-items/{item_id}/versions/{version}")
    async def get_version(item_id: str, version: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        found = sim.item(item_id).versions.get(version)
        if found is None:
            raise api_error(404, f"Version {version} of content item {item_id} not found.")
        return found

    @router.post("/content-repositories/{repository_id}/content-items", status_code=201)
    async def create_item(repository_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        base = _api_base(request)
        item = sim.create_item(repository_id, await _json_body(request), base)
        return sim.item_json(item, base)

    @router.patch("/content-items/{item_id}")
    async def update_item(item_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        base = _api_base(request)
        item = sim.update_item(sim.item(item_id), await _json_body(request), base)
        return sim.item_json(item, base)

    @router.patch("/content-items/{item_id}/workflow")
    async def set_workflow(item_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        base = _api_base(request)
        item = sim.set_workflow(sim.item(item_id), await _json_body(request), base)
        return sim.item_json(item, base)

    @router.post("/content-items/{item_id}/publish")
    async def publish(item_id: str, request: Request) -> Response:
        """No body; the job is at `Location`."""
        sim = current_sim(request)
        base = _api_base(request)
        job = sim.publish(sim.item(item_id), base)
        location = f"{sim.base(base)}/publishing-jobs/{job.id}"
        return Response(status_code=204, headers={"Location": location})

    @router.post("/content-items/{item_id}/unpublish")
    async def unpublish(item_id: str, request: Request) -> Response:
        sim = current_sim(request)
        sim.unpublish(sim.item(item_id))
        return Response(status_code=204)

    @router.get("/publishing-jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.job_json(sim.job(job_id), _api_base(request))

    @router.get("/hubs/{hub_id}/workflow-states")
    async def workflow_states(hub_id: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        _require_hub(sim, hub_id)
        page, size = _page_params(request, sim.config.page_size)
        return sim.workflow_states_page(_api_base(request), page, size)

    @router.get("/hubs/{hub_id}/content-items/find")
    async def find(hub_id: str, request: Request, q: str = "") -> dict[str, Any]:
        sim = current_sim(request)
        _require_hub(sim, hub_id)
        page, size = _page_params(request, sim.config.page_size)
        base = _api_base(request)
        items = [sim.item_json(i, base) for i in sim.find(q)]
        url = f"{sim.base(base)}/hubs/{hub_id}/content-items/find"
        return hal_page("content-items", items, url, page, size)

    return router


def _require_hub(sim: AmplienceSim, hub_id: str) -> None:
    if hub_id != sim.config.hub_id:
        raise api_error(404, f"Hub {hub_id} not found.", entity="Hub")


def _delivery_routes() -> APIRouter:
    """Content Delivery 2: public, published content only."""
    router = APIRouter(prefix="/content", dependencies=[Depends(fault_gate)])

    @router.get("/key/{key:path}")
    async def by_key(key: str, request: Request) -> dict[str, Any]:
        return current_sim(request).delivered(key=key)

    @router.get("/id/{item_id}")
    async def by_id(item_id: str, request: Request) -> dict[str, Any]:
        return current_sim(request).delivered(item_id=item_id)

    return router


def create_app(config: AmplienceConfig | None = None) -> FastAPI:
    """The Amplience simulator; its state is `app.state.sim` (an AmplienceSim)."""
    app = simulator_app(
        "Amplience simulator",
        AmplienceSim(config or AmplienceConfig()),
        _auth_routes(),
        _api_routes(),
        _delivery_routes(),
        control_routes(),
        error_body=lambda status, message: {"message": message},
    )

    async def sim_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimError)
        return JSONResponse(exc.body, status_code=exc.status)

    app.add_exception_handler(SimError, sim_error)
    return app
