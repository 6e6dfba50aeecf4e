"""Outbound messages to configured systems (source systems, downstream targets) and their fate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class OutboundMessage(BaseModel):
    """One signed message (Standard Webhooks) to a configured target: never a URL."""

    target: str = Field(description="Configured system/target id, e.g. 'SFDC'.")
    event_type: str = Field(examples=["signing.completed"])
    idempotency_key: str = Field(description="Sent as webhook-id; receivers dedupe on it.")
    business_key: str
    payload: dict[str, Any]


class DeliveryResult(BaseModel):
    target: str
    idempotency_key: str
    delivered: bool
    reason: str = Field(default="", description="Why it was dead-lettered.")
    rounds: int = Field(default=1, description="Delivery schedules run (1 + redeliveries).")
    finished_at: datetime | None = None


class RedeliverRequest(BaseModel):
    actor: str
    comment: str = ""
