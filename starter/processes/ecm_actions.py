"""`LifecycleActions`: the lifecycle actions ECM events start in business systems
(`LifecycleActionWorkflow`, started by the document's event workflow) — here, the results the
systems announce, handed to the action named by the event's reference.
"""

from __future__ import annotations

import re

from docflow.models.business_processes import ProcessResultHint
from starter.processes.base import Delivery, ProcessClient, ProcessNotFound

# `action_workflow_id(rule_id, event)`: "ecm-action:<rule id>:<event key digest>".
ACTION_ID = re.compile(r"^ecm-action:[A-Za-z0-9_.-]{1,64}:[0-9a-f]{24}$")
RESULT_SIGNAL = "process_result"


def is_action_reference(reference: str) -> bool:
    """True when a process's reference names a lifecycle action (docflow's workflow id)."""
    return bool(ACTION_ID.match(reference))


class LifecycleActions(ProcessClient):
    """Keys are the action workflow ids themselves (what docflow sent as `reference`)."""

    workflow_type = "LifecycleActionWorkflow"
    process_name = "lifecycle action"

    def workflow_id(self, key: str) -> str:
        return key

    async def deliver_result(self, hint: ProcessResultHint) -> Delivery:
        """Signal the action; "ignored" when it has ended or never existed."""
        try:
            return await self.signal(hint.reference, RESULT_SIGNAL, hint)
        except ProcessNotFound:
            return "ignored"
