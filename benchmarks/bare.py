"""The bare callback endpoint: the receiver's parsing and verification, then 200, no Temporal.

Mounted only in the benchmark's API process, beside the real receiver, so the two differ
exactly by mapping the callback to its workflow and signalling it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from activities.core_signature.callbacks import CallbackError, parse_callback, verify_callback
from starter.api.context import api_context
from starter.api.receivers.core_signature import callback_api_error
from starter.api.schemas import CallbackAck

BARE_CALLBACK_PATH = "/bench/bare-callback"
router = APIRouter(tags=["benchmarks"], include_in_schema=False)


@router.post(BARE_CALLBACK_PATH)
async def bare_callback(request: Request) -> CallbackAck:
    """Parse and verify like `POST /webhooks/core-signature`, then answer without signalling."""
    context = api_context(request)
    try:
        callback = parse_callback(await request.body())
        verify_callback(callback, context.event_hash_key)
    except CallbackError as exc:
        raise callback_api_error(exc) from exc
    return CallbackAck(status="verified")
