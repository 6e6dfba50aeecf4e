"""`docflow demo`: a batch of sample contracts through every path of the signing process.

`run_demo` starts the embedded stack and runs the batch. The people are played over HTTP:
approvers decide through docflow's API with their own API keys (one from the action link of
its notification, as a person would from the e-mail), and signers act through the Core
Signature simulator's control API. The workspace and case steps (`demo_workspaces.py`), the
content distribution and master data steps (`demo_content.py`), the ECM event relay and
lifecycle trigger steps (`demo_ecm.py`) and the read model, portal and partner steps
(`demo_records.py`) and a configuration promotion (`demo_promotion.py`) follow on the same
stack.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from devstack.demo_content import run_content_demo
from devstack.demo_ecm import run_ecm_demo
from devstack.demo_promotion import run_promotion_demo
from devstack.demo_records import run_records_demo
from devstack.demo_workspaces import run_workspace_demo
from devstack.embedded import EmbeddedStack, StackPorts
from devstack.samples import APPROVER_KEYS, CRM_KEY, OPS_KEY, contract_pdf, legal, sample_request
from docflow.models import (
    ApprovalStageSpec,
    Quorum,
    Signer,
    SigningRequest,
    SigningState,
    SigningStatus,
)
from docflow.models.status import TERMINAL_STATES
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id
from starter.api_client import DocflowApiClient, DocflowApiError

# Short human deadlines so the reminder/escalation paths finish within the demo.
FAST_STAGE = {
    "deadline": timedelta(seconds=6),
    "reminder_before": timedelta(seconds=3),
    "escalation_window": timedelta(seconds=5),
}


@dataclass
class SampleRun:
    name: str
    description: str
    expected: SigningState
    business_key: str
    state: str = "pending"
    waiting_for: str = ""
    note: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def ok(self) -> bool:
        return self.state == self.expected.value

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass
class DemoContext:
    api: DocflowApiClient
    http: httpx.AsyncClient
    core_signature_url: str
    ui_url: str
    namespace: str = "default"
    crm_url: str = ""  # the CRM simulator also serves the notification service
    action_links: list[tuple[str, str]] = field(default_factory=list)

    def approver(self, email: str) -> DocflowApiClient:
        return self.api.as_principal(APPROVER_KEYS[email])

    async def wait(
        self,
        run: SampleRun,
        predicate: Callable[[SigningStatus], bool],
        within: float = 60.0,
    ) -> SigningStatus:
        deadline = time.monotonic() + within
        while True:
            try:
                status = await self.api.status(run.business_key)
            except DocflowApiError as error:
                if error.status != 503 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)  # the API's "retry later"
                continue
            run.state, run.waiting_for = status.state.value, status.waiting_for
            if predicate(status):
                return status
            if status.state in TERMINAL_STATES or time.monotonic() > deadline:
                raise RuntimeError(f"stuck in {status.state.value}: {status.waiting_for}")
            await asyncio.sleep(0.25)

    async def wait_for_signature(self, run: SampleRun, cycle: int = 1) -> str:
        status = await self.wait(
            run,
            lambda s: s.state is SigningState.AWAITING_SIGNATURE and s.signature.cycle == cycle,
        )
        assert status.signature.document_uuid is not None
        return status.signature.document_uuid

    async def signer(self, action: str, document_uuid: str, **body: str) -> None:
        response = await self.http.post(
            f"{self.core_signature_url}/_control/documents/{document_uuid}/{action}",
            json=body or None,
        )
        response.raise_for_status()

    async def action_link(self, run: SampleRun, principal: str, action: str) -> str:
        """The link `principal`'s approval notification carries (the simulator keeps them)."""
        deadline = time.monotonic() + 30
        while True:
            response = await self.http.get(
                f"{self.crm_url}/_control/action-links",
                params={"business_key": run.business_key, "principal": principal},
            )
            response.raise_for_status()
            found = response.json()["results"]
            if found:
                link: str = found[0]["links"][action]
                return link
            if time.monotonic() > deadline:
                raise RuntimeError(f"no action link for {principal} arrived")
            await asyncio.sleep(0.25)

    async def drop_callbacks(self, count: int) -> None:
        response = await self.http.put(
            f"{self.core_signature_url}/_control/callbacks/faults", json={"drop_next": count}
        )
        response.raise_for_status()


