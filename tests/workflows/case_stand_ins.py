"""Stand-ins for what case assembly calls, under the activities' real names: planning with the
suite's real configuration, sources held in memory (failing on demand), and a Content Server
that files like the real one (one node per name per folder; the same bytes under another
name answered "unchanged" when `dedupe_sha256` is set)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from docflow.config.bundle import Bundle
from docflow.config.cases import plan_case
from docflow.config.workspaces import CaseSources, WorkspaceMappings, plan_workspace
from docflow.models import DocumentRef, Notification
from docflow.models.workspaces import (
    CaseItem,
    CaseItemsPage,
    CasePlan,
    CaseRequest,
    FetchCaseItems,
    FiledDocument,
    FileDocumentsInput,
    ListCaseItems,
    PlanRequest,
    PlanResult,
    ProvisionedWorkspace,
    WorkspacePlan,
)
from tests.read_model_fake import record_process_change

PAGE = 100


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def item(source: str, own_id: str, kind: str, *, content: str | None = None) -> CaseItem:
    return CaseItem(
        source_id=f"{source}:{own_id}",
        name=f"{kind.title()} {own_id}.pdf",
        kind=kind,
        sha256=sha(content or own_id),
        size=100,
        metadata={"document_type": kind, "source_id": f"{source}:{own_id}"},
    )


def mail(messages: int, attachments: int = 1, *, duplicate: bool = False) -> list[CaseItem]:
    """Messages, each followed by its attachments; with `duplicate`, one more message whose
    attachment has the first attachment's very bytes (another id)."""
    items: list[CaseItem] = []
    for n in range(1, messages + 1):
        items.append(item("mail_archive", f"M{n}", "e-mail"))
        items += [
            item("mail_archive", f"A{n}-{i}", "attachment") for i in range(1, attachments + 1)
        ]
    if duplicate:
        items.append(item("mail_archive", "M-fwd", "e-mail"))
        items.append(item("mail_archive", "A-fwd", "attachment", content="A1-1"))
    return items


def forms(count: int) -> list[CaseItem]:
    return [item("forms_portal", f"F{n}", "form") for n in range(1, count + 1)]


def transactions(count: int) -> list[CaseItem]:
    return [item("erp_history", f"T{n}", "transactions") for n in range(1, count + 1)]


def stored(name: str) -> DocumentRef:
    digest = sha(name)
    return DocumentRef(key=f"sha256/{digest[:2]}/{digest}", sha256=digest, size=10, filename=name)


@dataclass
class Filed:
    node_id: int
    name: str
    sha256: str
    category_values: dict[str, str]


@dataclass
class FakeCaseSystems:
    """What each source holds and how it fails; a Content Server that dedupes like the real."""

    bundle: Bundle
    holdings: dict[str, list[CaseItem]] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)  # answer with a non-retryable refusal
    fail_after_pages: dict[str, int] = field(default_factory=dict)  # then down until cleared
    slow: set[str] = field(default_factory=set)  # listing waits until `released` is set
    released: asyncio.Event = field(default_factory=asyncio.Event)
    lists: list[ListCaseItems] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    folders: dict[str, dict[str, Filed]] = field(default_factory=dict)  # folder → name → node
    file_calls: int = 0
    notifications: list[Notification] = field(default_factory=list)
    provisioned: list[WorkspacePlan] = field(default_factory=list)

    @activity.defn(name="plan_case")
    async def plan_case(self, request: CaseRequest) -> CasePlan:
        return plan_case(
            self.bundle.get(WorkspaceMappings),
            self.bundle.get(CaseSources),
            request,
            config_version=self.bundle.version,
        )

    @activity.defn(name="plan_workspace")
    async def plan_workspace(self, request: PlanRequest) -> PlanResult:
        return plan_workspace(self.bundle.get(WorkspaceMappings), request)

    @activity.defn(name="provision_workspace")
    async def provision(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        self.provisioned.append(plan)
        return ProvisionedWorkspace(
            workspace_id=7001, how="created", name=plan.name, link="http://otcs.test/7001"
        )

    @activity.defn(name="list_case_items")
    async def list_items(self, request: ListCaseItems) -> CaseItemsPage:
        self.lists.append(request)
        source = request.source
        if source in self.slow:
            while not self.released.is_set():
                activity.heartbeat()
                await asyncio.sleep(0.05)
        if source in self.down:
            raise ApplicationError(
                f"{source} answered 503", type="RetryableServiceError", non_retryable=True
            )
        pages = self.fail_after_pages.get(source)
        if pages is not None:
            if pages <= 0:
                raise ApplicationError(f"{source} went away", non_retryable=True)
            self.fail_after_pages[source] = pages - 1
        offset = int(request.cursor or 0)
        items = self.holdings.get(source, [])
        chunk = items[offset : offset + PAGE]
        end = offset + len(chunk)
        return CaseItemsPage(items=chunk, next_cursor=str(end) if end < len(items) else None)

    @activity.defn(name="fetch_case_items")
    async def fetch(self, batch: FetchCaseItems) -> list[CaseItem]:
        if batch.source in self.down:
            raise ApplicationError(f"{batch.source} answered 503", non_retryable=True)
        out = []
        for case_item in batch.items:
            self.fetched.append(case_item.source_id)
            digest = case_item.sha256 or sha(case_item.source_id)
            ref = DocumentRef(
                key=f"sha256/{digest[:2]}/{digest}",
                sha256=digest,
                size=case_item.size,
                filename=case_item.name,
            )
            out.append(case_item.model_copy(update={"document": ref}))
        return out

    @activity.defn(name="file_documents")
    async def file_documents(self, batch: FileDocumentsInput) -> list[FiledDocument]:
        self.file_calls += 1
        results = []
        for one in batch.items:
            folder = self.folders.setdefault(one.folder or "", {})
            digest = one.document.sha256
            same_name = folder.get(one.name.casefold())
            same_bytes = next((f for f in folder.values() if f.sha256 == digest), None)
            if same_name is not None:
                node, outcome = (
                    same_name,
                    "unchanged" if same_name.sha256 == digest else "new_version",
                )
            elif batch.dedupe_sha256 and same_bytes is not None:
                node, outcome = same_bytes, "unchanged"
            else:
                node = Filed(
                    node_id=10_000 + sum(len(f) for f in self.folders.values()),
                    name=one.name,
                    sha256=digest,
                    category_values=dict(one.category_values),
                )
                folder[one.name.casefold()] = node
                outcome = "created"
            results.append(
                FiledDocument(
                    node_id=node.node_id,
                    version=1,
                    name=node.name,
                    folder_id=1,
                    link=f"http://otcs.test/{node.node_id}",
                    sha256=node.sha256,
                    outcome=outcome,
                )
            )
        return results

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notifications.append(notification)

    def filed(self, folder: str) -> list[Filed]:
        return list(self.folders.get(folder, {}).values())

    def activities(self) -> list[Callable[..., object]]:
        return [
            record_process_change,
            self.plan_case,
            self.plan_workspace,
            self.provision,
            self.list_items,
            self.fetch,
            self.file_documents,
            self.notify,
        ]
