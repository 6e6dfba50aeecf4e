"""Case assembly on the time-skipping server with stand-in activities under the real names
(`tests/workflows/case_stand_ins.py`: planning with the suite's real configuration, sources in
memory, a Content Server that dedupes like the real one).

History budgets asserted here (events per run): a 1,000-item case (one source, 10 pages)
keeps the parent under PARENT_CEILING = 150 (in fact ~80: it never sees items) and the
source's single run under SOURCE_CEILING = 700 (in fact ~610), well inside
SOURCE_HISTORY_BUDGET = 1,000; with a source budget of 150 the source continues as new every
three pages, each run under 150 + PAGE_EVENTS (in fact 190), filing every item exactly once;
a parent retrying for 90 rounds continues as new between rounds, each run under
HISTORY_BUDGET + 50 (1,050).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.config.bundle import Bundle, load_bundle
from docflow.models import DocumentRef, UpdateAccepted
from docflow.models.workspaces import (
    CaseAssemblyInput,
    CaseRequest,
    CaseRetryPolicy,
    CaseStatus,
    RetrySource,
)
from docflow.temporal import case_workflow_id
from tests.conftest import TEST_CONFIG_DIR
from tests.workflows.case_stand_ins import (
    FakeCaseSystems,
    Filed,
    forms,
    mail,
    stored,
    transactions,
)
from workflows.case_assembly import (
    HISTORY_BUDGET,
    SOURCE_HISTORY_BUDGET,
    CaseAssemblyWorkflow,
    CaseSourceWorkflow,
    CaseState,
)

# A page of 100 items costs a source's run about 61 events (a list, 4 fetches, 4 filings,
# one progress signal, their workflow tasks): a run ends within one page past its budget.
PAGE_EVENTS = 80
PARENT_CEILING = 150  # the parent of a 1,000-item case (in fact ~80: it never sees items)
SOURCE_CEILING = 700  # 1,000 items of one source in one run (in fact ~610)


@dataclass
class Cases:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    systems: FakeCaseSystems
    started: list[WorkflowHandle] = field(default_factory=list)

    async def start(
        self, request: CaseRequest, policy: CaseRetryPolicy | None = None
    ) -> WorkflowHandle:
        handle = await self.client.start_workflow(
            CaseAssemblyWorkflow.run,
            CaseAssemblyInput(
                request=request,
                environment="local",
                started_by="app:claims",
                policy=policy or CaseRetryPolicy(),
            ),
            id=case_workflow_id(request.case_type, request.case_id),
            task_queue=self.task_queue,
            execution_timeout=timedelta(days=30),
        )
        self.started.append(handle)
        return handle


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle("local", TEST_CONFIG_DIR, check_secrets=False)


@pytest.fixture
async def cases(
    time_skipping_env: WorkflowEnvironment, task_queue: str, bundle: Bundle
) -> AsyncIterator[Cases]:
    systems = FakeCaseSystems(bundle=bundle)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[CaseAssemblyWorkflow, CaseSourceWorkflow],
        activities=systems.activities(),
    ):
        harness = Cases(time_skipping_env, time_skipping_env.client, task_queue, systems)
        yield harness
        for handle in harness.started:  # leave nothing to wake up on the shared server
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


def claim(
    *, sources: list[str] | None = None, attachments: list[DocumentRef] | None = None
) -> CaseRequest:
    return CaseRequest(
        case_type="claims",
        case_id=f"CLM-{uuid.uuid4().hex[:8]}",
        title="Water damage",
        sources=sources or [],
        attachments=attachments or [],
        fields={"customer": "Acme"},
    )


async def status_when(
    handle: WorkflowHandle, predicate: Callable[[CaseStatus], bool], within: float = 20
) -> CaseStatus:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status = await handle.query(CaseAssemblyWorkflow.status)
        if predicate(status):
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; last status {status.state}: {status.waiting_for}")
        await asyncio.sleep(0.05)


def open_with_gaps(status: CaseStatus) -> bool:
    return status.state == CaseState.WITH_GAPS and not status.finished


async def retry(
    handle: WorkflowHandle, source: str, actor: str = "ops@example.com"
) -> UpdateAccepted:
    return await handle.execute_update(
        CaseAssemblyWorkflow.retry_source,
        RetrySource(source=source, actor=actor),
        result_type=UpdateAccepted,
    )


async def history_lengths(client: Client, workflow_id: str, first_run_id: str) -> list[int]:
    """Event counts of every run of a workflow, following its continue-as-new chain."""
    lengths, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else ""
        )
    return lengths


async def children(client: Client, handle: WorkflowHandle) -> dict[str, str]:
    """Child workflow id → its first run id, from the parent's (latest run's) history."""
    found = {}
    async for event in client.get_workflow_handle(handle.id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            execution = event.child_workflow_execution_started_event_attributes.workflow_execution
            found[execution.workflow_id] = execution.run_id
    return found


# ------------------------------------------------------------------------------ tests
async def test_every_source_is_gathered_and_the_case_is_assembled(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {
        "mail_archive": mail(3, attachments=2),
        "forms_portal": forms(2),
        "erp_history": transactions(4),
    }
    request = claim(attachments=[stored("photo.pdf"), stored("invoice.pdf")])
    handle = await cases.start(request)
    status: CaseStatus = await handle.result()

    assert status.state == CaseState.ASSEMBLED, status.outcome_reason
    assert status.finished and status.gaps == []
    assert status.sources_done == 4
    assert {p.source: (p.state, p.filed) for p in status.sources} == {
        "mail_archive": ("done", 9),
        "forms_portal": ("done", 2),
        "erp_history": ("done", 4),
        "attachments": ("done", 2),
    }
    assert status.items_filed == 17
    assert status.workspace is not None and status.workspace.workspace_id == 7001
    [plan] = systems.provisioned
    assert plan.object.key == f"CASES/Claim/{request.case_id}"
    assert plan.name == f"Claim {request.case_id} Water damage"
    # Each source into its configured folder, with the Filed Document category's values.
    assert len(systems.filed("E-mails")) == 9
    assert len(systems.filed("Forms")) == 2
    assert len(systems.filed("Transactions")) == 4
    assert len(systems.filed("Attachments")) == 2
    form = systems.filed("Forms")[0]
    assert form.category_values == {"1": "form", "3": "forms_portal:F1"}
    # Progress and outcome are in the audit trail and the process details.
    kinds = [entry.kind for entry in status.audit]
    assert kinds[0] == "started" and "planned" in kinds and kinds[-1] == "assembled"
    assert status.outcome_reason == "17 items filed from 4 sources"


async def test_a_failing_source_leaves_gaps_and_a_persons_retry_closes_them(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {
        "mail_archive": mail(2),
        "forms_portal": forms(1),
        "erp_history": transactions(3),
    }
    systems.down = {"erp_history"}
    handle = await cases.start(claim())

    status = await status_when(handle, open_with_gaps)
    assert status.gaps == ["erp_history"]
    erp = next(p for p in status.sources if p.source == "erp_history")
    assert erp.state == "failed" and "erp_history answered 503" in erp.reason
    assert status.retry_until is not None and status.sources_done == 3
    assert "erp_history" in status.waiting_for

    # The validator refuses what cannot be retried, naming why; nothing is recorded.
    for source, why in (
        ("crm", "'crm' is not a source of this case"),
        ("mail_archive", "mail_archive is done, not failed"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await retry(handle, source)
        assert why in str(refused.value.cause)

    systems.down.clear()
    accepted = await retry(handle, "erp_history", actor="ops@example.com")
    assert accepted.detail == "retrying erp_history"
    status = await handle.result()
    assert status.state == CaseState.ASSEMBLED
    assert status.items_filed == 4 + 1 + 3
    erp = next(p for p in status.sources if p.source == "erp_history")
    assert erp.attempts == 2 and erp.filed == 3
    retried = next(e for e in status.audit if e.kind == "retry_requested")
    assert (retried.actor, retried.detail) == ("ops@example.com", "erp_history")

    with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # ended: no Update taken
        await retry(handle, "erp_history")


async def test_a_recovered_source_is_retried_automatically(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(1), "forms_portal": forms(2)}
    systems.down = {"forms_portal"}
    handle = await cases.start(claim(sources=["mail_archive", "forms_portal"]))
    await status_when(handle, open_with_gaps)

    await cases.env.sleep(timedelta(minutes=40))  # two rounds (15, 30 min) while still down
    status = await status_when(handle, lambda s: s.sources[1].attempts >= 3)
    assert status.gaps == ["forms_portal"] and not status.finished
    systems.down.clear()  # the portal recovers
    status = await handle.result()  # the next round (45 min) gathers it

    assert status.state == CaseState.ASSEMBLED
    forms_progress = status.sources[1]
    assert (forms_progress.state, forms_progress.filed, forms_progress.attempts) == ("done", 2, 4)
    rounds = [e for e in status.audit if e.kind == "retry_round"]
    assert len(rounds) == 1 and rounds[0].repeated == 3  # condensed: one entry, three rounds
    assert [e.kind for e in status.audit].count("source_failed") == 1  # the same reason
    history = await handle.fetch_history()
    # A few events per round (the read-model write of each round's condensed entry included).
    assert len(history.events) < 200, len(history.events)


async def test_the_retry_window_ends_with_gaps_and_support_is_told(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(2)}
    systems.down = {"erp_history"}
    policy = CaseRetryPolicy(retry_every=timedelta(hours=1), retry_for=timedelta(hours=6))
    handle = await cases.start(claim(sources=["mail_archive", "erp_history"]), policy)
    status = await handle.result()

    assert status.state == CaseState.WITH_GAPS and status.finished
    assert status.gaps == ["erp_history"]
    assert "not gathered: erp_history (" in status.outcome_reason
    assert status.attention
    erp = status.sources[1]
    assert erp.attempts == 7  # the first, then one per hour for six hours
    [told] = systems.notifications
    assert told.recipients == [] and "erp_history" in told.subject
    assert "erp_history answered 503" in told.data["reason"]


async def test_items_are_deduplicated_by_source_id_and_sha256(cases: Cases) -> None:
    systems = cases.systems
    listed_twice = [*forms(3), forms(1)[0]]  # the portal lists F1 again (e.g. paging overlap)
    systems.holdings = {"mail_archive": mail(3, duplicate=True), "forms_portal": listed_twice}
    photo = stored("photo.pdf")
    request = claim(
        sources=["mail_archive", "forms_portal", "attachments"],
        attachments=[photo, photo.model_copy(update={"filename": "photo-copy.pdf"})],
    )
    status: CaseStatus = await (await cases.start(request)).result()

    assert status.state == CaseState.ASSEMBLED
    by_source = {p.source: p for p in status.sources}
    # Mail: 4 messages and 4 attachments listed; the forwarded copy of A1-1 (same bytes) is
    # skipped before it is fetched.
    assert (by_source["mail_archive"].listed, by_source["mail_archive"].filed) == (8, 7)
    assert by_source["mail_archive"].duplicates == 1
    assert "mail_archive:A-fwd" not in systems.fetched
    assert (by_source["forms_portal"].filed, by_source["forms_portal"].duplicates) == (3, 1)
    assert systems.fetched.count("forms_portal:F1") == 1
    assert (by_source["attachments"].filed, by_source["attachments"].duplicates) == (1, 1)
    assert len(systems.filed("E-mails")) == 7 and len(systems.filed("Attachments")) == 1


async def test_bytes_filed_before_under_another_name_are_duplicates(cases: Cases) -> None:
    """Content Server's own SHA-256 dedupe (`dedupe_sha256`): a retry that resumes without
    the run's memory, or bytes another case filed into the folder, are not filed again."""
    systems = cases.systems
    systems.holdings = {"forms_portal": forms(2)}
    twin = forms(1)[0]
    systems.folders["Forms"] = {
        "earlier.pdf": Filed(
            node_id=1, name="earlier.pdf", sha256=twin.sha256 or "", category_values={}
        )
    }
    status: CaseStatus = await (await cases.start(claim(sources=["forms_portal"]))).result()
    [progress] = status.sources
    assert (progress.filed, progress.duplicates) == (1, 1)
    assert len(systems.filed("Forms")) == 2


