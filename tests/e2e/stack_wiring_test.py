"""The embedded stack wires the business systems: SAP's reports to the ERP simulator, the CRM's
and ERP's events to the API's receiver, the ERP's history as the erp_history case source."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from activities.http.webhooks import WebhookSender
from devstack.embedded import EmbeddedStack, StackPorts
from docflow.config.source_systems import SourceSystems


async def test_business_systems_are_wired_to_the_stack(tmp_path: Path) -> None:
    async with (
        EmbeddedStack(ports=StackPorts.any_free(), data_dir=tmp_path, worker="none") as stack,
        httpx.AsyncClient(timeout=10) as http,
    ):
        settings = stack.settings
        assert stack.erp_url == f"http://127.0.0.1:{stack.ports.erp}"
        assert stack.ports.erp not in (0, stack.ports.crm)
        endpoints = settings.source_systems.endpoints
        assert endpoints["SAP"] == f"{stack.erp_url}/webhooks/docflow"
        assert endpoints["SFDC"] == endpoints["WORKDAY"] == f"{stack.crm_url}/webhooks/docflow"
        assert settings.case_sources.endpoints == {
            "erp_history": stack.erp_url,
            "mail_archive": stack.mail_archive_url,
            "forms_portal": stack.forms_portal_url,
        }

        for url, system in ((stack.crm_url, "SFDC"), (stack.erp_url, "SAP")):
            objects = (await http.get(f"{url}/_control/objects")).json()
            assert objects["ext_system_id"] == system
            assert objects["events_url"] == f"{stack.api_url}/webhooks/business-objects/{system}"

        # A report signed as docflow signs SAP's reports is the ERP's, and verifies there.
        registry = SourceSystems.load(settings.bundle_dir / "source-systems.json")
        sender = WebhookSender(http, settings.secret(registry.systems["SAP"].webhook_secret))
        report = {
            "business_key": "SAP-Q-1",
            "source": {"system": "SAP", "record_type": "Customer", "record_id": "1000000001"},
            "outcome": "completed",
            "occurred_at": "2026-12-01T10:00:00+00:00",
        }
        answer = await sender.send(endpoints["SAP"], "SAP-Q-1:completed", json.dumps(report))
        assert answer.json()["status"] == "accepted"
        received = (await http.get(f"{stack.erp_url}/_control/reports")).json()
        assert received["count"] == 1 and received["rejected"] == 0

        # The ERP's history answers with the case source's dev key.
        seeded = await http.post(
            f"{stack.erp_url}/_control/transactions",
            json={"case_reference": "CLM-1", "count": 2},
        )
        assert seeded.json()["count"] == 2
        listing = await http.get(
            f"{settings.case_sources.endpoints['erp_history']}/api/transactions",
            params={"case_reference": "CLM-1"},
            headers={"Authorization": "Bearer dev-erp-key"},
        )
        assert len(listing.json()["items"]) == 2
