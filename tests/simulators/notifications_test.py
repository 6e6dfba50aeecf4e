"""Notification service, alone and on the CRM's port: verified, deduplicated, filterable."""

from __future__ import annotations

import pytest

from tests.simulators.conftest import Served, signed

NOTIFICATIONS_SECRET = "whsec_ZGV2LW5vdGlmaWNhdGlvbnMtc2VjcmV0LTEy"
CRM_SECRET = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"


@pytest.fixture(params=["alone", "on the CRM port"])
def service(request: pytest.FixtureRequest) -> Served:
    name = "notifications_sim" if request.param == "alone" else "crm_sim"
    served: Served = request.getfixturevalue(name)
    return served


async def test_notifications_are_verified_deduplicated_and_filtered(service: Served) -> None:
    client = service.client
    sent = []
    for kind, key in [("approval_reminder", "BK-1"), ("signature_exception", "BK-2")]:
        body, headers = signed(
            {
                "idempotency_key": f"{key}:{kind}",
                "kind": kind,
                "business_key": key,
                "recipients": ["signature-support"],
                "subject": "Help",
            },
            NOTIFICATIONS_SECRET,
        )
        sent.append((body, headers))
        answer = await client.post("/notifications", content=body, headers=headers)
        assert answer.json()["status"] == "accepted"
    again = await client.post("/notifications", content=sent[0][0], headers=sent[0][1])
    assert again.json()["status"] == "duplicate"
    body, headers = signed({"kind": "x"}, CRM_SECRET)
    assert (await client.post("/notifications", content=body, headers=headers)).status_code == 401

    support = (
        await client.get("/_control/notifications", params={"kind": "signature_exception"})
    ).json()
    assert [m["payload"]["business_key"] for m in support["results"]] == ["BK-2"]
    assert support["rejected"] == 1
    assert support["duplicates"] == 1

    await client.post("/_control/reset")
    assert (await client.get("/_control/notifications")).json()["count"] == 0


async def test_the_action_links_received_are_listed_per_person(service: Served) -> None:
    client = service.client
    links = {
        "alice@example.com": {"approve": "http://docflow/actions/a1", "reject": "r1"},
        "bob@example.com": {"approve": "http://docflow/actions/b1", "reject": "r2"},
    }
    for key, action_links in [("BK-1", links), ("BK-2", {})]:
        body, headers = signed(
            {
                "idempotency_key": f"{key}:approval_requested",
                "kind": "approval_requested",
                "business_key": key,
                "recipients": list(links),
                "subject": "Please approve",
                "approval": {"stage": "legal", "closes_at": "2030-01-01T00:00:00Z"},
                "action_links": action_links,
            },
            NOTIFICATIONS_SECRET,
        )
        assert (await client.post("/notifications", content=body, headers=headers)).is_success

    everyone = (await client.get("/_control/action-links")).json()
    assert everyone["count"] == 2
    bob = (
        await client.get(
            "/_control/action-links",
            params={"business_key": "BK-1", "principal": "bob@example.com"},
        )
    ).json()["results"]
    assert [(r["stage"], r["expires_at"], r["links"]["approve"]) for r in bob] == [
        ("legal", "2030-01-01T00:00:00Z", "http://docflow/actions/b1")
    ]
