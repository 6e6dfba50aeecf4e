"""Request parameters every process's routes share: the Idempotency-Key header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from starter.api.auth import Principal

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request safely: the same key from the same caller with the same "
        "body is applied once (a retry gets the same answer); with another body it is 409.",
    ),
]


def request_id(principal: Principal, idempotency_key: str | None) -> str | None:
    """The caller's key scoped to the caller, so one caller's key never swallows another's."""
    return f"{principal.subject}:{idempotency_key}" if idempotency_key else None
