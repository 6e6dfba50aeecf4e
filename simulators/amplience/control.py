"""Control API of the Amplience simulator: play the content team, steer publishing, inspect."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from simulators.amplience.sim import current_sim
from simulators.kit.control import Outbound, control_router


class SeedItem(BaseModel):
    label: str
    body: dict[str, Any] = Field(description="Must carry _meta.schema.")
    locale: str | None = None
    folderId: str | None = None  # Amplience's field name
    workflow_state: str | None = Field(default=None, description="A state's label, e.g. 'Draft'.")


class MoveItem(BaseModel):
    state: str | None = Field(description="The workflow state's label (or id); null unassigns.")


class EditItem(BaseModel):
    body: dict[str, Any] | None = None
    label: str | None = None


class WebhookSettings(BaseModel):
    url: str | None = None
    secret: str | None = None


class PublishingSettings(BaseModel):
    fail_next: int | None = Field(default=None, ge=0, description="Next N jobs end FAILED.")
    limit: int | None = Field(default=None, ge=1, description="Publish+unpublish per window.")
    window_s: float | None = Field(default=None, gt=0)
    job_step_ms: int | None = Field(default=None, ge=0)


def control_routes() -> APIRouter:
    router = control_router(
        Outbound(
            "webhooks",
            dispatcher=lambda sim: sim.webhooks,
            flush=lambda sim, timeout_s: sim.settle(timeout_s),
            filters=("item_id",),
        )
    )

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @router.post("/items", status_code=201)
    async def seed_item(body: SeedItem, request: Request) -> dict[str, Any]:
        """Create an item as a content person would (the `created` webhook is sent)."""
        sim = current_sim(request)
        state = sim.state_by_label(body.workflow_state) if body.workflow_state else None
        item = sim.create_item(
            sim.config.repository_id,
            body.model_dump(exclude={"workflow_state"}),
            base(request),
            workflow_state=state,
        )
        return sim.item_json(item, base(request))

    @router.get("/items")
    async def items(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return {
            "count": len(sim.items),
            "results": [sim.item_json(i, base(request)) for i in sim.items.values()],
        }

    @router.post("/items/{item_id}/workflow")
    async def move_item(item_id: str, body: MoveItem, request: Request) -> dict[str, Any]:
        """Move an item to a workflow state in the UI (bumps the version, sends the webhook)."""
        sim = current_sim(request)
        item = sim.item(item_id)
        state = body.state
        if state is not None and state not in {s.id for s in sim.workflow_states}:
            state = sim.state_by_label(state)
        sim.set_workflow(item, {"version": item.version, "state": state}, base(request))
        return sim.item_json(item, base(request))

    @router.post("/items/{item_id}/edit")
    async def edit_item(item_id: str, body: EditItem, request: Request) -> dict[str, Any]:
        """A content person's edit at the current version (makes a client's copy stale)."""
        sim = current_sim(request)
        item = sim.item(item_id)
        change: dict[str, Any] = {"version": item.version}
        change |= body.model_dump(exclude_none=True)
        sim.update_item(item, change, base(request))
        return sim.item_json(item, base(request))

    @router.get("/workflow-states")
    async def states(request: Request) -> list[dict[str, Any]]:
        return [s.model_dump() for s in current_sim(request).workflow_states]

    @router.get("/webhook")
    async def get_webhook(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return {"url": sim.webhook_url, "secret": sim.webhook_secret}

    @router.put("/webhook")
    async def put_webhook(body: WebhookSettings, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        sim.webhook_url = body.url
        if body.secret is not None:
            sim.webhook_secret = body.secret
        return {"url": sim.webhook_url, "secret": sim.webhook_secret}

    @router.get("/webhook-events")
    async def webhook_events(
        request: Request, name: str | None = None, item_id: str | None = None
    ) -> dict[str, Any]:
        """Every envelope the hub produced (sent or not), oldest first."""
        sim = current_sim(request)
        found = [
            e
            for e in sim.sent
            if name in (None, e["name"]) and item_id in (None, e["payload"].get("id"))
        ]
        return {"count": len(found), "results": found}

    @router.put("/publishing")
    async def put_publishing(body: PublishingSettings, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        if body.fail_next is not None:
            sim.fail_next_jobs = body.fail_next
        if body.limit is not None:
            sim.publish_limit = body.limit
        if body.window_s is not None:
            sim.publish_window_s = body.window_s
        if body.job_step_ms is not None:
            sim.job_step_ms = body.job_step_ms
        return {
            "fail_next": sim.fail_next_jobs,
            "limit": sim.publish_limit,
            "window_s": sim.publish_window_s,
            "job_step_ms": sim.job_step_ms,
        }

    @router.post("/tokens/revoke")
    async def revoke_tokens(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        revoked = len(sim.tokens)
        sim.tokens.clear()
        return {"revoked": revoked}

    return router
