"""Case assembly: plan → provision the case workspace → gather every source in parallel →
assembled, or assembled with gaps that are retried until the retry window ends.

`CaseAssemblyWorkflow` (one per case, id `case:<case_type>:<case_id>`) tells the story;
each source is gathered by a `CaseSourceWorkflow` child with its own retries (the source's
preset gives up after about an hour, and the source becomes a gap). A gap is retried by a
person (the `retry_source` Update, bound to the authenticated actor) or automatically on the
case's schedule (one timer per round for all gaps, bounded rounds); the case ends
"assembled" when every gap is closed, or "assembled_with_gaps" naming what is missing when
the window ends (support is told).

History stays bounded whatever the case's size: a child lists pages of ≤ 100 items, fetches
and files batches of ≤ 25, tells the parent its progress once per page, and continues as
new past its budget; the parent continues as new between retry rounds past its own.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta
from enum import StrEnum
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from workflows.kit.calls import GaveUp, call, watched_phase
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.kit.requests import RequestLedger
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.case_sources import CaseSourceActivities
    from activities.case_sources import options as case_sources
    from activities.content_server import ContentServerActivities
    from activities.content_server import options as content_server
    from activities.validation import ValidationActivities
    from activities.validation import options as validation
    from docflow.models.approvals import UpdateAccepted
    from docflow.models.workspaces import (
        CASE_BATCH,
        CaseAssemblyInput,
        CaseCarry,
        CaseItem,
        CaseItemsPage,
        CasePlan,
        CaseSourceInput,
        CaseSourceKind,
        CaseStatus,
        FetchCaseItems,
        FiledDocument,
        FileDocumentInput,
        FileDocumentsInput,
        ListCaseItems,
        PlanRequest,
        ProvisionedWorkspace,
        RetrySource,
        SourceProgress,
        WorkspacePlan,
    )
    from docflow.names import node_name
    from docflow.temporal import CASE_SYSTEM, case_business_key


class CaseState(StrEnum):
    PLANNING = "planning"
    REFUSED = "refused"
    PROVISIONING = "provisioning"
    GATHERING = "gathering"
    ASSEMBLED = "assembled"
    WITH_GAPS = "assembled_with_gaps"
    FAILED = "failed"
    CANCELLED = "cancelled"


C = CaseState
# States operators filter on (DocflowStatus): a case with gaps, and every end.
INDEXED_STATES = {C.WITH_GAPS, C.ASSEMBLED, C.REFUSED, C.FAILED, C.CANCELLED}
# The parent's events: plan, provision, one child per source, a progress signal per page of
# each source, then ~15 events per retry round; past this it continues as new between rounds.
HISTORY_BUDGET = 1_000
# A source's run: ~60 events per page of 100 items (a list, 4 fetches and 4 filings, one signal);
# past this it continues as new at a page boundary (1,000 items of one source fit one run).
SOURCE_HISTORY_BUDGET = 1_000
# Filing into Content Server gives up as a source does, so a Content Server that is down for
# hours leaves gaps (retried) instead of a case hanging for a day.
FILE_GIVE_UP = timedelta(hours=1)
# A page normally lists, fetches and files within minutes; past this `step_retrying`.
PAGE_EXPECTED = timedelta(minutes=15)
# Dedupe keys a source's run remembers (carried across continue-as-new); past it the oldest
# are dropped and Content Server's own dedupe (same name, or same bytes with dedupe_sha256)
# still keeps the workspace free of repeats.
MAX_SEEN = 5_000
SHA_PREFIX = 32  # hex digits of a SHA-256 kept as a dedupe key (128 bits)


# ====================================================================== the case
@workflow.defn(name="CaseAssemblyWorkflow", versioning_behavior=behaviour("CaseAssemblyWorkflow"))
class CaseAssemblyWorkflow:
    @workflow.init
    def __init__(self, case: CaseAssemblyInput) -> None:
        carry = case.resume or CaseCarry()
        request = case.request
        self._input, self._request, self._carry = case, request, carry
        self._key = case_business_key(request.case_type, request.case_id)
        self._record = ProcessRecord(
            "case",
            self._key,
            state=C.PLANNING,
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=carry.record,
        )
        carry.record = self._record.data
        self._notify = Notifier(self._key, self._record)
        self._requests = RequestLedger(carry.requests)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[str, str] = {}  # source → reason last recorded
        self._finished = False

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, case: CaseAssemblyInput) -> CaseStatus:
        if case.resume is None:
            self._record.index_at_start(
                business_key=self._key,
                source_record=self._key,
                document_type="case",
                environment=case.environment,
                source_system=CASE_SYSTEM,
            )
            title = f": {self._request.title}" if self._request.title else ""
            self._record.record("started", case.started_by, f"{self._key}{title}")
        await run_story(self._story, on_cancel=self._temporal_cancel, record=self._record)
        return self.status()

    async def _story(self) -> None:
        try:
            if self._carry.workspace is None:
                workspace_plan = await self._plan()
                self._carry.workspace = await self._provision(workspace_plan)
                assert self._carry.plan is not None
                self._carry.sources = [SourceProgress(source=s.source) for s in self._plan_.sources]
                for progress in self._carry.sources:
                    self._launch(progress.source)
            await self._assemble()
        except GaveUp as failure:  # the one give-up policy: a reported outcome, never FAILED
            reason = f"{failure.operation} gave up: {failure.reason}"
            await self._notify.support(
                f"Case {self._key} failed: {reason}", key=self._once("failed"), reason=reason
            )
            await self._finish(C.FAILED, reason, attention=True)

    async def _plan(self) -> WorkspacePlan:
        self._record.set_state(C.PLANNING, "the case type, its sources and its workspace")
        plan = await call(
            CaseSourceActivities.plan_case,
            self._request,
            case_sources.PLAN,
            summary="Plan the case from this environment's case types and sources",
            record=self._record,
        )
        if not plan.accepted or plan.object is None:
            await self._finish(C.REFUSED, "; ".join(plan.reasons) or "refused")
        self._carry.plan = plan
        result = await call(
            ValidationActivities.plan_workspace,
            PlanRequest(object=plan.object, data=plan.data),
            validation.VALIDATE,
            summary="Plan the case workspace from this environment's mapping",
            record=self._record,
        )
        if not result.accepted or result.plan is None:
            await self._finish(C.REFUSED, "; ".join(result.reasons) or "no workspace plan")
        assert result.plan is not None
        sources = ", ".join(s.source for s in plan.sources)
        self._record.record(
            "planned",
            "system",
            f"workspace {result.plan.name!r} for {plan.object.key}; sources {sources} "
            f"(configuration {plan.config_version or 'unversioned'})",
        )
        return result.plan

    async def _provision(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        self._record.set_state(C.PROVISIONING, f"Content Server to provision {plan.name!r}")
        workspace = await call(
            ContentServerActivities.provision_workspace,
            plan,
            content_server.TRANSFER,
            summary=f"Provision the case workspace {plan.name!r}",
            record=self._record,
        )
        self._record.record(
            "workspace",
            "system",
            f"{workspace.how} {workspace.name!r} (node {workspace.workspace_id})",
        )
        return workspace

    async def _assemble(self) -> None:
        """Gather until every source is in or the retry window has passed."""
        carry, policy = self._carry, self._input.policy
        while True:
            for source in self._take_asked():
                self._launch(source)
            if self._running:
                self._show_gathering()
                await workflow.wait_condition(lambda: not self._running or bool(carry.asked))
                continue
            gaps = self._gaps()
            if not gaps:
                await self._finish(
                    C.ASSEMBLED,
                    f"{self._filed()} items filed from {len(carry.sources)} sources"
                    + (f" ({self._duplicates()} duplicates skipped)" if self._duplicates() else ""),
                )
            now = workflow.now()
            if carry.retry_until is None:
                carry.retry_until = now + policy.retry_for
            if now >= carry.retry_until:
                reason = f"not gathered: {self._describe_gaps()}"
                await self._notify.support(
                    f"Case {self._key} assembled with gaps: {', '.join(gaps)}",
                    key=self._once("gaps"),
                    reason=reason,
                )
                await self._finish(C.WITH_GAPS, reason, attention=True)
            self._record.set_state(
                C.WITH_GAPS,
                f"a retry of {', '.join(gaps)}: automatically every {_span(policy.retry_every)}, "
                "or by a person (retry_source)",
                until=carry.retry_until,
            )
            if history_due(HISTORY_BUDGET) and not carry.asked:
                carry.runs += 1
                await continue_as_new(
                    self._input.model_copy(update={"resume": carry}), record=self._record
                )
            wait = min(policy.retry_every, carry.retry_until - now)
            try:
                await workflow.wait_condition(
                    lambda: bool(carry.asked),
                    timeout=wait,
                    timeout_summary=f"automatic retry of {', '.join(gaps)}",
                )
            except TimeoutError:
                carry.rounds += 1
                self._record.record("retry_round", "system", f"retrying {', '.join(gaps)}")
                carry.asked.extend(g for g in gaps if g not in carry.asked)

    # -------------------------------------------------------------- sources
    def _launch(self, source: str) -> None:
        progress = self._progress(source)
        if progress is None or source in self._running:
            return
        progress.state, progress.reason, progress.finished_at = "gathering", "", None
        progress.attempts += 1
        # Deterministic: the workflow's own event loop runs the task.
        self._running[source] = asyncio.ensure_future(self._gather(source, progress.attempts))

    async def _gather(self, source: str, attempt: int) -> None:
        progress = self._progress(source)
        assert progress is not None
        try:
            result = await self._child(source, attempt, progress)
        finally:
            self._running.pop(source, None)
        for field in ("state", "listed", "filed", "duplicates", "reason", "cursor"):
            setattr(progress, field, getattr(result, field))
        progress.finished_at = workflow.now()
        if progress.state == "done":
            self._failures.pop(source, None)
            self._record.record(
                "source_done",
                "system",
                f"{source}: {progress.filed} filed, {progress.duplicates} duplicates",
            )
        elif self._failures.get(source) != progress.reason:
            # Failing again for the same reason is not news: the retry rounds condense.
            self._failures[source] = progress.reason
            self._record.record("source_failed", "system", f"{source}: {progress.reason}")
        if self._running and self._record.state == C.GATHERING:
            self._show_gathering()  # the others still gather: "sources done" moved on

    async def _child(self, source: str, attempt: int, progress: SourceProgress) -> SourceProgress:
        """The source's child run: its final progress, "failed" with why if it did not end
        normally (a bug or a termination: the source's own give-up is a "failed" result)."""
        plan, workspace = self._plan_, self._carry.workspace
        assert workspace is not None
        spec = next(s for s in plan.sources if s.source == source)
        job = CaseSourceInput(
            source=source,
            case_reference=self._request.case_id,
            workspace_id=workspace.workspace_id,
            folder=spec.folder,
            attachments=list(self._request.attachments)
            if spec.kind is CaseSourceKind.ATTACHMENTS
            else [],
            progress=progress.model_copy(),
            cursor=progress.cursor,
            kind=spec.kind,
            category_id=plan.document_category_id,
            document_attributes=dict(plan.document_attributes),
            rm_classification_id=plan.rm_classification_id,
            give_up=self._input.policy.source_give_up,
            history_budget=self._input.policy.source_history_budget,
        )
        try:
            return await workflow.execute_child_workflow(
                CaseSourceWorkflow.run,
                job,
                id=f"{workflow.info().workflow_id}/{source}/{attempt}",
                static_summary=f"Gather {source} into case {self._key} (attempt {attempt})",
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            )
        except ChildWorkflowError as err:
            return progress.model_copy(
                update={"state": "failed", "reason": f"the source's run failed: {err.cause or err}"}
            )

    def _take_asked(self) -> list[str]:
        asked, self._carry.asked = self._carry.asked, []
        return asked

    def _show_gathering(self) -> None:
        carry = self._carry
        self._record.set_state(
            C.GATHERING,
            f"sources done {self._done()}/{len(carry.sources)}, items filed {self._filed()}; "
            f"gathering {', '.join(sorted(self._running))}",
        )

    # ------------------------------------------------------------------ ends
    async def _finish(self, state: CaseState, reason: str, *, attention: bool = False) -> NoReturn:
        record = self._record
        record.data.outcome_reason = reason
        self._finished = True
        record.record(state.value, "system", reason)
        record.set_state(state, "nothing (finished)", attention=attention)
        raise ProcessEnded(reason)

    async def _temporal_cancel(self) -> None:
        """The Web UI's or a batch's cancellation: sources still gathering are cancelled."""
        for task in list(self._running.values()):
            task.cancel()
        self._record.record("cancel_requested", "temporal", "cancellation requested in Temporal")
        await self._finish(C.CANCELLED, "cancelled in Temporal")

    # -------------------------------------------------------------- handlers
    @workflow.signal(name="source_progress")
    def source_progress(self, update: SourceProgress) -> None:
        """A source's child reports the counts of a page filed (stale attempts ignored)."""
        progress = self._progress(update.source)
        if (
            progress is None
            or progress.state != "gathering"
            or update.attempts != progress.attempts
        ):
            return
        progress.listed, progress.filed, progress.duplicates = (
            update.listed,
            update.filed,
            update.duplicates,
        )
        if self._record.state == C.GATHERING:
            self._show_gathering()

    @workflow.update(name="retry_source")
    def retry_source(self, request: RetrySource) -> UpdateAccepted:
        self._carry.asked.append(request.source)
        self._requests.remember(request)
        self._record.record("retry_requested", request.actor, request.source)
        return UpdateAccepted(state=self._record.state, detail=f"retrying {request.source}")

    @retry_source.validator
    def _validate_retry(self, request: RetrySource) -> None:
        self._requests.check(request)
        if self._finished:
            raise ValueError(f"the case has ended ({self._record.state})")
        if self._carry.workspace is None:
            raise ValueError(f"the case is {self._record.state}: no source is gathered yet")
        progress = self._progress(request.source)
        if progress is None:
            known = ", ".join(p.source for p in self._carry.sources)
            raise ValueError(f"{request.source!r} is not a source of this case ({known})")
        if request.source in self._carry.asked:
            raise ValueError(f"a retry of {request.source} is already under way")
        if progress.state != "failed":
            raise ValueError(f"{request.source} is {progress.state}, not failed: nothing to retry")

    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        carry = self._carry
        return CaseStatus.model_validate(
            {
                **self._record.summary_fields(),
                "case_type": self._request.case_type,
                "case_id": self._request.case_id,
                "workspace": carry.workspace,
                "sources": [p.model_copy() for p in carry.sources],
                "gaps": self._gaps(),
                "items_filed": self._filed(),
                "sources_done": self._done(),
                "retry_until": None if self._finished else carry.retry_until,
                "finished": self._finished,
            }
        )

    # -------------------------------------------------------------- helpers
    @property
    def _plan_(self) -> CasePlan:
        assert self._carry.plan is not None
        return self._carry.plan

    def _once(self, occasion: str) -> str:
        """A notification key unique to this case's run chain (a case started again later
        under the same id is another occasion)."""
        return f"{occasion}:{workflow.info().first_execution_run_id}"

    def _progress(self, source: str) -> SourceProgress | None:
        return next((p for p in self._carry.sources if p.source == source), None)

    def _gaps(self) -> list[str]:
        return [p.source for p in self._carry.sources if p.state == "failed"]

    def _done(self) -> int:
        return sum(p.state == "done" for p in self._carry.sources)

    def _filed(self) -> int:
        return sum(p.filed for p in self._carry.sources)

    def _duplicates(self) -> int:
        return sum(p.duplicates for p in self._carry.sources)

    def _describe_gaps(self) -> str:
        return "; ".join(
            f"{p.source} ({p.reason or 'failed'})"
            for p in self._carry.sources
            if p.state == "failed"
        )

    def _details(self) -> str:
        carry = self._carry
        lines = [f"Sources done {self._done()}/{len(carry.sources)}, items filed {self._filed()}"]
        for p in carry.sources:
            line = f"- `{p.source}`: {p.state}, {p.filed} filed"
            if p.duplicates:
                line += f", {p.duplicates} duplicates skipped"
            if p.reason:
                line += f" — {p.reason}"
            lines.append(line)
        if self._gaps() and not self._finished:
            case_type, case_id = self._request.case_type, self._request.case_id
            lines.append(
                f"Retry now: `docflow case retry {case_type} {case_id} <source>` or "
                f"POST /v1/cases/{case_type}/{case_id}/sources/<source>/retry"
            )
        return "\n".join(lines)


# ====================================================================== one source
@workflow.defn(name="CaseSourceWorkflow", versioning_behavior=behaviour("CaseSourceWorkflow"))
class CaseSourceWorkflow:
    """Gather one source of a case into its workspace folder; the result is its progress
    ("done", or "failed" with the reason and where a retry resumes). A give-up is a result,
    never a FAILED run."""

    @workflow.init
    def __init__(self, job: CaseSourceInput) -> None:
        self._job = job
        progress = job.progress or SourceProgress(source=job.source, attempts=1)
        progress.state, progress.reason = "gathering", ""
        self._progress = progress
        self._page_start = progress.model_copy()
        self._seen = list(job.seen)
        self._seen_set = set(self._seen)
        self._seen_dropped = job.seen_dropped
        self._record = ProcessRecord(
            "case-source",
            f"{job.case_reference}/{job.source}",
            state="gathering",
            indexed_states=(),
            details=self._details,
            read_model=False,  # a step of its case, which the read model shows
        )

    @workflow.run
    async def run(self, job: CaseSourceInput) -> SourceProgress:
        self._record.set_state("gathering", f"{job.source} items of case {job.case_reference}")
        try:
            if self._is_attachments:
                await self._attachments()
            else:
                await self._listed()
        except GaveUp as failure:
            failed = self._page_start.model_copy(
                update={"state": "failed", "reason": f"{failure.operation}: {failure.reason}"}
            )
            self._record.set_state("failed", "nothing (finished)")
            return failed
        progress = self._progress
        progress.state, progress.cursor, progress.finished_at = "done", None, workflow.now()
        self._record.set_state("done", "nothing (finished)")
        return progress

    @property
    def _is_attachments(self) -> bool:
        """The request's own documents (filed as they are), not a source to list."""
        job = self._job
        if job.kind is not None:
            return job.kind is CaseSourceKind.ATTACHMENTS
        return job.source == "attachments"

    async def _listed(self) -> None:
        job, progress = self._job, self._progress
        cursor = job.cursor
        budget = job.history_budget or SOURCE_HISTORY_BUDGET
        while True:
            progress.cursor = cursor
            self._page_start = progress.model_copy()
            next_cursor = await watched_phase(
                functools.partial(self._page, cursor),
                expected=PAGE_EXPECTED,
                summary=f"a page of {job.source} items",
                record=self._record,
            )
            if next_cursor is None:
                return
            cursor = progress.cursor = next_cursor
            self._page_start = progress.model_copy()
            await self._report()
            if history_due(budget):
                await continue_as_new(
                    job.model_copy(
                        update={
                            "progress": progress,
                            "cursor": cursor,
                            "seen": self._seen,
                            "seen_dropped": self._seen_dropped,
                            "runs": job.runs + 1,
                        }
                    )
                )

    async def _page(self, cursor: str | None) -> str | None:
        job = self._job
        page: CaseItemsPage = await call(
            CaseSourceActivities.list_case_items,
            ListCaseItems(source=job.source, case_reference=job.case_reference, cursor=cursor),
            case_sources.LIST,
            summary=f"List {job.source} items of case {job.case_reference}",
            give_up=job.give_up,
        )
        await self._file(page.items)
        return page.next_cursor

    async def _attachments(self) -> None:
        job = self._job
        items = [
            CaseItem(
                source_id=f"{job.source}:{ref.sha256}",
                name=node_name("Attachment", ref.sha256[:12], *_stem_and_suffix(ref.filename)),
                kind="attachment",
                sha256=ref.sha256,
                size=ref.size,
                metadata={
                    "document_type": "attachment",
                    "source_record": job.case_reference,
                    "source_id": f"{job.source}:{ref.sha256}",
                    "filename": ref.filename,
                },
                document=ref,
            )
            for ref in job.attachments
        ]
        await self._file(items)

    async def _file(self, items: list[CaseItem]) -> None:
        """Skip what this source already handed over (same id or same bytes), then fetch
        and file the rest in batches of CASE_BATCH."""
        job, progress = self._job, self._progress
        fresh: list[CaseItem] = []
        for item in items:
            progress.listed += 1
            keys = [f"id:{item.source_id}"]
            if item.sha256:
                keys.append(f"sha:{item.sha256[:SHA_PREFIX]}")
            if any(key in self._seen_set for key in keys):
                progress.duplicates += 1
                continue
            self._remember(keys)
            fresh.append(item)
        for start in range(0, len(fresh), CASE_BATCH):
            batch = fresh[start : start + CASE_BATCH]
            if any(item.document is None for item in batch):
                batch = await call(
                    CaseSourceActivities.fetch_case_items,
                    FetchCaseItems(
                        source=job.source, case_reference=job.case_reference, items=batch
                    ),
                    case_sources.FETCH,
                    summary=f"Fetch {len(batch)} {job.source} items into the document store",
                    give_up=job.give_up,
                )
            filed = await call(
                ContentServerActivities.file_documents,
                FileDocumentsInput(
                    workspace_id=job.workspace_id,
                    items=[self._filing(item) for item in batch],
                    dedupe_sha256=True,
                ),
                content_server.TRANSFER,
                summary=f"File {len(batch)} {job.source} items into '{job.folder}'",
                give_up=job.give_up or FILE_GIVE_UP,
            )
            self._count(batch, filed)

    def _filing(self, item: CaseItem) -> FileDocumentInput:
        job = self._job
        if item.document is None:
            raise GaveUp(job.source, f"fetch {item.source_id}", "no document came back")
        return FileDocumentInput(
            workspace_id=job.workspace_id,
            folder=job.folder,
            name=item.name,
            document=item.document,
            category_id=job.category_id,
            category_values={
                str(attribute): item.metadata[key]
                for key, attribute in job.document_attributes.items()
                if key in item.metadata
            },
            rm_classification_id=job.rm_classification_id,
        )

    def _count(self, batch: list[CaseItem], filed: list[FiledDocument]) -> None:
        if len(filed) != len(batch):
            raise GaveUp(
                "content-server",
                f"file {len(batch)} {self._job.source} items",
                f"Content Server answered {len(filed)} results",
            )
        for item, document in zip(batch, filed, strict=True):
            # The same bytes already filed under another name: a duplicate (dedupe_sha256).
            if document.outcome == "unchanged" and document.name.casefold() != item.name.casefold():
                self._progress.duplicates += 1
            else:
                self._progress.filed += 1

    def _remember(self, keys: list[str]) -> None:
        for key in keys:
            self._seen.append(key)
            self._seen_set.add(key)
        overflow = len(self._seen) - MAX_SEEN
        if overflow > 0:
            for key in self._seen[:overflow]:
                self._seen_set.discard(key)
            del self._seen[:overflow]
            self._seen_dropped += overflow

    async def _report(self) -> None:
        """Tell the case the counts of the pages filed so far (once per page)."""
        parent = workflow.info().parent
        if parent is None:
            return
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                CaseAssemblyWorkflow.source_progress, self._progress.model_copy()
            )
        except Exception:  # the case is gone (terminated): nothing left to tell
            workflow.logger.info("case of %s is gone; progress not reported", self._job.source)

    def _details(self) -> str:
        p, job = self._progress, self._job
        return (
            f"Case {job.case_reference}, source `{job.source}` → folder '{job.folder}' "
            f"(attempt {p.attempts}, run {job.runs}): listed {p.listed}, filed {p.filed}, "
            f"duplicates {p.duplicates}"
        )

    @workflow.query(name="status")
    def status(self) -> SourceProgress:
        return self._progress.model_copy()


def _stem_and_suffix(filename: str) -> tuple[str, str]:
    stem, dot, suffix = filename.rpartition(".")
    if not dot or not stem or len(suffix) > 10:
        return filename, ""
    return stem, f".{suffix}"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
