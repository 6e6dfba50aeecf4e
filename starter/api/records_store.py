"""The app's one `RecordStore` (the read model): made from the app's settings and migrated on
first use, then kept on `app.state` (tests put their own there beforehand)."""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request

from docflow.records.store import RecordStore

_creating = threading.Lock()


def get_store(request_or_app: Request | FastAPI) -> RecordStore:
    """The store of this app (blocking the first time: call it in a thread from async code)."""
    app = request_or_app.app if isinstance(request_or_app, Request) else request_or_app
    store: RecordStore | None = getattr(app.state, "records_store", None)
    if store is None:
        with _creating:
            store = getattr(app.state, "records_store", None)
            if store is None:
                store = RecordStore.from_settings(app.state.docflow.settings)
                store.migrate()
                app.state.records_store = store
    return store