Scenario = Callable[[DemoContext, SampleRun], Awaitable[None]]


async def _start(ctx: DemoContext, run: SampleRun, request: SigningRequest) -> None:
    await ctx.api.start(request, contract_pdf(run.business_key), filename=f"{run.name}.pdf")


async def happy_path(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[legal()]))
    await ctx.wait(run, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    await ctx.approver("alice@example.com").decide(run.business_key, "approve", comment="ok")
    doc = await ctx.wait_for_signature(run)
    await ctx.signer("view", doc)
    await ctx.signer("sign", doc)


async def approved_from_email(ctx: DemoContext, run: SampleRun) -> None:
    """Alice opens the link of her notification and approves on docflow's page."""
    await _start(ctx, run, sample_request(run.business_key, stages=[legal()]))
    await ctx.wait(run, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    link = await ctx.action_link(run, "alice@example.com", "approve")
    ctx.action_links.append((run.name, link))
    page = await ctx.http.get(link)
    page.raise_for_status()
    token = link.rsplit("/", 1)[1]
    form = {"token": token, "decision": "approve", "comment": "approved from the e-mail"}
    decided = await ctx.http.post(link, data=form)
    if decided.status_code != 200:
        raise RuntimeError(f"the action page answered {decided.status_code}")
    await ctx.signer("sign", await ctx.wait_for_signature(run))


async def two_stages_all_quorum(ctx: DemoContext, run: SampleRun) -> None:
    finance = ApprovalStageSpec(name="finance", approvers=["carol@example.com"])
    request = sample_request(run.business_key, stages=[legal(Quorum.ALL), finance])
    await _start(ctx, run, request)
    await ctx.wait(run, lambda s: s.stage == "legal")
    await ctx.approver("alice@example.com").decide(run.business_key, "approve")
    await ctx.approver("bob@example.com").decide(run.business_key, "approve")
    await ctx.wait(run, lambda s: s.stage == "finance")
    await ctx.approver("carol@example.com").decide(run.business_key, "approve")
    await ctx.signer("sign", await ctx.wait_for_signature(run))


async def nda_without_approval(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[], document_type="nda"))
    await ctx.signer("sign", await ctx.wait_for_signature(run))


async def rejected(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[legal()]))
    await ctx.wait(run, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    await ctx.approver("bob@example.com").decide(
        run.business_key, "reject", comment="liability cap missing"
    )


async def changes_requested(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[legal()]))
    await ctx.wait(run, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    await ctx.approver("alice@example.com").decide(
        run.business_key, "request_changes", comment="clause 7"
    )
    await ctx.wait(run, lambda s: s.state is SigningState.CHANGES_REQUESTED)
    await ctx.api.submit_new_version(
        run.business_key,
        contract_pdf(run.business_key, 2),
        filename=f"{run.name}-v2.pdf",
        version=2,
        comment="clause 7 fixed",
    )
    await ctx.wait(
        run, lambda s: s.state is SigningState.AWAITING_APPROVAL and s.document_version == 2
    )
    await ctx.approver("alice@example.com").decide(run.business_key, "approve")
    await ctx.signer("sign", await ctx.wait_for_signature(run))


async def refused(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[], document_type="poem"))


