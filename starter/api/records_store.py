"""The read model's store as the API uses it: one instance per app, opened on first use.

`get_store(request)` is the one accessor (routes: `Depends(get_store)`). The store is
synchronous (SQLAlchemy); routes call it through `asyncio.to_thread`, never on the loop.
Tests put their own store on `app.state.records_store`.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from fastapi import Request

from docflow.models.records import AccessEvent, ApprovedVersionRow, ContentSource, Page
from docflow.settings import Settings

_lock = threading.Lock()


class ReadStore(Protocol):
    """What the API reads and writes (a subset of `docflow.records.store.RecordStore`)."""

    def latest_approved(self, source: ContentSource, object_id: str) -> ApprovedVersionRow | None:
        """The highest non-superseded approved version."""
        ...

    def approved_version(
        self, source: ContentSource, object_id: str, version: int
    ) -> ApprovedVersionRow | None: ...

    def approved_versions(
        self,
        source: ContentSource,
        *,
        workspace_ids: list[int] | None = None,
        document_types: list[str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[ApprovedVersionRow]: ...

    def set_version_digest(
        self, source: ContentSource, object_id: str, version: int, sha256: str, size: int
    ) -> None: ...

    def record_access(self, event: AccessEvent) -> Any: ...


def open_store(settings: Settings) -> ReadStore:
    """The configured store (SQLite in the data directory, PostgreSQL in production)."""
    from docflow.records.store import RecordStore  # the store's engine loads only when used

    store = RecordStore.from_settings(settings)
    if store.dialect == "sqlite":
        store.migrate()  # the embedded database; PostgreSQL is migrated by its operators
    return store


def store_for(app_state: Any, settings: Settings) -> ReadStore:
    """The app's store, opened once (thread-safe: routes reach it from worker threads)."""
    store: ReadStore | None = getattr(app_state, "records_store", None)
    if store is None:
        with _lock:
            store = getattr(app_state, "records_store", None)
            if store is None:
                store = open_store(settings)
                app_state.records_store = store
    return store


def get_store(request: Request) -> ReadStore:
    """Dependency: the read model's store of this app."""
    return store_for(request.app.state, request.app.state.docflow.settings)
