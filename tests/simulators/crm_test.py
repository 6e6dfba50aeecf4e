"""CRM simulator: verified, deduplicated status reports; records; faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.simulators.conftest import Served, signed

CRM_SECRET = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
NOTIFICATIONS_SECRET = "whsec_ZGV2LW5vdGlmaWNhdGlvbnMtc2VjcmV0LTEy"


def report(outcome: str, occurred_at: datetime) -> dict[str, Any]:
    return {
        "idempotency_key": f"SFDC-Q-1:{outcome}",
        "business_key": "SFDC-Q-1",
        "source": {"system": "SFDC", "record_type": "Opportunity", "record_id": "006ABC"},
        "outcome": outcome,
        "reason": "",
        "occurred_at": occurred_at.isoformat(),
        "document_version": 1,
    }


async def post(
    client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(path, content=body, headers=headers)


async def test_reports_are_verified_stored_and_deduplicated(crm_sim: Served) -> None:
    client = crm_sim.client
    now = datetime.now(UTC)
    body, headers = signed(report("completed", now), CRM_SECRET)
    first = await post(client, "/webhooks/docflow", body, headers)
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    again = await post(client, "/webhooks/docflow", body, headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"

    forged = dict(headers, **{"webhook-id": "msg_other"})
    assert (await post(client, "/webhooks/docflow", body, forged)).status_code == 401
    wrong_key, wrong_headers = signed(report("declined", now), NOTIFICATIONS_SECRET)
    assert (await post(client, "/webhooks/docflow", wrong_key, wrong_headers)).status_code == 401
    old_body, old_headers = signed(
        report("declined", now), CRM_SECRET, at=now - timedelta(minutes=10)
    )
    assert (await post(client, "/webhooks/docflow", old_body, old_headers)).status_code == 401
    unsigned = await client.post("/webhooks/docflow", json=report("completed", now))
    assert unsigned.status_code == 401

    # A late report about an earlier state must not overwrite the newer outcome.
    late_body, late_headers = signed(report("failed", now - timedelta(hours=1)), CRM_SECRET)
    assert (await post(client, "/webhooks/docflow", late_body, late_headers)).status_code == 200

    control = (await client.get("/_control/reports")).json()
    assert control["count"] == 2
    assert control["duplicates"] == 1
    assert control["rejected"] == 4
    record = (await client.get("/api/records/Opportunity/006ABC")).json()
    assert record["signature_status"] == "completed"
    assert record["docflow_business_key"] == "SFDC-Q-1"


async def test_records(crm_sim: Served) -> None:
    client = crm_sim.client
    assert (await client.get("/api/records/Opportunity/none")).status_code == 404
    put = await client.put("/api/records/Opportunity/006X", json={"name": "Big deal"})
    assert put.json() == {"name": "Big deal", "type": "Opportunity", "id": "006X", "version": 1}
    assert (await client.get("/api/records/Opportunity/006X")).json()["name"] == "Big deal"


async def test_crm_faults(crm_sim: Served) -> None:
    client = crm_sim.client
    await client.put(
        "/_control/faults",
        json={"fail_next": {"count": 1, "status": 503, "retry_after_s": 2}},
    )
    body, headers = signed(report("completed", datetime.now(UTC)), CRM_SECRET)
    failed = await post(client, "/webhooks/docflow", body, headers)
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "2"
    assert (await post(client, "/webhooks/docflow", body, headers)).json()["status"] == "accepted"
