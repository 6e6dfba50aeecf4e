"""A business system's side of the xConnector contract (external-apis.md §5), shared by the
CRM and ERP simulators.

Records are keyed `(bo_type, bo_id)` and carry business fields and a monotonic `version`.
Every business change (create, update, status change, delete) bumps the version and emits ONE
business-object event — a Standard Webhooks message signed with the system's events secret —
through the kit's CallbackDispatcher (retries, delivery faults, `/_control/events`):

    {"type": "business_object.updated", "timestamp": "...Z",
     "data": {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "...", "version": 3,
              "occurred_at": "...Z", "data": {<every current business field: a snapshot>}}}

Every emitted event is kept on its record, so a test can replay an earlier version (with a new
webhook-id, or the same one) or hold an event back and send it after a newer one.

Messages from docflow arrive signed with the system's webhook secret and are applied once per
webhook-id: the signing status reports (as the CRM always did) and the workspace messages
`workspace.provisioned`, `workspace.milestone`, `document.filed` and `workspace.closed`.
What docflow writes never bumps the version nor emits an event (no echo back to docflow).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from standardwebhooks import Webhook

from simulators.kit.delivery import CallbackDispatcher, Delivery, DeliveryFaults, RetryPolicy
from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.inbox import Received, SignedInbox

FieldValue = str | int | float | bool | None
# docflow's BusinessObjectRef accepts these ids; the simulators keep to them.
ObjectId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@-]+$", max_length=200)]
EventKind = Literal["created", "updated", "status_changed", "deleted"]
WORKSPACE_MESSAGES = frozenset(
    {"workspace.provisioned", "workspace.milestone", "document.filed", "workspace.closed"}
)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def random_base62(length: int) -> str:
    """Random, not seeded: ids must not repeat across resets and restarts (docflow keys a
    long-lived workflow on each object; a reused id would meet the old object's history)."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


class BusinessSystemConfig(BaseModel):
    """What every simulated business system has; the CRM and ERP set their own defaults."""

    seed: int = 0
    ext_system_id: str = Field(description="The system's id in docflow's registry, e.g. SFDC.")
    object_types: list[str] = Field(description="Business object types it emits events for.")
    webhook_secret: str = Field(description="Verifies docflow's messages (Standard Webhooks).")
    events_url: str | None = Field(
        default=None,
        description="docflow's receiver of this system's business-object events, "
        "`{api}/webhooks/business-objects/{ext_system_id}`; None = events are kept, not sent.",
    )
    events_secret: str = Field(description="Signs the business-object events (`whsec_...`).")
    events_retry: RetryPolicy = Field(default_factory=RetryPolicy)
    events_faults: DeliveryFaults = Field(default_factory=DeliveryFaults)
    status_field: str = Field(default="status", description="The field a status change sets.")
    records: dict[str, dict[str, dict[str, FieldValue]]] = Field(
        default_factory=dict,
        description="Initial records (version 1, no event): type -> id -> fields.",
    )
    messages_kept: int = Field(default=500, ge=1, description="Messages in /_control/messages.")
    faults: FaultSettings = Field(default_factory=FaultSettings)


class RecordError(Exception):
    """A control or API call that cannot be applied; rendered as `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ------------------------------------------------------------------ records
@dataclass
class EmittedEvent:
    """One business-object event as first emitted; its body is what every replay sends."""

    webhook_id: str
    type: str
    version: int
    occurred_at: datetime
    body: bytes
    sent: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": iso(self.occurred_at),
            "sent": self.sent,
        }


@dataclass
class BusinessRecord:
    """A record: business fields (what events carry), attachments, and what docflow wrote."""

    bo_type: str
    bo_id: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    version: int = 0
    deleted: bool = False
    origin: Literal["seed", "control", "api", "docflow"] = "control"
    attachments: list[dict[str, Any]] = field(default_factory=list)
    content_references: list[dict[str, Any]] = field(default_factory=list)
    writeback: dict[str, Any] = field(default_factory=dict)
    events: list[EmittedEvent] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The flat record, as the system's API shows it (fields, then what docflow wrote)."""
        extra: dict[str, Any] = {}
        if self.attachments:
            extra["attachments"] = self.attachments
        if self.content_references:
            extra["content_references"] = self.content_references
        return {
            **self.fields,
            **self.writeback,
            **extra,
            "type": self.bo_type,
            "id": self.bo_id,
            "version": self.version,
        }

    def detail(self) -> dict[str, Any]:
        """The control view: fields apart from docflow's writes, plus the emitted events."""
        return {
            "bo_type": self.bo_type,
            "bo_id": self.bo_id,
            "version": self.version,
            "deleted": self.deleted,
            "origin": self.origin,
            "fields": self.fields,
            "attachments": self.attachments,
            "content_references": self.content_references,
            "writeback": self.writeback,
            "events": [e.to_json() for e in self.events],
        }

    def add_reference(self, document: dict[str, Any]) -> bool:
        """Keep one reference per node, the newest version; False if nothing changed."""
        for index, known in enumerate(self.content_references):
            if known.get("node_id") == document["node_id"]:
                if int(known.get("version") or 0) >= int(document.get("version") or 0):
                    return False
                self.content_references[index] = document
                return True
        self.content_references.append(document)
        return True


# ------------------------------------------------------------------ docflow's messages
class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ObjectRefIn(_Loose):
    ext_system_id: str
    bo_type: str
    bo_id: str


class DocumentIn(_Loose):
    node_id: int
    version: int = 1
    name: str = ""
    folder_id: int | None = None
    link: str = ""
    sha256: str = ""
    outcome: str = ""


class WorkspaceIn(_Loose):
    workspace_id: int
    name: str = ""
    link: str = ""
    how: str = ""


class MilestoneIn(_Loose):
    kind: str
    status: str | None = None
    detail: str = ""
    business_key: str | None = None
    occurred_at: datetime | None = None
    document: DocumentIn | None = None


class ProvisionedData(_Loose):
    object: ObjectRefIn
    workspace: WorkspaceIn


class MilestoneData(_Loose):
    object: ObjectRefIn
    milestone: MilestoneIn


class FiledData(_Loose):
    object: ObjectRefIn
    source_record: str | None = None
    document: DocumentIn


class ClosedData(_Loose):
    object: ObjectRefIn
    workspace_id: int | None = None
    reason: str = ""


WorkspaceData = ProvisionedData | MilestoneData | FiledData | ClosedData
_DATA_MODELS: dict[str, type[WorkspaceData]] = {
    "workspace.provisioned": ProvisionedData,
    "workspace.milestone": MilestoneData,
    "document.filed": FiledData,
    "workspace.closed": ClosedData,
}


class WorkspaceMessage(_Loose):
    type: str
    timestamp: datetime | None = None
    data: dict[str, Any]


def parse_workspace_message(payload: dict[str, Any]) -> tuple[WorkspaceMessage, WorkspaceData]:
    """The envelope and its typed data; raises ValueError naming what is wrong."""
    try:
        envelope = WorkspaceMessage.model_validate(payload)
        return envelope, _DATA_MODELS[envelope.type].model_validate(envelope.data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None


@dataclass
class MessageLog:
    """One message from docflow, as it was handled (newest last in /_control/messages)."""

    webhook_id: str | None
    type: str | None
    received_at: datetime
    outcome: str
    object: str | None
    payload: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "type": self.type,
            "received_at": iso(self.received_at),
            "outcome": self.outcome,
            "object": self.object,
            "payload": self.payload,
        }


# ------------------------------------------------------------------ the system
class BusinessSystemSim:
    """Records, their events to docflow, and docflow's messages; `app.state.sim` of a system.

    Subclasses name their ids (`new_id`) and add their own state in `reset()`.
    """

    def __init__(self, config: BusinessSystemConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.events = CallbackDispatcher(config.events_retry, config.events_faults, config.seed)
        self._signer = Webhook(config.events_secret)
        self.reset()

    @property
    def system(self) -> str:
        return self.config.ext_system_id

    def reset(self) -> None:
        config = self.config
        self.faults.configure(config.faults)
        self.events.clear()
        self.events.configure(config.events_faults)
        self.events_url = config.events_url
        # One verification (and rejection count) for every message; reports and workspace
        # messages are kept apart so /_control/reports shows the signing reports only.
        self.reports = SignedInbox("reports", config.webhook_secret)
        self.workspace_messages = SignedInbox("workspace-messages", config.webhook_secret)
        self.messages: deque[MessageLog] = deque(maxlen=config.messages_kept)
        self.records: dict[tuple[str, str], BusinessRecord] = {
            (bo_type, bo_id): BusinessRecord(bo_type, bo_id, dict(fields), 1, origin="seed")
            for bo_type, by_id in config.records.items()
            for bo_id, fields in by_id.items()
        }

    async def aclose(self) -> None:
        await self.events.aclose()

    def new_id(self, bo_type: str) -> str:
        """A fresh id for a new object of this type (systems override with their own style)."""
        return f"{bo_type[:3].upper()}-{random_base62(10)}"

    # ------------------------------------------------------------ business changes
    def record(self, bo_type: str, bo_id: str) -> BusinessRecord:
        found = self.records.get((bo_type, bo_id))
        if found is None or found.deleted:
            raise RecordError(404, f"no {bo_type} {bo_id}")
        return found

    def create(
        self,
        bo_type: str,
        fields: dict[str, FieldValue],
        *,
        bo_id: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        origin: Literal["control", "api"] = "control",
        deliver: bool = True,
    ) -> tuple[BusinessRecord, EmittedEvent]:
        if bo_type not in self.config.object_types:
            known = ", ".join(self.config.object_types)
            raise RecordError(404, f"{self.system} has no object type {bo_type!r} ({known})")
        bo_id = bo_id or self.new_id(bo_type)
        record = self.records.get((bo_type, bo_id))
        if record is not None and not record.deleted and record.origin != "docflow":
            raise RecordError(409, f"{bo_type} {bo_id} exists (version {record.version})")
        if record is None:
            record = BusinessRecord(bo_type, bo_id, origin=origin)
            self.records[(bo_type, bo_id)] = record
        # A record docflow named first (or one deleted) keeps its version: it only grows. What
        # docflow already wrote into the fields of the first (its status) stays unless given.
        base = record.fields if record.origin == "docflow" and not record.deleted else {}
        record.deleted = False
        record.origin = origin
        record.fields = {**base, **fields}
        if attachments is not None:
            record.attachments = [dict(a) for a in attachments]
        return record, self._emit(record, "created", deliver)

    def update(
        self,
        bo_type: str,
        bo_id: str,
        fields: dict[str, FieldValue],
        *,
        attachments: list[dict[str, Any]] | None = None,
        deliver: bool = True,
    ) -> tuple[BusinessRecord, EmittedEvent]:
        """Merge fields (and attachments, by name); one `updated` event."""
        record = self.record(bo_type, bo_id)
        record.fields.update(fields)
        for attachment in attachments or []:
            _merge_attachment(record.attachments, dict(attachment))
        return record, self._emit(record, "updated", deliver)

    def change_status(
        self, bo_type: str, bo_id: str, status: str, *, deliver: bool = True
    ) -> tuple[BusinessRecord, EmittedEvent]:
        record = self.record(bo_type, bo_id)
        record.fields[self.config.status_field] = status
        return record, self._emit(record, "status_changed", deliver)

    def delete(
        self, bo_type: str, bo_id: str, *, deliver: bool = True
    ) -> tuple[BusinessRecord, EmittedEvent]:
        """Mark deleted (the API answers 404); the event carries the last fields."""
        record = self.record(bo_type, bo_id)
        record.deleted = True
        return record, self._emit(record, "deleted", deliver)

    def replay(
        self, bo_type: str, bo_id: str, version: int | None = None, *, same_id: bool = False
    ) -> tuple[EmittedEvent, Delivery]:
        """Send a version's event again (default: the newest), past the delivery faults.

        With a new webhook-id docflow sees another message about an old version (stale); with
        the same id it sees a redelivery. Either way the body is the one first emitted.
        """
        record = self.records.get((bo_type, bo_id))
        if record is None or not record.events:
            raise RecordError(404, f"no events of {bo_type} {bo_id}")
        if version is None:
            event = record.events[-1]
        else:
            matching = [e for e in record.events if e.version == version]
            if not matching:
                versions = [e.version for e in record.events]
                raise RecordError(404, f"{bo_type} {bo_id} has no version {version} ({versions})")
            event = matching[-1]
        url = self.events_url
        if not url:
            raise RecordError(409, f"{self.system} has no events_url: nothing to send to")
        webhook_id = event.webhook_id if same_id else _message_id()
        meta = self._meta(record, event.version) | {
            "replay_of": event.webhook_id,
            "same_id": same_id,
        }
        event.sent = event.sent or same_id
        delivery = self.events.send(
            url,
            event.body,
            event_id=webhook_id,
            event_type=event.type,
            headers=self._headers(webhook_id, event.body),
            meta=meta,
        )
        return event, delivery

    def _emit(self, record: BusinessRecord, kind: EventKind, deliver: bool) -> EmittedEvent:
        record.version += 1
        now = datetime.now(UTC)
        event_type = f"business_object.{kind}"
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": iso(now),
                "data": {
                    "ext_system_id": self.system,
                    "bo_type": record.bo_type,
                    "bo_id": record.bo_id,
                    "version": record.version,
                    "occurred_at": iso(now),
                    "data": dict(record.fields),
                },
            }
        ).encode()
        event = EmittedEvent(_message_id(), event_type, record.version, now, body, sent=False)
        record.events.append(event)
        url = self.events_url
        if deliver and url:
            event.sent = True
            self.events.submit(
                url,
                body,
                event_id=event.webhook_id,
                event_type=event_type,
                headers=self._headers(event.webhook_id, body),
                meta=self._meta(record, record.version),
            )
        return event

    def _meta(self, record: BusinessRecord, version: int) -> dict[str, Any]:
        return {"bo_type": record.bo_type, "bo_id": record.bo_id, "version": version}

    def _headers(self, webhook_id: str, body: bytes) -> Callable[[], Mapping[str, str]]:
        text = body.decode()

        def headers() -> dict[str, str]:
            now = datetime.now(UTC)  # signed when sent: a retry after minutes is not stale
            return {
                "Content-Type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(webhook_id, now, text),
                "Idempotency-Key": webhook_id,
            }

        return headers

    # ------------------------------------------------------------ docflow's messages
    def accept(
        self, payload: Any, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Apply a verified message once; returns the HTTP status and body to answer."""
        webhook_id = headers.get("webhook-id")
        kind = payload.get("type") if isinstance(payload, dict) else None
        if isinstance(payload, dict) and kind in WORKSPACE_MESSAGES:
            try:
                envelope, data = parse_workspace_message(payload)
            except ValueError as exc:
                self._log(webhook_id, kind, f"invalid: {exc}", None, payload)
                return 422, {"error": "invalid message", "detail": str(exc)}
            key = f"{data.object.ext_system_id}/{data.object.bo_type}/{data.object.bo_id}"
            if data.object.ext_system_id != self.system:
                problem = f"object.ext_system_id {data.object.ext_system_id!r} is not {self.system}"
                self._log(webhook_id, kind, f"invalid: {problem}", key, payload)
                return 422, {"error": "invalid message", "detail": problem}
            message, new = self.workspace_messages.store(payload, body, headers)
            outcome = self.apply_workspace_message(envelope, data) if new else "duplicate"
        else:
            message, new = self.reports.store(payload, body, headers)
            key = _report_key(message)
            outcome = (
                ("applied" if self.apply_report(message.payload) else "kept")
                if new
                else ("duplicate")
            )
        self._log(message.webhook_id, kind, outcome, key, message.payload)
        return 200, {"status": "accepted" if new else "duplicate", "webhook_id": message.webhook_id}

    def apply_report(self, report: dict[str, Any]) -> bool:
        """Copy a docflow status report onto its source record; late reports never regress."""
        source = report.get("source")
        if not isinstance(source, dict):
            return False
        record_type, record_id = source.get("record_type"), source.get("record_id")
        if not record_type or not record_id:
            return False
        record = self._named_by_docflow(str(record_type), str(record_id))
        occurred_at = _parse_time(report.get("occurred_at"))
        last = _parse_time(record.writeback.get("signature_status_at"))
        if occurred_at and last and occurred_at < last:
            return False
        record.writeback.update(
            {
                "signature_status": report.get("outcome"),
                "signature_status_at": report.get("occurred_at"),
                "signature_reason": report.get("reason", ""),
                "docflow_business_key": report.get("business_key"),
                "signature_completed_at": report.get("completed_at"),
                "workspace_id": report.get("workspace_id"),
                "archived_node_id": report.get("archived_node_id"),
                "updated_at": iso(datetime.now(UTC)),
            }
        )
        return True

    def apply_workspace_message(self, envelope: WorkspaceMessage, data: WorkspaceData) -> str:
        """What a workspace message changes on its record; returns the outcome for the log."""
        record = self._named_by_docflow(data.object.bo_type, data.object.bo_id)
        now = iso(datetime.now(UTC))
        if isinstance(data, ProvisionedData):
            ws = data.workspace
            record.writeback.update(
                {
                    "workspace_id": ws.workspace_id,
                    "workspace_link": ws.link,
                    "workspace_name": ws.name,
                    "workspace_how": ws.how,
                    "updated_at": now,
                }
            )
            return "applied"
        if isinstance(data, MilestoneData):
            milestone = data.milestone
            changed = []
            at = milestone.occurred_at or envelope.timestamp
            last = _parse_time(record.writeback.get("status_set_at"))
            if milestone.status is not None:
                if at is not None and last is not None and _aware(at) < last:
                    changed.append("status kept (older milestone)")
                else:
                    record.fields[self.config.status_field] = milestone.status
                    record.writeback["status_set_at"] = iso(at) if at else now
                    changed.append("status")
            if milestone.document is not None:
                added = record.add_reference(
                    _reference(milestone.document, f"workspace.milestone:{milestone.kind}")
                )
                changed.append("content reference" if added else "content reference kept")
            record.writeback.update(
                {"last_milestone": milestone.kind, "last_milestone_detail": milestone.detail}
            )
            record.writeback["updated_at"] = now
            return "applied: " + (", ".join(changed) or "nothing to change")
        if isinstance(data, FiledData):
            document = data.document
            added = record.add_reference(_reference(document, "document.filed"))
            deleted = 0
            for attachment in record.attachments:
                named = attachment.get("name") == document.name
                by_record = data.source_record and attachment.get("id") == data.source_record
                if named or by_record:
                    attachment["source_copy_deleted"] = True
                    attachment["node_id"] = document.node_id
                    deleted += 1
            record.writeback["updated_at"] = now
            parts = ["content reference" if added else "content reference kept"]
            if deleted:
                parts.append("source copy deleted")
            return "applied: " + ", ".join(parts)
        record.writeback.update(
            {
                "workspace_closed": True,
                "workspace_closed_reason": data.reason,
                "workspace_closed_at": iso(envelope.timestamp) if envelope.timestamp else now,
                "updated_at": now,
            }
        )
        if data.workspace_id is not None:
            record.writeback.setdefault("workspace_id", data.workspace_id)
        return "applied"

    def _named_by_docflow(self, bo_type: str, bo_id: str) -> BusinessRecord:
        """The record docflow names; one the system never had is created (docflow may be
        ahead of the simulator's own state in tests)."""
        record = self.records.get((bo_type, bo_id))
        if record is None:
            record = BusinessRecord(bo_type, bo_id, origin="docflow")
            self.records[(bo_type, bo_id)] = record
        return record

    def _log(
        self,
        webhook_id: str | None,
        kind: str | None,
        outcome: str,
        key: str | None,
        payload: Any,
    ) -> None:
        self.messages.append(MessageLog(webhook_id, kind, datetime.now(UTC), outcome, key, payload))


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _merge_attachment(attachments: list[dict[str, Any]], attachment: dict[str, Any]) -> None:
    for known in attachments:
        if known.get("name") == attachment.get("name"):
            known.update(attachment)
            return
    attachments.append(attachment)


def _reference(document: DocumentIn, via: str) -> dict[str, Any]:
    return {**document.model_dump(), "via": via, "received_at": iso(datetime.now(UTC))}


def _report_key(message: Received) -> str | None:
    source = message.payload.get("source")
    if isinstance(source, dict) and source.get("record_type") and source.get("record_id"):
        return f"{source.get('system')}/{source['record_type']}/{source['record_id']}"
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return _aware(moment)
