"""Write a process's change into the read model (SQLite embedded, PostgreSQL in production).

One activity per change, idempotent per process and version (the store keeps the highest
version and audit entries by sequence), so Temporal's retries and a backfill that applies the
same change again write nothing twice. The disposition date is decided here, from the
environment's retention classes (`records.json`), not by the workflow."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.http.error_mapping import current_bundle
from docflow.config.bundle import BundleReader
from docflow.config.records import Records
from docflow.models.records import ProcessChange, RecordWritten
from docflow.records.store import RecordStore


class RecordActivities:
    def __init__(self, store: RecordStore, config: BundleReader) -> None:
        self._store = store
        self._config = config

    @activity.defn(name="record_process_change")
    async def record_process_change(self, change: ProcessChange) -> RecordWritten:
        bundle = await current_bundle(self._config)
        records = bundle.get(Records)
        facts = change.facts
        disposition = records.disposition_at(facts.retention_class, facts.retention_from)
        return await asyncio.to_thread(self._store.apply, change, disposition_at=disposition)
