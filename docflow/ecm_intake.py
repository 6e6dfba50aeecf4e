"""One intake for ECM events, whichever path found them (the webhook receiver, the audit
poller, an operator): signal-with-start the document's EcmDocumentWorkflow, which drops what
it has seen (by node, event type and audit date) and relays the rest in ECM's order.

Started by name, so neither the API nor the poller activity imports workflow code.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from docflow.models.ecm_events import DocumentEventsInput, EcmEvent, document_workflow_id

WORKFLOW_TYPE = "EcmDocumentWorkflow"
EVENT_SIGNAL = "ecm_event"


async def submit_event(
    client: Client,
    event: EcmEvent,
    *,
    task_queue: str,
    environment: str,
    hold_s: float,
    rpc_timeout_s: float = 5.0,
) -> str:
    """Hand the event to its document's workflow (started if none runs); its workflow id."""
    handle = await client.start_workflow(
        WORKFLOW_TYPE,
        DocumentEventsInput(node_id=event.node.id, environment=environment, hold_s=hold_s),
        id=document_workflow_id(event.node.id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal=EVENT_SIGNAL,
        start_signal_args=[event],
        static_summary=f"ECM events of node {event.node.id} ({event.node.name[:80]})",
        rpc_timeout=timedelta(seconds=rpc_timeout_s),
    )
    return handle.id
