"""State of the CRM simulator (Salesforce-style): business objects Account and Opportunity, their
events to docflow, and the verified messages docflow sends back (status reports, workspace
messages). The notification service shares its port and its faults and reset.
"""

from __future__ import annotations

from pydantic import Field

from simulators.kit.business_objects import BusinessSystemConfig, BusinessSystemSim, random_base62
from simulators.notifications import NotificationsConfig, NotificationsSim

# Salesforce key prefixes: the first three characters of an id name its object type.
KEY_PREFIXES = {"Account": "001", "Opportunity": "006", "Contact": "003", "Case": "500"}
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sfdc_id(bo_type: str) -> str:
    """A new 18-character Salesforce id: key prefix, pod, random digits, case-safe suffix."""
    prefix = KEY_PREFIXES.get(bo_type, "a0X")
    return with_checksum(f"{prefix}5g0{random_base62(9)}")


def with_checksum(id15: str) -> str:
    """The 18-character form of a 15-character id (Salesforce's case-insensitive suffix)."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, c in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if c.isupper())
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


class CrmConfig(BusinessSystemConfig):
    ext_system_id: str = "SFDC"
    object_types: list[str] = Field(default_factory=lambda: ["Account", "Opportunity"])
    webhook_secret: str = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
    # "whsec_" + base64("dev-sfdc-events-secret-1234"): config/dev/source-systems.json's SFDC.
    events_secret: str = "whsec_ZGV2LXNmZGMtZXZlbnRzLXNlY3JldC0xMjM0"
    notifications_secret: str = Field(
        default=NotificationsConfig().secret,
        description="Of the notification service served on the CRM's port.",
    )


class CrmSim(BusinessSystemSim):
    """All state of the CRM simulator; reachable as `app.state.sim`.

    It carries the notification service too, because docflow's dev settings send
    notifications to the CRM's port; its faults and reset cover both.
    """

    def __init__(self, config: CrmConfig) -> None:
        self.notifications = NotificationsSim(
            NotificationsConfig(seed=config.seed, secret=config.notifications_secret)
        )
        super().__init__(config)

    def reset(self) -> None:
        super().reset()
        self.notifications.reset()

    def new_id(self, bo_type: str) -> str:
        return sfdc_id(bo_type)
