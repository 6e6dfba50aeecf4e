"""State of the notification-service simulator: one verified, deduplicating inbox."""

from __future__ import annotations

from pydantic import BaseModel, Field

from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.inbox import SignedInbox


class NotificationsConfig(BaseModel):
    seed: int = 0
    secret: str = "whsec_ZGV2LW5vdGlmaWNhdGlvbnMtc2VjcmV0LTEy"
    faults: FaultSettings = Field(default_factory=FaultSettings)


class NotificationsSim:
    """The messages received so far; reachable as `app.state.notifications`."""

    def __init__(self, config: NotificationsConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.reset()

    def reset(self) -> None:
        self.inbox = SignedInbox("notifications", self.config.secret)
        self.faults.configure(self.config.faults)
