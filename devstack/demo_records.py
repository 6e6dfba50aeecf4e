"""`docflow demo`, fifth part: the read model, approved content for portals, and partner access.

On the same stack, after the other parts: every kind of process the demo started is in the
records API (the signed sample with its approval); a portal reads the signed contract (ETag =
SHA-256, 304, 206); a version added in Content Server without approval is not served; the
supplier ACME (`read-access.json`: entitled to the workspace of SAP / Supplier / V-1001 by its
business object, whatever node id this run's simulator gave it) lists its approved documents,
links one and uploads into its inbox by the inbox's name; the dashboard's figures count it
all. Every step is checked against the API or the simulators.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from devstack.demo_steps import Step, poll_until, run_steps
from devstack.embedded import EmbeddedStack
from simulators.kit.pdf import make_pdf
from starter.api_client import DocflowApiClient

AUDITOR_KEY = "dev-auditor-key"
PORTAL_KEY = "dev-portal-key"
ACME_KEY = "dev-party-acme-supplies-key"
OTHER_PARTY_KEY = "dev-party-kpmg-audit-key"
SUPPLIER_TYPE = 8  # the simulator's Supplier workspace type (SAP/Supplier)
SUPPLIER = ("SAP", "Supplier", "V-1001")  # config/dev/read-access.json names it for ACME
INBOX = "supplier-inbox"
INBOX_PATH = ["Inbox", "From supplier"]
# The process types the demo's parts start, by the part that starts them.
KINDS = {
    "signing": "signing",
    "workspace": "workspace",
    "case": "case",
    "content_distribution": "content",
    "ecm_events": "ecm",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def counts_by_type(by_state: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The dashboard's `by_state` ('<type>/<state>' → count) summed per process type."""
    totals: dict[str, int] = {}
    for entry in by_state:
        kind = str(entry["key"]).split("/", 1)[0]
        totals[kind] = totals.get(kind, 0) + int(entry["count"])
    return totals


