"""Content distribution: one workflow per Amplience content item delivers each approved version
to every downstream target of its route, notifies the route's channels, and closes the loop.

The story: an approval (a signed Amplience webhook, signal-with-start) → read the version it
names and confirm it is approved (the webhook is a hint) → route it by this environment's
rules and map one payload per target → deliver to every target and channel in parallel, each
on its own retry schedule and rate limit (`deliver_to_target`), so a slow or failing target
holds back no other → every target accepted: the item moves to 'Distributed'; a target refused
(4xx, a validation body, a field the mapping requires) or gave up after its schedule: the item
moves to 'Integration failed' with the reason per target and support is told. The content
team's next approved version is distributed afresh; an operator may retry only the failed
targets (`retry_failed`). A newer approved version supersedes one still being delivered.

Each delivery (target, version, attempts, status, times, payload hash) is in the audit trail
(`status` query). Duplicates are ignored by webhook id, older versions by number (also one
overtaken by a newer approval before it was planned), so every approval signalled is either
planned or counted in `ignored`. The workflow
continues as new past its history budget and ends after `idle_days` without an approval.
"""

from __future__ import annotations

import asyncio
import builtins
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.kit.calls import GaveUp, best_effort, call
from workflows.kit.events import EventInbox
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.amplience import options as amplience
    from activities.amplience.distribution import DistributionActivities
    from activities.targets import TargetActivities
    from activities.targets import options as targets
    from docflow import search_attributes as sa
    from docflow.models.content import (
        ApprovalEvent,
        DeliveryStatus,
        DistributionCarry,
        DistributionInput,
        DistributionPlan,
        DistributionStatus,
        FeedbackInput,
        PlanDistributionInput,
        RetryFailedRequest,
        TargetDelivery,
        TargetMessage,
    )
    from docflow.models.records import DELIVERY_FAILED_KIND, ApprovedVersion

WAIT_SUPERSEDED_PATCH = "distribution.superseded-deliveries-end-first"
INDEXED_STATES = {"waiting", "distributing", "distributed", "integration_failed"}
SEEN_EVENTS = 500  # webhook ids remembered per item (older duplicates are stale by version)
AUDIT_DELIVERIES = 200  # deliveries kept in the audit trail (newest)


