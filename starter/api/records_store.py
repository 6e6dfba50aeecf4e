"""The read model's store as the API uses it: one `RecordStore` per app, opened on first use.

`get_store(request)` is the one accessor for routes (`Depends(get_store)`; FastAPI runs it in
a worker thread, so opening — and migrating an embedded SQLite database — never blocks the
loop). The store is synchronous (SQLAlchemy): routes call it through `asyncio.to_thread`.
Tests put their own store on `app.state.records_store`.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import Request

from docflow.records.store import RecordStore
from docflow.settings import Settings

_lock = threading.Lock()


def open_store(settings: Settings) -> RecordStore:
    """The configured store: SQLite in the data directory (migrated here, it is embedded),
    or PostgreSQL (migrated by its operators)."""
    store = RecordStore.from_settings(settings)
    if store.dialect == "sqlite":
        store.migrate()
    return store


def store_for(app_state: Any, settings: Settings) -> RecordStore:
    """The app's store, opened once (thread-safe: routes reach it from worker threads)."""
    store: RecordStore | None = getattr(app_state, "records_store", None)
    if store is None:
        with _lock:
            store = getattr(app_state, "records_store", None)
            if store is None:
                store = open_store(settings)
                app_state.records_store = store
    return store


def get_store(request: Request) -> RecordStore:
    """Dependency: the read model's store of this app."""
    return store_for(request.app.state, request.app.state.docflow.settings)
