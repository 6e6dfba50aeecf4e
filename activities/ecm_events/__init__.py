"""The ECM event relay: planning, one delivery attempt at a time, subscribers' health, the
audit poller and recovery (docflow's own contract, external-apis.md §2 and §6)."""

from activities.ecm_events.activities import EcmEventActivities

__all__ = ["EcmEventActivities"]