def error_code(response: httpx.Response) -> str:
    """The API's error code (`{"error": {"code", "message"}}`), '' if there is none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def etag_sha(headers: httpx.Headers) -> str:
    return headers.get("etag", "").removeprefix("W/").strip('"')


class RecordsDemo:
    def __init__(
        self, stack: EmbeddedStack, http: httpx.AsyncClient, since: datetime, signed_key: str
    ) -> None:
        self.stack, self.http = stack, http
        self.api_url = stack.api_url
        self.since, self.signed_key = since, signed_key
        self.auditor = DocflowApiClient(stack.api_url, AUDITOR_KEY, http=http)
        self.acme = DocflowApiClient(stack.api_url, ACME_KEY, http=http)
        base = stack.settings.content_server.base_url
        auth = OtcsTicketAuth(http, base, "docflow", "dev-otcs-password", timeout_s=10)
        self.otcs = ContentServerClient(http, base, auth, timeout_s=10)
        self.cs_control = base.split("/otcs/")[0] + "/_control"
        self.signed_node = 0
        self.workspace_id = 0
        self.agreement_id = 0
        self.agreement_v1 = b""

    async def _get(self, path: str, key: str, headers: dict[str, str] | None = None) -> Any:
        return await self.http.get(
            f"{self.api_url}{path}", headers={"X-API-Key": key, **(headers or {})}
        )

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"{self.cs_control}{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def _portal_served(self, node: int) -> tuple[int, str, bytes]:
        response = await self._get(f"/v1/portal/documents/{node}", PORTAL_KEY)
        return response.status_code, etag_sha(response.headers), response.content

    # ------------------------------------------------------------------ steps
    def _started(self) -> str:
        """`started_from` for this run's processes (UTC, no zone)."""
        return self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    async def every_process(self) -> str:
        started = self._started()

        async def kinds() -> dict[str, int]:
            found: dict[str, int] = {}
            for kind in KINDS:
                page = await self.auditor.call(
                    "GET",
                    "/v1/records/processes",
                    params={"process_type": kind, "started_from": started, "limit": 200},
                )
                found[kind] = len(page["items"])
            return found

        found = await poll_until(kinds, lambda f: all(f.values()), 20)
        page = await self.auditor.call(
            "GET",
            "/v1/records/processes",
            params={"business_key": self.signed_key, "process_type": "signing"},
        )
        if not page["items"]:
            raise RuntimeError(f"no signing record for {self.signed_key}")
        row = page["items"][0]
        record = await self.auditor.call("GET", f"/v1/records/processes/{row['process_key']}")
        approvals = record["approvals"]
        if not approvals or row["state"] != "completed":
            raise RuntimeError(f"{self.signed_key}: {row['state']}, approvals {approvals}")
        self.signed_node = int(row["document_node_id"] or 0)
        decided = approvals[-1]
        shown = ", ".join(f"{KINDS[k]} {n}" for k, n in found.items())
        return f"{shown}; signed sample approved by {decided['actor']} ({decided['decision']})"

    async def portal_reads(self) -> str:
        node = self.signed_node
        if not node:
            raise RuntimeError("the signed sample has no document node")
        status, etag, body = await self._portal_served(node)
        if status != 200 or etag != sha(body):
            raise RuntimeError(f"node {node}: {status}, ETag {etag[:12]} vs {sha(body)[:12]}")
        again = await self._get(
            f"/v1/portal/documents/{node}", PORTAL_KEY, {"If-None-Match": f'"{etag}"'}
        )
        ranged = await self._get(f"/v1/portal/documents/{node}", PORTAL_KEY, {"Range": "bytes=0-7"})
        if again.status_code != 304 or ranged.status_code != 206 or ranged.content != body[:8]:
            raise RuntimeError(f"If-None-Match {again.status_code}, Range {ranged.status_code}")
        return f"node {node}: {len(body)} bytes, ETag = SHA-256 {etag[:12]}…; 304; Range → 206"

    async def _supplier_workspace(self) -> int:
        found = await self.otcs.find_workspace(*SUPPLIER)
        if found is not None:
            return found.properties.id
        ext, bo_type, bo_id = SUPPLIER
        made = await self._control(
            "POST",
            "/workspaces",
            {
                "wksp_type_id": SUPPLIER_TYPE,
                "name": f"Supplier {bo_id}",
                "ext_system_id": ext,
                "bo_type": bo_type,
                "bo_id": bo_id,
            },
        )
        return int(made["id"])

    async def unapproved_not_served(self) -> str:
        self.workspace_id = await self._supplier_workspace()
        run = uuid.uuid4().hex[:6].upper()
        self.agreement_v1 = make_pdf(f"Supply agreement {run}", ["Version 1, approved."])
        node = await self.otcs.upload_document(
            parent_id=self.workspace_id,
            name=f"Supply agreement {run}.pdf",
            content=self.agreement_v1,
        )
        self.agreement_id = node.id
        await self._control("POST", f"/nodes/{node.id}/approve", {})
        # Content Server's approval reaches the read model through the ECM relay.
        await poll_until(lambda: self._portal_served(node.id), lambda got: got[0] == 200, 20)
        draft = make_pdf(f"Supply agreement {run}", ["Version 2, still in review."])
        await self.otcs.add_version(node.id, filename=f"Supply agreement {run}.pdf", content=draft)
        versions = await self.otcs.list_versions(node.id)
        if len(versions) != 2:
            raise RuntimeError(f"Content Server holds {len(versions)} versions")
        status, etag, body = await self._portal_served(node.id)
        if status != 200 or etag != sha(self.agreement_v1) or body != self.agreement_v1:
            raise RuntimeError(f"served {status} {etag[:12]}, not version 1 {sha(body)[:12]}")
        return (
            f"node {node.id} in SAP/Supplier/V-1001 (workspace {self.workspace_id}): "
            f"v2 added unapproved; v1 still served ({etag[:12]}…)"
        )

    async def supplier_link(self) -> str:
        listed = await self.acme.call("GET", "/v1/partner/documents")
        mine = {int(i["object_id"]): i for i in listed["items"]}
        if self.agreement_id not in mine or mine[self.agreement_id]["version"] != 1:
            raise RuntimeError(f"ACME lists {sorted(mine)}, not node {self.agreement_id} v1")
        if self.signed_node in mine:
            raise RuntimeError("ACME sees the customer's contract")
        link = await self.acme.call(
            "POST", "/v1/partner/links", json={"object_id": str(self.agreement_id)}
        )
        url = f"{self.api_url}/v1/links/{link['token']}"
        got = await self.http.get(url)
        if got.status_code != 200 or sha(got.content) != link["sha256"]:
            raise RuntimeError(f"link: {got.status_code}, {sha(got.content)[:12]}")
        if link["sha256"] != sha(self.agreement_v1):
            raise RuntimeError("the link names other bytes than the approved version")
        other = await self.http.get(url, headers={"X-API-Key": OTHER_PARTY_KEY})
        code = error_code(other)
        if other.status_code != 403 or code != "wrong_party":
            raise RuntimeError(f"another party's key with the link: {other.status_code} {code}")
        return (
            f"ACME lists {len(mine)}; link v{link['version']} → 200 without a key, SHA-256 "
            f"matches; with kpmg-audit's key → 403 {code}"
        )

    async def supplier_upload(self) -> str:
        request_id = f"DEMO-{uuid.uuid4().hex[:8].upper()}"
        note = make_pdf("Delivery note PO-4711", ["Delivered: 40 pallets.", "ACME Supplies Ltd"])
        response = await self.http.post(
            f"{self.api_url}/v1/partner/inboxes/{INBOX}",
            headers={"X-API-Key": ACME_KEY},
            data={
                "request_id": request_id,
                "metadata": json.dumps({"document_type": "delivery_note", "source_id": "PO-4711"}),
            },
            files={"file": ("delivery-note.pdf", note, "application/pdf")},
        )
        if response.status_code not in (201, 202):
            raise RuntimeError(f"upload: {response.status_code} {response.text[:120]}")
        body = response.json()
        if body["status"] != "filed":
            status_path = httpx.URL(body["status_url"]).path
            body = await poll_until(
                lambda: self.acme.call("GET", status_path),
                lambda b: b["status"] == "filed",
                20,
            )
        filed = body["document"]
        # Where the simulator holds it: <workspace>/Inbox/From supplier.
        chain: list[str] = []
        parent = (await self._control("GET", f"/nodes/{filed['node_id']}"))["detail"]["parent_id"]
        for _ in INBOX_PATH:
            folder = (await self._control("GET", f"/nodes/{parent}"))["detail"]
            chain.insert(0, folder["name"])
            parent = folder["parent_id"]
        if chain != INBOX_PATH or parent != self.workspace_id:
            raise RuntimeError(f"filed under {'/'.join(chain)} of node {parent}")
        if filed["sha256"] != sha(note):
            raise RuntimeError("the filed bytes differ")
        # Nothing else of the workspace is the party's: not its upload, not another inbox.
        read = await self._get(f"/v1/partner/documents/ecm/{filed['node_id']}/content", ACME_KEY)
        by_id = await self.http.post(
            f"{self.api_url}/v1/partner/inbox/{self.workspace_id}",
            headers={"X-API-Key": ACME_KEY},
            data={"request_id": request_id},
            files={"file": ("x.pdf", note, "application/pdf")},
        )
        listed = await self.acme.call("GET", "/v1/partner/documents")
        visible = {int(i["object_id"]) for i in listed["items"]}
        if read.status_code != 404 or by_id.status_code != 404 or filed["node_id"] in visible:
            raise RuntimeError(
                f"upload readable {read.status_code}, by workspace id {by_id.status_code}"
            )
        return (
            f"node {filed['node_id']} in {'/'.join(INBOX_PATH)} of workspace "
            f"{self.workspace_id}; the upload itself → 404 for ACME"
        )

    async def dashboard(self) -> str:
        # The figures of this run's processes (the read model keeps earlier runs').
        figures = await self.auditor.call(
            "GET", "/v1/records/figures", params={"started_from": self._started()}
        )
        totals = counts_by_type(figures["by_state"])
        missing = [k for k in KINDS if not totals.get(k)]
        if missing:
            raise RuntimeError(f"no {', '.join(missing)} processes counted: {totals}")
        shown = ", ".join(f"{KINDS[k]} {totals[k]}" for k in KINDS)
        return f"{sum(totals.values())} processes this run ({shown})"


