"""The whole embedded stack: an invoice approved in Content Server → its event through the ECM
receiver and the document's event workflow → the lifecycle rule starts invoice processing in
the ERP simulator → the ERP's signed result event → "Completed" with the ERP document number
in the document's status category."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from devstack.embedded import EmbeddedStack
from tests.ecm_actions.conftest import STATUS_CATEGORY, a_document, unique
from tests.stacks import fast_polling_stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    async with fast_polling_stack(tmp_path_factory.mktemp("docflow-ecm-actions")) as running:
        yield running


async def test_an_invoice_approved_in_ecm_is_processed_in_erp_and_its_status_written_back(
    stack: EmbeddedStack,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        base = stack.settings.content_server.base_url
        otcs = ContentServerClient(
            http, base, OtcsTicketAuth(http, base, "docflow", "dev-otcs-password")
        )
        node = await a_document(otcs, f"{unique('INV')}.pdf")
        approved = await http.post(
            f"{stack.content_server_url}/_control/nodes/{node.id}/approve", json={}
        )
        approved.raise_for_status()
        status: dict[str, Any] = {}
        for _ in range(300):
            status = (await otcs.get_categories(node.id)).get(STATUS_CATEGORY, {})
            if status.get("9400_1") in ("Completed", "Failed"):
                break
            await asyncio.sleep(0.1)
        erp = (await http.get(f"{stack.erp_url}/_control/processes")).json()
    assert status.get("9400_1") == "Completed", status
    assert status["9400_2"].startswith("erp_document_no 51000")
    [process] = [p for p in erp["results"] if p["document"]["node_id"] == node.id]
    assert process["process"] == "invoice_processing" and process["status"] == "completed"
    assert process["reference"].startswith("ecm-action:invoice-final-approval:")
