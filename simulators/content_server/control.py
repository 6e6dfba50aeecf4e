"""Control API of the Content Server simulator: inspect the tree, bindings and category
writes (with their times), seed workspaces, approve documents, expire tickets, point node events
elsewhere (+ the kit's: `/_control/webhooks[/flush|/faults]` lists the events sent and sets
their faults: drop, duplicate, delay, reorder)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from simulators.content_server.config import MemberDef
from simulators.content_server.models import BUSINESS_WORKSPACE, OtcsError
from simulators.content_server.sim import business_object, current_sim
from simulators.kit.control import Outbound, control_router


class SeedWorkspace(BaseModel):
    wksp_type_id: int
    name: str = Field(min_length=1)
    template_id: int | None = None
    parent_id: int | None = None
    ext_system_id: str | None = None
    bo_type: str | None = None
    bo_id: str | None = None


class Approval(BaseModel):
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")
    user_id: int | None = Field(default=None, description="Default: the service account.")


class EventsTarget(BaseModel):
    url: str | None = Field(description="Receiver of node events; None = events off.")
    secret: str | None = Field(
        default=None, description="Signs the events from now on (`whsec_...`); None: kept."
    )


class ConnectorKnob(BaseModel):
    preempt_next: int = Field(default=1, ge=0)


def control_routes() -> APIRouter:
    router = control_router(
        Outbound("webhooks", dispatcher=lambda sim: sim.events, filters=("node_id",))
    )

    @router.get("/webhooks/url")
    async def get_events_url(request: Request) -> dict[str, str | None]:
        return {"events_url": current_sim(request).events_url}

    @router.put("/webhooks/url")
    async def put_events_url(body: EventsTarget, request: Request) -> dict[str, str | None]:
        """Where node events go from now on, and optionally their secret (until reset: back
        to the config's); None turns them off (changes are still audited)."""
        sim = current_sim(request)
        try:
            sim.point_events(body.url, body.secret)
        except Exception as exc:  # the library raises several types for a malformed secret
            raise OtcsError(400, f"Invalid secret: {exc}") from None
        return {"events_url": sim.events_url}

    @router.post("/nodes/{node_id}/approve")
    async def approve(node_id: int, body: Approval, request: Request) -> dict[str, Any]:
        """Someone approves a document version in Content Server: one audit entry ("Approved",
        9003) and one `node.approved` event. Every call is another approval (a re-approval is
        an event of its own), never deduplicated here."""
        sim = current_sim(request)
        emitted = sim.approve(sim.node(node_id), body.version, body.user_id)
        return {
            "audit": sim.audit_json(emitted.audit),
            "event": emitted.event,
            "webhook_id": emitted.webhook_id,
            "deliveries": [d.to_json() for d in emitted.deliveries],
        }

    @router.get("/nodes")
    async def control_nodes(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        roots = [n for n in sim.nodes.values() if n.parent_id not in sim.nodes]
        return {"count": len(sim.nodes), "tree": [sim.dump(n) for n in roots]}

    @router.get("/nodes/{node_id}")
    async def control_node(node_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(node_id)
        return {**sim.node_data(node), "dump": sim.dump(node), "detail": sim.detail(node)}

    @router.post("/workspaces")
    async def seed_workspace(body: SeedWorkspace, request: Request) -> dict[str, Any]:
        """Make a workspace as someone did in the UI: from a template, bound to a business
        object only when one is given (unbound ones can then be bound by reference)."""
        sim = current_sim(request)
        wtype = sim.workspace_type(body.wksp_type_id)
        template = next((t for t in wtype.templates if body.template_id in (None, t.id)), None)
        if template is None:
            raise OtcsError(400, f"Template {body.template_id} is not of type {wtype.id}.")
        parent_id = body.parent_id if body.parent_id is not None else wtype.location_id
        if parent_id is None:
            raise OtcsError(400, f"Workspace type {wtype.id} has no location: send parent_id.")
        ref = business_object(body.model_dump(), required=False)
        node = sim.make_workspace(wtype, template, body.name, parent_id, ref, {})
        return sim.detail(node)

    @router.get("/connector")
    async def get_connector(request: Request) -> dict[str, int]:
        return {"preempt_next": current_sim(request).connector_preempts}

    @router.put("/connector")
    async def put_connector(body: ConnectorKnob, request: Request) -> dict[str, int]:
        """ECM's own connectors racing docflow: the next `preempt_next` workspace creates for
        a business object find a workspace the connector made for it a moment earlier."""
        sim = current_sim(request)
        sim.connector_preempts = body.preempt_next
        return {"preempt_next": sim.connector_preempts}

    @router.get("/members")
    async def get_members(request: Request) -> dict[str, Any]:
        members = list(current_sim(request).members.values())
        return {"count": len(members), "results": [m.model_dump() for m in members]}

    @router.post("/members")
    async def add_member(body: MemberDef, request: Request) -> dict[str, Any]:
        """Add (or replace) a user or group of the directory until the next reset."""
        current_sim(request).members[body.id] = body
        return body.model_dump()

    @router.get("/workspaces")
    async def control_workspaces(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        workspaces = [
            {
                **sim.properties(n),
                **sim.business_properties(n),
                "template_id": n.template_id,
                "references": [vars(r) for r in n.references],
                "categories": {str(k): v for k, v in n.categories.items()},
                "rm_classifications": n.rm_classifications,
                "sub_folders": [c.name for c in sim.children(n.id)],
            }
            for n in sim.nodes.values()
            if n.type == BUSINESS_WORKSPACE
        ]
        return {"count": len(workspaces), "results": workspaces}

    @router.get("/bindings")
    async def control_bindings(
        request: Request,
        ext_system_id: str | None = None,
        bo_type: str | None = None,
        prefix: str | None = Query(default=None, description="Only bo_ids starting with it."),
        detail: bool = Query(default=False, description="List each binding, not just count."),
    ) -> dict[str, Any]:
        """Business objects bound to a workspace (cheap: no tree dump). With `detail`, each
        object's workspace id and creation time, keyed by bo_id."""
        sim = current_sim(request)
        found = [
            (ref, sim.nodes[node_id])
            for ref, node_id in sim.bound_objects()
            if ext_system_id in (None, ref.ext_system_id)
            and bo_type in (None, ref.bo_type)
            and (prefix is None or ref.bo_id.startswith(prefix))
        ]
        result: dict[str, Any] = {
            "count": len(found),
            "workspaces": len({node.id for _, node in found}),
        }
        if detail:
            result["results"] = {
                ref.bo_id: {"workspace_id": node.id, "created": node.created.isoformat()}
                for ref, node in found
            }
        return result

    @router.get("/categories/changes")
    async def category_changes(
        request: Request,
        after: int = Query(default=0, ge=0, description="Only writes after this seq."),
        node_id: int | None = None,
        limit: int = Query(default=1000, ge=1, le=10_000),
    ) -> dict[str, Any]:
        """Category writes in order, each with the values it set and when (microseconds),
        for measuring when a change reached the server; `next` is the seq to ask after."""
        changes = current_sim(request).category_changes
        found = []
        for change in reversed(changes):  # the newest are what a poller asks for
            if change.seq <= after:
                break
            if node_id in (None, change.node_id):
                found.append(change)
        found.reverse()
        found = found[:limit]
        return {
            "count": len(found),
            "next": found[-1].seq if found else after,
            "results": [c.to_json() for c in found],
        }

    @router.get("/uploads")
    async def control_uploads(request: Request) -> dict[str, Any]:
        """Document creations per (parent, name): a retry-safe client creates each once."""
        counts = [vars(c) for c in current_sim(request).uploads.values()]
        return {
            "count": len(counts),
            "results": counts,
            "duplicates": [c for c in counts if c["created"] > 1 or c["versions_added"]],
        }

    @router.post("/tickets/expire")
    async def expire_tickets(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        expired = len(sim.tickets)
        sim.tickets.clear()
        return {"expired": expired}

    return router
