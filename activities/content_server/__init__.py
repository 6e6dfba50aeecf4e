"""OpenText Extended ECM (Content Server): business workspaces and archiving."""

from activities.content_server.activities import ContentServerActivities

__all__ = ["ContentServerActivities"]