@workflow.defn(
    name="ContentDistributionWorkflow",
    versioning_behavior=behaviour("ContentDistributionWorkflow"),
)
class ContentDistributionWorkflow:
    @workflow.init
    def __init__(self, request: DistributionInput) -> None:
        carry = request.resume or DistributionCarry()
        self._input, self._carry = request, carry
        self._key = f"content:{request.item_id}"
        self._record = ProcessRecord(
            "content_distribution",
            self._key,
            state="waiting",
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=carry.record,
        )
        carry.record = self._record.data
        self._events = EventInbox(
            carry.inbox, id_of=lambda e: e.event_id, subject_of=lambda e: "", seen_limit=SEEN_EVENTS
        )
        self._notify = Notifier(self._key, self._record)
        self._retry: RetryFailedRequest | None = None
        self._busy_version = 0  # the version being planned or delivered right now

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, request: DistributionInput) -> DistributionStatus:
        if request.resume is None:
            self._record.index_at_start(
                business_key=self._key,
                source_record=f"AMPLIENCE/content-item/{request.item_id}",
                document_type="content-item",
                environment=request.environment,
                source_system="AMPLIENCE",
            )
            self._record.record("started", "amplience", request.item_id)
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        return self.status()

    async def _story(self) -> None:
        carry, request = self._carry, self._input
        while True:
            if not await self._wait_for_work():
                self._record.record("idle", "system", f"no approval for {request.idle_days} days")
                raise ProcessEnded
            if history_due(request.history_budget) and self._retry is None:
                await self._continue_as_new()
            if self._retry is not None:
                await self._retry_failed(self._retry)
                self._retry = None
                continue
            event, carry.pending = carry.pending, None
            assert event is not None
            await self._distribute(event)

    async def _cancelled(self) -> None:
        """A Temporal cancellation (Web UI, batch): stop distributing this item; deliveries
        still retrying are cancelled with the story."""
        self._record.record("cancelled", "operator", "distribution cancelled in Temporal")
        self._record.set_state("cancelled", "nothing (finished)")

    async def _wait_for_work(self) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._carry.pending is not None or self._retry is not None,
                timeout=timedelta(days=self._input.idle_days),
                timeout_summary="idle: no approval",
            )
        except builtins.TimeoutError:  # (TimeoutError here is Temporal's)
            return False
        return True

    async def _distribute(self, event: ApprovalEvent) -> None:
        carry = self._carry
        self._busy_version = event.version or carry.distributed_version + 1
        what = f"v{event.version}" if event.version else "the latest published version"
        self._record.set_state("distributing", f"Amplience: read {what} of {event.item_id}")
        try:
            plan = await call(
                DistributionActivities.plan,
                PlanDistributionInput(
                    item_id=event.item_id,
                    version=event.version,
                    event_name=event.event_name,
                    state_id=event.state_id,
                ),
                amplience.CALL,
                summary=f"Read and route {event.item_id} {what}",
                record=self._record,
            )
        except GaveUp as failure:
            # Amplience unreadable for the whole give-up time: nobody to report to there.
            self._record.record("plan_failed", "system", failure.reason)
            self._record.set_state(
                "integration_failed",
                "the next approval, or an operator's retry",
                attention=sa.DISTRIBUTION_FAILED,
            )
            carry.plan, carry.unplanned = None, event  # an operator's retry plans it again
            self._busy_version = 0
            await self._notify.support(
                f"Distribution of {event.item_id} could not read the item",
                key=f"plan:{event.event_id}",
                reason=failure.reason,
            )
            return
        self._busy_version = plan.version
        if not plan.confirmed or plan.version <= carry.distributed_version:
            why = plan.why_not or f"v{plan.version} is distributed already"
            self._record.record("not_distributed", "system", f"v{plan.version}: {why}")
            carry.ignored += 1
            self._back_to_rest()
            return
        carry.plan, carry.unplanned = plan, None
        self._record.approved(
            ApprovedVersion(
                source="amplience",
                object_id=plan.item_id,
                version=plan.version,
                name=plan.label[:255],
                mime_type="application/json",
                approved_at=workflow.now(),
                approved_by="amplience",
                document_type=(plan.schema_uri or "")[:128],
            )
        )
        if plan.route is None:
            self._record.record("no_route", "system", f"v{plan.version}: {plan.why_not}")
            carry.distributed_version = plan.version
            self._back_to_rest()
            return
        self._record.record(
            "planned",
            "system",
            f"v{plan.version} route {plan.route}: "
            + ", ".join(m.target for m in plan.messages)
            + (
                f"; refused by mapping: {', '.join(r.target for r in plan.refused)}"
                if plan.refused
                else ""
            )
            + f" (config {plan.config_version})",
        )
        workflow.upsert_search_attributes(
            [
                sa.TARGETS.value_set(
                    sorted({m.target for m in plan.messages} | {r.target for r in plan.refused})
                )
            ]
        )
        carry.rounds = 1
        now = workflow.now()
        for refused in plan.refused:
            self._audit(
                TargetDelivery(
                    target=refused.target,
                    kind="target",
                    version=plan.version,
                    idempotency_key=f"{plan.item_id}:{plan.version}:{refused.target}",
                    status=DeliveryStatus.FAILED,
                    reason="refused by the mapping: " + "; ".join(refused.reasons),
                    payload_sha256="",
                    started_at=now,
                    finished_at=now,
                )
            )
        await self._deliver(plan, plan.messages)

    async def _deliver(self, plan: DistributionPlan, messages: list[TargetMessage]) -> None:
        """Every message in parallel; a newer approval cancels what is still on its way."""
        carry = self._carry
        self._record.set_state(
            "distributing",
            f"{len(messages)} targets and channels to accept v{plan.version}",
            stage=plan.route,
        )
        tasks = [asyncio.ensure_future(self._deliver_one(plan, m, carry.rounds)) for m in messages]

        async def stop() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            await workflow.wait_condition(
                lambda: all(t.done() for t in tasks) or self._superseded(plan.version)
            )
        except asyncio.CancelledError:  # the run is cancelled: so are its deliveries
            await stop()
            raise
        if not all(t.done() for t in tasks):
            await stop()
            newer = carry.pending.version if carry.pending else None
            self._record.record("superseded", "system", f"v{plan.version} by v{newer}")
            self._busy_version = 0
            return
        self._busy_version = 0
        await self._conclude(plan)

    async def _deliver_one(self, plan: DistributionPlan, message: TargetMessage, rnd: int) -> None:
        entry = TargetDelivery(
            target=message.target,
            kind=message.kind,
            version=plan.version,
            idempotency_key=message.idempotency_key,
            status=DeliveryStatus.DELIVERING,
            payload_sha256=message.payload_sha256,
            started_at=workflow.now(),
            round=rnd,
        )
        self._audit(entry)
        # A superseded version's attempt still in flight finishes before the newer version is
        # sent, so a target never receives an older version after a newer one.
        options = targets.DELIVER
        if workflow.patched(WAIT_SUPERSEDED_PATCH):
            options = replace(options, wait_cancelled=True)
        try:
            receipt = await call(
                TargetActivities.deliver,
                message,
                options,
                summary=f"Deliver {plan.item_id} v{plan.version} to {message.target}",
            )
        except GaveUp as failure:
            entry.status = DeliveryStatus.FAILED
            entry.reason = failure.reason
            entry.attempts = int(failure.details.get("attempts") or 0)
            status = failure.details.get("status")
            entry.http_status = int(status) if isinstance(status, int) else None
        except (asyncio.CancelledError, ActivityError):  # cancelled: superseded (or the run)
            entry.status = DeliveryStatus.SUPERSEDED
            entry.reason = (
                "a newer approved version supersedes it"
                if self._superseded(plan.version)
                else "the distribution was cancelled"
            )
        else:
            entry.status = DeliveryStatus.DELIVERED
            entry.attempts, entry.http_status = receipt.attempts, receipt.status_code
        entry.finished_at = workflow.now()

    async def _conclude(self, plan: DistributionPlan) -> None:
        """Report the version's outcome to Amplience, support and the record."""
        carry = self._carry
        latest = self._latest(plan.version)
        failed = {d.target: d.reason for d in latest if d.status == DeliveryStatus.FAILED}
        failed_targets = {t: r for t, r in failed.items() if self._kind(t, latest) == "target"}
        feedback = plan.feedback
        if not failed:
            carry.distributed_version = plan.version
            self._record.record("distributed", "system", f"v{plan.version} to {len(latest)}")
            self._back_to_rest()
            if feedback.distributed_state_id:
                await self._report(
                    plan, feedback.distributed_state_id, feedback.distributed_state_label, {}
                )
            return
        reasons = "; ".join(f"{t}: {r}" for t, r in sorted(failed.items()))
        for target, reason in sorted(failed.items()):
            self._record.record(
                DELIVERY_FAILED_KIND,
                "system",
                f"v{plan.version} to {target}: {reason}"[:500],
                data={"target": target, "reason": reason[:300]},
            )
        self._record.record("integration_failed", "system", f"v{plan.version}: {reasons}")
        self._record.set_state(
            "integration_failed",
            f"a fixed, approved version or an operator's retry of {', '.join(sorted(failed))}",
            stage=plan.route,
            until=timedelta(days=feedback.failure_window_days),
            attention=sa.DISTRIBUTION_FAILED,
        )
        if failed_targets and feedback.failed_state_id:
            await self._report(
                plan, feedback.failed_state_id, feedback.failed_state_label, failed_targets
            )
        await self._notify.support(
            f"Distribution of {plan.label or plan.item_id} v{plan.version} failed",
            key=f"v{plan.version}:r{carry.rounds}:failed",
            reason=reasons,
        )

    async def _report(
        self, plan: DistributionPlan, state_id: str, label: str, failures: dict[str, str]
    ) -> None:
        await best_effort(
            DistributionActivities.report,
            FeedbackInput(
                item_id=plan.item_id,
                version=plan.version,
                state_id=state_id,
                state_label=label,
                failures=failures,
                failure_field=plan.feedback.failure_field,  # no failures: cleared
                approved_state_id=plan.feedback.approved_state_id,
            ),
            amplience.CALL,
            summary=f"Move {plan.item_id} to {label!r} in Amplience",
            on_give_up=lambda f: self._record.record("report_failed", "system", f.reason),
        )
        self._record.record("reported", "system", f"v{plan.version} → {label}")

    async def _retry_failed(self, request: RetryFailedRequest) -> None:
        carry = self._carry
        plan = carry.plan
        if plan is None:  # the plan itself failed: plan again
            if carry.unplanned is not None:
                event, carry.unplanned = carry.unplanned, None
                self._record.record("retry", request.actor, f"plan again {request.comment}")
                await self._distribute(event)
            return
        failed = {d.target for d in self._latest(plan.version) if d.status == DeliveryStatus.FAILED}
        chosen = set(request.targets) or failed
        messages = [m for m in plan.messages if m.target in chosen & failed]
        carry.rounds += 1
        self._record.record(
            "retry", request.actor, f"{', '.join(m.target for m in messages)} {request.comment}"
        )
        await self._deliver(plan, messages)

    # ------------------------------------------------------------------ signals and updates
    @workflow.signal(name="approved")
    def approved(self, event: ApprovalEvent) -> None:
        """An approval webhook (deduplicated by id; an older version than one taken is stale)."""
        carry = self._carry
        if self._events.offer(event, keep=False) != "accepted":
            carry.ignored += 1
            return
        pending = carry.pending
        newest = max(
            carry.distributed_version, self._busy_version, pending.version or 0 if pending else 0
        )
        if event.version is not None and event.version <= newest:
            carry.ignored += 1
            return
        if pending is not None:
            carry.ignored += 1  # overtaken before it was planned: an older version, ignored
        carry.pending = event

    @workflow.update(name="retry_failed")
    def retry_failed(self, request: RetryFailedRequest) -> str:
        self._retry = request
        return "retrying"

    @retry_failed.validator
    def _validate_retry(self, request: RetryFailedRequest) -> None:
        carry = self._carry
        if self._record.state != "integration_failed" or self._retry is not None:
            raise ValueError(f"nothing to retry (distribution is {self._record.state})")
        plan = carry.plan
        if plan is None:
            if carry.unplanned is None:
                raise ValueError("nothing to retry: no version was planned")
            return
        latest = self._latest(plan.version)
        failed = {d.target for d in latest if d.status == DeliveryStatus.FAILED}
        mapping = {r.target: r.reasons for r in plan.refused}
        unknown = [t for t in request.targets if t not in failed]
        if unknown:
            raise ValueError(f"not failed for v{plan.version}: {', '.join(unknown)}")
        chosen = set(request.targets) or failed
        fixable = chosen - set(mapping)
        if not fixable:
            reasons = "; ".join(f"{t}: {', '.join(r)}" for t, r in sorted(mapping.items()))
            raise ValueError(
                f"the item itself must be fixed in Amplience and approved again ({reasons})"
            )

    @workflow.query(name="status")
    def status(self) -> DistributionStatus:
        carry = self._carry
        plan = carry.plan
        return DistributionStatus.model_validate(
            {
                **self._record.summary_fields(),
                "item_id": self._input.item_id,
                "version": plan.version if plan else 0,
                "label": plan.label if plan else "",
                "route": plan.route if plan else None,
                "distributed_version": carry.distributed_version,
                "deliveries": carry.deliveries,
                "ignored": carry.ignored,
            }
        )

    # ------------------------------------------------------------------ helpers
    def _superseded(self, version: int) -> bool:
        pending = self._carry.pending
        return pending is not None and (pending.version is None or pending.version > version)

    def _latest(self, version: int) -> list[TargetDelivery]:
        """The newest delivery per target for `version`."""
        latest: dict[str, TargetDelivery] = {}
        for entry in self._carry.deliveries:
            if entry.version == version:
                latest[entry.target] = entry
        return list(latest.values())

    @staticmethod
    def _kind(target: str, entries: list[TargetDelivery]) -> str:
        return next((e.kind for e in entries if e.target == target), "target")

    def _audit(self, entry: TargetDelivery) -> None:
        deliveries = self._carry.deliveries
        deliveries.append(entry)
        if len(deliveries) > AUDIT_DELIVERIES:
            del deliveries[: len(deliveries) - AUDIT_DELIVERIES]

    def _back_to_rest(self) -> None:
        if self._carry.distributed_version:
            self._record.set_state(
                "distributed", f"the next approved version (v{self._carry.distributed_version} out)"
            )
        else:
            self._record.set_state("waiting", "an approved version")

    def _details(self) -> str:
        carry = self._carry
        plan = carry.plan
        if plan is None:
            return f"Item {self._input.item_id}: no approved version yet"
        latest = self._latest(plan.version)
        done = sum(1 for d in latest if d.status == DeliveryStatus.DELIVERED)
        failed = [d.target for d in latest if d.status == DeliveryStatus.FAILED]
        text = f"{plan.label} v{plan.version} ({plan.route}): delivered {done}/{len(latest)}"
        return text + (f", failed: {', '.join(failed)}" if failed else "")

    async def _continue_as_new(self) -> None:
        await continue_as_new(
            self._input.model_copy(update={"resume": self._carry}), record=self._record
        )