async def test_a_retry_resumes_at_the_page_that_failed(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {"erp_history": transactions(350)}  # four pages
    systems.fail_after_pages = {"erp_history": 2}  # pages 1 and 2 are filed, then it fails
    handle = await cases.start(claim(sources=["erp_history"]))
    status = await status_when(handle, open_with_gaps)
    [erp] = status.sources
    assert (erp.listed, erp.filed, erp.cursor) == (200, 200, "200")

    systems.fail_after_pages.clear()
    await retry(handle, "erp_history")
    status = await handle.result()
    [erp] = status.sources
    assert (erp.state, erp.listed, erp.filed, erp.duplicates) == ("done", 350, 350, 0)
    assert [r.cursor for r in systems.lists] == [None, "100", "200", "200", "300"]
    assert len(systems.filed("Transactions")) == 350


async def test_a_case_refused_by_its_configuration_ends_refused(cases: Cases) -> None:
    request = CaseRequest(case_type="claims", case_id="CLM-NO-TITLE", sources=["fax"])
    status: CaseStatus = await (await cases.start(request)).result()
    assert status.state == CaseState.REFUSED
    assert "unknown case source 'fax'" in status.outcome_reason
    untitled = CaseRequest(case_type="claims", case_id="CLM-UNTITLED")
    status = await (await cases.start(untitled)).result()
    assert status.state == CaseState.REFUSED
    assert "field 'title' is required for CASES/Claim" in status.outcome_reason
    assert cases.systems.provisioned == []


async def test_1000_items_keep_every_history_within_its_budget(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(250, attachments=3)}  # 1,000 items, 10 pages
    handle = await cases.start(claim(sources=["mail_archive"]))
    status: CaseStatus = await handle.result()
    assert status.state == CaseState.ASSEMBLED
    assert status.items_filed == 1000 and len(systems.filed("E-mails")) == 1000

    parent = await handle.fetch_history()
    assert len(parent.events) < PARENT_CEILING, len(parent.events)
    [(child_id, run_id)] = (await children(cases.client, handle)).items()
    [child_events] = await history_lengths(cases.client, child_id, run_id)  # one run
    assert child_events < SOURCE_CEILING < SOURCE_HISTORY_BUDGET, child_events


async def test_a_source_continues_as_new_past_its_budget_filing_each_item_once(
    cases: Cases,
) -> None:
    systems = cases.systems
    systems.holdings = {
        "mail_archive": mail(250, attachments=3),
        "erp_history": transactions(120),
    }
    budget = 150  # about two pages a run
    policy = CaseRetryPolicy(source_history_budget=budget)
    handle = await cases.start(claim(sources=["mail_archive", "erp_history"]), policy)
    status: CaseStatus = await handle.result()
    assert status.state == CaseState.ASSEMBLED
    assert status.items_filed == 1120
    assert len(systems.filed("E-mails")) == 1000
    assert len(systems.fetched) == len(set(systems.fetched)) == 1120  # none fetched twice

    found = await children(cases.client, handle)
    mail_runs = await history_lengths(
        cases.client, *next((i, r) for i, r in found.items() if "/mail_archive/" in i)
    )
    assert len(mail_runs) >= 4, mail_runs
    assert max(mail_runs) < budget + PAGE_EVENTS, mail_runs
    assert len((await handle.fetch_history()).events) < PARENT_CEILING


async def test_a_long_retry_window_continues_as_new_keeping_the_case(cases: Cases) -> None:
    """Every round costs the parent a few events (one timer, one child): past its budget it
    continues as new between rounds, with progress, gaps, window and ledger intact."""
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(2)}
    systems.down = {"erp_history"}
    policy = CaseRetryPolicy(retry_every=timedelta(minutes=1), retry_for=timedelta(minutes=90))
    handle = await cases.start(claim(sources=["mail_archive", "erp_history"]), policy)
    await status_when(handle, open_with_gaps)
    await cases.env.sleep(timedelta(minutes=85))
    status = await status_when(handle, lambda s: s.sources[1].attempts >= 80, within=60)
    assert open_with_gaps(status) and status.items_filed == 4

    systems.down.clear()
    await retry(handle, "erp_history")
    status = await handle.result()
    assert status.state == CaseState.ASSEMBLED and status.items_filed == 4
    assert status.sources[1].filed == 0 and status.sources[1].state == "done"

    runs = await history_lengths(cases.client, handle.id, handle.first_execution_run_id or "")
    assert len(runs) >= 2, runs
    assert max(runs) < HISTORY_BUDGET + 50, runs


