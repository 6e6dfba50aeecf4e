"""The API with a RecordStore on SQLite, the Content Server and Amplience simulators in process
(httpx routes their addresses to the ASGI apps) and partner uploads filed by the real Filer.

Seeded: ECM document "spec" (workspace 30001, type specification) with versions 1-3 in
Content Server, 1 and 2 approved (1 superseded by 2), 3 not approved; an audit-only
document in folder 30020; a document outside every entitlement; an Amplience item with
versions approved 1 and 2 (schema product-sheet).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from activities.amplience.client import AmplienceClient
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.filing import Filer
from activities.content_server.provisioning import Provisioner
from docflow.docstore import LocalDocumentStore
from docflow.models.records import (
    AccessEvent,
    ApprovedVersion,
    ProcessChange,
    RecordFacts,
)
from docflow.models.workspaces import FiledDocument, FileDocumentInput
from docflow.records.store import RecordStore
from docflow.settings import ApiKeyConfig, Settings
from simulators import content_server
from simulators.amplience.api import create_app as amplience_app
from starter.api import create_app
from starter.api.routes.portal import ContentReader, canonical_json

CS_ORIGIN = "http://127.0.0.1:8102"
AMP_ORIGIN = "http://127.0.0.1:8107"
SCHEMA = "https://schema.example.com/product-sheet.json"
PORTAL = {"X-API-Key": "dev-portal-key"}
NO_SCOPE = {"X-API-Key": "test-crm-key"}
ACME = {"X-API-Key": "dev-party-acme-supplies-key"}
AUDITOR = {"X-API-Key": "dev-party-kpmg-audit-key"}
NOBODY = {"X-API-Key": "dev-party-nobody-key"}  # scope partner, but no party names it
PDF_V1 = b"%PDF-1.4\n" + b"version one of the specification " * 40
PDF_V2 = b"%PDF-1.4\n" + b"version two, approved and current " * 40
PDF_V3 = b"%PDF-1.4\n" + b"version three, still in review " * 40
_seq = itertools.count(1)


class DirectInbox:
    """Files with the same Filer the `file_document` activity runs (no Temporal here)."""

    def __init__(self, filer: Filer) -> None:
        self.filer = filer
        self.filed: dict[str, FiledDocument] = {}
        self.items: list[FileDocumentInput] = []

    async def file(
        self, key: str, item: FileDocumentInput, wait: timedelta
    ) -> FiledDocument | None:
        if key not in self.filed:
            self.items.append(item)
            self.filed[key] = await self.filer.file(item)
        return self.filed[key]

    async def result(self, key: str, wait: timedelta) -> FiledDocument | None:
        return self.filed.get(key)


@dataclass
class Stack:
    api: httpx.AsyncClient
    app: FastAPI
    records: RecordStore
    cs: ContentServerClient
    cs_app: FastAPI
    inbox: DirectInbox
    spec: int
    audit_doc: int
    foreign: int
    item_id: str
    item_bytes: dict[int, bytes]

    def events(self, **filters: Any) -> list[AccessEvent]:
        return self.records.access_log(limit=500, **filters).items

    def approve(self, version: ApprovedVersion) -> None:
        n = next(_seq)
        now = datetime.now(UTC)
        self.records.apply(
            ProcessChange(
                process_key=f"p-{version.source}-{version.object_id}-{version.version}-{n}",
                workflow_id=f"wf-{n}",
                run_id=f"run-{n}",
                process_type="ecm_review",
                business_key=f"BK-{n}",
                version=1,
                at=now,
                started_at=now,
                state="approved",
                closed=True,
                facts=RecordFacts(approved=[version]),
            )
        )


def approved(
    object_id: int | str,
    version: int,
    *,
    sha: str = "",
    source: str = "ecm",
    workspace_id: int | None = 30001,
    folder_id: int | None = None,
    document_type: str = "specification",
    name: str = "spec.pdf",
    minutes_ago: int = 0,
) -> ApprovedVersion:
    return ApprovedVersion.model_validate(
        {
            "source": source,
            "object_id": str(object_id),
            "version": version,
            "name": name,
            "mime_type": "application/pdf" if source == "ecm" else "application/json",
            "sha256": sha,
            "approved_at": datetime.now(UTC) - timedelta(minutes=minutes_ago),
            "approved_by": "alice@example.com",
            "workspace_id": workspace_id,
            "folder_id": folder_id,
            "document_type": document_type,
        }
    )


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        profile="local",
        data_dir=tmp_path,
        documents={"root": tmp_path / "documents"},
        api={
            "public_url": "http://docflow.test",
            "api_keys": [
                ApiKeyConfig(
                    name="portal",
                    key="value:dev-portal-key",
                    subject="app:portal",
                    scopes=["processes:read", "content:read"],
                ),
                *(
                    ApiKeyConfig(
                        name=party,
                        key=f"value:dev-party-{party}-key",
                        subject=f"party:{party}",
                        scopes=["partner"],
                    )
                    for party in ("acme-supplies", "kpmg-audit", "nobody")
                ),
                ApiKeyConfig(
                    name="crm",
                    key="value:test-crm-key",
                    subject="app:crm",
                    scopes=["processes:read"],
                    source_systems=["SFDC"],
                ),
            ],
        },
    )


async def no_temporal() -> Any:
    raise RuntimeError("no Temporal in the partner tests")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = settings_for(tmp_path)
    cs_app = content_server.create_app()
    amp = amplience_app()
    http = httpx.AsyncClient(
        mounts={
            f"{CS_ORIGIN}/": httpx.ASGITransport(app=cs_app),
            f"{AMP_ORIGIN}/": httpx.ASGITransport(app=amp),
        },
        timeout=10,
    )
    otcs = settings.content_server
    cs = ContentServerClient(
        http, otcs.base_url, OtcsTicketAuth(http, otcs.base_url, otcs.username, "dev-otcs-password")
    )
    # ECM: "spec" with three versions (the third awaits approval), two other documents.
    node = await cs.upload_document(parent_id=2001, name="spec.pdf", content=PDF_V1)
    await cs.add_version(node.id, filename="spec.pdf", content=PDF_V2)
    await cs.add_version(node.id, filename="spec.pdf", content=PDF_V3)
    audit_doc = await cs.upload_document(parent_id=2002, name="ledger.pdf", content=PDF_V1)
    foreign = await cs.upload_document(parent_id=2003, name="secret.pdf", content=PDF_V2)
    # Amplience: an item with two versions.
    seeded = await http.post(
        f"{AMP_ORIGIN}/_control/items",
        json={"label": "Sheet", "body": {"_meta": {"schema": SCHEMA}, "title": "v1"}},
    )
    seeded.raise_for_status()
    item_id = seeded.json()["id"]
    edited = await http.post(
        f"{AMP_ORIGIN}/_control/items/{item_id}/edit",
        json={"body": {"_meta": {"schema": SCHEMA}, "title": "v2"}},
    )
    edited.raise_for_status()
    amplience = AmplienceClient.from_settings(settings, http)
    item_bytes = {v: canonical_json((await amplience.get_version(item_id, v)).body) for v in (1, 2)}

    records = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    records.migrate()
    docstore = LocalDocumentStore(settings.documents.root)
    app = create_app(settings, no_temporal, docstore)
    app.state.records_store = records
    app.state.content_reader = ContentReader(settings, http)
    inbox = DirectInbox(Filer(cs, docstore, Provisioner(cs), lambda n: f"{CS_ORIGIN}/app/{n}"))
    app.state.partner_inbox = inbox
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://docflow.test")
    built = Stack(
        api=api,
        app=app,
        records=records,
        cs=cs,
        cs_app=cs_app,
        inbox=inbox,
        spec=node.id,
        audit_doc=audit_doc.id,
        foreign=foreign.id,
        item_id=item_id,
        item_bytes=item_bytes,
    )
    # Approvals: spec v1 (known hash) then v2 (hash to learn); v3 never approved.
    built.approve(approved(node.id, 1, sha=sha(PDF_V1), minutes_ago=60))
    built.approve(approved(node.id, 2, minutes_ago=30))
    built.approve(
        approved(
            audit_doc.id,
            1,
            workspace_id=30002,
            folder_id=30020,
            document_type="ledger",
            name="ledger.pdf",
        )
    )
    built.approve(approved(foreign.id, 1, workspace_id=39999, name="secret.pdf"))
    for v in (1, 2):
        built.approve(approved(item_id, v, source="amplience", document_type=SCHEMA, name="sheet"))
    try:
        yield built
    finally:
        await api.aclose()
        await http.aclose()
        records.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
