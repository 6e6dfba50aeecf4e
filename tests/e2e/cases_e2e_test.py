"""Case assembly end to end on the dev server: the real case sources (mail archive, forms
portal, ERP history) and Content Server simulators, one source down, then retried."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.embedded import EmbeddedStack
from starter.api_client import DocflowApiClient
from tests.e2e.workspaces_e2e_test import eventually, read_status
from tests.stacks import get_json


async def test_a_case_is_assembled_with_a_gap_then_completed_by_a_retry(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    portal = DocflowApiClient(stack.api_url, "dev-portal-key", http=http)
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    case_id = f"CLM-{uuid.uuid4().hex[:8].upper()}"
    seeded = await http.post(
        f"{stack.erp_url}/_control/transactions", json={"case_reference": case_id, "count": 3}
    )
    assert seeded.status_code == 200, seeded.text
    for url, body in (
        (stack.mail_archive_url, {"case_reference": case_id, "count": 2, "duplicates": 1}),
        (stack.forms_portal_url, {"case_reference": case_id, "count": 2}),
    ):
        response = await http.post(f"{url}/_control/seed", json=body)
        assert response.status_code in (200, 201), response.text
    # The mail archive is down for the whole first attempt.
    await http.put(f"{stack.mail_archive_url}/_control/outage", json={"seconds": 600})

    started = await portal.call(
        "POST", "/v1/cases", json={"case_type": "claims", "case_id": case_id, "title": "Hail"}
    )
    path = f"/v1/cases/claims/{case_id}"
    assert started["status_url"].endswith(path)
    gaps = await eventually(
        lambda: read_status(ops, path), lambda s: s.get("state") == "assembled_with_gaps"
    )
    assert gaps["gaps"] == ["mail_archive"], gaps
    workspace = gaps["workspace"]["workspace_id"]

    await http.put(f"{stack.mail_archive_url}/_control/outage", json={"seconds": 0})
    retried = await ops.call("POST", f"{path}/sources/mail_archive/retry")
    assert retried["detail"] == "retrying mail_archive"
    done: dict[str, Any] = await eventually(
        lambda: read_status(ops, path), lambda s: s.get("state") == "assembled"
    )
    assert done["gaps"] == []
    # Every item filed once into the case workspace's folders: the duplicate e-mail's bytes
    # (another id, the same SHA-256) are not filed twice.
    tree = await get_json(http, f"{stack.content_server_url}/_control/nodes/{workspace}")
    progress = {p["source"]: p for p in done["sources"]}
    mail = progress["mail_archive"]
    assert (mail["attempts"], mail["listed"], mail["duplicates"]) == (2, 6, 1), mail
    assert mail["filed"] == 5  # 3 e-mails with an attachment each, one duplicate e-mail
    assert (progress["forms_portal"]["filed"], progress["erp_history"]["filed"]) == (2, 3)
    assert done["items_filed"] == 5 + 2 + 3
    assert "E-mails" in str(tree) and "Transactions" in str(tree)
