"""`docflow demo`, third part: content distribution with Amplience, and master data.

On the same stack: a product approved in Amplience reaches the three targets of its route (and
its channels are told); the ERP catalogue refusing products without a currency leaves another
product in 'Integration failed' with the reason in Amplience, until the content team adds the
currency and approves again; a PIM batch with one invalid record is answered record by record,
the valid ones written to Amplience, the refused one with every reason and nothing started.
Every step is checked against what the simulators hold, the way a person would look it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console

from devstack.demo_steps import Step, poll_until, run_steps
from devstack.distribution import distribution, endpoint_name
from devstack.embedded import EmbeddedStack
from devstack.samples import OPS_KEY, PIM_KEY, master_data_batch
from starter.api_client import DocflowApiClient, DocflowApiError
from starter.processes.content import content_workflow_id

PRODUCT_SCHEMA = "https://schema.docflow.example/product.json"
REFUSING_TARGET = "ERP_CATALOGUE"
REFUSED_FIELD = "content.currency"  # what the refusing target insists on (dotted: nested)
# Amplience's side, as the dev bundle's feedback names it.
DISTRIBUTED, FAILED, FAILURE_FIELD = "Distributed", "Integration failed", "integrationStatus"


@dataclass
class Route:
    """The simulator endpoints of the products route: targets and channels (by endpoint)."""

    targets: dict[str, str] = field(default_factory=dict)  # target id -> endpoint
    channels: dict[str, str] = field(default_factory=dict)

    @property
    def endpoints(self) -> set[str]:
        return set(self.targets.values()) | set(self.channels.values())


# ------------------------------------------------------------------ pure helpers
def accepted_versions(
    deliveries: Iterable[Mapping[str, Any]], item_id: str
) -> dict[str, list[int]]:
    """Endpoint -> the versions of `item_id` it accepted (the webhook target's deliveries)."""
    accepted: dict[str, list[int]] = {}
    for message in deliveries:
        data = message.get("payload", {}).get("data", {})
        if data.get("item_id") == item_id:
            accepted.setdefault(str(message["endpoint"]), []).append(int(data["version"]))
    return {endpoint: sorted(versions) for endpoint, versions in sorted(accepted.items())}


def versions_text(accepted: Mapping[str, list[int]], endpoints: Iterable[str]) -> str:
    """'partner-portal v2, erp-catalogue —' for the endpoints asked about, in their order."""
    parts = []
    for endpoint in endpoints:
        versions = accepted.get(endpoint, [])
        parts.append(f"{endpoint} {'+'.join(f'v{v}' for v in versions) or '—'}")
    return ", ".join(parts)


def state_label(states: Iterable[Mapping[str, Any]], state_id: str | None) -> str:
    """An Amplience workflow state's label (its id when unknown, 'none' when unassigned)."""
    if state_id is None:
        return "none"
    return next((str(s["label"]) for s in states if s.get("id") == state_id), state_id)


def refusals_text(results: Iterable[Mapping[str, Any]]) -> str:
    """'SKU-3: reason; reason' for every refused record of a batch answer."""
    return " | ".join(
        f"{r['record_id']}: {'; '.join(r['reasons'])}"
        for r in results
        if r.get("outcome") == "refused"
    )


class ContentDemo:
    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http
        self.ops = DocflowApiClient(stack.api_url, OPS_KEY, http=http)
        self.pim = self.ops.as_principal(PIM_KEY)
        self.tag = uuid.uuid4().hex[:6].upper()
        self.route = products_route(stack)
        self.items: dict[str, str] = {}  # step -> Amplience item id
        self.records: list[str] = []  # accepted master data record ids
        self.refused_records: list[str] = []

    # ------------------------------------------------------------ helpers
    async def until(
        self, read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], within: float = 60
    ) -> Any:
        return await poll_until(read, check, within)

    async def send(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.request(method, url, json=body)
        response.raise_for_status()
        return response.json()

    def amplience(self, path: str, body: dict[str, Any] | None = None) -> Awaitable[Any]:
        return self.send("POST", f"{self.stack.amplience_url}/_control/{path}", body)

    async def item(self, item_id: str) -> dict[str, Any]:
        items = await self.send("GET", f"{self.stack.amplience_url}/_control/items")
        found: dict[str, Any] = next(i for i in items["results"] if i["id"] == item_id)
        return found

    async def item_in(self, item_id: str, label: str, within: float = 60) -> dict[str, Any]:
        """The item once Amplience shows it in the workflow state `label`."""
        states = await self.send("GET", f"{self.stack.amplience_url}/_control/workflow-states")
        deadline = time.monotonic() + within
        while True:
            item = await self.item(item_id)
            state = state_label(states, (item.get("workflow") or {}).get("state"))
            if state == label:
                return item
            if time.monotonic() > deadline:
                raise RuntimeError(f"Amplience shows the item in {state!r}, not {label!r}")
            await asyncio.sleep(0.25)

    async def accepted(self, item_id: str) -> dict[str, list[int]]:
        found = await self.send("GET", f"{self.stack.webhook_target_url}/_control/deliveries")
        return accepted_versions(found["results"], item_id)

    def targets_text(self, accepted: Mapping[str, list[int]]) -> str:
        return versions_text(accepted, self.route.targets.values())

    def content_status(self, item_id: str) -> Awaitable[Any]:
        return self.ops.call("GET", f"/v1/content/items/{item_id}")

    async def approved_product(self, step: str, label: str, **body: Any) -> tuple[str, int]:
        """A product seeded as a Draft and approved by the content team: (item id, version)."""
        product = {"_meta": {"schema": PRODUCT_SCHEMA}, "sku": f"DEMO-{self.tag}-{step}"}
        product |= {"title": label, "price": 129.0, "currency": "EUR", **body}
        seeded = await self.amplience(
            "items", {"label": label, "body": product, "workflow_state": "Draft"}
        )
        item_id: str = seeded["id"]
        self.items[step] = item_id
        approved = await self.amplience(f"items/{item_id}/workflow", {"state": "Approved"})
        return item_id, int(approved["version"])

    async def distributed(self, item_id: str, version: int) -> dict[str, list[int]]:
        """Wait until docflow distributed `version` and Amplience shows it; what each endpoint
        accepted of the item."""
        await self.until(
            lambda: self.content_status(item_id),
            lambda s: s["state"] == "distributed" and s["distributed_version"] == version,
        )
        accepted = await self.accepted(item_id)
        missing = [e for e in sorted(self.route.endpoints) if version not in accepted.get(e, [])]
        if missing:
            raise RuntimeError(f"v{version} never reached {', '.join(missing)}")
        await self.item_in(item_id, DISTRIBUTED)
        return accepted

    # ------------------------------------------------------------ the steps
    async def approved(self) -> str:
        item_id, version = await self.approved_product("approved", "Trail shoe")
        accepted = await self.distributed(item_id, version)
        return (
            f"item {item_id[:8]}… v{version} → {self.targets_text(accepted)}"
            f"; told {', '.join(self.route.channels.values())}; Amplience: '{DISTRIBUTED}'"
        )

    async def refused(self) -> str:
        endpoint = self.route.targets[REFUSING_TARGET]
        await self.send(
            "PUT",
            f"{self.stack.webhook_target_url}/_control/endpoints/{endpoint}",
            {"required_fields": [REFUSED_FIELD]},
        )
        item_id, version = await self.approved_product("refused", "Hiking boot", currency=None)
        status = await self.until(
            lambda: self.content_status(item_id), lambda s: s["state"] == "integration_failed"
        )
        refusal = next(
            d
            for d in status["deliveries"]
            if d["target"] == REFUSING_TARGET and d["version"] == version
        )
        if refusal["status"] != "failed":
            raise RuntimeError(f"{REFUSING_TARGET} is {refusal['status']}, not failed")
        await self.item_in(item_id, FAILED)
        item = await self.until(
            lambda: self.item(item_id), lambda i: bool(i["body"].get(FAILURE_FIELD))
        )
        [reported] = item["body"][FAILURE_FIELD]
        accepted = await self.accepted(item_id)
        return (
            f"item {item_id[:8]}… v{version} → {self.targets_text(accepted)}"
            f"; {REFUSING_TARGET} {refusal['http_status']} after {refusal['attempts']} attempt(s)"
            f"; Amplience: '{FAILED}', {reported['target']}: {reported['reason'][:160]}"
        )

    async def fixed(self) -> str:
        item_id = self.items["refused"]
        current = await self.item(item_id)
        body = {**current["body"], "currency": "EUR"}
        await self.amplience(f"items/{item_id}/edit", {"body": body})
        approved = await self.amplience(f"items/{item_id}/workflow", {"state": "Approved"})
        version = int(approved["version"])
        accepted = await self.distributed(item_id, version)
        # The state moves first, then the reasons are cleared from the item's body.
        await self.until(lambda: self.item(item_id), lambda i: not i["body"].get(FAILURE_FIELD))
        return (
            f"currency added, v{version} approved → {self.targets_text(accepted)}; "
            f"Amplience: '{DISTRIBUTED}', {FAILURE_FIELD} cleared"
        )

    async def pim_batch(self) -> str:
        batch = master_data_batch(prefix=f"DEMO-{self.tag}")
        answer = await self.pim.call("POST", "/v1/master-data/PIM/records", json=batch)
        results = answer["results"]
        self.records = [r["record_id"] for r in results if r["outcome"] == "accepted"]
        self.refused_records = [r["record_id"] for r in results if r["outcome"] == "refused"]
        if (answer["accepted"], answer["refused"]) != (2, 1):
            raise RuntimeError(f"{answer['accepted']} accepted, {answer['refused']} refused")
        return (
            f"{answer['accepted']} accepted, {answer['refused']} refused — {refusals_text(results)}"
        )

    async def master_data_written(self) -> str:
        written = []
        for record_id in self.records:
            status = await self.until(
                self.record_reader(record_id),
                lambda s: (
                    s["applied_version"] == 1
                    and (s.get("publish") or {}).get("state") == "COMPLETED"
                ),
            )
            item = await self.item(status["item_id"])
            written.append(
                f"{record_id} → item {status['item_id'][:8]}… '{item['label']}' published"
            )
        for record_id in self.refused_records:
            try:
                await self.record(record_id)
            except DocflowApiError as error:
                if error.status != 404:
                    raise
            else:
                raise RuntimeError(f"the refused {record_id} has a workflow")
        return f"{'; '.join(written)}; nothing started for {', '.join(self.refused_records)}"

    def record(self, record_id: str) -> Awaitable[Any]:
        return self.ops.call("GET", f"/v1/master-data/PIM/product/{record_id}")

    def record_reader(self, record_id: str) -> Callable[[], Awaitable[Any]]:
        return lambda: self.record(record_id)

    async def restore(self) -> None:
        """The refusing target accepts everything again (the stack stays usable)."""
        endpoint = self.route.targets[REFUSING_TARGET]
        await self.send("PUT", f"{self.stack.webhook_target_url}/_control/endpoints/{endpoint}", {})


def products_route(stack: EmbeddedStack) -> Route:
    """The bundle's products route, as the webhook target simulator's endpoints."""
    config = distribution(stack.settings)
    route = next(r for r in config.routes if PRODUCT_SCHEMA in r.match.schemas)
    return Route(
        targets={t: endpoint_name(config.targets[t].endpoint) for t in route.targets},
        channels={c: endpoint_name(config.targets[c].endpoint) for c in route.notify},
    )


def print_where_to_look(demo: ContentDemo, console: Console) -> None:
    """Where a person finds what the steps did: the CLI, the API, the Web UI, the simulators."""
    stack, api = demo.stack, demo.stack.api_url

    def line(text: str) -> None:
        console.print(f"  {text}", overflow="ignore", crop=False, soft_wrap=True)

    console.print(f"[bold]Content: where to look[/] (API key header X-API-Key: {OPS_KEY})")
    for step, item_id in demo.items.items():
        line(f"{step:<9} docflow content status {item_id} --audit")
        line(f"{'':<9} {api}/v1/content/items/{item_id}")
        line(f"{'':<9} {stack.ui_url}/namespaces/default/workflows/{content_workflow_id(item_id)}")
    line(f"by target docflow content deliveries {REFUSING_TARGET}")
    line(f"{'':<9} {api}/v1/content/targets/{REFUSING_TARGET}/deliveries")
    for record_id in demo.records:
        line(f"record    docflow content master-data status PIM product {record_id}")
        line(f"{'':<9} {api}/v1/master-data/PIM/product/{record_id}")
    line(f"Amplience {stack.amplience_url}/_control/items")
    line(f"targets   {stack.webhook_target_url}/_control/deliveries")


async def run_content_demo(
    stack: EmbeddedStack, http: httpx.AsyncClient, console: Console
) -> list[Step]:
    """Run the content and master data steps (a step builds on the one it needs)."""
    demo = ContentDemo(stack, http)
    refusing = demo.route.targets.get(REFUSING_TARGET, REFUSING_TARGET)
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]] = [
        (
            Step("approved", "product approved → its three targets delivered"),
            demo.approved,
        ),
        (
            Step("refused", f"{refusing} requires a currency → 'Integration failed'"),
            demo.refused,
        ),
        (
            Step("fixed", "currency added, approved again → delivered", needs="refused"),
            demo.fixed,
        ),
        (
            Step("pim batch", "master data: 2 valid products, 1 invalid"),
            demo.pim_batch,
        ),
        (
            Step("pim items", "valid records written to Amplience", needs="pim batch"),
            demo.master_data_written,
        ),
    ]
    steps = await run_steps("docflow demo: content distribution", plan, console)
    with contextlib.suppress(httpx.HTTPError):  # only tidiness: the outcome stands
        await demo.restore()
    print_where_to_look(demo, console)
    console.print()
    return steps
