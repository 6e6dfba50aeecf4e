"""The Amplience activities master data relies on, against the simulator: find by delivery
key, a repeated create that adopts the item holding its key, the worker's publish limit."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.amplience.activities import AmplienceActivities, ItemRef, UpsertItemInput
from activities.amplience.client import AmplienceClient
from activities.amplience.limits import PublishLimiter
from docflow.models.master_data import DeliveryKeyLookup
from tests.activities.amplience.conftest import CONFIG, SCHEMA
from tests.activities.amplience.contract_test import HUB, fixture, mocked
from tests.activities.contract_test import Vendor, answer
from tests.activities.simulated import Sim


def product(label: str, key: str, **fields: object) -> UpsertItemInput:
    body: dict[str, object] = {"_meta": {"schema": SCHEMA, "deliveryKey": key}, **fields}
    return UpsertItemInput(repository_id=CONFIG.repository_id, label=label, body=body)


async def test_find_by_delivery_key_matches_the_key_exactly(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    acts, env = AmplienceActivities(client), ActivityEnvironment()
    # A key that contains the other as text is not the item looked for.
    await env.run(acts.upsert_item, product("long", "md/PIM/product/SKU-10"))
    wanted = await env.run(acts.upsert_item, product("short", "md/PIM/product/SKU-1"))
    found = await env.run(
        acts.find_by_delivery_key, DeliveryKeyLookup(delivery_key="md/PIM/product/SKU-1")
    )
    assert (found.item_id, found.version) == (wanted.id, 1)
    missing = await env.run(
        acts.find_by_delivery_key, DeliveryKeyLookup(delivery_key="md/PIM/product/NONE")
    )
    assert missing.item_id is None


async def test_a_repeated_create_updates_the_item_holding_its_key(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    """An attempt whose answer was lost created the item: the retry must not fail on the
    taken delivery key, nor make a second item."""
    acts, env = AmplienceActivities(client), ActivityEnvironment()
    first = await env.run(acts.upsert_item, product("Shoe", "md/PIM/product/SKU-2", price=1))
    again = await env.run(acts.upsert_item, product("Shoe", "md/PIM/product/SKU-2", price=2))
    assert again.id == first.id and again.version == 2 and again.body["price"] == 2
    assert len(amplience_sim.state.items) == 1


async def test_past_the_workers_publish_limit_a_publish_is_retried_later(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    acts = AmplienceActivities(client, PublishLimiter(1, 60.0, max_wait_s=1.0))
    env = ActivityEnvironment()
    item = await env.run(acts.upsert_item, product("Shoe", "md/PIM/product/SKU-3"))
    job = await env.run(acts.publish, ItemRef(item_id=item.id))
    assert job.state == "COMPLETED"
    with pytest.raises(ApplicationError) as limited:
        await env.run(acts.publish, ItemRef(item_id=item.id))
    assert limited.value.type == "PublishRateLimited" and not limited.value.non_retryable
    assert limited.value.next_retry_delay is not None
    assert 50 < limited.value.next_retry_delay.total_seconds() <= 60


async def test_a_published_item_search_misses_is_found_through_content_delivery() -> None:
    """Real search may not index delivery keys (a GUESS): Content Delivery 2 knows the key of
    every published item, and the item read confirms it."""
    item = fixture("content_item.json")
    key = "md/PIM/product/SKU-9"
    item["body"]["_meta"]["deliveryKey"] = item["deliveryKey"] = key
    empty = {"_embedded": {"content-items": []}, "page": page_info(0)}
    vendor = Vendor(
        {
            ("GET", f"/v2/content/hubs/{HUB}/content-items/find"): answer(200, empty),
            ("GET", f"/content/key/{key}"): answer(
                200, {"content": {"_meta": {"deliveryId": item["id"]}}}
            ),
            ("GET", f"/v2/content/content-items/{item['id']}"): answer(200, item),
        }
    )
    client, http = mocked(vendor)
    async with http:
        found = await client.find_by_delivery_key(key)
        assert found is not None and found.id == item["id"]
        vendor.routes.pop(("GET", f"/content/key/{key}"))  # not published: 404
        assert await client.find_by_delivery_key(key) is None


def page_info(total: int) -> dict[str, int]:
    return {"size": 100, "totalElements": total, "totalPages": 0, "number": 0}
