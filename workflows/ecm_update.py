"""ECM content update: an external application adds a new version of a document node, on
top of the version it last saw, with category values.

The story: read the node's versions → a version this request added before (its marker in the
description) is the answer; a latest version other than the requester's base is a conflict
(the current version named, nothing written) → upload the stored document as the next
version (the activity looks for the marker first, so a retry never adds two) → apply the
metadata through the configured mapping → the requester told by a signed
`ecm.content.updated` callback (its own DeliveryWorkflow). Every outcome is reported.
"""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow

from workflows.ecm_review import start_callback
from workflows.kit.calls import GaveUp, call
from workflows.kit.lifecycle import ProcessEnded, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.document_status import (
        METADATA_REFUSED,
        VERSION_CONFLICT,
        EcmRequestActivities,
    )
    from docflow.models.delivery import OutboundMessage
    from docflow.models.ecm_requests import (
        ContentUpdateInput,
        ContentUpdateOutcome,
        ContentUpdateResult,
        MetadataApplied,
        MetadataWrite,
        VersionUpload,
        callback_payload,
        version_marker,
    )

Out = ContentUpdateOutcome
CHECKING, UPLOADING = "checking", "uploading"
INDEXED_STATES = {o.value for o in Out} | {"cancelled"}
CALLBACK = "ecm.content.updated"


@workflow.defn(
    name="EcmContentUpdateWorkflow", versioning_behavior=behaviour("EcmContentUpdateWorkflow")
)
class EcmContentUpdateWorkflow:
    @workflow.init
    def __init__(self, update: ContentUpdateInput) -> None:
        self._input = update
        self._record = ProcessRecord(
            "ecm-update", update.key, state=CHECKING, indexed_states=INDEXED_STATES
        )
        self._notify = Notifier(update.key, self._record)
        self._outcome: ContentUpdateOutcome | None = None
        self._version: int | None = None
        self._current: int | None = None
        self._metadata: MetadataApplied | None = None
        self._callback: str | None = None

    @workflow.run
    async def run(self, update: ContentUpdateInput) -> ContentUpdateResult:
        self._record.index_at_start(
            business_key=update.key,
            source_record=f"node {update.node_id}",
            document_type="ecm_update",
            environment=update.environment,
            source_system=update.requester,
        )
        self._record.record(
            "started", update.started_by, f"node {update.node_id} on v{update.base_version}"
        )
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        return self.result()

    async def _story(self) -> None:
        update = self._input
        upload = VersionUpload(
            node_id=update.node_id,
            base_version=update.base_version,
            marker=version_marker(update.requester or "docflow", update.request_id),
            document=update.document,
        )
        self._record.set_state(CHECKING, f"Content Server: versions of node {update.node_id}")
        try:
            versions = await call(
                EcmRequestActivities.node_versions,
                upload,
                content_server.CALL,
                summary=f"Read the versions of node {update.node_id}",
                record=self._record,
            )
        except GaveUp as failure:
            await self._conclude(Out.FAILED, f"Content Server: {failure.reason}")
        if not versions.found:
            await self._conclude(Out.REFUSED, versions.reason)
        self._current = versions.latest_version
        if versions.marked_version is not None:
            self._version = versions.marked_version
            self._record.record("found", "system", f"v{self._version} added before")
        elif versions.latest_version != update.base_version:
            await self._conclude(
                Out.CONFLICT,
                f"base version {update.base_version} is stale: node {update.node_id} is at "
                f"version {versions.latest_version}",
            )
        else:
            await self._upload(upload)
        await self._apply_metadata()
        await self._conclude(Out.UPDATED, "")

    async def _upload(self, upload: VersionUpload) -> None:
        self._record.set_state(UPLOADING, f"Content Server: new version of node {upload.node_id}")
        try:
            uploaded = await call(
                EcmRequestActivities.add_version,
                upload,
                content_server.TRANSFER,
                summary=f"Add version {upload.base_version + 1} to node {upload.node_id}",
                record=self._record,
            )
        except GaveUp as failure:
            if failure.error_type == VERSION_CONFLICT:  # someone added one meanwhile
                self._current = int(failure.details.get("current_version") or 0) or None
                await self._conclude(Out.CONFLICT, failure.reason)
            await self._conclude(Out.FAILED, f"upload gave up: {failure.reason}")
        self._version, self._current = uploaded.version, uploaded.version
        self._record.record("uploaded", "system", f"v{uploaded.version}")

    async def _apply_metadata(self) -> None:
        update = self._input
        if not update.metadata:
            return
        try:
            self._metadata = await call(
                EcmRequestActivities.apply_metadata,
                MetadataWrite(node_id=update.node_id, metadata=update.metadata),
                content_server.CALL,
                summary=f"Set the metadata of node {update.node_id}",
                record=self._record,
            )
        except GaveUp as failure:  # the version stands; support sets the values
            why = "refused" if failure.error_type == METADATA_REFUSED else "gave up"
            self._record.data.outcome_reason = f"metadata {why}: {failure.reason}"
            self._record.record("metadata_not_applied", "system", failure.reason)
            await self._notify.support(
                f"Content update {update.key}: metadata not applied to node {update.node_id}",
                key="metadata",
                reason=failure.reason,
            )
            return
        self._record.record("metadata_applied", "system", f"categories {self._metadata}")

    async def _conclude(self, outcome: ContentUpdateOutcome, reason: str) -> NoReturn:
        self._outcome = outcome
        if reason:
            self._record.data.outcome_reason = reason
        await self._report(outcome)
        self._record.record(outcome.value, "system", self._record.data.outcome_reason)
        self._record.set_state(outcome.value, "nothing (finished)")
        if outcome is Out.FAILED:
            await self._notify.support(
                f"Content update {self._input.key} failed", key="failed", reason=reason
            )
        raise ProcessEnded

    async def _report(self, outcome: ContentUpdateOutcome) -> None:
        update = self._input
        if update.requester is None:
            return
        message = OutboundMessage(
            target=update.requester,
            event_type=CALLBACK,
            idempotency_key=f"{workflow.info().workflow_id}:{outcome.value}",
            business_key=update.key,
            payload=callback_payload(
                request_id=update.request_id,
                outcome=outcome.value,
                node_id=update.node_id,
                base_version=update.base_version,
                version=self._version,
                current_version=self._current,
                reason=self._record.data.outcome_reason,
            ),
        )
        self._callback = await start_callback(message)

    async def _cancelled(self) -> None:
        self._record.data.outcome_reason = "cancelled (Temporal cancellation)"
        self._record.set_state("cancelled", "nothing (finished)")

    @workflow.query(name="status")
    def result(self) -> ContentUpdateResult:
        update = self._input
        return ContentUpdateResult.model_validate(
            {
                **self._record.summary_fields(),
                "requester": update.requester,
                "request_id": update.request_id,
                "node_id": update.node_id,
                "base_version": update.base_version,
                "outcome": self._outcome,
                "version": self._version,
                "current_version": self._current,
                "reason": self._record.data.outcome_reason,
                "metadata_applied": self._metadata,
                "callback_workflow_id": self._callback,
            }
        )
