"""`docflow demo`, fourth part: ECM events relayed to subscribed systems, and a lifecycle trigger.

On the same stack: the project portal is down while a supply contract is filed in a supplier's
workspace and approved in Content Server; ERP finance is told at once, the portal catches up in
the document's order once it is back; the approval activates the contract in ERP and the result
comes back onto the document's status in Content Server; a webhook Content Server never sent is
found by docflow's audit poller. Every step is checked against what the simulators hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from devstack.demo_steps import Step, poll_until, run_steps
from devstack.embedded import EmbeddedStack
from devstack.samples import OPS_KEY
from starter.api_client import DocflowApiClient

SUPPLIER_TYPE = 8  # the simulator's Supplier workspace type (SAP/Supplier)
DOWN, UP = "project-portal", "erp-finance"  # the subscribers the demo shows
LIFE = ["node.created", "node.approved"]


class EcmDemo:
    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http
        self.ops = DocflowApiClient(stack.api_url, OPS_KEY, http=http)
        base = stack.settings.content_server.base_url
        auth = OtcsTicketAuth(http, base, "docflow", "dev-otcs-password", timeout_s=10)
        self.otcs = ContentServerClient(http, base, auth, timeout_s=10)
        self.cs_control = base.split("/otcs/")[0] + "/_control"
        self.target_control = f"{stack.webhook_target_url}/_control"
        self.workspace_id = 0
        self.contract_id = 0

    async def _json(self, method: str, url: str, body: Any = None) -> Any:
        response = await self.http.request(method, url, json=body)
        response.raise_for_status()
        return response.json()

    async def received(self, endpoint: str, node_id: int) -> list[str]:
        found = await self._json("GET", f"{self.target_control}/endpoints/{endpoint}/received")
        return [m["type"] for m in found["results"] if m.get("node_id") == node_id]

    # ------------------------------------------------------------------ steps
    async def approved_while_down(self) -> str:
        bo_id = f"V-{uuid.uuid4().hex[:6].upper()}"
        workspace = await self._json(
            "POST",
            f"{self.cs_control}/workspaces",
            {
                "wksp_type_id": SUPPLIER_TYPE,
                "name": f"Supplier {bo_id}",
                "ext_system_id": "SAP",
                "bo_type": "Supplier",
                "bo_id": bo_id,
            },
        )
        self.workspace_id = int(workspace["id"])
        await self._json("PATCH", f"{self.target_control}/endpoints/{DOWN}", {"down": True})
        node = await self.otcs.upload_document(
            parent_id=self.workspace_id, name=f"Supply contract {bo_id}.pdf", content=b"%PDF-1.7"
        )
        self.contract_id = node.id
        await self._json("POST", f"{self.cs_control}/nodes/{node.id}/approve", {})
        await poll_until(lambda: self.received(UP, node.id), lambda got: got == LIFE, 60)
        await poll_until(
            lambda: self.ops.call("GET", f"/v1/ecm/documents/{node.id}"),
            lambda s: any(
                m["subscription"] == DOWN and m["tries"] >= 2 for m in s.get("messages", [])
            ),
            60,
        )
        assert await self.received(DOWN, node.id) == []
        return f"node {node.id}: {UP} told at once; {DOWN} down, retrying on its schedule"

    async def caught_up(self) -> str:
        await self._json("PATCH", f"{self.target_control}/endpoints/{DOWN}", {"down": False})
        got = await poll_until(
            lambda: self.received(DOWN, self.contract_id), lambda got: len(got) >= 2, 90
        )
        # The portal also hears of the status docflow writes on the document afterwards.
        if got[:2] != LIFE:
            raise RuntimeError(f"{DOWN} got {got}, expected {LIFE} first")
        return f"{DOWN} back: caught up in order ({' → '.join(got[:2])}), nothing lost"

    async def activated(self) -> str:
        async def status() -> dict[str, Any]:
            node = await self._json("GET", f"{self.cs_control}/nodes/{self.contract_id}")
            return dict(node["detail"]["categories"].get("9400") or {})

        written = await poll_until(status, lambda c: c.get("9400_1") == "Completed", 60)
        processes = await self._json("GET", f"{self.stack.erp_url}/_control/processes")
        mine = [p for p in processes["results"] if p["document"]["node_id"] == self.contract_id]
        if [p["process"] for p in mine] != ["contract_activation"]:
            raise RuntimeError(f"ERP processes for the contract: {mine}")
        return f"ERP {mine[0]['id']} contract activation; document status: {written['9400_2']}"

    async def lost_webhook(self) -> str:
        await self._json("PUT", f"{self.cs_control}/webhooks/faults", {"drop_next": 1})
        await self.otcs.add_version(
            self.contract_id, filename="Supply contract.pdf", content=b"%PDF-1.7 signed"
        )
        await asyncio.sleep(1)
        await self.ops.call("POST", "/v1/ecm/poller/polls", json={})
        got = await poll_until(
            lambda: self.received(UP, self.contract_id),
            lambda got: "node.version_added" in got,
            60,
        )
        return f"version 2's webhook dropped; the audit poller found it → {UP} got {got[-1]}"

    async def restore(self) -> None:
        await self._json("PATCH", f"{self.target_control}/endpoints/{DOWN}", {"down": False})
        await self._json("PUT", f"{self.cs_control}/webhooks/faults", {})


async def run_ecm_demo(
    stack: EmbeddedStack, http: httpx.AsyncClient, console: Console
) -> list[Step]:
    """Run the ECM relay and lifecycle trigger steps (each builds on the one before)."""
    demo = EcmDemo(stack, http)
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]] = [
        (
            Step("approved", f"contract approved in ECM; {DOWN} is down"),
            demo.approved_while_down,
        ),
        (Step("caught up", f"{DOWN} back → catches up in order"), demo.caught_up),
        (
            Step("activated", "approval → contract activation in ERP → status in ECM"),
            demo.activated,
        ),
        (Step("lost webhook", "a dropped webhook found by the audit poller"), demo.lost_webhook),
    ]
    steps = await run_steps(
        "docflow demo: ECM events and lifecycle triggers", plan, console, chained=True
    )
    with contextlib.suppress(httpx.HTTPError):  # only tidiness: the outcome stands
        await demo.restore()
    if demo.contract_id:
        console.print(
            f"  the contract's relay: docflow ecm document {demo.contract_id}  ·  "
            f"subscribers: docflow ecm subscribers"
        )
    console.print()
    return steps
