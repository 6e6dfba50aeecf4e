"""The worker with the real activities: one signing process end to end against the simulators."""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import pathlib
import sys
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.activity import _Definition
from temporalio.testing import WorkflowEnvironment

from activities import build_activities
from docflow.docstore import LocalDocumentStore
from docflow.models import (
    Signer,
    SigningProcessInput,
    SigningRequest,
    SigningState,
    SourceRecord,
    WorkspaceTarget,
)
from docflow.settings import Settings
from tests.activities.simulated import Sim
from worker import cache_workflow_bytecode, run_worker
from workflows import signing as signing_module
from workflows.signing import SigningWorkflow


def activity_definition(fn: Callable[..., Any]) -> _Definition:
    return _Definition.must_from_callable(fn)


ACTIVITY_NAMES = {
    "resolve_inbox",
    "record_process_change",
    "check_promotion_candidate",
    "check_promotion_live",
    "apply_promotion_candidate",
    "validate_signing_request",
    "create_signature_request",
    "cancel_signature_request",
    "await_final_signature_status",
    "confirm_signature_event",
    "validate_signature_correction",
    "fetch_signed_artifacts",
    "ensure_business_workspace",
    "archive_document",
    "plan_workspace",
    "provision_workspace",
    "update_workspace_metadata",
    "file_document",
    "file_documents",
    "close_workspace",
    "report_to_source",
    "deliver_message",
    "notify",
    "plan_case",
    "list_case_items",
    "fetch_case_items",
    "deliver_to_target",
    "validate_master_data",
    "amplience_get_item",
    "amplience_find_by_delivery_key",
    "amplience_upsert_item",
    "amplience_set_workflow_state",
    "amplience_publish",
    "plan_distribution",
    "report_distribution",
    "plan_ecm_event",
    "plan_ecm_operational",
    "relay_to_subscriber",
    "report_ecm_endpoint",
    "earlier_ecm_events",
    "poll_ecm_audit",
    "recover_ecm_failures",
    "resolve_lifecycle_rule",
    "start_business_process",
    "read_business_process",
    "await_business_process",
    "write_ecm_status",
    "ecm_confirm_document",
    "ecm_write_review_status",
    "ecm_node_versions",
    "ecm_add_version",
    "ecm_apply_metadata",
}


async def test_build_activities_returns_every_activity_the_workflow_calls(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    definitions = [activity_definition(fn) for fn in build_activities(settings, http)]
    assert {d.name for d in definitions} == ACTIVITY_NAMES


async def test_signing_process_runs_on_the_real_activities(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
    content_server_sim: Sim,
    crm_sim: Sim,
    http: httpx.AsyncClient,
) -> None:
    await core_signature_sim.control("PUT", "/autopilot", json={"enabled": True, "after_ms": 0})
    document = await store.put(
        b"%PDF-1.4\n% NDA\n%%EOF\n", filename="nda.pdf", content_type="application/pdf"
    )
    key = f"NDA-{uuid.uuid4().hex[:8]}"
    process = SigningProcessInput(
        request=SigningRequest(
            business_key=key,
            document_type="nda",
            title="Mutual NDA",
            source=SourceRecord(
                system="SFDC", record_type="Opportunity", record_id="0065g00000XYZ"
            ),
            signers=[Signer(email="ann+sign@example.com", first_name="Ann")],
            workspace=WorkspaceTarget(
                ext_system_id="SFDC", bo_type="Account", bo_id="0015g00000ABC", name="ACME"
            ),
        ),
        document=document,
        environment="dev",
        started_by="app:crm",
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(time_skipping_env.client, settings, task_queue=task_queue, stop=stop)
    )
    try:
        status = await time_skipping_env.client.execute_workflow(
            SigningWorkflow.run, process, id=f"signing-{key}", task_queue=task_queue
        )
    finally:
        stop.set()
        await worker

    assert status.state is SigningState.COMPLETED, status.outcome_reason
    assert status.signature.signed_by == ["ann+sign@example.com"]
    assert status.archive.document_node_id is not None
    workspaces = await content_server_sim.control("GET", "/workspaces")
    assert workspaces["count"] == 1
    reports = await crm_sim.control("GET", "/reports", params={"business_key": key})
    assert [m["payload"]["outcome"] for m in reports["results"]] == ["completed"]


def test_worker_caches_the_workflow_bytecode(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox re-imports the workflow module per run; it must not recompile it each time."""
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # a cache nothing has written yet
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as PYTHONDONTWRITEBYTECODE=1
    cached = pathlib.Path(importlib.util.cache_from_source(signing_module.__file__))
    assert not cached.exists()
    assert cache_workflow_bytecode()
    assert cached.is_file()
    # The import system (and so the sandbox) now loads that bytecode instead of compiling.
    loader = importlib.machinery.SourceFileLoader("workflows.signing", signing_module.__file__)

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled the workflow source again")

    monkeypatch.setattr(loader, "source_to_code", no_compiling)
    assert loader.get_code("workflows.signing") is not None
    assert cache_workflow_bytecode()  # up to date: nothing to do, still true
