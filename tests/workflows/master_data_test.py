"""MasterDataWorkflow on the time-skipping server with the Amplience simulator over HTTP: create,
update the same item, stale versions ignored, a version conflict re-applied, a lost ledger
found by delivery key, publishing COMPLETED and FAILED, 429 back-off, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.amplience import AmplienceActivities
from activities.amplience.auth import token_provider
from activities.amplience.client import AmplienceClient
from activities.amplience.limits import PublishLimiter
from docflow.config.bundle import load_bundle
from docflow.config.master_data import MasterData, validate_record
from docflow.models import Notification
from docflow.models.master_data import (
    MasterDataCarry,
    MasterDataInput,
    MasterDataRecord,
    MasterDataStatus,
    RecordVerdict,
)
from docflow.temporal import master_data_workflow_id
from simulators.amplience import AmplienceConfig, create_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim
from tests.conftest import start_time_skipping_server
from tests.read_model_fake import record_process_change
from tests.workflows.kit.support import kit_worker
from workflows.master_data import MasterDataWorkflow

CONFIG = AmplienceConfig(job_step_ms=5)
PRODUCT = {"sku": "SKU-1", "name": "Trail shoe", "price": 129.5, "currency": "EUR"}
STARTED: list[WorkflowHandle] = []


@pytest.fixture(autouse=True)
async def _end_runs() -> AsyncIterator[None]:
    """End what a test left running: a leftover run's idle timer must not stall the clock."""
    yield
    while STARTED:
        with contextlib.suppress(RPCError):
            await STARTED.pop().terminate("test finished")


@pytest.fixture(scope="module")
async def amplience() -> AsyncIterator[ServedApp]:
    async with ServedApp(create_app(CONFIG), name="amplience-sim") as served:
        yield served


@pytest.fixture
async def sim(amplience: ServedApp) -> AsyncIterator[Sim]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        sim = Sim(amplience, http)
        await sim.control("POST", "/reset")
        yield sim


class Systems:
    """The real Amplience activities against the simulator; validation and notifications
    stand in under their names (validation applies the suite's own bundle)."""

    def __init__(self, sim: Sim, http: httpx.AsyncClient) -> None:
        self.mapping = load_bundle(check_secrets=False).get(MasterData)
        client = AmplienceClient(
            http,
            api_url=f"{sim.url}/v2/content",
            delivery_url=sim.url,
            hub_id=CONFIG.hub_id,
            tokens=token_provider(
                http, f"{sim.url}/oauth/token", CONFIG.client_id, CONFIG.client_secret
            ),
            timeout_s=5.0,
            poll_interval_s=0.01,
            publish_timeout_s=5.0,
        )
        self.amplience = AmplienceActivities(client, PublishLimiter(100, 60.0))
        self.notified: list[Notification] = []
        self.bundle_broken = False

    @activity.defn(name="validate_master_data")
    async def validate(self, record: MasterDataRecord) -> RecordVerdict:
        if self.bundle_broken:
            raise ApplicationError(
                "master-data.json is invalid", type="ConfigBundleError", non_retryable=True
            )
        return validate_record(self.mapping, record, config_version="test")

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def activities(self) -> list[Callable[..., Any]]:
        a = self.amplience
        return [
            record_process_change,
            self.validate,
            self.notify,
            a.find_by_delivery_key,
            a.upsert_item,
            a.publish,
        ]


@pytest.fixture
async def systems(sim: Sim) -> AsyncIterator[Systems]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield Systems(sim, http)


def record(version: int, record_id: str = "SKU-1", **fields: Any) -> MasterDataRecord:
    return MasterDataRecord(
        source="PIM",
        record_type="product",
        record_id=record_id,
        version=version,
        fields={**PRODUCT, **fields},
    )


async def send(
    client: Client, task_queue: str, first: MasterDataRecord, **options: Any
) -> WorkflowHandle[MasterDataWorkflow, MasterDataStatus]:
    """Signal-with-start, as the API does (a fresh id per test)."""
    handle = await client.start_workflow(
        MasterDataWorkflow.run,
        MasterDataInput(
            source=first.source,
            record_type=first.record_type,
            record_id=first.record_id,
            environment="local",
            **options,
        ),
        id=master_data_workflow_id(first.source, first.record_type, first.record_id)
        + uuid.uuid4().hex[:6],
        task_queue=task_queue,
        start_signal="master_data_record",
        start_signal_args=[first],
    )
    STARTED.append(handle)
    return handle


