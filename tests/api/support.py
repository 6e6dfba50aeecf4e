"""Builders shared by the API tests: requests, signed Core Signature callbacks, waits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from docflow.models import (
    ApprovalStageSpec,
    SignatureEvent,
    SignatureEventType,
    Signer,
    SigningRequest,
    SigningStatus,
    SourceRecord,
    WorkspaceTarget,
)

HASH_KEY = "test-event-hash-key"
PDF = b"%PDF-1.4\n% docflow API test document\n%%EOF\n"


def new_key(prefix: str = "API") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def signing_request(business_key: str, approvers: list[str] | None = None) -> SigningRequest:
    stages = [ApprovalStageSpec(name="legal", approvers=approvers)] if approvers else []
    return SigningRequest(
        business_key=business_key,
        document_type="sales_contract",
        title="MSA Acme",
        source=SourceRecord(system="SFDC", record_type="Opportunity", record_id="0065X"),
        approval_stages=stages,
        signers=[Signer(email="signer@acme.example.com")],
        workspace=WorkspaceTarget(ext_system_id="SFDC", bo_type="Account", bo_id="1", name="Acme"),
    )


def callback(
    business_key: str,
    event_type: str = "signed",
    *,
    cycle: int = 1,
    event_id: str | None = None,
    event_time: str | None = None,
    key: str = HASH_KEY,
    signer_email: str | None = "signer@acme.example.com",
    message: str | None = None,
) -> dict[str, Any]:
    """A Core Signature callback body, signed the way Core Signature signs it."""
    sent_at = event_time or str(int(time.time()))
    digest = hmac.new(key.encode(), (sent_at + event_type).encode(), hashlib.sha256)
    external_id = f"{business_key}#{cycle}"
    return {
        "uuid": event_id or str(uuid.uuid4()),
        "status": "ok",
        "event_type": event_type,
        "event_time": sent_at,
        "event_hash": digest.hexdigest(),
        "timestamp": sent_at,
        "team": None,
        "token_name": "docflow",
        "document": {"uuid": f"doc-{external_id}", "external_id": external_id, "status": "si"},
        "signer": {"email": signer_email, "message": message} if signer_email else None,
    }


def workflow(client: Client, business_key: str) -> WorkflowHandle[Any, SigningStatus]:
    return client.get_workflow_handle(f"signing-{business_key}", result_type=SigningStatus)


def events_in(status: SigningStatus, event_id: str) -> int:
    return sum(1 for e in status.audit if e.kind == "event" and e.data["event_id"] == event_id)


async def signals_received(handle: WorkflowHandle[Any, Any]) -> int:
    """Signals in the history, the sentinel of `settle` included."""
    history = await handle.fetch_history()
    signaled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return sum(1 for event in history.events if event.event_type == signaled)


async def settle(handle: WorkflowHandle[Any, Any], business_key: str) -> SigningStatus:
    """Send a sentinel event and wait until it is applied.

    A signal that arrives while a workflow task runs is written to history only when that
    task completes; once the sentinel is applied, every earlier signal is in the history.
    """
    sentinel = SignatureEvent(
        event_id=f"sentinel-{uuid.uuid4().hex}",
        event_type=SignatureEventType.SIGNER_VIEWED,
        event_time=datetime.now(UTC),
        document_uuid=f"doc-{business_key}#1",
        external_id=f"{business_key}#1",
    )
    await handle.signal("signature_event", sentinel)
    return await wait_until(handle, lambda status: events_in(status, sentinel.event_id) == 1)


async def wait_until(
    handle: WorkflowHandle[Any, Any], predicate: Callable[[SigningStatus], bool]
) -> SigningStatus:
    """Poll the status query until the predicate holds (the worker runs in real time)."""
    async with asyncio.timeout(10):
        while True:
            status = await handle.query("status", result_type=SigningStatus)
            if predicate(status):
                return status
            await asyncio.sleep(0.05)