async def run_records_demo(
    stack: EmbeddedStack,
    http: httpx.AsyncClient,
    console: Console,
    *,
    since: datetime,
    signed_key: str,
) -> list[Step]:
    """Run the read model, portal and partner steps; `since`: when the demo started (UTC),
    `signed_key`: the business key of the happy-path sample."""
    demo = RecordsDemo(stack, http, since, signed_key)
    plan: list[tuple[Step, Callable[[], Awaitable[str]]]] = [
        (Step("read model", "every process is in the read model"), demo.every_process),
        (
            Step("portal", "a portal reads the approved contract", needs="read model"),
            demo.portal_reads,
        ),
        (
            Step("unapproved", "an unapproved version is not served"),
            demo.unapproved_not_served,
        ),
        (
            Step("link", "a supplier gets a link", needs="unapproved"),
            demo.supplier_link,
        ),
        (
            Step("inbox", "a supplier uploads into its inbox", needs="unapproved"),
            demo.supplier_upload,
        ),
        (Step("dashboard", "the dashboard shows it"), demo.dashboard),
    ]
    steps = await run_steps("docflow demo: records, portals and partners", plan, console)
    console.print(
        f"  dashboard: {stack.api_url}/dashboard  (enter the auditor key {AUDITOR_KEY})",
        overflow="ignore",
        crop=False,
        soft_wrap=True,
    )
    console.print()
    return steps
