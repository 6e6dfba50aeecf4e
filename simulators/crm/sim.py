"""State of the CRM simulator: source records and the verified status reports docflow sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.inbox import SignedInbox
from simulators.notifications import NotificationsConfig, NotificationsSim


class CrmConfig(BaseModel):
    seed: int = 0
    webhook_secret: str = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
    notifications_secret: str = Field(
        default=NotificationsConfig().secret,
        description="Of the notification service served on the CRM's port.",
    )
    records: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="Initial records: type -> id -> fields."
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)


class CrmSim:
    """All state of the CRM simulator; reachable as `app.state.sim`.

    It carries the notification service too, because docflow's dev settings send
    notifications to the CRM's port; its faults and reset cover both.
    """

    def __init__(self, config: CrmConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.notifications = NotificationsSim(
            NotificationsConfig(seed=config.seed, secret=config.notifications_secret)
        )
        self.reset()

    def reset(self) -> None:
        self.reports = SignedInbox("reports", self.config.webhook_secret)
        self.notifications.reset()
        self.records: dict[tuple[str, str], dict[str, Any]] = {
            (record_type, record_id): {**fields, "type": record_type, "id": record_id}
            for record_type, by_id in self.config.records.items()
            for record_id, fields in by_id.items()
        }
        self.faults.configure(self.config.faults)

    def apply_report(self, report: dict[str, Any]) -> None:
        """Copy a docflow status report onto its source record; late reports never regress."""
        source = report.get("source")
        if not isinstance(source, dict):
            return
        record_type, record_id = source.get("record_type"), source.get("record_id")
        if not record_type or not record_id:
            return
        record = self.records.setdefault(
            (str(record_type), str(record_id)), {"type": record_type, "id": record_id}
        )
        occurred_at = _parse_time(report.get("occurred_at"))
        last = _parse_time(record.get("signature_status_at"))
        if occurred_at and last and occurred_at < last:
            return
        record.update(
            {
                "signature_status": report.get("outcome"),
                "signature_status_at": report.get("occurred_at"),
                "signature_reason": report.get("reason", ""),
                "docflow_business_key": report.get("business_key"),
                "signature_completed_at": report.get("completed_at"),
                "workspace_id": report.get("workspace_id"),
                "archived_node_id": report.get("archived_node_id"),
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