async def declined(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[legal()]))
    await ctx.wait(run, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    await ctx.approver("alice@example.com").decide(run.business_key, "approve")
    doc = await ctx.wait_for_signature(run)
    await ctx.signer("decline", doc, reason="The payment terms are wrong.")


async def expired_then_resent(ctx: DemoContext, run: SampleRun) -> None:
    await _start(ctx, run, sample_request(run.business_key, stages=[], document_type="nda"))
    await ctx.signer("expire", await ctx.wait_for_signature(run, cycle=1))
    await ctx.signer("sign", await ctx.wait_for_signature(run, cycle=2))


async def bounce_then_correction(ctx: DemoContext, run: SampleRun) -> None:
    request = sample_request(
        run.business_key, stages=[], document_type="nda", signer="jane.doe@acme-typo.example.com"
    )
    await _start(ctx, run, request)
    await ctx.signer("bounce", await ctx.wait_for_signature(run))
    await ctx.wait(run, lambda s: s.state is SigningState.SIGNATURE_EXCEPTION)
    await ctx.api.as_principal(OPS_KEY).correct(
        run.business_key,
        signers=[Signer(email="jane.doe@acme.example.com", first_name="Jane", last_name="Doe")],
        comment="typo in the domain",
    )
    await ctx.signer("sign", await ctx.wait_for_signature(run, cycle=2))


async def escalated_then_approved(ctx: DemoContext, run: SampleRun) -> None:
    stage = legal(Quorum.ANY, escalation_approver="dave@example.com", **FAST_STAGE)
    await _start(ctx, run, sample_request(run.business_key, stages=[stage]))
    await ctx.wait(run, lambda s: bool(s.stages) and s.stages[0].escalated)
    await ctx.approver("dave@example.com").decide(run.business_key, "approve", comment="escalated")
    await ctx.signer("sign", await ctx.wait_for_signature(run))


async def nobody_decides(ctx: DemoContext, run: SampleRun) -> None:
    stage = legal(Quorum.ANY, escalation_approver="dave@example.com", **FAST_STAGE)
    await _start(ctx, run, sample_request(run.business_key, stages=[stage]))


SAMPLES: list[tuple[str, str, SigningState, Scenario]] = [
    ("approved", "one stage, any quorum, signed", SigningState.COMPLETED, happy_path),
    ("e-mail", "approved from the e-mail link", SigningState.COMPLETED, approved_from_email),
    ("two-stages", "legal (all) then finance", SigningState.COMPLETED, two_stages_all_quorum),
    ("nda", "no internal approval needed", SigningState.COMPLETED, nda_without_approval),
    ("rejected", "legal rejects", SigningState.REJECTED, rejected),
    ("changes", "changes requested, v2 approved", SigningState.COMPLETED, changes_requested),
    ("refused", "no routing rule for the type", SigningState.REFUSED, refused),
    ("declined", "signer declines", SigningState.DECLINED, declined),
    ("resent", "link expires, resent, signed", SigningState.COMPLETED, expired_then_resent),
    ("bounced", "e-mail bounces, ops corrects", SigningState.COMPLETED, bounce_then_correction),
    (
        "escalated",
        "reminder, escalation, approved",
        SigningState.COMPLETED,
        escalated_then_approved,
    ),
    ("expired", "nobody decides: expires", SigningState.EXPIRED, nobody_decides),
]


async def lost_callback(ctx: DemoContext, run: SampleRun) -> None:
    """Runs alone after the batch: its dropped callbacks must not hit other samples."""
    await _start(ctx, run, sample_request(run.business_key, stages=[], document_type="nda"))
    doc = await ctx.wait_for_signature(run)
    await ctx.drop_callbacks(3)  # signer_viewed, signer_signed, signed: polling must notice
    await ctx.signer("sign", doc)


LOST_CALLBACK = ("lost-callback", "callbacks lost, polling", SigningState.COMPLETED, lost_callback)


def web_ui_link(ctx: DemoContext, business_key: str) -> str:
    return f"{ctx.ui_url}/namespaces/{ctx.namespace}/workflows/{signing_workflow_id(business_key)}"


def _table(runs: list[SampleRun], ctx: DemoContext, *, final: bool) -> Table:
    table = Table(title="docflow demo: signing processes" + (" (done)" if final else ""))
    for column in ("sample", "path", "state", "expected" if final else "waiting for", "s"):
        table.add_column(column)
    if final:
        table.add_column("")
    for run in runs:
        style = "green" if run.ok else ("red" if run.finished else "")
        cells = [
            run.name,
            run.description,
            f"[{style}]{run.state}[/]" if style else run.state,
            run.expected.value if final else (run.note or run.waiting_for)[:48],
            f"{run.seconds:5.1f}",
        ]
        if final:
            cells.append("[green]ok[/]" if run.ok else f"[red]FAIL[/] {run.note}")
        table.add_row(*cells)
    return table


async def _drive(ctx: DemoContext, run: SampleRun, scenario: Scenario) -> None:
    try:
        await scenario(ctx, run)
        await ctx.wait(run, lambda s: s.state in TERMINAL_STATES, within=120)
    except Exception as exc:  # a sample failing must not stop the batch
        run.note = str(exc)[:120]
        try:
            status = await ctx.api.status(run.business_key)
            run.state = status.state.value
        except Exception:
            run.state = "error"
    run.finished = time.monotonic()


async def run_batch(ctx: DemoContext, console: Console, *, rounds: int = 1) -> list[SampleRun]:
    """Run every sample (`rounds` times), showing live progress; return the runs."""
    batch = uuid.uuid4().hex[:6].upper()
    runs: list[tuple[SampleRun, Scenario]] = []
    for round_no in range(rounds):
        for name, description, expected, scenario in SAMPLES:
            key = f"DEMO-{batch}-{round_no + 1}-{name}"
            runs.append((SampleRun(name, description, expected, key), scenario))
    lost = SampleRun(LOST_CALLBACK[0], LOST_CALLBACK[1], LOST_CALLBACK[2], f"DEMO-{batch}-lost")
    everything = [r for r, _ in runs] + [lost]

    with Live(_table(everything, ctx, final=False), console=console, refresh_per_second=4) as live:

        async def refresh() -> None:
            while True:
                live.update(_table(everything, ctx, final=False))
                await asyncio.sleep(0.25)

        refresher = asyncio.create_task(refresh())
        try:
            await asyncio.gather(*(_drive(ctx, run, scenario) for run, scenario in runs))
            lost.started = time.monotonic()
            await _drive(ctx, lost, LOST_CALLBACK[3])
        finally:
            refresher.cancel()
        live.update(_table(everything, ctx, final=True))
    return everything


def print_links(runs: list[SampleRun], ctx: DemoContext, console: Console) -> None:
    """One line per run with its Web UI link, never truncated (terminals make them clickable)."""
    console.print("[bold]Web UI[/]")
    width = max(len(run.name) for run in runs)
    for run in runs:
        console.print(
            f"  {run.name:<{width}}  {web_ui_link(ctx, run.business_key)}",
            overflow="ignore",
            crop=False,
            soft_wrap=True,
        )
    for name, link in ctx.action_links[:1]:
        console.print(
            f"[bold]Approving from the e-mail[/] ({name}: Alice's approve link, now used)"
        )
        console.print(f"  {link}", overflow="ignore", crop=False, soft_wrap=True)
    if ctx.crm_url:
        console.print(f"  every link sent so far: {ctx.crm_url}/_control/action-links")


async def run_demo(
    ports: StackPorts,
    data_dir: Path,
    console: Console,
    *,
    once: bool,
    rounds: int,
    until_stopped: Callable[[], Awaitable[None]],
) -> bool:
    """Start the embedded stack, run the batch, the workspace, content, ECM and records steps,
    print links; True if every sample ended as expected and every step was done. Without `once` the
    stack stays up until `until_stopped` returns."""
    settings = Settings().with_overrides(
        signing_policy={
            "signature_poll_after": timedelta(seconds=4),
            "signature_poll_interval": timedelta(seconds=3),
        },
        # A case source that is down becomes a gap within seconds (production: an hour).
        case_policy={"source_give_up": timedelta(seconds=5)},
    )
    console.print(f"[bold]docflow demo[/] — starting the embedded stack (data in {data_dir})")
    async with EmbeddedStack(
        settings=settings, ports=ports, data_dir=data_dir, ecm_poller=True
    ) as stack:
        console.print(
            f"  API        {stack.api_url}  (OpenAPI docs: {stack.api_url}/docs)\n"
            f"  Web UI     {stack.ui_url}\n"
            f"  simulators Core Signature {stack.core_signature_url}, "
            f"Content Server {stack.content_server_url}, CRM {stack.crm_url}, "
            f"ERP {stack.erp_url}, mail archive {stack.mail_archive_url}, "
            f"forms portal {stack.forms_portal_url}, Amplience {stack.amplience_url}, "
            f"webhook target {stack.webhook_target_url}"
        )
        async with httpx.AsyncClient(timeout=30) as http:
            ctx = DemoContext(
                api=DocflowApiClient(stack.api_url, CRM_KEY, http=http),
                http=http,
                core_signature_url=stack.core_signature_url,
                ui_url=stack.ui_url,
                crm_url=stack.crm_url,
            )
            since = datetime.now(UTC)
            runs = await run_batch(ctx, console, rounds=rounds)
            print_links(runs, ctx, console)
            steps = await run_workspace_demo(stack, http, console)
            content = await run_content_demo(stack, http, console)
            ecm = await run_ecm_demo(stack, http, console)
            signed = next(r for r in runs if r.name == SAMPLES[0][0])
            records = await run_records_demo(
                stack, http, console, since=since, signed_key=signed.business_key
            )
            promoted = await run_promotion_demo(stack, http, console)
        failed = [r for r in runs if not r.ok]
        console.print(
            f"[bold]{len(runs) - len(failed)}/{len(runs)}[/] samples ended as expected."
            + (f" [red]Unexpected: {', '.join(r.name for r in failed)}[/]" if failed else "")
        )
        missed = [s for s in steps if not s.ok]
        console.print(
            f"[bold]{len(steps) - len(missed)}/{len(steps)}[/] workspace and case steps done."
            + (f" [red]Failed: {', '.join(s.name for s in missed)}[/]" if missed else "")
        )
        unchecked = [s for s in content if not s.ok]
        console.print(
            f"[bold]{len(content) - len(unchecked)}/{len(content)}[/] content steps done."
            + (f" [red]Failed: {', '.join(s.name for s in unchecked)}[/]" if unchecked else "")
        )
        relayed = [s for s in ecm if not s.ok]
        console.print(
            f"[bold]{len(ecm) - len(relayed)}/{len(ecm)}[/] ECM event steps done."
            + (f" [red]Failed: {', '.join(s.name for s in relayed)}[/]" if relayed else "")
        )
        unread = [s for s in records if not s.ok]
        console.print(
            f"[bold]{len(records) - len(unread)}/{len(records)}[/] records, portal and partner "
            "steps done."
            + (f" [red]Failed: {', '.join(s.name for s in unread)}[/]" if unread else "")
        )
        unpromoted = [s for s in promoted if not s.ok]
        console.print(
            f"[bold]{len(promoted) - len(unpromoted)}/{len(promoted)}[/] configuration "
            "promotion steps done."
            + (f" [red]Failed: {', '.join(s.name for s in unpromoted)}[/]" if unpromoted else "")
        )
        if not once:
            console.print("Stack is up; press Ctrl-C to stop.")
            await until_stopped()
    return (
        not failed
        and not missed
        and not unchecked
        and not relayed
        and not unread
        and not unpromoted
    )
