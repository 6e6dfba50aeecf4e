"""Master data record: one long-lived workflow per record of a governed source (a PIM's
product, an ERP's reference content) keeps its Amplience content item up to date.

The story: a record arrives (signal-with-start from the API) → the newest version wins, an
older or the same version is ignored and counted → it is validated against this
environment's mapping (an invalid record is refused with every reason, recorded, support
told, and nothing is written; the workflow waits for a newer version) → its item is found
through the ledger: the item id the workflow remembers, else the item holding the record's
delivery key, so a lost ledger never makes a duplicate → the item is created or updated (a
version conflict is re-read and re-applied by the client) → when the mapping says so it is
published, and the publishing job is followed to COMPLETED or FAILED (FAILED is an outcome
recorded and told to support, not a crash). Publishing takes a token of the worker-wide
limiter first; a 429 is retried with exponential back-off.

A write or publish that gave up is recorded and told to support; the same version sent again
(or a newer one) tries again. The workflow continues as new past its history budget and ends
after a long idle time (the delivery key finds the item when the record comes back).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.kit.calls import GaveUp, call
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.amplience import AmplienceActivities
    from activities.amplience import options as amplience
    from activities.amplience.activities import ItemRef, UpsertItemInput
    from activities.validation import ValidationActivities
    from activities.validation import options as validation
    from docflow.models.master_data import (
        DeliveryKeyLookup,
        ItemDraft,
        MasterDataCarry,
        MasterDataInput,
        MasterDataRecord,
        MasterDataState,
        MasterDataStatus,
        PublishOutcome,
    )

S = MasterDataState
INDEXED_STATES = {S.WAITING, S.IN_SYNC, S.REFUSED, S.PUBLISH_FAILED, S.EXCEPTION, S.ENDED}
# Amplience refused the content itself (its schema validation): a refusal, not an outage.
REFUSED_BY_AMPLIENCE = "InvalidContentError"
ITEM_GONE = "NotFoundError"


@workflow.defn(name="MasterDataWorkflow", versioning_behavior=behaviour("MasterDataWorkflow"))
class MasterDataWorkflow:
    @workflow.init
    def __init__(self, process: MasterDataInput) -> None:
        carry = process.resume or MasterDataCarry()
        self._input, self._carry = process, carry
        self._record = ProcessRecord(
            "master-data",
            process.key,
            state=S.WAITING,
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=carry.record,
        )
        carry.record = self._record.data
        self._notify = Notifier(process.key, self._record)
        self._applying = -1  # the version being applied right now

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, process: MasterDataInput) -> MasterDataStatus:
        if process.resume is None:
            self._record.index_at_start(
                business_key=process.key,
                source_record=process.key,
                document_type=process.record_type,
                environment=process.environment,
                source_system=process.source,
            )
            self._record.record("started", process.started_by, process.key)
        await run_story(self._story, on_cancel=self._temporal_cancel, record=self._record)
        return self.status()

    async def _story(self) -> None:
        carry = self._carry
        while True:
            self._wait_for_next()
            try:
                await workflow.wait_condition(
                    lambda: carry.pending is not None or self._due(),
                    timeout=timedelta(days=self._input.idle_days),
                    timeout_summary="a record idle this long ends its workflow",
                )
            except TimeoutError:
                await self._finish(f"no record for {self._input.idle_days:g} days")
            if carry.pending is None:
                await self._continue_as_new()
            assert carry.pending is not None
            record, carry.pending = carry.pending, None
            self._applying = record.version  # older records arriving meanwhile are stale
            try:
                await self._apply(record)
            finally:
                self._applying = -1

    def _wait_for_next(self) -> None:
        """Keep the state an outcome left (refused, failed) while waiting for the next one."""
        state = self._record.state
        if state in (S.REFUSED, S.PUBLISH_FAILED, S.EXCEPTION):
            return
        first = self._carry.item_id is None
        self._record.set_state(
            S.WAITING if first else S.IN_SYNC,
            f"{'the first valid' if first else 'a newer'} version of {self._input.key}",
        )

    def _due(self) -> bool:
        return history_due(self._input.history_budget)

    async def _continue_as_new(self) -> None:
        self._carry.runs += 1
        self._record.record("continued", "system", f"run {self._carry.runs}")
        await continue_as_new(
            self._input.model_copy(update={"resume": self._carry}), record=self._record
        )

    # ------------------------------------------------------------------ apply
    async def _apply(self, record: MasterDataRecord) -> None:
        carry = self._carry
        try:
            verdict = await call(
                ValidationActivities.validate_master_data,
                record,
                validation.VALIDATE,
                summary=f"Validate {record.key} v{record.version} (this environment's mapping)",
                record=self._record,
            )
        except GaveUp as failure:  # the bundle stayed broken: nothing is written
            await self._trouble(record, S.EXCEPTION, f"validation gave up: {failure.reason}")
            return
        if not verdict.accepted or verdict.draft is None:
            await self._refused(record, verdict.reasons, "refused")
            return
        draft = verdict.draft
        carry.delivery_key = draft.delivery_key
        self._record.set_state(S.WRITING, f"Amplience to write {draft.delivery_key}")
        try:
            item_id, item_version = await self._write(record, draft)
        except GaveUp as failure:
            if failure.error_type == REFUSED_BY_AMPLIENCE:
                await self._refused(record, [failure.reason], "refused_by_amplience")
            else:
                await self._trouble(record, S.EXCEPTION, f"writing gave up: {failure.reason}")
            return
        created = carry.item_id is None
        carry.item_id, carry.item_version = item_id, item_version
        carry.applied_version, carry.applied = record.version, carry.applied + 1
        carry.failed_version, carry.reasons = None, []
        self._record.record(
            "written",
            record.source,
            f"v{record.version} → item {item_id} v{item_version} "
            f"({'created' if created else 'updated'}; mapping {verdict.config_version})",
        )
        if draft.publish:
            await self._publish(record, item_id, item_version)
        else:
            self._record.set_state(S.IN_SYNC, f"a newer version of {self._input.key}")

    async def _write(self, record: MasterDataRecord, draft: ItemDraft) -> tuple[str, int]:
        """Find the item (ledger, else its delivery key) and create or update it."""
        carry = self._carry
        for _ in range(2):
            if carry.item_id is None:
                found = await call(
                    AmplienceActivities.find_by_delivery_key,
                    DeliveryKeyLookup(delivery_key=draft.delivery_key),
                    amplience.CALL,
                    summary=f"Find the item with delivery key {draft.delivery_key}",
                    record=self._record,
                )
                if found.item_id is not None:
                    carry.item_id = found.item_id
                    self._record.record(
                        "ledger_recovered", "system", f"item {found.item_id} by delivery key"
                    )
            request = UpsertItemInput(
                repository_id=draft.repository_id,
                label=draft.label,
                body=draft.body,
                item_id=carry.item_id,
                locale=draft.locale,
            )
            try:
                item = await call(
                    AmplienceActivities.upsert_item,
                    request,
                    amplience.CALL,
                    summary=f"{'Update' if carry.item_id else 'Create'} {draft.delivery_key} "
                    f"from v{record.version}",
                    record=self._record,
                )
            except GaveUp as failure:
                if failure.error_type != ITEM_GONE or carry.item_id is None:
                    raise
                # The ledger's item was deleted in Amplience: look for the key again.
                self._record.record("ledger_stale", "system", f"item {carry.item_id} is gone")
                carry.item_id = None
                continue
            return item.id, item.version
        raise GaveUp("amplience", "write", "the item vanished twice while being written")

    async def _publish(self, record: MasterDataRecord, item_id: str, version: int) -> None:
        carry = self._carry
        self._record.set_state(S.PUBLISHING, f"Amplience to publish item {item_id} v{version}")
        try:
            job = await call(
                AmplienceActivities.publish,
                ItemRef(item_id=item_id),
                amplience.PUBLISH,
                summary=f"Publish item {item_id} v{version} and follow the job",
                record=self._record,
            )
        except GaveUp as failure:
            carry.publish = PublishOutcome(version=version, state="GAVE_UP", error=failure.reason)
            await self._trouble(record, S.PUBLISH_FAILED, f"publishing gave up: {failure.reason}")
            return
        outcome = PublishOutcome.model_validate(
            {
                "version": version,
                "state": job.state,
                "job_id": job.id,
                "error": job.publish_error_status or "",
            }
        )
        carry.publish = outcome
        if outcome.state != "COMPLETED":
            await self._trouble(
                record,
                S.PUBLISH_FAILED,
                f"publishing job {job.id} ended {job.state}: {outcome.error or 'no reason given'}",
            )
            return
        self._record.record("published", "amplience", f"item {item_id} v{version} (job {job.id})")
        self._record.set_state(S.IN_SYNC, f"a newer version of {self._input.key}")

    # --------------------------------------------------------------- outcomes
    async def _refused(self, record: MasterDataRecord, reasons: list[str], kind: str) -> None:
        """Nothing is written; the record waits for a newer version that is valid."""
        carry = self._carry
        carry.refused_version, carry.reasons, carry.refused = (
            record.version,
            list(reasons),
            carry.refused + 1,
        )
        why = "; ".join(reasons) or "refused"
        self._record.record(kind, record.source, f"v{record.version}: {why}")
        self._record.set_state(S.REFUSED, f"a newer, valid version of {self._input.key}")
        await self._notify.support(
            f"Master data {record.key} v{record.version} refused: {why}",
            key=f"refused:{record.version}",
            reason=why,
        )

    async def _trouble(self, record: MasterDataRecord, state: MasterDataState, why: str) -> None:
        """A write or publish that did not succeed: support is told; the same version sent
        again (or a newer one) tries again."""
        carry = self._carry
        carry.failed_version, carry.reasons = record.version, [why]
        self._record.record(state.value, "system", f"v{record.version}: {why}")
        self._record.set_state(
            state, f"the version sent again, or a newer one, of {self._input.key}", attention=True
        )
        await self._notify.support(
            f"Master data {record.key} v{record.version}: {why}",
            key=f"{state.value}:{record.version}",
            reason=why,
        )

    async def _finish(self, reason: str) -> None:
        self._record.data.outcome_reason = reason
        self._record.set_state(S.ENDED, "nothing (finished)")
        self._record.record("finished", "system", reason)
        raise ProcessEnded

    async def _temporal_cancel(self) -> None:
        """A Temporal cancel stops docflow's sync of this record; the item stays."""
        self._record.data.outcome_reason = "sync stopped by a Temporal cancellation"
        self._record.set_state(S.ENDED, "nothing (sync stopped)")
        self._record.record("cancelled", "system", "sync stopped; the Amplience item is kept")

    # -------------------------------------------------------------- signals
    @workflow.signal(name="master_data_record")
    def master_data_record(self, record: MasterDataRecord) -> None:
        """A version of the record: the newest wins; older and same versions are ignored
        (except the version whose write or publish failed, sent again to retry it)."""
        carry, process = self._carry, self._input
        if (record.source, record.record_type, record.record_id) != (
            process.source,
            process.record_type,
            process.record_id,
        ):
            carry.ignored += 1
            return
        newest = max(carry.newest_version, self._applying)
        retry = record.version == carry.failed_version and record.version == newest
        if record.version <= newest and not retry:
            carry.ignored += 1
            self._record.record(
                "ignored", record.source, f"stale v{record.version} (have v{newest})"
            )
            return
        if carry.pending is not None:
            carry.ignored += 1  # superseded before it was applied: the newer version wins
        carry.newest_version = max(carry.newest_version, record.version)
        carry.pending = record
        self._record.record("received", record.sent_by or record.source, f"v{record.version}")

    # -------------------------------------------------------------- queries
    @workflow.query(name="status")
    def status(self) -> MasterDataStatus:
        carry, process = self._carry, self._input
        return MasterDataStatus.model_validate(
            {
                **self._record.summary_fields(),
                "source": process.source,
                "record_type": process.record_type,
                "record_id": process.record_id,
                "item_id": carry.item_id,
                "item_version": carry.item_version,
                "delivery_key": carry.delivery_key,
                "newest_version": carry.newest_version,
                "applied_version": carry.applied_version,
                "refused_version": carry.refused_version,
                "reasons": list(carry.reasons),
                "publish": carry.publish,
                "applied": carry.applied,
                "refused": carry.refused,
                "ignored": carry.ignored,
                "pending_version": carry.pending.version if carry.pending else None,
                "applying_version": self._applying if self._applying >= 0 else None,
            }
        )

    def _details(self) -> str:
        carry = self._carry
        lines = [
            f"Master data record `{self._input.key}`",
            f"Amplience item: {carry.item_id} v{carry.item_version} ({carry.delivery_key})"
            if carry.item_id
            else "Amplience item: not written yet",
            f"Version applied: {carry.applied_version} · applied {carry.applied}, refused "
            f"{carry.refused}, ignored {carry.ignored} · run {carry.runs}",
        ]
        if carry.reasons:
            lines.append("Last problem: " + "; ".join(carry.reasons))
        if carry.publish:
            lines.append(f"Last publish: v{carry.publish.version} {carry.publish.state}")
        return "\n\n".join(lines)
