"""Control API of the Content Server simulator: inspect the tree, expire tickets (+ the kit's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from simulators.content_server.models import BUSINESS_WORKSPACE
from simulators.content_server.sim import current_sim
from simulators.kit.control import Outbound, control_router


def control_routes() -> APIRouter:
    router = control_router(
        Outbound("webhooks", dispatcher=lambda sim: sim.events, filters=("node_id",))
    )

    @router.get("/nodes")
    async def control_nodes(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        roots = [n for n in sim.nodes.values() if n.parent_id not in sim.nodes]
        return {"count": len(sim.nodes), "tree": [sim.dump(n) for n in roots]}

    @router.get("/nodes/{node_id}")
    async def control_node(node_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(node_id)
        return {**sim.node_data(node), "dump": sim.dump(node)}

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
