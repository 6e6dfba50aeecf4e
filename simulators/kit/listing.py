"""What the record-listing simulators share (mail archive, forms portal): a bearer-key gate,
opaque cursor paging, a timed outage knob and deterministic document bytes.

Vendor routes depend on `listing_gate` (after the kit's `fault_gate`): the outage first, then
the key. A simulator's state object has `config.api_key` and an `outage: Outage`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from simulators.kit.faults import InjectedFault

T = TypeVar("T")
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


class OutageSettings(BaseModel):
    """`PUT /_control/outage`: every vendor call fails with `status` for `seconds`, then the
    source recovers by itself (0 ends an outage now)."""

    seconds: float = Field(default=60.0, ge=0)
    status: int = Field(default=503, ge=400, le=599)


@dataclass
class Outage:
    until: float = 0.0  # time.monotonic() when the outage ends
    status: int = 503

    def start(self, settings: OutageSettings) -> None:
        self.until = time.monotonic() + settings.seconds
        self.status = settings.status

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.until - time.monotonic())

    def snapshot(self) -> dict[str, Any]:
        return {"down": self.remaining_s > 0, "remaining_s": round(self.remaining_s, 3)}


class _Config(Protocol):
    api_key: str


class _ListingSim(Protocol):
    config: _Config
    outage: Outage


async def listing_gate(request: Request) -> None:
    """FastAPI dependency of vendor routes: an outage answers its status; then the bearer key."""
    sim: _ListingSim = request.app.state.sim
    if sim.outage.remaining_s > 0:
        raise InjectedFault(sim.outage.status, None, "outage")
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.encode(), sim.config.api_key.encode()
    ):
        raise HTTPException(401, "invalid or missing bearer key")


def outage_routes(router: APIRouter) -> None:
    """Add `GET/PUT /_control/outage` to a simulator's control router."""

    @router.get("/outage")
    async def get_outage(request: Request) -> dict[str, Any]:
        sim: _ListingSim = request.app.state.sim
        return sim.outage.snapshot()

    @router.put("/outage")
    async def put_outage(body: OutageSettings, request: Request) -> dict[str, Any]:
        sim: _ListingSim = request.app.state.sim
        sim.outage.start(body)
        return sim.outage.snapshot()


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor stands for; HTTP 400 for one this simulator never issued."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "invalid cursor") from None
    if kind != "offset" or offset < 0:
        raise HTTPException(400, "invalid cursor")
    return offset


def page(items: Sequence[T], cursor: str | None, limit: int | None) -> tuple[list[T], str | None]:
    """One page from `cursor` (limit clamped to 1..100) and the next page's cursor, if any."""
    offset = decode_cursor(cursor)
    size = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    chunk = list(items[offset : offset + size])
    end = offset + len(chunk)
    return chunk, encode_cursor(end) if end < len(items) else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
