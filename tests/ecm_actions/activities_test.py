"""The process API client and the lifecycle activities against the ERP simulator (idempotency
key, 401/409/5xx mapping, the poll's "not yet"), the rule resolution, and the status write-back
against the Content Server simulator (applied when absent, updated when applied, nothing when
already set)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.business_processes.activities import STILL_RUNNING
from activities.business_processes.client import BusinessProcessClient
from activities.http.errors import (
    AlreadyExistsError,
    AuthenticationError,
    RetryableServiceError,
)
from docflow.config.ecm_events import StatusWriteback
from docflow.models.business_processes import (
    ProcessDocument,
    ProcessLookup,
    ProcessStart,
    RuleLookup,
    StatusWrite,
)
from docflow.settings import Settings
from tests.activities.simulated import Sim
from tests.ecm_actions.conftest import (
    INVOICE_RULE,
    a_document,
    actions,
    edited_bundle,
    status_category,
    status_writes,
    unique,
)

pytestmark = pytest.mark.asyncio


def a_start(reference: str, key: str | None = None, process: str = "invoice_processing"):  # type: ignore[no-untyped-def]
    return ProcessStart(
        system="SAP",
        process=process,
        reference=reference,
        idempotency_key=key or reference,
        document=ProcessDocument(node_id=4711, version=1, name="INV-1.pdf"),
        data={"rule": INVOICE_RULE},
    )


def client(
    http: httpx.AsyncClient, erp: Sim, api_key: str = "dev-erp-key"
) -> BusinessProcessClient:
    return BusinessProcessClient(
        http, system="SAP", url=f"{erp.url}/api/processes", api_key=api_key, timeout_s=5.0
    )


async def test_the_same_idempotency_key_never_starts_a_second_process(
    http: httpx.AsyncClient, erp: Sim
) -> None:
    sap, reference = client(http, erp), unique("ecm-action:r")
    first, created = await sap.start(a_start(reference))
    again, created_again = await sap.start(a_start(reference))
    assert created and not created_again
    assert again.id == first.id and first.status == "running" and first.reference == reference
    summary = await erp.control("GET", f"/processes?reference={reference}")
    assert summary["started"]["invoice_processing"] == 1 and summary["replays"] == 1
    [process] = summary["results"]
    assert process["idempotency_key"] == reference and process["data"] == {"rule": INVOICE_RULE}


async def test_errors_are_mapped(http: httpx.AsyncClient, erp: Sim) -> None:
    with pytest.raises(AuthenticationError):  # 401: the key is refused
        await client(http, erp, api_key="wrong").start(a_start(unique("r")))
    reference = unique("r")
    await client(http, erp).start(a_start(reference, key="K-" + reference))
    with pytest.raises(AlreadyExistsError):  # 409: the key started another reference
        await client(http, erp).start(a_start(unique("other"), key="K-" + reference))
    await erp.fail_next(503, retry_after_s=7)
    with pytest.raises(RetryableServiceError) as unavailable:
        await client(http, erp).start(a_start(unique("r")))
    assert unavailable.value.status == 503 and unavailable.value.retry_after is not None
    assert unavailable.value.retry_after.total_seconds() == 7


async def test_the_activities_classify_and_poll(
    http: httpx.AsyncClient, erp: Sim, settings: Settings
) -> None:
    env, acts = ActivityEnvironment(), actions(settings, http)
    await erp.control("POST", "/processes/faults", json={"duration_ms": 60_000})
    process = await env.run(acts.processes.start, a_start(unique("ecm-action:r")))
    lookup = ProcessLookup(system="SAP", process_id=process.id)
    with pytest.raises(ApplicationError) as running:  # the poll clock retries this
        await env.run(acts.processes.await_finished, lookup)
    assert running.value.type == STILL_RUNNING and not running.value.non_retryable
    assert (await env.run(acts.processes.read, lookup)).status == "running"

    await erp.fail_next(502)
    with pytest.raises(ApplicationError) as bad_gateway:
        await env.run(acts.processes.read, lookup)
    assert bad_gateway.value.type == "RetryableServiceError" and not bad_gateway.value.non_retryable

    elsewhere = settings.with_overrides(
        source_systems={"processes_endpoints": {"SAP": "https://erp.evil.example/api"}}
    )
    with pytest.raises(ApplicationError) as outside:  # never outside SAP's allowed hosts
        await env.run(actions(elsewhere, http).processes.read, lookup)
    assert outside.value.type == "EndpointNotAllowed" and outside.value.non_retryable

    with pytest.raises(ApplicationError) as unknown:
        await env.run(acts.processes.read, ProcessLookup(system="NOPE", process_id="x"))
    assert unknown.value.type == "SystemNotRegistered" and unknown.value.non_retryable
    with pytest.raises(ApplicationError) as no_api:
        await env.run(acts.processes.read, ProcessLookup(system="SFDC", process_id="x"))
    assert no_api.value.type == "ProcessesNotConfigured" and no_api.value.non_retryable


async def test_a_refused_key_is_not_retried(
    http: httpx.AsyncClient, erp: Sim, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    acts = actions(settings, http)

    async def wrong_client(system: str) -> BusinessProcessClient:
        return client(http, erp, api_key="stolen")

    monkeypatch.setattr(acts.processes, "_client", wrong_client)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(acts.processes.start, a_start(unique("r")))
    assert refused.value.type == "AuthenticationError" and refused.value.non_retryable


async def test_rules_resolve_from_the_current_bundle(
    http: httpx.AsyncClient, settings: Settings, tmp_path: Any
) -> None:
    env = ActivityEnvironment()
    rule = await env.run(
        actions(settings, http).processes.resolve_rule, RuleLookup(rule_id=INVOICE_RULE)
    )
    assert not rule.refused and rule.action is not None and rule.writeback is not None
    assert (rule.action.system, rule.action.process) == ("SAP", "invoice_processing")
    assert rule.writeback.category_id == 9400 and rule.environment == "local"

    review = await env.run(
        actions(settings, http).processes.resolve_rule, RuleLookup(rule_id="commercial-approval")
    )
    assert review.action is None and "no longer starts a process" in review.refused

    def remove(data: dict[str, Any]) -> None:
        data["triggers"] = [t for t in data["triggers"] if t["id"] != INVOICE_RULE]

    removed = await env.run(
        actions(settings, http, edited_bundle(tmp_path, remove)).processes.resolve_rule,
        RuleLookup(rule_id=INVOICE_RULE, planned_with="v1"),
    )
    assert removed.action is None and "no longer in ecm-events.json" in removed.refused
    assert removed.config_version != rule.config_version


async def test_status_is_applied_then_updated_and_a_repeat_writes_nothing(
    http: httpx.AsyncClient, settings: Settings, content_server: Sim, otcs: Any
) -> None:
    node = await a_document(otcs, "INV-status.pdf")
    env, acts = ActivityEnvironment(), actions(settings, http)
    writeback = StatusWriteback(
        category_id=9400, status_attribute="9400_1", detail_attribute="9400_2"
    )

    def write(outcome: str, detail: str) -> StatusWrite:
        return StatusWrite(node_id=node.id, writeback=writeback, outcome=outcome, detail=detail)

    first = await env.run(acts.status.write_ecm_status, write("started", "invoice_processing"))
    assert first.applied and first.values == {
        "9400_1": "In progress",
        "9400_2": "invoice_processing",
    }
    done = await env.run(acts.status.write_ecm_status, write("completed", "erp_document_no 51"))
    assert not done.applied
    assert await status_category(otcs, node.id) == {
        "9400_1": "Completed",
        "9400_2": "erp_document_no 51",
    }
    await env.run(acts.status.write_ecm_status, write("completed", "erp_document_no 51"))
    writes = await status_writes(content_server, node.id)
    assert [w["values"]["9400_1"] for w in writes] == ["In progress", "Completed"]  # no third
