"""`docflow demo`, sixth part: a configuration promotion refused, fixed, released and applied.

On the same stack (its environment is the one promoted into): operations propose a routing
rollout — SFDC's contracts go to the 2027 NDA template first. The promotion is refused by the
live checks: Core Signature has no such template. The template is published in Core Signature
and the same files pass; the release manager (not the proposer) approves; the running worker
picks the new version up without a restart and routes a new SFDC contract by the rollout;
then a rollback restores the bundle's files. Every step is checked against what the API and
the simulators answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

from devstack.demo_steps import Step, poll_until, run_steps
from devstack.embedded import EmbeddedStack
from devstack.samples import CRM_KEY, OPS_KEY, contract_pdf, legal, sample_request
from docflow.config.bundle import concern_texts
from starter.api_client import DocflowApiClient, DocflowApiError

RELEASE_KEY = "dev-rita-key"  # rita@example.com, the dev environment's release approver
TEMPLATE = "nda-2027"
PILOT = "2026-12.pilot"
POLL_S = 2.5  # workers look the applied version up every 2 s
CHECKED = ("validating", "checking_live", "applying")


def with_pilot(files: dict[str, str]) -> dict[str, str]:
    """The bundle's files with a rollout: SFDC's contracts on the 2027 NDA template first."""
    routing = json.loads(files["signing-routing.json"])
    pilot = json.loads(json.dumps(routing["rules"]))
    pilot[0]["signature_template"] = TEMPLATE
    routing["rollout"] = {"version": PILOT, "source_systems": ["SFDC"], "rules": pilot}
    return {**files, "signing-routing.json": json.dumps(routing, indent=2) + "\n"}


class PromotionDemo:
    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http
        self.ops = DocflowApiClient(stack.api_url, OPS_KEY, http=http)
        self.release = self.ops.as_principal(RELEASE_KEY)
        self.crm = self.ops.as_principal(CRM_KEY)
        settings = stack.settings
        self.files = with_pilot(concern_texts(settings.config_dir / settings.profile))
        self.key = ""
        self.started: list[str] = []

    async def _settled(self, key: str) -> dict[str, Any]:
        return dict(
            await poll_until(
                lambda: self.ops.call("GET", f"/v1/config/promotions/{key}"),
                lambda s: s["state"] not in CHECKED,
                90,
            )
        )

    async def _propose(self, reason: str) -> dict[str, Any]:
        answer = await self.ops.call(
            "POST",
            "/v1/config/promotions",
            json={"source": "dev", "reason": reason, "files": self.files},
        )
        self.key = answer["status_url"].rsplit("/", 1)[-1]
        return await self._settled(self.key)

    async def _routed(self, key: str) -> dict[str, Any]:
        status = await poll_until(
            lambda: self.crm.call("GET", f"/v1/signing-processes/{key}"),
            lambda s: any(a["kind"] == "routed" for a in s["audit"]),
            60,
        )
        return dict(next(a for a in status["audit"] if a["kind"] == "routed")["data"])

    async def _contract(self) -> str:
        key = f"PROMO-{uuid.uuid4().hex[:8].upper()}"
        await self.crm.start(sample_request(key, stages=[legal()]), contract_pdf(key))
        self.started.append(key)
        return key

    # ------------------------------------------------------------------ steps
    async def refused(self) -> str:
        status = await self._propose("pilot the 2027 NDA for SFDC")
        if status["state"] != "refused":
            raise RuntimeError(f"expected a refusal, got {status['state']}")
        failed = [c for c in status["live"]["checks"] if not c["ok"]]
        if [c["subject"] for c in failed] != [f"signature template '{TEMPLATE}'"]:
            raise RuntimeError(f"unexpected live check failures: {failed}")
        checked = len(status["live"]["checks"])
        return f"{checked} ids checked live; {failed[0]['path']}: not in Core Signature"

    async def fixed(self) -> str:
        response = await self.http.post(
            f"{self.stack.core_signature_url}/_control/templates", json={"name": TEMPLATE}
        )
        response.raise_for_status()
        status = await self._propose("pilot the 2027 NDA for SFDC (template published)")
        if status["state"] != "awaiting_approval":
            raise RuntimeError(f"{status['state']}: {status['outcome_reason']}")
        return f"template published; same files pass → {status['check']['diff_summary']}"

    async def released(self) -> str:
        path = f"/v1/config/promotions/{self.key}/decision"
        try:
            await self.ops.call("POST", path, json={"decision": "approve"})
            raise RuntimeError("the proposer's approval was accepted")
        except DocflowApiError as refused:
            if refused.status != 403:
                raise
        await self.release.call(
            "POST", path, json={"decision": "approve", "comment": "pilot for SFDC"}
        )
        status = await self._settled(self.key)
        if status["state"] != "applied":
            raise RuntimeError(f"{status['state']}: {status['outcome_reason']}")
        return f"ops may not; rita approves → configuration version {status['applied_version']}"

    async def picked_up(self) -> str:
        await asyncio.sleep(POLL_S)
        route = await self._routed(await self._contract())
        if (route["track"], route["rules_version"]) != ("rollout", PILOT):
            raise RuntimeError(f"routed by {route}")
        return f"new SFDC contract routed by rollout {PILOT} (no worker restart)"

    async def rolled_back(self) -> str:
        answer = await self.ops.call(
            "POST", "/v1/config/rollbacks", json={"reason": "demo: back to the bundle"}
        )
        status = await self._settled(answer["status_url"].rsplit("/", 1)[-1])
        if status["state"] != "applied":
            raise RuntimeError(f"{status['state']}: {status['outcome_reason']}")
        await asyncio.sleep(POLL_S)
        route = await self._routed(await self._contract())
        if route["track"] != "default":
            raise RuntimeError(f"after the rollback, routed by {route}")
        return f"version {status['applied_version']} = the bundle's files; new contracts default"

    async def tidy(self) -> None:
        for key in self.started:
            with contextlib.suppress(DocflowApiError):
                await self.crm.call(
                    "POST", f"/v1/signing-processes/{key}/cancel", json={"reason": "demo done"}
                )


async def run_promotion_demo(
    stack: EmbeddedStack, http: httpx.AsyncClient, console: Console
) -> list[Step]:
    """Run the promotion steps (each builds on the one before)."""
    demo = PromotionDemo(stack, http)
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]] = [
        (Step("refused", "routing rollout proposed; live checks run"), demo.refused),
        (Step("fixed", "template published in Core Signature; proposed again"), demo.fixed),
        (Step("released", "the release approver decides (not the proposer)"), demo.released),
        (Step("picked up", "a new SFDC contract after the apply"), demo.picked_up),
        (Step("rolled back", "one call back to the previous configuration"), demo.rolled_back),
    ]
    steps = await run_steps("docflow demo: configuration promotion", plan, console, chained=True)
    with contextlib.suppress(httpx.HTTPError, DocflowApiError):  # only tidiness
        await demo.tidy()
    console.print(
        "  versions: docflow config versions  ·  a promotion: docflow config promotion "
        f"{demo.key or 'ID'}  (DOCFLOW_API_KEY={OPS_KEY})"
    )
    console.print()
    return steps
