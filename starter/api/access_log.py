"""The access log: every read, download, link, upload and refusal by a portal, a party or an
auditor (who, what, when, from where, the answer), written to the read model. A failed write
never changes the answer; the server log keeps it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from docflow.models.records import AccessEvent
from docflow.records.store import RecordStore
from starter.api.errors import ApiError
from starter.api.records_store import get_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessLog:
    """Writes access events for one request (who is filled in as it becomes known)."""

    store: RecordStore
    client_ip: str
    user_agent: str

    @classmethod
    def of(cls, request: Request, store: RecordStore) -> AccessLog:
        ip = request.client.host if request.client else ""
        return cls(store, ip[:64], request.headers.get("user-agent", "")[:255])

    async def record(
        self,
        party: str,
        action: str,
        *,
        source: str = "ecm",
        object_id: str = "",
        version: int | None = None,
        outcome: str = "ok",
        detail: str = "",
    ) -> None:
        event = AccessEvent.model_validate(
            {
                "at": datetime.now(UTC),
                "party": party[:128] or "anonymous",
                "action": action,
                "source": source,
                "object_id": object_id[:128],
                "version": version,
                "outcome": outcome[:255],
                "client_ip": self.client_ip,
                "user_agent": self.user_agent,
                "detail": detail[:1000],
            }
        )
        try:
            await asyncio.to_thread(self.store.record_access, event)
        except Exception:  # the answer must not depend on the log; the server log keeps it
            log.exception("access log write failed for %s %s", action, object_id)

    async def refuse(
        self,
        party: str,
        error: ApiError,
        *,
        source: str = "ecm",
        object_id: str = "",
        version: int | None = None,
        detail: str = "",
    ) -> ApiError:
        """Record a refusal (`denied`, outcome = the error code) and hand the error back."""
        await self.record(
            party,
            "denied",
            source=source,
            object_id=object_id,
            version=version,
            outcome=error.code,
            detail=detail or error.message,
        )
        return error


def access_log(request: Request, store: Annotated[RecordStore, Depends(get_store)]) -> AccessLog:
    return AccessLog.of(request, store)
