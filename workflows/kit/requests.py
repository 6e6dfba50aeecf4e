"""`RequestLedger`: a reused Idempotency-Key with a different body is refused, not swallowed.

Temporal dedupes Updates by id and answers a repeat with the first result, whatever its
arguments. The starter makes the id `<request id>#<body digest>` (`docflow.idempotency`), so
only a true retry is deduped; this block remembers, per request id, the field digests of the
Update the process accepted, and its validator check refuses the same request id with another
body, naming the fields that differ.

Rules: `check(payload)` in the Update's validator (raises the refusal), `remember(payload)` in
its handler (validators do not run on replay; handlers do). Updates without a request id pass.
Memory is bounded (oldest ids dropped and counted); the state is a model carried across
continue-as-new, where Temporal's own dedupe ends: a retry then is refused as already applied.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from docflow.idempotency import IDEMPOTENCY_CONFLICT, differing, field_digests, request_key
    from docflow.models.process import RequestLedgerState

MAX_REQUESTS = 200


class RequestLedger:
    def __init__(self, state: RequestLedgerState, limit: int = MAX_REQUESTS) -> None:
        self.state = state
        self.limit = limit

    def check(self, payload: BaseModel) -> None:
        """In a validator: refuse a known request id whose body differs (or was applied)."""
        key = _current_request()
        recorded = self.state.accepted.get(key) if key else None
        if recorded is None:
            return
        fields = differing(recorded, field_digests(payload))
        if fields:
            message = (
                "this Idempotency-Key was already used for a different request: "
                f"{', '.join(fields)} differ{'s' if len(fields) == 1 else ''}; "
                "use a new key for a new request"
            )
        else:
            message = "this request (same Idempotency-Key, same body) was already applied"
        raise ApplicationError(message, type=IDEMPOTENCY_CONFLICT, non_retryable=True)

    def remember(self, payload: BaseModel) -> None:
        """In the handler: this request id is now bound to this body."""
        key = _current_request()
        if key is None:
            return
        accepted = self.state.accepted
        accepted.pop(key, None)
        accepted[key] = field_digests(payload)
        while len(accepted) > self.limit:
            del accepted[next(iter(accepted))]
            self.state.forgotten += 1


def _current_request() -> str | None:
    info = workflow.current_update_info()
    return request_key(info.id) if info else None
