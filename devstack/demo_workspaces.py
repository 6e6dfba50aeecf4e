"""`docflow demo`, second part: business workspaces and case assembly on the same stack.

An account is created in the CRM simulator (its signed event reaches the receiver), renamed,
gets a contract signed in its workspace, and is told; a portal asks for a structured
workspace; a claims case is assembled while the mail archive is down, then retried. Every
step is checked against what the simulators hold, the way a person would look it up.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

from devstack.demo_steps import Step, poll_until, run_steps
from devstack.embedded import EmbeddedStack
from devstack.samples import CRM_KEY, OPS_KEY, contract_pdf, sample_request
from docflow.models.signing import WorkspaceTarget
from starter.api_client import DocflowApiClient

PORTAL_KEY = "dev-portal-key"


class WorkspaceDemo:
    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http
        self.crm = DocflowApiClient(stack.api_url, CRM_KEY, http=http)
        self.portal = self.crm.as_principal(PORTAL_KEY)
        self.ops = self.crm.as_principal(OPS_KEY)
        tag = uuid.uuid4().hex[:6].upper()
        self.bo_id = f"001DEMO{tag}"
        self.case_id = f"CLM-DEMO-{tag}"
        self.request_id = f"REQ-DEMO-{tag}"
        self.workspace_id = 0

    # ------------------------------------------------------------ helpers
    async def until(
        self, read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], within: float = 60
    ) -> Any:
        return await poll_until(read, check, within)

    async def get(self, url: str) -> Any:
        response = await self.http.get(url)
        response.raise_for_status()
        return response.json()

    def account(self) -> Awaitable[Any]:
        return self.crm.call("GET", f"/v1/business-objects/SFDC/Account/{self.bo_id}")

    def record(self) -> Awaitable[Any]:
        return self.get(f"{self.stack.crm_url}/_control/objects/Account/{self.bo_id}")

    async def workspace_values(self) -> str:
        node = await self.get(f"{self.stack.content_server_url}/_control/nodes/{self.workspace_id}")
        return str(node["categories"])

    # ------------------------------------------------------------ the steps
    async def account_created(self) -> str:
        await self.http.post(
            f"{self.stack.crm_url}/_control/objects/Account",
            json={
                "bo_id": self.bo_id,
                "fields": {
                    "name": "Umbrella Corp",
                    "account_number": "A-4711",
                    "owner": "alice@example.com",
                    "region": "EMEA",
                    "status": "Active",
                },
            },
        )
        status = await self.until(self.account, lambda s: s["state"] == "in_sync")
        workspace = status["workspace"]
        self.workspace_id = workspace["workspace_id"]
        await self.until(self.record, lambda r: r["writeback"].get("workspace_id"))
        return f"workspace {self.workspace_id} '{workspace['name']}', CRM record linked"

    async def account_renamed(self) -> str:
        await self.http.patch(
            f"{self.stack.crm_url}/_control/objects/Account/{self.bo_id}",
            json={"fields": {"name": "Umbrella Holdings"}},
        )
        await self.until(self.account, lambda s: s["applied_version"] >= 2)
        values = await self.workspace_values()
        if "Umbrella Holdings" not in values:
            raise RuntimeError(f"workspace metadata still {values[:80]}")
        return "workspace metadata now 'Umbrella Holdings' (version 2)"

    async def contract_signed(self) -> str:
        key = f"DEMO-WS-{self.bo_id}"
        request = sample_request(key, stages=[]).model_copy(
            update={
                "document_type": "nda",
                "workspace": WorkspaceTarget(
                    ext_system_id="SFDC", bo_type="Account", bo_id=self.bo_id, name="Umbrella"
                ),
            }
        )
        await self.crm.start(request, contract_pdf(key), filename="nda.pdf")
        status = await self.until(
            lambda: self.crm.status(key), lambda s: s.signature.document_uuid is not None
        )
        await self.http.post(
            f"{self.stack.core_signature_url}/_control/documents/"
            f"{status.signature.document_uuid}/sign"
        )
        record = await self.until(
            self.record, lambda r: r["fields"].get("status") == "Contract signed"
        )
        reference = record["content_references"][-1]
        notes = await self.until(
            lambda: self.get(
                f"{self.stack.crm_url}/_control/notifications?kind=workspace_milestone"
            ),
            lambda n: any(self.bo_id in str(m) for m in n["results"]),
        )
        told = next(m["payload"] for m in notes["results"] if self.bo_id in str(m))
        return (
            f"CRM status 'Contract signed', reference node {reference['node_id']} "
            f"({reference['link']}); {', '.join(told['recipients'])} told"
        )

    async def portal_request(self) -> str:
        answer = await self.portal.call(
            "POST",
            "/v1/workspace-requests",
            json={
                "request_type": "onboarding",
                "request_id": self.request_id,
                "fields": {"name": "Soylent", "region": "APAC"},
                "members": [{"role": "Onboarding Team", "members": ["bob@example.com"]}],
            },
        )
        workspace = answer["workspace"]
        node = await self.get(
            f"{self.stack.content_server_url}/_control/nodes/{workspace['workspace_id']}"
        )
        children = node["dump"]["children"]
        folders = [c["name"] for c in children]
        templates = sum(len(c["children"]) for c in children)
        return (
            f"workspace {workspace['workspace_id']} '{workspace['name']}': folders "
            f"{', '.join(folders)}; {templates} template documents"
        )

    async def case_with_gap(self) -> str:
        stack = self.stack
        await self.http.post(
            f"{stack.erp_url}/_control/transactions",
            json={"case_reference": self.case_id, "count": 3},
        )
        await self.http.post(
            f"{stack.mail_archive_url}/_control/seed",
            json={"case_reference": self.case_id, "count": 2, "duplicates": 1},
        )
        await self.http.post(
            f"{stack.forms_portal_url}/_control/seed",
            json={"case_reference": self.case_id, "count": 2},
        )
        await self.http.put(f"{stack.mail_archive_url}/_control/outage", json={"seconds": 600})
        await self.portal.call(
            "POST",
            "/v1/cases",
            json={"case_type": "claims", "case_id": self.case_id, "title": "Storm damage"},
        )
        status = await self.until(
            self.case, lambda s: s["state"] == "assembled_with_gaps", within=90
        )
        return f"gaps: {', '.join(status['gaps'])}; items filed {status['items_filed']}"

    async def case_retried(self) -> str:
        await self.http.put(f"{self.stack.mail_archive_url}/_control/outage", json={"seconds": 0})
        await self.ops.call("POST", f"/v1/cases/claims/{self.case_id}/sources/mail_archive/retry")
        status = await self.until(self.case, lambda s: s["state"] == "assembled")
        return f"assembled, nothing missing; items filed {status['items_filed']}"

    def case(self) -> Awaitable[Any]:
        return self.ops.call("GET", f"/v1/cases/claims/{self.case_id}")


async def run_workspace_demo(
    stack: EmbeddedStack, http: httpx.AsyncClient, console: Console
) -> list[Step]:
    """Run the workspace and case steps in order (each builds on the last); live progress."""
    demo = WorkspaceDemo(stack, http)
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]] = [
        (Step("account", "created in the CRM → its workspace"), demo.account_created),
        (Step("rename", "renamed in the CRM → metadata updated"), demo.account_renamed),
        (
            Step("signed", "contract signed in the workspace → CRM + team told"),
            demo.contract_signed,
        ),
        (Step("portal", "portal request → structured workspace"), demo.portal_request),
        (Step("case", "claims case, mail archive down → gap"), demo.case_with_gap),
        (Step("retry", "mail archive back, source retried → assembled"), demo.case_retried),
    ]
    steps = await run_steps("docflow demo: workspaces and cases", plan, console, chained=True)
    console.print()
    return steps