async def test_a_temporal_cancellation_ends_the_case_cancelled(cases: Cases) -> None:
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(1)}
    systems.down = {"forms_portal"}
    handle = await cases.start(claim(sources=["mail_archive", "forms_portal"]))
    await status_when(handle, open_with_gaps)
    await handle.cancel()
    status: CaseStatus = await handle.result()
    assert status.state == CaseState.CANCELLED and status.finished
    assert status.outcome_reason == "cancelled in Temporal"
    assert [e.kind for e in status.audit][-2:] == ["cancel_requested", "cancelled"]


async def test_a_cancellation_while_gathering_cancels_the_sources_still_running(
    cases: Cases,
) -> None:
    systems = cases.systems
    systems.holdings = {"mail_archive": mail(1), "forms_portal": forms(1)}
    systems.slow = {"forms_portal"}
    handle = await cases.start(claim(sources=["mail_archive", "forms_portal"]))
    status = await status_when(handle, lambda s: s.sources_done == 1)
    assert status.state == CaseState.GATHERING
    assert "sources done 1/2, items filed 2; gathering forms_portal" in status.waiting_for
    await handle.cancel()
    status = await handle.result()
    systems.released.set()
    assert status.state == CaseState.CANCELLED
    child = cases.client.get_workflow_handle(f"{handle.id}/forms_portal/1")
    for _ in range(100):  # the child's cancellation is its own workflow task, maybe later
        description = await child.describe()
        if description.status is not None and description.status.name != "RUNNING":
            break
        await asyncio.sleep(0.05)
    assert description.status is not None and description.status.name == "CANCELED"
