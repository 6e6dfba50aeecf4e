"""Webhook receivers, one module per sending system: verify, then hand over to the workflow.

What every receiver answers the same way lives here."""

from starter.api.errors import ApiError

# Events are small JSON documents; anything bigger is refused (413) before it is parsed.
MAX_EVENT_BYTES = 256 * 1024
# Webhook senders time out after about 15 s; Temporal gets this long, then the answer is 503.
RECEIVER_DEADLINE_S = 5.0
NOT_TAKEN = "the event could not be taken right now; send it again later"


class StandardWebhookRejected(ApiError):
    """A Standard Webhooks message whose signature (or timestamp) does not verify."""

    status_code = 401
    code = "invalid_signature"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'StandardWebhooks realm="docflow"'})
