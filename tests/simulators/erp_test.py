"""ERP simulator: the transaction history case assembly reads (paging, auth, stable statements,
faults) and its seeding."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from simulators.erp import ErpConfig, create_app
from simulators.kit.server import ServedApp
from tests.simulators.conftest import Served

KEY = {"Authorization": "Bearer dev-erp-key"}
CASE = "CLM-2026-001"


async def seed(client: httpx.AsyncClient, count: int, case: str = CASE) -> dict[str, Any]:
    answer = await client.post(
        "/_control/transactions", json={"case_reference": case, "count": count}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def listing(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/api/transactions", params=params, headers=KEY)


async def test_transactions_page_with_a_cursor(erp_sim: Served) -> None:
    client = erp_sim.client
    seeded = await seed(erp_sim.client, 7)
    assert seeded["count"] == 7
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"case_reference": CASE, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        answer = await listing(client, **params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    items = [item for page in pages for item in page]
    assert [i["id"] for i in items] == [t["id"] for t in seeded["results"]]
    assert len({i["id"] for i in items}) == 7
    first = items[0]
    assert set(first) == {
        "id",
        "posted_at",
        "document_no",
        "amount",
        "currency",
        "description",
        "sha256",
        "size",
    }
    assert first["currency"] == "EUR" and first["posted_at"].endswith("Z")
    assert [i["posted_at"] for i in items] == sorted(i["posted_at"] for i in items)

    # Default page size holds them all; an unknown case has none.
    whole = (await listing(client, case_reference=CASE)).json()
    assert len(whole["items"]) == 7 and whole["next_cursor"] is None
    assert (await listing(client, case_reference="CLM-NONE")).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_statements_are_stable_pdfs_matching_the_listing(erp_sim: Served) -> None:
    client = erp_sim.client
    items = (await seed(client, 3))["results"]
    for item in items:
        answer = await client.get(f"/api/transactions/{item['id']}/document", headers=KEY)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF-1.4")
        assert hashlib.sha256(answer.content).hexdigest() == item["sha256"]
        assert len(answer.content) == item["size"]
    # Seeding the case again (or more of it) gives the same transactions, byte for byte.
    again = (await seed(client, 5))["results"]
    assert again[:3] == items
    # So does another simulator with the same seed.
    async with (
        ServedApp(create_app(ErpConfig(transactions={CASE: 3})), name="erp-2") as served,
        httpx.AsyncClient(base_url=served.base_url) as other,
    ):
        first = await other.get("/api/transactions", params={"case_reference": CASE}, headers=KEY)
        assert first.json()["items"] == items
    inspected = (await client.get("/_control/transactions", params={"case_reference": CASE})).json()
    downloads = [t["downloads"] for t in inspected["cases"][CASE]["results"]]
    assert downloads == [1, 1, 1, 0, 0]
    assert (await client.get("/api/transactions/TX-NONE/document", headers=KEY)).status_code == 404


async def test_the_api_wants_the_bearer_key(erp_sim: Served) -> None:
    client = erp_sim.client
    item = (await seed(client, 1))["results"][0]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic ZGV2"}):
        answer = await client.get(
            "/api/transactions", params={"case_reference": CASE}, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json() == {"error": "Missing or invalid API key."}
        assert answer.headers["www-authenticate"].startswith("Bearer")
        document = await client.get(f"/api/transactions/{item['id']}/document", headers=headers)
        assert document.status_code == 401


async def test_bad_cursors_and_limits_are_refused(erp_sim: Served) -> None:
    client = erp_sim.client
    await seed(client, 4)
    await seed(client, 4, case="CLM-OTHER")
    other = (await listing(client, case_reference="CLM-OTHER", limit=2)).json()["next_cursor"]
    assert (await listing(client, case_reference=CASE, cursor=other)).status_code == 400
    assert (await listing(client, case_reference=CASE, cursor="%%%")).status_code == 400
    assert (await listing(client, case_reference=CASE, limit=0)).status_code == 422
    assert (await client.get("/api/transactions", headers=KEY)).status_code == 422
    # Above the maximum the page is capped, not refused.
    capped = await listing(client, case_reference=CASE, limit=10_000)
    assert capped.status_code == 200 and len(capped.json()["items"]) == 4


async def test_faults_hit_the_api_not_the_control_routes(erp_sim: Served) -> None:
    client = erp_sim.client
    item = (await seed(client, 2))["results"][0]
    await client.put(
        "/_control/faults",
        json={
            "fail_next": {
                "count": 1,
                "status": 503,
                "retry_after_s": 3,
                "match": "GET /api/transactions/",
            }
        },
    )
    assert (await listing(client, case_reference=CASE)).status_code == 200  # no match
    failed = await client.get(f"/api/transactions/{item['id']}/document", headers=KEY)
    assert failed.status_code == 503 and failed.headers["retry-after"] == "3"
    assert "error" in failed.json()
    assert (await client.get(f"/api/transactions/{item['id']}/document", headers=KEY)).is_success

    await client.put("/_control/faults", json={"rate_limit_every": 2})
    statuses = [(await listing(client, case_reference=CASE)).status_code for _ in range(4)]
    assert statuses.count(429) == 2
    assert (await seed(client, 2))["count"] == 2  # control never faulted
    injected = (await client.get("/_control/faults")).json()["injected"]
    assert [i["status"] for i in injected] == [429, 429]


async def test_reset_forgets_the_history(erp_sim: Served) -> None:
    client = erp_sim.client
    await seed(client, 2)
    await client.post("/_control/reset")
    assert (await listing(client, case_reference=CASE)).json()["items"] == []
    assert (await client.get("/_control/transactions")).json()["cases"] == {}
