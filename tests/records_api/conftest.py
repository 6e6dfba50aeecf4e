"""Records API harness: the app over a RecordStore on SQLite in tmp_path, seeded through
`store.apply(ProcessChange(...))`; no Temporal (the records routes never need it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.models.records import (
    DECISION_KIND,
    HOLD_APPLIED_KIND,
    AccessEvent,
    AuditRow,
    ProcessChange,
    RecordFacts,
)
from docflow.records.store import RecordStore
from starter.api import create_app
from tests.api.conftest import make_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEYS = {
    "crm": ("app:crm", ["records:read"], ["SFDC"]),
    "erp": ("app:erp", ["records:read"], ["SAP"]),
    "auditor": ("auditor@example.com", ["records:read"], ["*"]),
    "alice": ("alice@example.com", ["records:read"], []),
    "ops": ("ops@example.com", ["processes:read", "processes:correct"], ["*"]),
}
SFDC_PROCESSES = 23
DOCUMENT = 5001  # SFDC's contract, also touched by one SAP process
WORKSPACE = 9001
HOLD = "litigation-2026-7"
SAP_DOCUMENT = 7001  # in the same workspace, with a hold of its own
SAP_HOLD = "tax-audit-2026"


def auth(name: str) -> dict[str, str]:
    return {"X-API-Key": f"records-{name}-key"}


def sfdc_key(n: int) -> str:
    return f"p-sfdc-{n:02d}"


def change(
    key: str,
    n: int,
    *,
    source: str = "SFDC",
    process_type: str = "signing",
    state: str = "awaiting_approval",
    closed: bool = False,
    node: int | None = None,
    workspace: int | None = None,
    bo: tuple[str, str] = ("", ""),
    retention_class: int | None = None,
    name: str = "",
    audit: list[AuditRow] | None = None,
) -> ProcessChange:
    started = NOW - timedelta(days=40 - n)
    return ProcessChange(
        process_key=key,
        workflow_id=f"{process_type}-{key}",
        run_id=key,
        process_type=process_type,
        business_key=f"BK-{key}",
        version=1,
        at=started + timedelta(hours=n),
        started_at=started,
        state=state,
        closed=closed,
        since=started,
        facts=RecordFacts(
            source_system=source,
            document_node_id=node,
            document_name=name,
            workspace_id=workspace,
            business_object_type=bo[0],
            business_object_id=bo[1],
            retention_class=retention_class,
        ),
        audit=audit or [AuditRow(seq=0, at=started, kind="started", actor="app")],
    )


def decision(seq: int, at: datetime, actor: str, verdict: str) -> AuditRow:
    data = {"decision": verdict, "comment": f"{verdict} by {actor}", "stage": "legal"}
    return AuditRow(seq=seq, at=at, kind=DECISION_KIND, actor=actor, data=data)


def seed(store: RecordStore) -> None:
    for n in range(SFDC_PROCESSES):
        store.apply(
            change(
                sfdc_key(n),
                n,
                state="completed" if n % 3 == 0 else "awaiting_approval",
                closed=n % 3 == 0,
                process_type="signing" if n % 2 == 0 else "review",
                workspace=WORKSPACE if n < 5 else None,
                node=DOCUMENT + n if n else None,
                name="=HYPERLINK(1)" if n == 7 else f"contract {n}.pdf",
            )
        )
    started = NOW - timedelta(days=10)
    store.apply(
        change(
            "p-sfdc-doc",
            30,
            node=DOCUMENT,
            workspace=WORKSPACE,
            bo=("Account", "0015X01"),
            retention_class=42,
            state="archived",
            closed=True,
            audit=[
                AuditRow(seq=0, at=started, kind="started", actor="app:crm"),
                decision(1, started + timedelta(hours=1), "alice@example.com", "approve"),
                AuditRow(
                    seq=2,
                    at=started + timedelta(hours=2),
                    kind=HOLD_APPLIED_KIND,
                    actor="legal@example.com",
                    data={"hold": HOLD},
                ),
            ],
        )
    )
    for n in range(3):
        store.apply(
            change(
                f"p-sap-{n}",
                31 + n,
                source="SAP",
                process_type="invoice",
                node={0: DOCUMENT, 1: SAP_DOCUMENT}.get(n),
                workspace=WORKSPACE,
                bo=("Account", "0015X01"),
                audit=[
                    AuditRow(seq=0, at=started, kind="started", actor="app:erp"),
                    decision(1, started + timedelta(hours=3), "bob@example.com", "reject"),
                    *(
                        [
                            AuditRow(
                                seq=2,
                                at=started + timedelta(hours=4),
                                kind=HOLD_APPLIED_KIND,
                                actor="tax@example.com",
                                data={"hold": SAP_HOLD},
                            )
                        ]
                        if n == 1
                        else []
                    ),
                ],
            )
        )
    for n, party in enumerate(["partner:acme", "partner:acme", "partner:globex"]):
        store.record_access(
            AccessEvent(
                at=NOW + timedelta(minutes=n),
                party=party,
                action="download",
                object_id=str(DOCUMENT),
                version=1,
            )
        )


async def temporal_not_needed() -> Client:
    raise AssertionError("the records routes must not need Temporal")


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordStore]:
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    store.migrate()
    seed(store)
    yield store
    store.close()


@pytest.fixture
def app(tmp_path: Path, records: RecordStore) -> FastAPI:
    keys = [
        {"name": name, "key": f"value:{auth(name)['X-API-Key']}", "subject": subject}
        | {"scopes": scopes, "source_systems": systems}
        for name, (subject, scopes, systems) in KEYS.items()
    ]
    settings = make_settings(tmp_path, "records-api", api={"api_keys": keys})
    app = create_app(settings, temporal_not_needed, LocalDocumentStore(tmp_path / "documents"))
    app.state.records_store = records
    return app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as client:
        yield client
