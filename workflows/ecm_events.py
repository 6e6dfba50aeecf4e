"""ECM event relay: one workflow per Content Server document takes in its events, from the
signed webhooks and from docflow's audit poller alike, and relays each once, in ECM's order,
to every subscribed system, and starts the lifecycle actions its rules name.

The story: events arrive (signal-with-start, `ecm_event`) → the same event seen twice (by
node, event type and audit date) is dropped → the document's events are held `hold_s` after the
last arrival and put in ECM's order (audit date, then creation before what follows) — the first
time, the audit trail is read for earlier events whose webhook never came, so a version is
never relayed before its creation → each event is planned by this environment's rules (who is
subscribed, which lifecycle rules act) → one message per subscriber, delivered in the
document's order per subscriber: a message waits for the one before it, and one subscriber's
trouble holds back no other. Each attempt is one activity (status, latency and excerpt logged
and shown); the workflow runs the subscriber's schedule (immediately, 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h by default, with jitter, at least the receiver's Retry-After). 410 disables the
endpoint, `webhook-delivery: abort-message` stops the message, past the schedule the message
is dead-lettered: the subscriber's workflow emits `message.attempt.exhausted` and tells
support. A failed message is delivered again by an operator's `replay` (one message, or all of
a subscription since a time — the endpoint's recovery). Each (event, rule) starts one
`LifecycleActionWorkflow`, whose id is made of both.

The workflow continues as new past its history budget and ends after `idle_days` quiet.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows.kit.calls import GaveUp, best_effort, call
from workflows.kit.events import EventInbox
from workflows.kit.human_task import wait_for
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.events import EcmEventSource
    from activities.subscribers import SubscriberActivities
    from activities.subscribers import options as relay
    from docflow import search_attributes as sa
    from docflow.models.ecm_events import (
        DocumentEventsInput,
        DocumentEventsState,
        DocumentEventsStatus,
        EarlierEventsInput,
        EcmEvent,
        EndpointReport,
        EventPlan,
        LifecycleActionInput,
        PlanEventInput,
        PlannedAction,
        RelayAttempt,
        RelayedEvent,
        RelayMessage,
        RelayRequest,
        ReplayRequest,
        ReplayResult,
        action_workflow_id,
        audit_instant,
    )
    from docflow.models.ecm_requests import review_workflow_id
    from docflow.models.process import ProcessSummary
    from docflow.models.records import (
        DELIVERY_FAILED_KIND,
        HOLD_APPLIED_KIND,
        HOLD_RELEASED_KIND,
        ApprovedVersion,
        business_object_key,
    )

INDEXED_STATES = {"relaying", "relay_failed", "quiet"}
TRIGGERS = "ECM"  # the requester name of the reviews lifecycle rules ask for
CREATIONS = ("workspace.created", "node.created")
# Within one audit second, the order a document's life has.
TYPE_RANK = {
    "workspace.created": 0,
    "node.created": 1,
    "workspace.reference_added": 2,
    "node.version_added": 3,
    "node.categories_updated": 4,
    "node.rm_classified": 5,
    "node.hold_applied": 6,
    "node.approved": 7,
}
SEEN_EVENTS = 2000  # event keys remembered (far more than a document has in a retry window)
KEPT_EVENTS = 200  # relayed events shown (newest)
KEPT_FINISHED = 300  # delivered / failed messages kept (newest); pending ones are all kept
KEPT_ATTEMPTS = 20  # attempts shown per message (newest)
EARLIER_GIVE_UP = timedelta(minutes=2)  # reading a document's earlier events from its trail
HOLD_TYPES = {"node.hold_applied": HOLD_APPLIED_KIND, "node.hold_released": HOLD_RELEASED_KIND}
MAX_HOLD_FACTOR = 10  # a steady stream is relayed after at most 10 times hold_s


@workflow.defn(name="EcmDocumentWorkflow", versioning_behavior=behaviour("EcmDocumentWorkflow"))
class EcmDocumentWorkflow:
    @workflow.init
    def __init__(self, request: DocumentEventsInput) -> None:
        self._input = request
        self._s = request.resume or DocumentEventsState()
        self._key = f"node:{request.node_id}"
        self._record = ProcessRecord(
            "ecm_events",
            self._key,
            state="relaying",
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=self._s.record,
        )
        self._s.record = self._record.data
        self._inbox = EventInbox(
            self._s.inbox,
            id_of=lambda e: e.key,
            subject_of=lambda e: "",
            seen_limit=SEEN_EVENTS,
            buffer_limit=1000,
        )
        self._notify = Notifier(self._key, self._record)
        self._first_arrival: datetime | None = None
        self._last_arrival: datetime | None = None
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._draining = False
        self._targets: set[str] = {m.subscription for m in self._s.messages}

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, request: DocumentEventsInput) -> DocumentEventsStatus:
        if request.resume is None:
            self._record.index_at_start(
                business_key=self._key,
                source_record=f"OTCS/node/{request.node_id}",
                document_type="ecm-document",
                environment=request.environment,
                source_system="OTCS",
            )
        for subscription in self._subscriptions_with_work():
            self._pump(subscription)
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        return self.status()

    async def _story(self) -> None:
        idle = timedelta(days=self._input.idle_days)
        while True:
            if not await wait_for(
                lambda: bool(self._s.inbox.buffered) or self._due(), idle, "quiet: next event"
            ):
                if not self._pumps:
                    self._record.record("idle", "system", f"no event for {idle.days} days")
                    self._record.set_state("quiet", "nothing (finished)")
                    raise ProcessEnded
                continue
            if self._s.inbox.buffered:
                await self._hold()
                await self._relay_batch(self._take_in_order())
            if self._due():
                await self._continue_as_new()

    async def _cancelled(self) -> None:
        self._record.record("cancelled", "operator", "relay cancelled in Temporal")
        self._record.set_state("cancelled", "nothing (finished)")

    def _due(self) -> bool:
        return history_due(self._input.history_budget)

    # ------------------------------------------------------------------ intake
    @workflow.signal(name="ecm_event")
    def ecm_event(self, event: EcmEvent) -> None:
        """An event from the receiver or the poller; the same event twice is counted, once."""
        offer = self._inbox.offer(event)
        self._count(f"{event.source}_{offer}")
        if offer == "accepted":
            now = workflow.now()
            self._first_arrival = self._first_arrival or now
            self._last_arrival = now

    async def _hold(self) -> None:
        """Wait until the document's events have settled: `hold_s` after the last arrival
        (a reordered webhook comes within it), at most MAX_HOLD_FACTOR times hold_s in all."""
        hold = timedelta(seconds=self._input.hold_s)
        while self._last_arrival is not None and self._first_arrival is not None:
            now = workflow.now()
            settle = self._last_arrival + hold - now
            cap = self._first_arrival + hold * MAX_HOLD_FACTOR - now
            remaining = min(settle, cap)
            if remaining <= timedelta(0):
                break
            await workflow.sleep(remaining, summary="hold: let reordered events arrive")
        self._first_arrival = self._last_arrival = None

    def _take_in_order(self) -> list[EcmEvent]:
        return _in_order(self._inbox.take(""))

    async def _relay_batch(self, batch: list[EcmEvent]) -> None:
        if not self._s.events and batch and batch[0].type not in CREATIONS:
            batch = await self._with_earlier(batch)
        for event in batch:
            await self._relay(event)

    async def _with_earlier(self, batch: list[EcmEvent]) -> list[EcmEvent]:
        """The document's first events do not start with its creation: read its audit trail
        for what came before (a lost webhook), so that is relayed first."""
        try:
            earlier = await call(
                EcmEventSource.earlier_events,
                EarlierEventsInput(node_id=self._input.node_id, before=batch[0].audit_date),
                # Not worth holding the document's events for long: without it they still go.
                content_server.PLAN_EVENT.giving_up_after(EARLIER_GIVE_UP),
                summary="Read the audit trail for earlier events",
            )
        except GaveUp as failure:
            self._record.record("audit_unread", "system", failure.reason)
            return batch
        found = [e for e in earlier if self._inbox.offer(e, keep=False) == "accepted"]
        if found:
            self._count("audit_earlier", len(found))
        return _in_order(found + batch)

    # ------------------------------------------------------------------ planning
    async def _relay(self, event: EcmEvent) -> None:
        seq = self._s.next_seq
        self._s.next_seq += 1
        late = bool(self._s.events) and event.audit_date < self._s.events[-1].audit_date
        try:
            plan = await call(
                EcmEventSource.plan,
                PlanEventInput(event=event),
                content_server.PLAN_EVENT,
                summary=f"Plan {event.type} (#{seq})",
                record=self._record,
            )
        except GaveUp as failure:
            plan = EventPlan(config_version="", ignored_reason=f"not planned: {failure.reason}")
            self._record.record("plan_failed", "system", f"{event.key}: {failure.reason}")
            await self._notify.support(
                f"ECM event {event.type} of node {event.node.id} could not be planned",
                key=f"plan:{event.key_digest}",
                reason=failure.reason,
            )
        self._remember(event, seq, plan, late)
        payload = _payload(event, seq)
        for subscription in plan.subscribers:
            self._s.messages.append(
                RelayMessage(
                    message_id=f"msg_{event.key_digest}",
                    subscription=subscription,
                    event_key=event.key,
                    event_type=event.type,
                    seq=seq,
                    payload=payload,
                )
            )
            self._pump(subscription)
        self._index_targets(plan.subscribers)
        for action in plan.actions:
            await self._act(event, action, plan.config_version)

    def _remember(self, event: EcmEvent, seq: int, plan: EventPlan, late: bool) -> None:
        self._s.events.append(
            RelayedEvent(
                key=event.key,
                seq=seq,
                type=event.type,
                audit_date=event.audit_date,
                version=event.node.version,
                source=event.source,
                received_at=event.received_at,
                relayed_at=workflow.now(),
                config_version=plan.config_version,
                subscribers=plan.subscribers,
                actions=[a.rule_id for a in plan.actions],
                late=late,
            )
        )
        del self._s.events[: max(0, len(self._s.events) - KEPT_EVENTS)]
        self._count("relayed")
        if late:
            self._count("late")
        detail = f"#{seq} {event.type} ({event.source}) → {', '.join(plan.subscribers) or '-'}"
        if plan.ignored_reason:
            detail += f"; {plan.ignored_reason}"
        self._record.record("event", "ecm", detail)
        self._describe(event)

    def _describe(self, event: EcmEvent) -> None:
        """What the read model shows of the document: where it lives, its holds, and the
        versions ECM approved (which portals and partners may read)."""
        node, workspace, record = event.node, event.workspace, self._record
        facts: dict[str, object] = {"document_node_id": node.id}
        if node.name:
            facts["document_name"] = node.name
        if node.version is not None:
            facts["document_version"] = node.version
        if workspace is not None:
            facts["workspace_id"] = workspace.id
            if workspace.bo_type and workspace.bo_id:
                facts["business_object_type"] = f"{workspace.ext_system_id}/{workspace.bo_type}"
                facts["business_object_id"] = workspace.bo_id
        record.describe(**facts)
        hold = str(event.details.get("hold_id", ""))[:64]
        if event.type in HOLD_TYPES and hold:
            record.record(HOLD_TYPES[event.type], "ecm", f"hold {hold}", data={"hold": hold})
        if event.type == "node.approved" and node.version is not None:
            record.approved(
                ApprovedVersion(
                    source="ecm",
                    object_id=str(node.id),
                    version=node.version,
                    name=node.name,
                    approved_at=datetime.fromisoformat(audit_instant(event.audit_date)),
                    approved_by=str(event.details.get("user", ""))[:255],
                    workspace_id=workspace.id if workspace else None,
                    folder_id=node.parent_id,
                    business_object=business_object_key(
                        workspace.ext_system_id, workspace.bo_type, workspace.bo_id
                    )
                    if workspace
                    else "",
                )
            )

    async def _act(self, event: EcmEvent, action: PlannedAction, config_version: str) -> None:
        """Start the rule's action once for this event (the child's id is made of both): a
        process in a business system, or a review by people in docflow."""
        rule_id = action.rule_id
        # A review is addressed like any requested review (`/v1/ecm/review-tasks/ECM/<id>`).
        workflow_type, arg, child_id = (
            (
                "EcmReviewTaskWorkflow",
                action.review,
                review_workflow_id(TRIGGERS, action.review.request_id),
            )
            if action.review is not None
            else (
                "LifecycleActionWorkflow",
                LifecycleActionInput(rule_id=rule_id, event=event, config_version=config_version),
                action_workflow_id(rule_id, event),
            )
        )
        try:
            await workflow.start_child_workflow(
                workflow_type,
                arg,
                id=child_id,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=f"{rule_id}: {event.type} of node {event.node.id}",
            )
        except WorkflowAlreadyStartedError:
            self._record.record("acted_already", "system", f"{rule_id} for {event.key}")
            return
        self._record.record("action_started", "system", f"{rule_id} for {event.key}")
        self._count("actions")

    # ------------------------------------------------------------------ delivery
    def _pump(self, subscription: str) -> None:
        """Deliver the subscription's pending messages of this document, in order."""
        if subscription in self._pumps or self._draining:
            return
        self._pumps[subscription] = asyncio.create_task(self._drain(subscription))

    async def _drain(self, subscription: str) -> None:
        try:
            while not self._draining:
                message = self._next_pending(subscription)
                if message is None:
                    return
                await self._deliver(message)
        finally:
            del self._pumps[subscription]
            self._show()

    def _next_pending(self, subscription: str) -> RelayMessage | None:
        pending = [
            m for m in self._s.messages if m.subscription == subscription and m.status == "pending"
        ]
        return min(pending, key=lambda m: m.seq) if pending else None

    async def _deliver(self, message: RelayMessage) -> None:
        """Run the schedule for one message until it is delivered or failed; returns early
        (state kept) when the run is about to continue as new."""
        while True:
            if message.next_attempt_at is not None:
                wait = message.next_attempt_at - workflow.now()
                if wait > timedelta(0) and await wait_for(
                    lambda: self._draining, wait, f"retry {message.subscription}"
                ):
                    return
            message.next_attempt_at = None
            message.tries += 1
            try:
                attempt = await call(
                    SubscriberActivities.relay,
                    RelayRequest(
                        subscription=message.subscription,
                        message_id=message.message_id,
                        event_type=message.event_type,
                        payload=message.payload,
                        attempt=message.tries,
                    ),
                    relay.ATTEMPT,
                    summary=f"Relay #{message.seq} {message.event_type} to "
                    f"{message.subscription} (attempt {message.tries})",
                )
            except GaveUp as failure:
                await self._fail(message, failure.reason, exhausted=False)
                return
            self._log_attempt(message, attempt)
            if attempt.outcome == "delivered":
                message.status, message.finished_at, message.reason = "delivered", attempt.at, ""
                self._count("delivered")
                self._trim()
                return
            if attempt.outcome == "rate_limited":
                message.tries -= 1  # no attempt was made
                message.next_attempt_at = workflow.now() + timedelta(
                    seconds=attempt.retry_after_s or 1.0
                )
                continue
            if attempt.outcome in ("gone", "aborted", "disabled"):
                reason = {
                    "gone": "the endpoint is gone (HTTP 410): disabled",
                    "aborted": "the receiver aborted the message (webhook-delivery)",
                    "disabled": "the endpoint is disabled",
                }[attempt.outcome]
                await self._fail(message, f"{reason}: {attempt.excerpt}".rstrip(": "), False)
                return
            if attempt.next_delay_s is None:
                await self._fail(
                    message,
                    f"gave up after {message.tries} attempts: last answer "
                    f"{attempt.status_code or 'none'} {attempt.excerpt}".rstrip(),
                    exhausted=True,
                )
                return
            message.next_attempt_at = workflow.now() + timedelta(seconds=attempt.next_delay_s)

    def _log_attempt(self, message: RelayMessage, attempt: RelayAttempt) -> None:
        message.attempts.append(attempt)
        del message.attempts[: max(0, len(message.attempts) - KEPT_ATTEMPTS)]
        self._count("attempts")

    async def _fail(self, message: RelayMessage, reason: str, exhausted: bool) -> None:
        message.status, message.finished_at, message.reason = "failed", workflow.now(), reason
        self._count("failed")
        self._record.record(
            DELIVERY_FAILED_KIND,
            "system",
            f"#{message.seq} to {message.subscription} dead-lettered: {reason}"[:500],
            data={"target": message.subscription, "reason": reason[:300]},
        )
        self._show()
        if exhausted:
            await best_effort(
                SubscriberActivities.report_endpoint,
                EndpointReport(
                    subscription=message.subscription,
                    kind="exhausted",
                    at=workflow.now(),
                    reason=reason[:300],
                    message_id=f"{message.message_id}:{self._input.node_id}:{message.rounds}",
                ),
                relay.CONTROL,
                summary=f"Tell {message.subscription}'s workflow: message dead-lettered",
                on_give_up=lambda f: self._record.record("report_failed", "system", f.reason),
            )
        self._trim()

    # ------------------------------------------------------------------ operators
    @workflow.update(name="replay")
    def replay(self, request: ReplayRequest) -> ReplayResult:
        """Deliver again one message (any state), or every failed message of a subscription
        since `since` (the endpoint's recovery); each runs a new round of the schedule."""
        chosen = [
            m
            for m in self._s.messages
            if m.subscription == request.subscription
            and (
                m.message_id == request.message_id
                if request.message_id
                else m.status == "failed"
                and (request.since is None or (m.finished_at or workflow.now()) >= request.since)
            )
        ]
        for message in chosen:
            if message.status == "pending":
                continue
            message.status, message.tries, message.reason = "pending", 0, ""
            message.rounds += 1
            message.next_attempt_at = message.finished_at = None
        replayed = [m.message_id for m in chosen]
        if replayed:
            self._record.record(
                "replay", request.actor, f"{len(replayed)} to {request.subscription}"
            )
            self._pump(request.subscription)
        self._show()
        return ReplayResult(replayed=replayed)

    @replay.validator
    def _validate_replay(self, request: ReplayRequest) -> None:
        if request.message_id is None and request.since is None:
            raise ValueError("name a message_id, or recover every failed message since a time")
        if request.message_id is not None and not any(
            m.message_id == request.message_id and m.subscription == request.subscription
            for m in self._s.messages
        ):
            raise ValueError(
                f"no message {request.message_id} to {request.subscription} on this document"
            )

    @workflow.query(name="status")
    def status(self) -> DocumentEventsStatus:
        return DocumentEventsStatus(
            node_id=self._input.node_id,
            summary=ProcessSummary.model_validate(self._record.summary_fields()),
            events=list(self._s.events),
            messages=list(self._s.messages),
            counts=dict(self._s.counts),
        )

    # ------------------------------------------------------------------ bookkeeping
    def _subscriptions_with_work(self) -> list[str]:
        return sorted({m.subscription for m in self._s.messages if m.status == "pending"})

    def _count(self, what: str, n: int = 1) -> None:
        self._s.counts[what] = self._s.counts.get(what, 0) + n

    def _trim(self) -> None:
        finished = [m for m in self._s.messages if m.status != "pending"]
        drop = {id(m) for m in finished[: max(0, len(finished) - KEPT_FINISHED)]}
        if drop:
            self._s.messages = [m for m in self._s.messages if id(m) not in drop]

    def _index_targets(self, subscribers: list[str]) -> None:
        if set(subscribers) <= self._targets:
            return
        self._targets |= set(subscribers)
        workflow.upsert_search_attributes([sa.TARGETS.value_set(sorted(self._targets))])

    def _show(self) -> None:
        failed = [m for m in self._s.messages if m.status == "failed"]
        if failed:
            self._record.set_state(
                "relay_failed",
                f"an operator to replay {len(failed)} failed message(s)",
                attention=sa.RELAY_FAILED,
            )
        elif self._record.state != "relaying":
            self._record.set_state("relaying", "the next event")

    def _details(self) -> str:
        pending = sum(1 for m in self._s.messages if m.status == "pending")
        failed = sum(1 for m in self._s.messages if m.status == "failed")
        return (
            f"node {self._input.node_id}: {self._s.counts.get('relayed', 0)} events relayed, "
            f"{pending} message(s) on their way, {failed} failed"
        )

    async def _continue_as_new(self) -> None:
        self._draining = True
        await workflow.wait_condition(lambda: not self._pumps)
        await continue_as_new(
            self._input.model_copy(update={"resume": self._s}), record=self._record
        )


def _in_order(events: list[EcmEvent]) -> list[EcmEvent]:
    """ECM's order: audit date, then a document's life (created, versions, approval ...)."""
    return sorted(
        events, key=lambda e: (e.audit_date, TYPE_RANK.get(e.type, 9), e.node.version or 0)
    )


def _payload(event: EcmEvent, seq: int) -> dict[str, object]:
    """docflow's contract (external-apis.md §2), as the subscribers get it."""
    return {
        "node": event.node.model_dump(),
        "workspace": event.workspace.model_dump() if event.workspace else None,
        "audit": {"event_type": event.audit_event_type, "audit_date": event.audit_date},
        **({"details": event.details} if event.details else {}),
        "sequence": seq,
        "source": event.source,
    }
