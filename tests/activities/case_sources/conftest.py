"""Fixtures of the case-source tests: the mail-archive and forms-portal simulators, a stand-in
of the ERP's contract, and a copy of the suite's bundle whose `case-sources.json` points at
them (as an environment's bundle would)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, Query, Response
from fastapi.responses import JSONResponse

from activities.case_sources import CaseSourceActivities
from docflow.docstore import LocalDocumentStore
from docflow.settings import Settings
from simulators import forms_portal, mail_archive
from simulators.kit.pdf import make_pdf
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim
from tests.conftest import TEST_CONFIG_DIR

ERP_KEY = "dev-erp-key"


# ------------------------------------------------------------------ ERP stand-in
class ErpStandIn:
    """The ERP's contract, as the other team documents it: transactions by case reference
    (cursor paging, bearer key) and each transaction's statement PDF."""

    def __init__(self) -> None:
        self.transactions: dict[str, list[dict[str, Any]]] = {}
        self.documents: dict[str, bytes] = {}
        self.lie_about: set[str] = set()  # listed with a SHA-256 their bytes do not have

    def seed(self, case_reference: str, count: int) -> None:
        rows = []
        for n in range(1, count + 1):
            pdf = make_pdf(f"Invoice INV-{n}", [f"Case {case_reference}", f"Amount {n * 10}.00"])
            own = f"TX/{n}"  # an id that needs quoting in a URL path
            self.documents[own] = pdf
            rows.append(
                {
                    "id": own,
                    "posted_at": f"2026-10-{n % 28 + 1:02d}T08:00:00Z",
                    "document_no": f"INV:{n}",
                    "amount": n * 10.0,
                    "currency": "EUR",
                    "description": f"Invoice {n}",
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                    "size": len(pdf),
                }
            )
        self.transactions[case_reference] = rows

    def app(self) -> FastAPI:
        app = FastAPI()

        def authorized(authorization: str | None) -> bool:
            return authorization == f"Bearer {ERP_KEY}"

        @app.get("/api/transactions", response_model=None)
        async def transactions(
            case_reference: str,
            cursor: str | None = None,
            limit: int = Query(default=50, ge=1),
            authorization: str | None = Header(default=None),
        ) -> dict[str, Any] | JSONResponse:
            if not authorized(authorization):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            rows = self.transactions.get(case_reference, [])
            start = int(cursor or 0)
            chunk = [
                {**row, "sha256": "0" * 64} if row["id"] in self.lie_about else row
                for row in rows[start : start + min(limit, 100)]
            ]
            end = start + len(chunk)
            return {"items": chunk, "next_cursor": str(end) if end < len(rows) else None}

        @app.get("/api/transactions/{transaction_id:path}/document", response_model=None)
        async def document(
            transaction_id: str, authorization: str | None = Header(default=None)
        ) -> Response:
            if not authorized(authorization):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if transaction_id not in self.documents:
                return JSONResponse({"error": "no such transaction"}, status_code=404)
            return Response(self.documents[transaction_id], media_type="application/pdf")

        return app


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
async def _mail_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(mail_archive.create_app(), name="mail-archive-sim") as served:
        yield served


@pytest.fixture(scope="module")
async def _forms_served() -> AsyncIterator[ServedApp]:
    async with ServedApp(forms_portal.create_app(), name="forms-portal-sim") as served:
        yield served


@pytest.fixture(scope="module")
async def _erp_served() -> AsyncIterator[tuple[ServedApp, ErpStandIn]]:
    erp = ErpStandIn()
    async with ServedApp(erp.app(), name="erp-stand-in") as served:
        yield served, erp


@pytest.fixture
async def mail_sim(_mail_served: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_mail_served, http)
    await sim.control("POST", "/reset")
    yield sim


@pytest.fixture
async def forms_sim(_forms_served: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_forms_served, http)
    await sim.control("POST", "/reset")
    yield sim


@pytest.fixture
def erp(_erp_served: tuple[ServedApp, ErpStandIn]) -> ErpStandIn:
    stand_in = _erp_served[1]
    stand_in.transactions.clear()
    stand_in.documents.clear()
    stand_in.lie_about.clear()
    return stand_in


def bundle_copy(tmp_path: Path, endpoints: dict[str, str], **changes: Any) -> Path:
    """The suite's bundle with case-sources.json pointed at `endpoints` (and `changes` per
    source); returns the configuration directory."""
    config_dir = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR / "local", config_dir / "local")
    path = config_dir / "local" / "case-sources.json"
    data = json.loads(path.read_text())
    for source, url in endpoints.items():
        data["sources"][source]["endpoint"] = url
    for source, fields in changes.items():
        data["sources"][source].update(fields)
    path.write_text(json.dumps(data))
    return config_dir


@pytest.fixture
def config_dir(
    tmp_path: Path,
    _mail_served: ServedApp,
    _forms_served: ServedApp,
    _erp_served: tuple[ServedApp, ErpStandIn],
) -> Path:
    return bundle_copy(
        tmp_path,
        {
            "mail_archive": _mail_served.base_url,
            "forms_portal": _forms_served.base_url,
            "erp_history": _erp_served[0].base_url,
        },
    )


def activities_for(
    config_dir: Path, http: httpx.AsyncClient, store: LocalDocumentStore
) -> CaseSourceActivities:
    settings = Settings(profile="local", config_dir=config_dir)
    return CaseSourceActivities.from_settings(settings, http, store)


@pytest.fixture
def cases(
    config_dir: Path, http: httpx.AsyncClient, store: LocalDocumentStore
) -> CaseSourceActivities:
    return activities_for(config_dir, http, store)