async def until(
    check: Callable[[MasterDataStatus], bool], handle: WorkflowHandle, within: float = 15
) -> MasterDataStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    status: MasterDataStatus | None = None
    while True:
        with contextlib.suppress(RPCError):  # a query during continue-as-new may time out
            status = await handle.query(MasterDataWorkflow.status)
            if check(status):
                return status
        last = f"{status.state} {status.audit[-3:]}" if status else "no answer"
        assert loop.time() < deadline, f"never reached: {last}"
        await asyncio.sleep(0.05)


def settled(version: int, state: str = "in_sync") -> Callable[[MasterDataStatus], bool]:
    return lambda s: (
        s.state == state
        and s.newest_version == version
        and s.pending_version is None
        and s.applying_version is None
    )


def items(sim: Sim) -> list[Any]:
    return list(sim.state.items.values())


async def test_a_record_creates_its_item_and_a_newer_version_updates_the_same_item(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        first = await until(lambda s: s.state == "in_sync" and s.applied_version == 1, handle)
        await handle.signal(MasterDataWorkflow.master_data_record, record(2, price=99.0))
        second = await until(lambda s: s.applied_version == 2 and s.state == "in_sync", handle)
    [item] = items(sim)
    assert first.item_id == second.item_id == item.id
    assert item.body["price"] == 99.0 and item.label == "Trail shoe (SKU-1)"
    assert item.body["_meta"]["schema"] == "https://schema.docflow.example/product.json"
    assert item.delivery_key == "md/PIM/product/SKU-1"
    assert item.published_version == item.version  # published as configured
    assert second.publish is not None and second.publish.state == "COMPLETED"


async def test_older_and_same_versions_are_ignored(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(5))
        await until(settled(5), handle)
        for stale in (record(5, name="same"), record(3, name="older")):
            await handle.signal(MasterDataWorkflow.master_data_record, stale)
        status = await until(lambda s: s.ignored == 2, handle)
    [item] = items(sim)
    assert item.body["name"] == "Trail shoe" and status.applied == 1


async def test_a_burst_out_of_order_ends_at_the_newest_version(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    versions = [4, 2, 7, 3, 7, 5, 6, 1]
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        for version in versions:
            await handle.signal(
                MasterDataWorkflow.master_data_record, record(version, name=f"Shoe v{version}")
            )
        status = await until(settled(7), handle)
    [item] = items(sim)
    assert item.body["name"] == "Shoe v7" and status.applied_version == 7
    assert status.applied + status.ignored == 1 + len(versions)


async def test_an_idle_record_ends_its_workflow(task_queue, sim: Sim, systems: Systems) -> None:
    # Its own time-skipping server: the 30-day jump never happens while an activity another
    # test of the module left scheduled (its worker stopped mid-call) is outstanding.
    env = await start_time_skipping_server()
    try:
        client = env.client
        async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
            handle = await send(client, task_queue, record(1), idle_days=30)
            await until(settled(1), handle)
            ended = await handle.result()  # the time-skipping server jumps the 30 days
    finally:
        await env.shutdown()
    assert ended.state == "ended" and ended.outcome_reason == "no record for 30 days"
    assert ended.item_id == items(sim)[0].id


async def test_an_invalid_record_is_refused_and_nothing_is_written(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1, price=-1, currency="JPY"))
        refused = await until(settled(1, "refused"), handle)
        assert items(sim) == []
        await handle.signal(MasterDataWorkflow.master_data_record, record(2))
        fixed = await until(settled(2), handle)
    assert refused.reasons == [
        "price is -1, less than 0",
        "currency is 'JPY', not one of: EUR, USD, GBP",
    ]
    assert fixed.applied_version == 2 and fixed.refused == 1 and len(items(sim)) == 1
    [told] = systems.notified
    assert "refused" in told.subject and "price is -1" in told.data["reason"]


async def test_content_amplience_refuses_is_a_refusal_with_its_reason(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    await sim.fail_next(400, match="POST /v2/content/content-repositories/")
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        refused = await until(settled(1, "refused"), handle)
    assert items(sim) == [] and refused.refused == 1
    assert refused.reasons[0].startswith("write Amplience item Trail shoe (SKU-1) failed")
    assert any(e.kind == "refused_by_amplience" for e in refused.audit)


async def test_a_broken_bundle_is_an_exception_and_the_same_version_retries(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    systems.bundle_broken = True
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        broken = await until(settled(1, "master_data_exception"), handle)
        assert items(sim) == []
        systems.bundle_broken = False  # an operator fixed the bundle; the source sends again
        await handle.signal(MasterDataWorkflow.master_data_record, record(1))
        fixed = await until(settled(1), handle)
    assert broken.attention and "validation gave up" in broken.reasons[0]
    assert fixed.applied_version == 1 and len(items(sim)) == 1 and not fixed.attention


async def test_a_version_conflict_is_re_read_and_re_applied(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        await until(settled(1), handle)
        [item] = items(sim)
        await sim.control("POST", f"/items/{item.id}/edit", json={"label": "Edited in UI"})
        await sim.fail_next(409, match="PATCH /v2/content/content-items/")
        await handle.signal(MasterDataWorkflow.master_data_record, record(2, name="Road shoe"))
        status = await until(settled(2), handle)
    assert [f.status for f in sim.state.faults.injected] == [409]
    assert item.label == "Road shoe (SKU-1)" and item.body["name"] == "Road shoe"
    assert status.item_version == item.version


async def test_a_lost_ledger_finds_the_item_by_its_delivery_key(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    """A new run that knows no item id (the ledger lost, or the workflow ended) updates the
    item holding the record's delivery key instead of creating a second one."""
    client = time_skipping_env.client
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        first = await send(client, task_queue, record(1))
        await until(settled(1), first)
        await first.terminate("ledger lost")
        again = await send(client, task_queue, record(2, name="Road shoe"))
        status = await until(settled(2), again)
    [item] = items(sim)
    assert status.item_id == item.id and item.body["name"] == "Road shoe"
    assert any(e.kind == "ledger_recovered" for e in status.audit)


async def test_a_failed_publishing_job_is_an_outcome_told_to_support(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    await sim.control("PUT", "/publishing", json={"fail_next": 1})
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(1))
        failed = await until(settled(1, "publish_failed"), handle)
        # The same version sent again publishes again (the job succeeds this time).
        await handle.signal(MasterDataWorkflow.master_data_record, record(1))
        fixed = await until(settled(1), handle)
    assert failed.publish is not None and failed.publish.state == "FAILED"
    assert failed.attention and "Publishing failed" in failed.reasons[0]
    [told] = systems.notified
    assert "publishing job" in told.data["reason"]
    assert fixed.publish is not None and fixed.publish.state == "COMPLETED"
    assert not fixed.attention and fixed.reasons == []


async def test_publishing_over_amplience_limit_backs_off_and_succeeds(
    time_skipping_env, task_queue, sim: Sim, systems: Systems
) -> None:
    client = time_skipping_env.client
    await sim.control("PUT", "/publishing", json={"limit": 1, "window_s": 1.0})
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        a = await send(client, task_queue, record(1, record_id="SKU-A"))
        b = await send(client, task_queue, record(1, record_id="SKU-B"))
        done = [await until(settled(1), h, within=20) for h in (a, b)]
        attempts = [
            e.activity_task_started_event_attributes.attempt
            for h in (a, b)
            async for e in h.fetch_history_events()
            if e.HasField("activity_task_started_event_attributes")
        ]
    assert all(s.publish is not None and s.publish.state == "COMPLETED" for s in done)
    assert all(i.published_version == i.version for i in items(sim))
    assert max(attempts) == 2  # one publish answered 429 and was retried after the back-off


async def test_history_is_bounded_by_continuing_as_new(
    dev_server_env, task_queue, sim: Sim, systems: Systems
) -> None:
    """On the dev server: a record arriving while the run continues as new is never lost
    (the time-skipping server does not reject that race as a real server does)."""
    client = dev_server_env.client
    carry = MasterDataCarry(newest_version=3, applied_version=3, item_id=None)
    async with kit_worker(client, task_queue, [MasterDataWorkflow], systems.activities()):
        handle = await send(client, task_queue, record(4), history_budget=100, resume=carry)
        for version in range(5, 14):
            await handle.signal(MasterDataWorkflow.master_data_record, record(version))
            await until(settled(version), handle)
        status = await until(settled(13), handle)
    assert len(items(sim)) == 1 and status.applied_version == 13
    assert any(e.kind == "continued" for e in status.audit)
