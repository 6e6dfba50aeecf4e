"""docflow's HTTP API (FastAPI): processes, approvals, webhook receivers, health."""

from starter.api.app import create_app

__all__ = ["create_app"]
