"""LifecycleActionWorkflow on the time-skipping server with the real activities against the ERP
and Content Server simulators: an approved invoice starts invoice processing once (a second
start of the same (event, rule), a lost answer retried) and its result lands in the document's
status category; a failed process writes "Failed" with the reason and tells support; no result
within the timeout is a failure; a rule removed meanwhile is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.content_server.client import ContentServerClient
from docflow import search_attributes as sa
from docflow.models.business_processes import ProcessResultHint
from docflow.settings import Settings
from tests.activities.simulated import Sim
from tests.ecm_actions.conftest import (
    INVOICE_RULE,
    a_document,
    actions,
    approved,
    edited_bundle,
    start_action,
    status_category,
    status_writes,
)
from tests.workflows.kit.record_test import attributes_now
from tests.workflows.kit.support import RUNNER, kit_worker
from workflows.ecm_action import ACTION_FAILED, LifecycleActionWorkflow


async def test_an_approved_invoice_starts_invoice_processing_once_and_its_result_is_written(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    content_server: Sim,
    otcs: ContentServerClient,
) -> None:
    client, acts = time_skipping_env.client, actions(settings, http)
    node = await a_document(otcs, "INV-1001.pdf")
    event = approved(node)
    # The first start's answer is lost (504): the retry with the same key finds the process.
    await erp.control("POST", "/processes/faults", json={"lose_answer_next": 1})
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, event)
        with pytest.raises(WorkflowAlreadyStartedError):  # the same (event, rule) acts once
            await start_action(client, task_queue, event)
        result = await handle.result()
        attributes = await attributes_now(handle)
        history = await handle.fetch_history()
    replayer = Replayer(
        workflows=[LifecycleActionWorkflow],
        workflow_runner=RUNNER,
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)  # deterministic: the same commands again
    assert result.outcome == "completed" and result.rule_id == INVOICE_RULE
    assert result.detail["erp_document_no"].startswith("51000")
    summary = await erp.control("GET", f"/processes?reference={handle.id}")
    assert summary["count"] == 1 and summary["started"]["invoice_processing"] == 1
    [process] = summary["results"]
    assert process["idempotency_key"] == handle.id and process["document"]["node_id"] == node.id
    assert summary["replays"] == 1  # the lost answer, retried
    status = await status_category(otcs, node.id)
    assert status["9400_1"] == "Completed"
    assert status["9400_2"].startswith(f"erp_document_no {result.detail['erp_document_no']}")
    writes = await status_writes(content_server, node.id)
    assert [w["values"]["9400_1"] for w in writes] == ["In progress", "Completed"]
    assert attributes[sa.BUSINESS_KEY.name] == f"node:{node.id}"
    assert attributes[sa.SOURCE_SYSTEM.name] == "SAP"
    assert attributes[sa.STATUS.name] == "completed"
    assert not acts.notified


async def test_a_failed_process_writes_failed_with_the_reason_and_tells_support(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
) -> None:
    client, acts = time_skipping_env.client, actions(settings, http)
    node = await a_document(otcs, "INV-1002.pdf")
    reason = "Vendor 4711 is blocked for posting"
    await erp.control("POST", "/processes/faults", json={"fail_next": 1, "reason": reason})
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        result = await handle.result()
        summary = await handle.query(LifecycleActionWorkflow.status)
        attributes = await attributes_now(handle)
    assert result.outcome == "failed" and result.reason == reason
    assert await status_category(otcs, node.id) == {"9400_1": "Failed", "9400_2": reason}
    [support] = acts.notified
    assert support.recipients == [] and support.data["reason"] == reason
    assert summary.attention and summary.attention_reason == ACTION_FAILED
    assert attributes[sa.ATTENTION.name] == ACTION_FAILED


async def test_no_result_within_the_timeout_is_a_failure(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
    tmp_path: Any,
) -> None:
    def an_hour(data: dict[str, Any]) -> None:
        for rule in data["triggers"]:
            if rule["id"] == INVOICE_RULE:
                rule["action"]["result_timeout_s"] = 3600

    client = time_skipping_env.client
    acts = actions(settings, http, edited_bundle(tmp_path, an_hour))
    node = await a_document(otcs, "INV-1003.pdf")
    await erp.control("POST", "/processes/faults", json={"duration_ms": 3_600_000})
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        result = await handle.result()
    assert result.outcome == "failed" and result.reason == "no result from SAP within 3600 s"
    assert (await status_category(otcs, node.id))["9400_1"] == "Failed"
    assert [n.data["reason"] for n in acts.notified] == [result.reason]


async def test_a_rule_removed_meanwhile_is_refused_and_nothing_is_started(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
    tmp_path: Any,
) -> None:
    def remove(data: dict[str, Any]) -> None:
        data["triggers"] = [t for t in data["triggers"] if t["id"] != INVOICE_RULE]

    client = time_skipping_env.client
    acts = actions(settings, http, edited_bundle(tmp_path, remove))
    node = await a_document(otcs, "INV-1004.pdf")
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        result = await handle.result()
        summary = await handle.query(LifecycleActionWorkflow.status)
    assert result.outcome == "refused" and "no longer in ecm-events.json" in result.reason
    assert (await erp.control("GET", "/processes"))["count"] == 0
    assert await status_category(otcs, node.id) == {}
    assert not summary.attention and summary.audit[-1].kind == "refused"


async def test_sap_refusing_the_start_is_a_reported_failure_not_a_failed_run(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
) -> None:
    client, acts = time_skipping_env.client, actions(settings, http)
    node = await a_document(otcs, "INV-1005.pdf")
    await erp.fail_next(401, match="POST /api/processes")
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        try:
            result = await handle.result()
        except WorkflowFailureError as failure:  # pragma: no cover - the give-up policy
            raise AssertionError("the run failed instead of reporting") from failure
    assert result.outcome == "failed" and "SAP did not start invoice_processing" in result.reason
    assert (await status_category(otcs, node.id))["9400_1"] == "Failed"
    assert len(acts.notified) == 1


async def test_result_events_are_hints_confirmed_with_sap(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
    tmp_path: Any,
) -> None:
    def an_hour(data: dict[str, Any]) -> None:
        for rule in data["triggers"]:
            if rule["id"] == INVOICE_RULE:
                rule["action"]["result_timeout_s"] = 3600

    client = time_skipping_env.client
    acts = actions(settings, http, edited_bundle(tmp_path, an_hour))
    node = await a_document(otcs, "INV-1006.pdf")
    await erp.control("POST", "/processes/faults", json={"duration_ms": 3_600_000})
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        for _ in range(200):
            summary = await handle.query(LifecycleActionWorkflow.status)
            if summary.state == "waiting_for_result":
                break
            await asyncio.sleep(0.05)
        [process] = (await erp.control("GET", f"/processes?reference={handle.id}"))["results"]

        def hint(event_id: str, process_id: str, reference: str = handle.id) -> ProcessResultHint:
            return ProcessResultHint(
                system="SAP",
                event_id=event_id,
                process_id=process_id,
                reference=reference,
                status="completed",
            )

        await handle.signal(LifecycleActionWorkflow.process_result, hint("e1", "PRC-other"))
        await handle.signal(
            LifecycleActionWorkflow.process_result, hint("e2", process["id"], "ecm-action:x")
        )
        # A claim SAP does not confirm (the process still runs) decides nothing.
        await handle.signal(LifecycleActionWorkflow.process_result, hint("e3", process["id"]))
        result = await handle.result()
        summary = await handle.query(LifecycleActionWorkflow.status)
    kinds = [(entry.kind, entry.detail) for entry in summary.audit]
    assert [k for k, _ in kinds].count("result_ignored") == 2
    assert ("result_unconfirmed", "e3 says completed; still running") in kinds
    assert result.outcome == "failed" and result.reason == "no result from SAP within 3600 s"


async def test_a_temporal_cancellation_ends_the_follow_up_as_failed(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
) -> None:
    client, acts = time_skipping_env.client, actions(settings, http)
    node = await a_document(otcs, "INV-1007.pdf")
    await erp.control("POST", "/processes/faults", json={"duration_ms": 3_600_000})
    async with kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()):
        handle = await start_action(client, task_queue, approved(node))
        for _ in range(200):
            if (await handle.query(LifecycleActionWorkflow.status)).state == "waiting_for_result":
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        result = await handle.result()
    assert result.outcome == "failed" and result.reason.startswith("cancelled in Temporal; SAP")
    assert (await status_category(otcs, node.id))["9400_1"] == "Failed"
