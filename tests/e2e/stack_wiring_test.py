"""The embedded stack wires the business systems: SAP's reports to the ERP simulator, the CRM's
and ERP's events to the API's receiver, the ERP's history as the erp_history case source; and
content distribution: docflow to the Amplience simulator and its webhooks to the API's
receiver, every distribution target to its endpoint on the webhook target simulator."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from temporalio.testing import ActivityEnvironment

from activities.http.webhooks import WebhookSender
from activities.targets import TargetActivities
from devstack.embedded import EmbeddedStack, StackPorts
from docflow.config.distribution import ContentDistribution
from docflow.config.ecm_events import EcmEvents
from docflow.config.source_systems import SourceSystems
from docflow.models.content import TargetMessage


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

        # docflow talks to the Amplience simulator with the hub's credentials.
        assert stack.amplience_url == f"http://127.0.0.1:{stack.ports.amplience}"
        hub = settings.amplience
        assert (hub.api_url, hub.delivery_url) == (
            f"{stack.amplience_url}/v2/content",
            stack.amplience_url,
        )
        token = await http.post(
            hub.auth_url,
            data={
                "grant_type": "client_credentials",
                "client_id": hub.client_id,
                "client_secret": settings.secret(hub.client_secret or ""),
            },
        )
        assert token.status_code == 200 and token.json()["access_token"]
        states = await http.get(
            f"{hub.api_url}/hubs/{hub.hub_id}/workflow-states",
            headers={"Authorization": f"bearer {token.json()['access_token']}"},
        )
        assert states.status_code == 200
        # Its webhooks go to the API's receiver, signed with the secret docflow verifies.
        webhook = (await http.get(f"{stack.amplience_url}/_control/webhook")).json()
        assert webhook == {
            "url": f"{stack.api_url}/webhooks/amplience",
            "secret": settings.secret(hub.webhook_secret or ""),
        }

        # Every target and channel has its endpoint on the webhook target simulator.
        distribution = ContentDistribution.load(settings.bundle_dir / "content-distribution.json")
        assert stack.ports.webhook_target not in (0, stack.ports.amplience)
        assert settings.distribution.endpoints == {
            name: f"{stack.webhook_target_url}/{target.endpoint.rsplit('/', 1)[-1]}"
            for name, target in distribution.targets.items()
        }
        served = (await http.get(f"{stack.webhook_target_url}/_control/endpoints")).json()
        # ... and so has every ECM event subscriber, and Content Server's events reach the
        # API's ECM receiver signed with the bundle's secret.
        ecm = EcmEvents.load(settings.bundle_dir / "ecm-events.json")
        assert served["count"] == len(distribution.targets) + len(ecm.subscriptions)
        assert settings.ecm_events.endpoints == {
            name: f"{stack.webhook_target_url}/{sub.endpoint.rsplit('/', 1)[-1]}"
            for name, sub in ecm.subscriptions.items()
        }
        events = (await http.get(f"{stack.content_server_url}/_control/webhooks/url")).json()
        assert events["events_url"] == f"{stack.api_url}/webhooks/ecm"

        # A delivery signed as docflow signs the ERP catalogue's verifies there.
        message = TargetMessage(
            target="ERP_CATALOGUE",
            kind="target",
            event_type="content.approved",
            idempotency_key="item-1:1:ERP_CATALOGUE",
            business_key="item-1",
            payload={"material": "M-1", "name": "Boots", "price": 10},
            payload_sha256="0" * 64,
        )
        receipt = await ActivityEnvironment().run(TargetActivities(http, settings).deliver, message)
        assert receipt.status_code == 200
        received = await http.get(
            f"{stack.webhook_target_url}/_control/deliveries", params={"endpoint": "erp-catalogue"}
        )
        assert received.json()["count"] == 1 and received.json()["rejected"] == 0
